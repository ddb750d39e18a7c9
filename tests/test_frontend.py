"""Keras -> IR: supported layers map faithfully; every unsupported feature is listed at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from edge_rnn import ir
from edge_rnn.errors import EdgeRnnError
from edge_rnn.export.routes import tflite_route
from edge_rnn.export.twins import build_twin
from edge_rnn.frontends.keras import load_model_ir


def _stacked() -> keras.Model:
    keras.utils.set_random_seed(3)
    return keras.Sequential(
        [
            keras.Input((6, 3)),
            keras.layers.GRU(4, return_sequences=True, recurrent_activation="hard_sigmoid"),
            keras.layers.Dropout(0.2),
            keras.layers.Bidirectional(keras.layers.LSTM(3), merge_mode="ave"),
            keras.layers.Dense(2),
            keras.layers.Activation("softmax"),
        ],
        name="My-Stacked Model",
    )


def test_ir_describes_stacked_bidirectional_model() -> None:
    model = load_model_ir(_stacked())
    assert model.name == "my_stacked_model"
    assert model.input_shape == (6, 3) and model.output_shape == (2,)
    kinds = [type(layer) for layer in model.layers]
    assert kinds == [ir.RecurrentLayer, ir.BidirectionalLayer, ir.DenseLayer]
    gru, bidi, dense = model.layers
    assert gru.reset_after and gru.recurrent_activation == "hard_sigmoid"
    assert bidi.merge_mode == "ave" and bidi.backward.go_backwards
    assert dense.activation == "softmax" and model.task == "classification"
    assert gru.bias.shape == (2, 12) and bidi.forward.kernel.shape == (4, 12)


@pytest.mark.parametrize("unrolled", [False, True])
def test_export_twin_matches_keras3_exactly(unrolled: bool) -> None:
    original = _stacked()
    model = load_model_ir(original)
    unroll = frozenset(layer.name for layer in model.layers[:2]) if unrolled else frozenset()
    x = np.random.default_rng(0).normal(size=(1, 6, 3)).astype(np.float32)
    twin = build_twin(model, unroll)
    np.testing.assert_allclose(twin(x).numpy(), original(x).numpy(), atol=1e-6)


def test_every_unsupported_feature_listed_at_once() -> None:
    bad = keras.Sequential(
        [
            keras.Input((7, 3)),
            keras.layers.Permute((2, 1), name="perm"),
            keras.layers.LSTM(4, activation="gelu", return_sequences=True, name="rnn"),
            keras.layers.UpSampling1D(2, name="up"),
            keras.layers.GRU(2, name="gru"),
            keras.layers.Dense(2),
        ]
    )
    with pytest.raises(EdgeRnnError) as err:
        load_model_ir(bad)
    message = str(err.value)
    assert "3 unsupported features" in message
    assert "layer 'perm': Permute is not supported" in message
    assert "layer 'rnn': activation='gelu'" in message
    assert "layer 'up': UpSampling1D is not supported" in message


def test_variable_sequence_length_needs_timesteps() -> None:
    model = keras.Sequential(
        [keras.Input((None, 2)), keras.layers.SimpleRNN(3), keras.layers.Dense(1)]
    )
    with pytest.raises(EdgeRnnError, match="--timesteps"):
        load_model_ir(model)
    assert load_model_ir(model, timesteps=9).input_shape == (9, 2)


def test_branching_model_refused() -> None:
    inputs = keras.Input((5, 3))
    a = keras.layers.LSTM(4, name="a")(inputs)
    b = keras.layers.GRU(4, name="b")(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.Concatenate()([a, b]))
    with pytest.raises(EdgeRnnError, match="branches"):
        load_model_ir(keras.Model(inputs, outputs))


def test_routes_fuse_lstm_unroll_others_and_refuse_int16x8_fused() -> None:
    model = load_model_ir(_stacked())
    route = tflite_route(model, "int8")
    assert route.name == "fused-lstm+unrolled"  # GRU unrolled, the BiLSTM stays fused
    assert route.unroll == {model.layers[0].name}
    keras.utils.set_random_seed(0)
    lstm = load_model_ir(
        keras.Sequential([keras.Input((5, 2)), keras.layers.LSTM(3), keras.layers.Dense(1)])
    )
    assert tflite_route(lstm, "int8").name == "fused-lstm"
    assert tflite_route(lstm, "int16x8").name == "unrolled"
    assert "int16x8" in tflite_route(lstm, "int16x8").notes[0]
    with pytest.raises(EdgeRnnError, match="cannot quantize the fused LSTM to int16x8"):
        tflite_route(lstm, "int16x8", "fused")
    with pytest.raises(EdgeRnnError, match="unknown tflite quantization 'int4'"):
        tflite_route(lstm, "int4")


def test_tf_keras_h5_with_recurrent_layers_loads(tmp_path) -> None:
    """A legacy .h5 saved by tf.keras (Keras 2: TF <= 2.15, tf-keras) stores time_major=False
    in every LSTM/GRU, which Keras 3 refuses ("Unrecognized keyword arguments"): edge-rnn reads
    it without that key and computes what tf.keras computes; time_major=True is refused."""
    import tf_keras

    from edge_rnn.frontends.keras import load_keras_model

    tf_keras.utils.set_random_seed(0)
    layers = tf_keras.layers
    model = tf_keras.Sequential(
        [
            layers.Bidirectional(layers.LSTM(6, return_sequences=True), input_shape=(8, 3)),
            layers.GRU(5),
            layers.Dense(3, activation="softmax"),
        ]
    )
    model.save(tmp_path / "tf_keras.h5")
    x = np.random.default_rng(0).normal(size=(4, 8, 3)).astype(np.float32)
    loaded = load_keras_model(tmp_path / "tf_keras.h5")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert [type(layer).__name__ for layer in load_model_ir(tmp_path / "tf_keras.h5").layers] == [
        "BidirectionalLayer",
        "RecurrentLayer",
        "DenseLayer",
    ]
    major = tf_keras.Sequential([layers.LSTM(4, time_major=True, input_shape=(8, 3))])
    major.save(tmp_path / "major.h5")
    with pytest.raises(EdgeRnnError, match="time_major=True is not supported"):
        load_keras_model(tmp_path / "major.h5")


def test_lambda_and_custom_layers_are_named_with_the_way_out(tmp_path: Path) -> None:
    """Keras refuses to load them with a message about deserialization; the user learns which
    layer it is and what to use instead, not to re-save the file (which changes nothing)."""
    from edge_rnn.frontends.keras import load_keras_model

    @keras.saving.register_keras_serializable(package="user")
    class Scale(keras.layers.Layer):  # type: ignore[misc]
        def call(self, x: Any) -> Any:
            return x * 3.0

    for name, front in (("lambda", keras.layers.Lambda(lambda t: t * 2.0)), ("custom", Scale())):
        model = keras.Sequential([keras.Input((5, 2)), front, keras.layers.GRU(2)])
        model.save(tmp_path / f"{name}.keras")
    keras.saving.get_custom_objects().pop("user>Scale")  # a fresh process does not know it
    with pytest.raises(EdgeRnnError, match=r"layer 'lambda\w*' is a Lambda \(Python code\)"):
        load_keras_model(tmp_path / "lambda.keras")
    with pytest.raises(EdgeRnnError, match=r"layer 'scale\w*' is a custom class Scale.*Rescaling"):
        load_keras_model(tmp_path / "custom.keras")


def test_generic_rnn_of_a_standard_cell_names_the_layer_to_use() -> None:
    """keras.layers.RNN(LSTMCell(n)) is an LSTM(n) with the same weights: say so."""
    model = keras.Sequential(
        [keras.Input((5, 2)), keras.layers.RNN(keras.layers.LSTMCell(3), name="wrapped")]
    )
    with pytest.raises(EdgeRnnError, match=r"'wrapped': RNN\(LSTMCell\).*keras.layers.LSTM\("):
        load_model_ir(model)
    # The advice works: the same weights in an LSTM give the same outputs.
    lstm = keras.Sequential([keras.Input((5, 2)), keras.layers.LSTM(3)])
    lstm.layers[-1].set_weights(model.layers[-1].get_weights())
    x = np.random.default_rng(0).normal(size=(2, 5, 2)).astype(np.float32)
    np.testing.assert_allclose(lstm(x), model(x), atol=1e-6)
