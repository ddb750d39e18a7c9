"""manifest.json through the typed contract: round trip, versions, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_rnn.errors import EdgeRnnError
from edge_rnn.manifest import (
    MANIFEST_VERSION,
    SKIPPED,
    Manifest,
    ManifestEntry,
    SkippedEntry,
)


def _manifest() -> Manifest:
    tflite = ManifestEntry(
        "tflite_int8",
        "tflite/m_int8.tflite",
        "tflite",
        "int8",
        size_bytes=5720,
        sha256="ab" * 32,
        details={"route": "fused-lstm", "carray": {"header": "carray/m_int8.h"}},
    )
    native = ManifestEntry(
        "native_int8",
        "native/int8",
        "native-c",
        "int8",
        files={"m.c": "cd" * 32},
        output_scale=0.25,
        output_zero_point=0,
        streaming=False,
        target=("cortex-m0plus",),
    )
    return Manifest(
        name="m",
        edge_rnn_version="0.1.0",
        artefacts=[tflite, native],
        skipped=[SkippedEntry("onnx_int8", "crashed", SKIPPED, "onnx", "int8")],
    )


def test_round_trip_keeps_the_json_layout(tmp_path: Path) -> None:
    _manifest().write(tmp_path)
    data = json.loads((tmp_path / "manifest.json").read_text())
    assert data["manifest_version"] == MANIFEST_VERSION
    assert data["model"] == {"keras": "model/model.keras", "metadata": "model/metadata.json"}
    first = data["artefacts"][0]
    assert first["route"] == "fused-lstm" and first["carray"]["header"] == "carray/m_int8.h"
    assert "files" not in first and "output_scale" not in first
    assert data["artefacts"][1]["target"] == ["cortex-m0plus"]
    assert Manifest.read(tmp_path) == _manifest()


def test_old_manifest_without_version_and_a_string_target(tmp_path: Path) -> None:
    entry = {"name": "n", "path": "native/f", "format": "native-c", "target": "cortex-m3"}
    old = {"model": {"keras": "k.keras", "metadata": "md.json"}, "artefacts": [entry]}
    (tmp_path / "manifest.json").write_text(json.dumps(old))
    manifest = Manifest.read(tmp_path)
    assert manifest.version == 1 and manifest.artefacts[0].target == ("cortex-m3",)
    assert manifest.skipped == [] and manifest.artefacts[0].quantization == ""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"manifest_version": MANIFEST_VERSION + 1}, "newer than this edge-rnn reads"),
        ({"model": {"keras": "k.keras"}}, "needs model.keras and model.metadata"),
        ({"artefacts": [{"name": "x", "path": "p"}]}, r"artefacts\[0\] needs name, path"),
        ({"skipped": [{"name": "x", "status": "gone"}]}, "status 'gone' is not skipped"),
    ],
)
def test_bad_manifests_are_one_line_errors(tmp_path: Path, change: dict, message: str) -> None:
    data = {**_manifest().to_dict(), **change}
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(EdgeRnnError, match=message):
        Manifest.read(tmp_path)


def test_integrity_checks_files_of_a_directory(tmp_path: Path) -> None:
    from edge_rnn.fsutil import sha256_file

    (tmp_path / "m.c").write_text("int x;\n")
    entry = ManifestEntry("n", ".", "native-c", files={"m.c": sha256_file(tmp_path / "m.c")})
    assert entry.integrity_problem(tmp_path) == ""
    (tmp_path / "m.c").write_text("int y;\n")
    assert "m.c' changed since the build" in entry.integrity_problem(tmp_path)
    (tmp_path / "m.c").unlink()
    assert "m.c' is missing" in entry.integrity_problem(tmp_path)
