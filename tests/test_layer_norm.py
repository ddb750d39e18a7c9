"""LayerNormalization between stacked cells: IR, export twin, every backend vs Keras."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from edge_rnn import ir
from edge_rnn.errors import EdgeRnnError
from edge_rnn.export.routes import tflite_route
from edge_rnn.export.twins import build_twin
from edge_rnn.frontends.keras import load_model_ir
from tests.byom import build_user_model, stage_status


def _data(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    x = rng.normal(size=(n, 10, 3)).astype(np.float32) * [1.0, 5.0, 0.2] + [0.0, 20.0, -1.0]
    y = ((x[:, :, 0] * x[:, :, 2]).mean(axis=1) > -0.05).astype(np.int64)
    return x.astype(np.float32), y


def _stacked(train: bool = True) -> keras.Model:
    """LSTM, LayerNorm, GRU, head: the shape users train (on raw input)."""
    keras.utils.set_random_seed(2)
    x, y = _data()
    model = keras.Sequential(
        [
            keras.Input((10, 3)),
            keras.layers.LSTM(8, return_sequences=True, name="lstm"),
            keras.layers.LayerNormalization(name="ln"),
            keras.layers.GRU(6, name="gru"),
            keras.layers.Dense(2, activation="softmax", name="head"),
        ],
        name="stacked_ln",
    )
    if train:
        model.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=10, batch_size=16, verbose=0)
    return model


def _ln_only() -> keras.Model:
    keras.utils.set_random_seed(4)
    model = keras.Sequential(
        [
            keras.Input((5, 3)),
            keras.layers.LSTM(6, return_sequences=True),
            keras.layers.LayerNormalization(epsilon=0.01, center=False, name="ln"),
            keras.layers.SimpleRNN(4),
            keras.layers.Dense(2),
        ]
    )
    ln = model.get_layer("ln")
    ln.set_weights([np.linspace(0.5, 2.0, 6).astype(np.float32)])
    return model


def test_layer_norm_maps_to_the_ir_and_the_twin_matches_keras() -> None:
    original = _ln_only()
    model = load_model_ir(original)
    ln = model.layers[1]
    assert isinstance(ln, ir.LayerNormLayer) and ln.beta is None and ln.epsilon == 0.01
    x = np.random.default_rng(0).normal(size=(1, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(build_twin(model)(x).numpy(), original(x).numpy(), atol=1e-6)


def test_layer_norm_on_another_axis_is_refused_by_name() -> None:
    model = keras.Sequential(
        [
            keras.Input((5, 3)),
            keras.layers.LayerNormalization(axis=1, name="time_ln"),
            keras.layers.GRU(2),
        ]
    )
    with pytest.raises(Exception, match=r"layer 'time_ln': axis=\[1\]"):
        load_model_ir(model)


@pytest.mark.slow
def test_layer_norm_between_stacked_cells_builds_on_every_backend(tmp_path: Path) -> None:
    x, y = _data()
    manifest, report = build_user_model(tmp_path, _stacked(), x, y)
    status = stage_status(report)
    for stage in ("tflite_float32/litert", "tflite_int8/tflm", "onnx_float32/onnxruntime"):
        assert status[stage] == "passed"


def test_int16x8_tflite_is_refused_with_the_reason_int8_is_not() -> None:
    model = load_model_ir(_ln_only())
    with pytest.raises(EdgeRnnError, match="LayerNormalization 'ln' cannot be exported"):
        tflite_route(model, "int16x8")
    assert tflite_route(model, "int8").name


@pytest.mark.parametrize("size", [4, 32])
@pytest.mark.parametrize("q_in", [8, 14])
def test_integer_layer_norm_is_within_two_output_steps_of_float(size: int, q_in: int) -> None:
    """The int8 kernel's own error (ern_q_layer_norm's twin) on the same quantized input."""
    from edge_rnn.native import twin_int
    from edge_rnn.native.lower import LayerNormStage
    from edge_rnn.native.quantize import _quantize_layer_norm
    from edge_rnn.native.twin import layer_norm

    rng = np.random.default_rng(size + q_in)
    gamma = (rng.random(size) + 0.5).astype(np.float32)
    stage = LayerNormStage("ln", size, size, 1, 1, 1e-3, gamma, rng.normal(size=size))
    xq = np.round(np.clip(rng.normal(size=(500, size)) * 0.5, -1.9, 1.9) * 2.0**q_in)
    ref = layer_norm(stage, (xq * 2.0**-q_in).astype(np.float32))
    qs = _quantize_layer_norm(stage, q_in, float(np.abs(ref).max()))
    got = twin_int.layer_norm(qs, xq.astype(np.int64)) * 2.0**-qs.q_out
    assert np.abs(got - ref).max() <= 2 * 2.0**-qs.q_out
