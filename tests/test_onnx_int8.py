"""ONNX int8 stores and multiplies every recurrent weight matrix as int8 (LSTM, GRU, SimpleRNN):
smaller than float32, integer ops in the graph, close to Keras."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import onnx
import pytest

from edge_rnn.export.onnx import convert_onnx
from edge_rnn.export.onnx_graph import all_initializers, element_count
from edge_rnn.runtimes.base import Artefact, ModelMeta, RunContext, get_runner

CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple_rnn": keras.layers.SimpleRNN}
STEPS, FEATURES, CLASSES, UNITS = 8, 3, 3, 32
# The integer op that carries the recurrent weights of each cell.
RECURRENT_OP = {
    "lstm": "DynamicQuantizeLSTM",
    "gru": "MatMulInteger",
    "simple_rnn": "MatMulInteger",
}


def _model(cell: str, path: Path) -> Path:
    keras.utils.set_random_seed(2)
    layer = CELLS[cell](UNITS)
    model = keras.Sequential(
        [keras.Input((STEPS, FEATURES)), layer, keras.layers.Dense(CLASSES, activation="softmax")]
    )
    # Non-zero biases: tf2onnx merges equal (zero) constants, which would hide a bias mix-up.
    rng = np.random.default_rng(4)
    weights = layer.get_weights()
    layer.set_weights([*weights[:-1], rng.normal(0, 0.2, weights[-1].shape)])
    model.save(path)
    return path


def _floats_and_int8(path: Path) -> tuple[int, int]:
    """Values in float32 and in int8 tensors (tensors, not the scalar scales/zero points)."""
    tensors = [t for t in all_initializers(onnx.load(str(path)).graph) if element_count(t) > 1]
    floats = sum(element_count(t) for t in tensors if t.data_type == onnx.TensorProto.FLOAT)
    return floats, sum(element_count(t) for t in tensors if t.data_type == onnx.TensorProto.INT8)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_onnx_int8_weights_are_int8_and_close_to_keras(tmp_path: Path, cell: str) -> None:
    model = _model(cell, tmp_path / f"{cell}.keras")
    float_result = convert_onnx(model, "float32", tmp_path / "f.onnx")
    result = convert_onnx(model, "int8", tmp_path / "q.onnx")

    size_float, size_int8 = float_result.path.stat().st_size, result.path.stat().st_size
    assert size_int8 < 0.6 * size_float, (size_int8, size_float)
    assert RECURRENT_OP[cell] in result.ops and "MatMulInteger" in result.ops
    assert not {"GRU", "LSTM", "Gemm"} & set(result.ops), result.ops
    floats, int8 = _floats_and_int8(result.path)
    # Every weight matrix is int8; what stays float (biases, the zero state) is stated.
    assert int8 > 8 * floats, (int8, floats)
    assert result.notes and f"int8 weights ({int8} values" in result.notes[0]
    assert f"stay float32 ({floats} values" in result.notes[0]

    windows = np.random.default_rng(7).normal(size=(32, STEPS, FEATURES)).astype(np.float32)
    meta = ModelMeta(name="m", input_shape=(STEPS, FEATURES), output_shape=(CLASSES,))
    artefact = Artefact("q", result.path, "onnx", "int8")
    outputs = get_runner("onnxruntime").run(artefact, windows, meta, RunContext(tmp_path)).outputs
    reference = keras.models.load_model(model).predict(windows, verbose=0)
    rel_l2 = np.linalg.norm(outputs - reference) / np.linalg.norm(reference)
    assert rel_l2 < 0.1  # the onnx:int8 validation threshold


def test_onnx_int8_products_do_not_saturate(tmp_path: Path) -> None:
    """Weights in 7 bits: onnxruntime's uint8 x int8 kernels on AVX2 CPUs without VNNI add two
    products into a saturating int16 (255 x 127 x 2 > 32767). A Dense kernel of equal-magnitude
    weights with signs alike in pairs makes such sums likely (the error check needs such a CPU;
    the weight range check holds everywhere)."""
    keras.utils.set_random_seed(0)
    head = keras.layers.Dense(CLASSES, activation="softmax")
    model = keras.Sequential(
        [keras.Input((STEPS, FEATURES)), keras.layers.LSTM(8, return_sequences=True)]
        + [keras.layers.GRU(8), head]
    )
    pairs = np.repeat(np.array([[1, -1, 1], [1, 1, -1], [-1, 1, 1], [1, 1, 1]]), 2, axis=0)
    head.set_weights([0.8 * pairs.astype(np.float32), np.zeros(CLASSES, np.float32)])
    model.save(tmp_path / "pairs.keras")
    result = convert_onnx(tmp_path / "pairs.keras", "int8", tmp_path / "q.onnx")
    tensors = all_initializers(onnx.load(str(result.path)).graph)
    weights = [
        onnx.numpy_helper.to_array(t) for t in tensors if t.data_type == onnx.TensorProto.INT8
    ]
    assert max(np.abs(w).max() for w in weights if w.size > 1) <= 64  # before: 127

    windows = np.random.default_rng(3).normal(size=(32, STEPS, FEATURES)).astype(np.float32)
    meta = ModelMeta(name="m", input_shape=(STEPS, FEATURES), output_shape=(CLASSES,))
    artefact = Artefact("q", result.path, "onnx", "int8")
    outputs = get_runner("onnxruntime").run(artefact, windows, meta, RunContext(tmp_path)).outputs
    max_abs = np.abs(outputs - model.predict(windows, verbose=0)).max()
    assert max_abs < 0.02, max_abs  # before: 0.061 on an AVX2 CPU without VNNI, after 0.0017
