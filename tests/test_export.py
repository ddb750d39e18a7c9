"""Conversion: every cell x (float32, int8) runs in LiteRT close to Keras; ONNX float matches
Keras; C arrays compile warning-free and reproduce the bytes; output is deterministic."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import keras
import numpy as np
import pytest

from edge_rnn.codegen.carray import write_carray
from edge_rnn.errors import EdgeRnnError
from edge_rnn.export.inspect import inspect_file
from edge_rnn.export.onnx import convert_onnx
from edge_rnn.export.tflite import convert_tflite
from edge_rnn.runtimes.base import Artefact, ModelMeta, RunContext, get_runner

CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple_rnn": keras.layers.SimpleRNN}
STEPS, FEATURES, CLASSES = 8, 3, 3
# int8 error on softmax probabilities of random-weight models: a sane bound, not a tight one.
INT8_MAX_ABS = 0.08


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    rng = np.random.default_rng(0)
    np.savez(root / "calibration.npz", x=rng.normal(size=(64, STEPS, FEATURES)).astype(np.float32))
    paths = {}
    for name, layer in CELLS.items():
        keras.utils.set_random_seed(1)
        model = keras.Sequential(
            [
                keras.Input((STEPS, FEATURES)),
                layer(8),
                keras.layers.Dense(CLASSES, activation="softmax"),
            ],
            name=f"tiny_{name}",
        )
        paths[name] = root / f"{name}.keras"
        model.save(paths[name])
    return paths


def _windows() -> np.ndarray:
    return np.random.default_rng(7).normal(size=(16, STEPS, FEATURES)).astype(np.float32)


def _run(runner: str, path: Path, fmt: str, quantization: str, tmp_path: Path) -> np.ndarray:
    meta = ModelMeta(name="tiny", input_shape=(STEPS, FEATURES), output_shape=(CLASSES,))
    artefact = Artefact(path.stem, path, fmt, quantization)
    return get_runner(runner).run(artefact, _windows(), meta, RunContext(tmp_path)).outputs


def _keras(path: Path) -> np.ndarray:
    return keras.models.load_model(path).predict(_windows(), verbose=0)


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("quantization", ["float32", "int8"])
def test_tflite_runs_in_litert_close_to_keras(
    models: dict[str, Path], tmp_path: Path, cell: str, quantization: str
) -> None:
    out = tmp_path / f"{cell}_{quantization}.tflite"
    result = convert_tflite(
        models[cell], quantization, out, calibration=models[cell].parent / "calibration.npz"
    )
    assert result.route == ("fused-lstm" if cell == "lstm" else "unrolled")
    assert "WHILE" not in result.ops and not any(op.startswith("Flex") for op in result.ops)
    info = inspect_file(out)
    assert info.inputs[0].shape == (1, STEPS, FEATURES)
    assert info.inputs[0].dtype == ("int8" if quantization == "int8" else "float32")
    error = np.abs(_run("litert", out, "tflite", quantization, tmp_path) - _keras(models[cell]))
    assert error.max() < (1e-5 if quantization == "float32" else INT8_MAX_ABS)


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_onnx_float_matches_keras(models: dict[str, Path], tmp_path: Path, cell: str) -> None:
    out = tmp_path / f"{cell}.onnx"
    result = convert_onnx(models[cell], "float32", out)
    # native ONNX RNN ops for LSTM/GRU; tf2onnx turns SimpleRNN into a Loop
    assert {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "Loop"}[cell] in result.ops
    error = np.abs(_run("onnxruntime", out, "onnx", "float32", tmp_path) - _keras(models[cell]))
    assert error.max() < 1e-4


@pytest.mark.parametrize(("cell", "quantization"), [("lstm", "int8"), ("gru", "float32")])
def test_conversion_is_deterministic(
    models: dict[str, Path], tmp_path: Path, cell: str, quantization: str
) -> None:
    # Unrolled int8 graphs are NOT deterministic in TF 2.21's quantizer (a QUANTIZE/DEQUANTIZE
    # pair comes and goes between runs, threads pinned or not): see README "Known limits".
    calibration = models[cell].parent / "calibration.npz"
    paths = [tmp_path / run / f"{cell}_{quantization}.tflite" for run in ("a", "b")]
    for path in paths:
        path.parent.mkdir()
        convert_tflite(models[cell], quantization, path, calibration=calibration)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    header_a = write_carray(paths[0], tmp_path / "ca", name="m", quantization=quantization)
    header_b = write_carray(paths[1], tmp_path / "cb", name="m", quantization=quantization)
    for part in ("header", "source"):
        assert getattr(header_a, part).read_bytes() == getattr(header_b, part).read_bytes()


@pytest.mark.parametrize("compiler", ["gcc", "arm-none-eabi-gcc"])
def test_carray_compiles_and_reproduces_bytes(
    models: dict[str, Path], tmp_path: Path, compiler: str
) -> None:
    if not shutil.which(compiler):
        pytest.skip(f"{compiler} not installed (bash scripts/setup.sh --arm)")
    model = tmp_path / "model.tflite"
    convert_tflite(models["gru"], "float32", model)
    metadata = {
        "class_names": ["idle", 'say "hi"', "x\\y"],
        "normalization": {"mean": [0.5, -1.0, 9.81], "scale": [1.0, 2.0, 0.25]},
    }
    c = write_carray(model, tmp_path / "c", name="3-axis model", metadata=metadata)
    assert c.name == "m_3_axis_model"
    header = c.header.read_text()
    assert "#define M_3_AXIS_MODEL_NORM_MEAN { 0.5f, -1.0f, 9.81000042f }" in header
    main = tmp_path / "c" / "main.c"
    main.write_text(
        '#include <stdio.h>\n#include "m_3_axis_model.h"\n'
        "int main(void) {\n"
        "    const char *names[] = M_3_AXIS_MODEL_CLASS_NAMES;\n"
        "    const float mean[] = M_3_AXIS_MODEL_NORM_MEAN;\n"
        "    if ((unsigned long)m_3_axis_model % 16u != 0u) return 3;\n"
        "    if (names[1][4] != '\"' || mean[2] < 9.8f) return 4;\n"
        "    fwrite(m_3_axis_model, 1, m_3_axis_model_len, stdout);\n"
        "    return 0;\n}\n"
    )
    flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
    if compiler == "gcc":
        binary = tmp_path / "reproduce"
        subprocess.run([compiler, *flags, str(main), str(c.source), "-o", str(binary)], check=True)
        assert subprocess.run([str(binary)], capture_output=True, check=True).stdout == (
            model.read_bytes()
        )
    else:
        subprocess.run(
            [
                compiler,
                *flags,
                "-mcpu=cortex-m4",
                "-mthumb",
                "-c",
                str(c.source),
                "-o",
                str(tmp_path / "m.o"),
            ],
            check=True,
        )


def test_int8_without_calibration_is_refused(models: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(EdgeRnnError, match="int8 quantization needs calibration windows"):
        convert_tflite(models["lstm"], "int8", tmp_path / "x.tflite")


def test_corrupted_tflite_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\xff" * 40)
    with pytest.raises(EdgeRnnError, match="corrupted TFLite flatbuffer"):
        inspect_file(bad)
    bad.write_bytes(b"not a model")
    with pytest.raises(EdgeRnnError, match="not a TFLite flatbuffer"):
        inspect_file(bad)


@pytest.mark.parametrize(
    ("cell", "route", "quantized"),
    [("lstm", "auto", False), ("lstm", "unrolled", True), ("gru", "auto", True)],
)
def test_dynamic_range_says_when_weights_stay_float(
    tmp_path: Path, cell: str, route: str, quantized: bool
) -> None:
    """40 units: every weight tensor is over TFLite's 1024-element minimum, yet TF 2.21 leaves
    the fused LSTM op's weights float; unrolled LSTM and GRU weights become int8."""
    keras.utils.set_random_seed(0)
    path = tmp_path / "m.keras"
    layer = CELLS[cell](40)
    keras.Sequential([keras.Input((4, 2)), layer, keras.layers.Dense(2)]).save(path)
    result = convert_tflite(path, "dynamic", tmp_path / "m.tflite", route=route)
    assert ("int8" in inspect_file(result.path).weight_dtypes) is quantized
    assert any("left every weight in float32" in note for note in result.notes) is not quantized
