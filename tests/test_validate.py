"""validate_build / `edge-rnn validate` on a tiny real build: verdicts, reports, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_validate_fixtures import (  # noqa: F401  (tiny_build is a session fixture)
    copy_build,
    manifest_entry,
    patch_input_scale,
    tiny_build,
)

from edge_rnn.cli import main
from edge_rnn.errors import EdgeRnnError
from edge_rnn.fsutil import read_json, write_json
from edge_rnn.validate import validate_build
from edge_rnn.validate.thresholds import parse_cli


def _stages(report) -> dict:
    return {s.name: s for s in report.stages}


def _reseal(build: Path, name: str) -> None:
    """Update the manifest entry after changing an artefact (a broken export, not tampering)."""
    manifest = read_json(build / "manifest.json", "manifest")
    for i, entry in enumerate(manifest["artefacts"]):
        if entry["name"] == name:
            manifest["artefacts"][i] = manifest_entry(
                build, name, entry["path"], entry["format"], entry["quantization"]
            )
    write_json(build / "manifest.json", manifest)


@pytest.fixture()
def build(tiny_build: Path, tmp_path: Path) -> Path:  # noqa: F811
    return copy_build(tiny_build, tmp_path / "build")


def test_full_build_passes_and_writes_reports(build: Path, capsys) -> None:
    assert main(["validate", str(build)]) == 0
    out = capsys.readouterr().out
    assert "validation PASSED" in out and "tflite_int8/tflm" in out
    report = json.loads((build / "report.json").read_text())
    names = [s["name"] for s in report["stages"]]
    assert names[0] == "keras/keras"
    assert names.index("tflite_int8/litert") < names.index("tflite_int8/tflm")
    assert report["passed"] is True
    by_name = {s["name"]: s for s in report["stages"]}
    assert by_name["tflite_float16/tflm"]["status"] == "not applicable"
    assert by_name["tflite_float16/tflm"]["passed"] is True
    int8 = by_name["tflite_int8/tflm"]
    assert int8["metrics"]["top1_agreement"] >= 0.95 and int8["metrics"]["lsb_max"] <= 3
    assert int8["thresholds"]["rel_l2"] == 0.1
    assert by_name["tflite_float32/litert"]["metrics"]["max_abs"] < 1e-5
    assert set(report["arena"]) == {"tflite_float32", "tflite_int8", "tflite_int16x8"}
    assert (
        report["arena"]["tflite_int8"]["recommended_bytes"]
        > report["arena"]["tflite_int8"]["min_bytes"]
    )
    for package in ("python", "numpy", "ai-edge-litert", "tflite-micro", "onnxruntime"):
        assert package in report["environment"]
    html = (build / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 2 and "tflite_int8/tflm" in html


def test_impossible_threshold_exits_1(build: Path, capsys) -> None:
    code = main(["validate", str(build), "--stages", "float32", "--threshold", "*.sqnr_db=1000"])
    assert code == 1
    err = capsys.readouterr().err
    assert "stage(s) failed" in err and "sqnr_db" in err
    assert json.loads((build / "report.json").read_text())["passed"] is False


def test_wrong_input_scale_in_int8_model_is_caught(build: Path) -> None:
    patch_input_scale(build / "tflite" / "tiny_lstm_int8.tflite", 8.0)
    _reseal(build, "tflite_int8")
    report = validate_build(build, stages=["tflite_int8", "tflite_float32"], echo=False)
    stages = _stages(report)
    assert not report.passed
    for name in ("tflite_int8/litert", "tflite_int8/tflm"):
        assert stages[name].status == "failed" and stages[name].failures, name
    assert stages["tflite_float32/litert"].status == "passed"
    with pytest.raises(EdgeRnnError) as err:
        report.raise_for_failure()
    assert err.value.exit_code == 1 and "tflite_int8/litert" in str(err.value)


def test_altered_artefact_fails_by_sha_others_still_run(build: Path) -> None:
    with open(build / "onnx" / "tiny_lstm_int8.onnx", "ab") as handle:
        handle.write(b"\0")
    (build / "tflite" / "tiny_lstm_float16.tflite").unlink()
    report = validate_build(
        build, stages=["onnx", "float16", "tflite_float32/litert"], echo=False, write=False
    )
    stages = _stages(report)
    assert "sha256 mismatch" in stages["onnx_int8/onnxruntime"].reason
    assert "missing" in stages["tflite_float16/litert"].reason
    assert stages["onnx_float32/onnxruntime"].status == "passed"
    assert stages["tflite_float32/litert"].status == "passed"


def test_corrupted_tflite_is_reported_other_stages_run(build: Path) -> None:
    path = build / "tflite" / "tiny_lstm_int8.tflite"
    path.write_bytes(path.read_bytes()[:200])
    _reseal(build, "tflite_int8")
    report = validate_build(build, stages=["int8"], echo=False)
    stages = _stages(report)
    assert "LiteRT cannot load" in stages["tflite_int8/litert"].reason
    assert stages["tflite_int8/tflm"].status == "failed" and stages["tflite_int8/tflm"].reason
    assert stages["onnx_int8/onnxruntime"].status == "passed"
    saved = json.loads((build / "report.json").read_text())
    assert saved["passed"] is False and len(saved["stages"]) == 4


def test_data_shape_mismatch_is_a_clear_error(build: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros((4, 10, 5), np.float32))
    with pytest.raises(EdgeRnnError, match=r"shape \(4, 10, 5\) but model 'tiny_lstm' expects"):
        validate_build(build, data=str(bad), echo=False)
    assert main(["validate", str(build), "--data", str(bad)]) == 2
    assert "expects (N, 10, 3)" in capsys.readouterr().err
    labels = tmp_path / "labels.npz"
    np.savez(labels, x=np.zeros((4, 10, 3), np.float32), y=np.array([0, 1, 7, 2]))
    with pytest.raises(EdgeRnnError, match="class labels outside 0..2"):
        validate_build(build, data=str(labels), echo=False)


def test_a_stage_that_could_not_run_fails_unless_allowed(build: Path) -> None:
    # A 0.01 s limit makes the TFLM subprocess time out: "could not run", not "not applicable".
    kwargs = {"stages": ["tflite_int8/tflm", "float16"], "timeout_s": 0.01, "echo": False}
    report = validate_build(build, **kwargs)
    stages = _stages(report)
    assert stages["tflite_int8/tflm"].status == "skipped"
    assert stages["tflite_float16/tflm"].status == "not applicable"
    assert not report.passed
    assert validate_build(build, allow_skip=True, **kwargs).passed


def test_unknown_selector_is_noted(build: Path) -> None:
    report = validate_build(
        build,
        stages=["tflite_float32/litert"],
        thresholds=parse_cli(["tflite_int9.rel_l2=1"]),
        echo=False,
        write=False,
    )
    assert any("tflite_int9" in note for note in report.notes)


def test_edited_generated_c_and_unbuilt_artefacts_are_reported(build: Path) -> None:
    """Native entries carry per-file sha256: a hand-edited generated .c fails its stages; the
    manifest's skipped artefacts appear in the report with their reasons."""
    from edge_rnn.frontends.keras import load_model_ir
    from edge_rnn.fsutil import sha256_file
    from edge_rnn.manifest import NOT_APPLICABLE, SKIPPED, Manifest, ManifestEntry, SkippedEntry
    from edge_rnn.native import generate

    manifest = Manifest.read(build)
    model = load_model_ir(
        build / manifest.model_keras, read_json(build / manifest.model_metadata, "md")
    )
    out = build / "native" / "float32"
    generated = generate(model, out, quant="float32")
    files = {f.relative_to(out).as_posix(): sha256_file(f) for f in generated.files}
    manifest.artefacts.append(
        ManifestEntry("native_float32", "native/float32", "native-c", "float32", files=files)
    )
    manifest.skipped += [
        SkippedEntry("native_int8", "int8 needs bounded activations", NOT_APPLICABLE),
        SkippedEntry("onnx_int8", "conversion crashed (SIGSEGV)", SKIPPED, "onnx", "int8"),
    ]
    manifest.write(build)
    selected = ["native_float32/host_c", "native_int8", "onnx_int8"]
    stages = _stages(validate_build(build, stages=selected, write=False, echo=False))
    assert stages["native_float32/host_c"].status == "passed"
    assert stages["native_int8/build"].status == "not applicable"
    assert stages["onnx_int8/build"].status == "skipped"
    assert "SIGSEGV" in stages["onnx_int8/build"].reason

    source = next(out / n for n in sorted(files) if n.endswith(".c") and not n.startswith("ern_"))
    source.write_text(source.read_text() + "\n/* edited */\n")
    stages = _stages(validate_build(build, stages=selected, write=False, echo=False))
    assert stages["native_float32/host_c"].status == "failed"
    assert "changed since the build" in stages["native_float32/host_c"].reason
