"""LiteRT and TFLite Micro compute the same int8 Bidirectional LSTM, close to the float model.

TF 2.21 gives a fused LSTM feeding a Bidirectional concat/sum another output range than its
hidden-state intermediate; LiteRT quantizes h with the intermediate's parameters, TFLM (and
every consumer) with the output state's. edge_rnn.export.lstm_hidden_scale aligns them. Before:
LiteRT max_abs 0.91 against Keras on a BiLSTM/BiGRU/BiSimpleRNN stack (TFLM 0.065, 234 LSB apart).
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from edge_rnn.export.flatbuffer import UNIDIRECTIONAL_SEQUENCE_LSTM, builtin_code, unpack
from edge_rnn.export.lstm_hidden_scale import HIDDEN_INTERMEDIATE, OUTPUT_STATE_INPUT
from edge_rnn.export.tflite import convert_tflite
from edge_rnn.runtimes.base import Artefact, ModelMeta, RunContext, get_runner

STEPS, FEATURES, CLASSES = 10, 3, 3


def _params(tensor: object) -> tuple[list[float], list[int]]:
    quant = tensor.quantization  # type: ignore[attr-defined]
    return list(quant.scale), list(quant.zeroPoint)


def test_bidirectional_lstm_int8_same_in_litert_and_tflm(tmp_path: Path) -> None:
    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            layers.Bidirectional(layers.LSTM(8), merge_mode="concat"),
            layers.Dense(CLASSES, activation="softmax"),
        ],
        name="bilstm",
    )
    model.save(tmp_path / "model.keras")
    x = np.random.default_rng(0).normal(size=(64, STEPS, FEATURES)).astype(np.float32)
    np.savez(tmp_path / "cal.npz", x=x)
    out = tmp_path / "bilstm_int8.tflite"
    result = convert_tflite(tmp_path / "model.keras", "int8", out, calibration=tmp_path / "cal.npz")
    assert any("2 fused LSTM(s): hidden-state intermediate" in note for note in result.notes)

    flat = unpack(out.read_bytes())
    graph = flat.subgraphs[0]
    lstms = [op for op in graph.operators if builtin_code(flat, op) == UNIDIRECTIONAL_SEQUENCE_LSTM]
    assert len(lstms) == 2
    for op in lstms:
        hidden = graph.tensors[op.intermediates[HIDDEN_INTERMEDIATE]]
        assert _params(hidden) == _params(graph.tensors[op.inputs[OUTPUT_STATE_INPUT]])

    meta = ModelMeta(name="bilstm", input_shape=(STEPS, FEATURES), output_shape=(CLASSES,))
    artefact = Artefact("tflite_int8", out, "tflite", "int8")
    ctx = RunContext(tmp_path / "run")
    litert = get_runner("litert").run(artefact, x, meta, ctx)
    tflm = get_runner("tflm").run(artefact, x, meta, ctx)
    reference = model.predict(x, verbose=0)
    assert np.abs(litert.outputs - reference).max() < 0.02  # before: 0.034 (TFLM 0.0096)
    assert litert.raw_outputs is not None and tflm.raw_outputs is not None
    lsb = np.abs(litert.raw_outputs.astype(np.int64) - tflm.raw_outputs.astype(np.int64)).max()
    assert lsb <= 2, lsb  # before: 9
