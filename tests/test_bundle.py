"""ARM Linux board bundle: run_on_board.py run on this host (the same Python it would run on a
Pi) with a real int8 LiteRT LSTM; its protocol output equals the LiteRT runner bit for bit and
goes through the device-log runner like a captured board log."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_rnn.errors import EdgeRnnError
from edge_rnn.fsutil import sha256_file, write_json
from edge_rnn.ir import Normalization
from edge_rnn.manifest import ManifestEntry
from edge_rnn.ontarget.bundle import write_bundle
from edge_rnn.protocol import parse_protocol
from edge_rnn.runtimes.base import Artefact, ModelMeta, RunContext, get_runner
from edge_rnn.runtimes.device_log import result_from_log

T, F, CLASSES = 10, 3, 3
METADATA = {
    "name": "tiny_lstm",
    "input_shape": [T, F],
    "output_shape": [CLASSES],
    "normalization": {"mean": [0.5, -1.0, 2.0], "scale": [2.0, 0.5, 3.0]},
}
META = ModelMeta(
    name="tiny_lstm",
    input_shape=(T, F),
    output_shape=(CLASSES,),
    normalization=Normalization(**{k: tuple(v) for k, v in METADATA["normalization"].items()}),
)


def _raw_windows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    norm = METADATA["normalization"]
    return (rng.standard_normal((n, T, F)) * norm["scale"] + norm["mean"]).astype(np.float32)


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A minimal build directory (docs/architecture.md layout) with a converted int8 LSTM."""
    import keras

    from edge_rnn.export.tflite import convert_tflite

    build = tmp_path_factory.mktemp("build")
    for sub in ("model", "data", "tflite"):
        (build / sub).mkdir()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((T, F)), keras.layers.LSTM(8), keras.layers.Dense(CLASSES, "softmax")]
    )
    model.save(build / "model" / "model.keras")
    write_json(build / "model" / "metadata.json", METADATA)
    np.savez(build / "data" / "test.npz", x=_raw_windows(5, 1))
    np.savez(build / "data" / "calibration.npz", x=_raw_windows(32, 2))
    tflite = build / "tflite" / "tiny_lstm_int8.tflite"
    convert_tflite(
        build / "model" / "model.keras",
        "int8",
        tflite,
        metadata=METADATA,
        calibration=build / "data" / "calibration.npz",
    )
    write_json(
        build / "manifest.json",
        {
            "name": "tiny_lstm",
            "model": {"keras": "model/model.keras", "metadata": "model/metadata.json"},
            "data": {"test": "data/test.npz"},
            "artefacts": [
                {
                    "name": "tflite_int8",
                    "path": "tflite/tiny_lstm_int8.tflite",
                    "format": "tflite",
                    "quantization": "int8",
                    "sha256": sha256_file(tflite),
                },
                {"name": "native_int8", "path": "native/int8", "format": "native-c"},
            ],
        },
    )
    return build


def _run_board(bundle: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(bundle / "run_on_board.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )


def test_board_script_output_equals_litert_runner(build_dir: Path, tmp_path: Path) -> None:
    bundle = write_bundle(build_dir, tmp_path / "bundle")
    assert [a["name"] for a in bundle.artefacts] == ["tflite_int8"]  # native C is not bundled
    entry = bundle.artefacts[0]
    assert entry["output_scale"] > 0 and -128 <= entry["output_zero_point"] <= 127
    done = _run_board(bundle.out_dir, "--out", str(tmp_path / "board.log"))
    assert done.returncode == 0, done.stderr
    log = parse_protocol(done.stdout, source="run_on_board.py")
    assert log.model == "tiny_lstm" and log.dtype == "i8" and log.samples == 5
    assert log.costs["artefact"] == "tflite_int8"
    assert (tmp_path / "board.log").read_text() == done.stdout

    x = np.load(bundle.out_dir / "test_x.npy")
    assert np.array_equal(
        x.view(np.uint32).ravel(), np.fromfile(bundle.out_dir / "test_x.f32", "<u4")
    )
    artefact = Artefact(
        "tflite_int8", build_dir / "tflite" / "tiny_lstm_int8.tflite", "tflite", "int8"
    )
    litert = get_runner("litert").run(artefact, x, META, RunContext(work_dir=tmp_path))
    assert np.array_equal(log.outputs, litert.raw_outputs.reshape(5, -1))
    # The board log goes through the validator's device-log runner with bundle.json's scale.
    device = result_from_log(log, META, 5, ManifestEntry.from_dict(entry, "bundle.json"))
    assert np.array_equal(device.outputs, litert.outputs)


def test_bundle_from_files_and_errors(build_dir: Path, tmp_path: Path) -> None:
    tflite = build_dir / "tflite" / "tiny_lstm_int8.tflite"
    x = _raw_windows(2, 3)
    bundle = write_bundle([tflite], tmp_path / "b", metadata=METADATA, x=x)
    spec = json.loads((bundle.out_dir / "bundle.json").read_text())
    assert spec["artefacts"][0]["quantization"] == "int8" and spec["samples"] == 2
    with pytest.raises(EdgeRnnError, match="already exists"):
        write_bundle([tflite], tmp_path / "b", metadata=METADATA, x=x)
    with pytest.raises(EdgeRnnError, match="needs metadata and test windows"):
        write_bundle([tflite], tmp_path / "c")
    with pytest.raises(EdgeRnnError, match="not a .tflite or .onnx file"):
        write_bundle([build_dir / "manifest.json"], tmp_path / "c", metadata=METADATA, x=x)
    assert not (tmp_path / "c").exists()

    unknown = _run_board(bundle.out_dir, "--model", "nope")
    assert unknown.returncode != 0 and "no model 'nope' in bundle.json" in unknown.stderr
    (bundle.out_dir / "models" / tflite.name).write_bytes(b"corrupt")
    changed = _run_board(bundle.out_dir)
    assert changed.returncode != 0 and "does not match its sha256" in changed.stderr
