"""stateful=True recurrent layers: accepted, validated window by window from a reset state
(the Keras reference too, in its fixed batch size), and streamed by the native `_step`."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from edge_rnn.frontends.keras import load_model_ir
from edge_rnn.runtimes.keras_runner import run_keras
from tests.byom import build_user_model, stage_status


def _lstm(batch_shape: tuple, stateful: bool) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(batch_shape=batch_shape),
            keras.layers.LSTM(8, stateful=stateful, name="lstm"),
            keras.layers.Dense(2, activation="softmax", name="head"),
        ],
        name="streamer",
    )


def _data(n: int = 160) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(n, 12, 3)).astype(np.float32)
    y = (x[:, :, 0].sum(axis=1) > 0).astype(np.int64)
    return x, y


def _trained_stateful(batch_shape: tuple) -> keras.Model:
    """A stateful model with the weights of a stateless twin trained on the data."""
    keras.utils.set_random_seed(0)
    x, y = _data()
    plain = _lstm((None, 12, 3), stateful=False)
    plain.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
    plain.fit(x, y, epochs=20, batch_size=16, verbose=0)
    model = _lstm(batch_shape, stateful=True)
    model.set_weights(plain.get_weights())
    return model


def test_stateful_layer_is_accepted_and_streams_from_the_data_length() -> None:
    model = _lstm((1, None, 3), stateful=True)
    described = load_model_ir(model, {"input_shape": [12, 3]})
    assert described.input_shape == (12, 3)
    assert described.layers[0].stateful


def test_keras_reference_resets_state_per_batch_in_the_fixed_batch_size() -> None:
    model = _trained_stateful((4, None, 3))
    x, _ = _data(10)  # not a multiple of 4: the last batch is padded
    first, again = run_keras(model, x), run_keras(model, x)
    np.testing.assert_array_equal(first, again)
    plain = _lstm((None, 12, 3), stateful=False)
    plain.set_weights(model.get_weights())
    np.testing.assert_allclose(first, plain(x).numpy(), atol=1e-6)


def test_stateful_bidirectional_is_refused_by_name() -> None:
    model = keras.Sequential(
        [
            keras.Input(batch_shape=(1, 5, 2)),
            keras.layers.Bidirectional(keras.layers.GRU(3, stateful=True), name="bi"),
            keras.layers.Dense(1),
        ]
    )
    with pytest.raises(Exception, match="stateful=True on a backward or Bidirectional"):
        load_model_ir(model)


@pytest.mark.slow
def test_stateful_streaming_lstm_builds_on_every_backend(tmp_path: Path) -> None:
    x, y = _data()
    manifest, report = build_user_model(tmp_path, _trained_stateful((1, None, 3)), x, y)
    status = stage_status(report)
    for name in ("native_float32", "native_int8w", "native_int8"):
        assert status[f"{name}/host_c_stream"] == "passed"
    assert status["tflite_int8/litert"] == status["onnx_float32/onnxruntime"] == "passed"
    header = (tmp_path / "build" / "native" / "float32" / "user.h").read_text()
    assert "stateful" in header
