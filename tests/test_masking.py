"""Masking on padded variable-length windows: Keras skips the padded steps; so must every
artefact that accepts the model (the validator runs the padded windows)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from edge_rnn import ir
from edge_rnn.errors import EdgeRnnError
from edge_rnn.export.twins import build_twin
from edge_rnn.frontends.keras import load_model_ir
from tests.byom import build_user_model, stage_status

STEPS, PAD = 12, 0.0


def _padded(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Windows of 4..12 valid steps, padded at the end with PAD."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, STEPS, 2)).astype(np.float32) + 0.5
    lengths = rng.integers(4, STEPS + 1, size=n)
    for i, length in enumerate(lengths):
        x[i, length:] = PAD
    y = (x[:, :, 0].sum(axis=1) / lengths > 0.5).astype(np.int64)
    return x, y


def _masked_gru(train: bool = True) -> keras.Model:
    keras.utils.set_random_seed(6)
    model = keras.Sequential(
        [
            keras.Input((STEPS, 2)),
            keras.layers.Masking(PAD, name="mask"),
            keras.layers.GRU(8, name="gru"),
            keras.layers.Dense(2, activation="softmax", name="head"),
        ],
        name="padded_gru",
    )
    if train:
        x, y = _padded()
        model.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=12, batch_size=16, verbose=0)
    return model


def test_masking_maps_to_the_ir_and_the_twin_skips_padded_steps() -> None:
    original = _masked_gru(train=False)
    model = load_model_ir(original)
    assert isinstance(model.layers[0], ir.MaskingLayer) and model.layers[0].mask_value == PAD
    x, _ = _padded(4)
    twin = build_twin(model)
    for window in x:
        np.testing.assert_allclose(
            twin(window[None]).numpy(), original(window[None]).numpy(), atol=1e-6
        )


@pytest.mark.slow
def test_masked_gru_on_padded_windows_builds(tmp_path: Path) -> None:
    x, y = _padded()
    manifest, report = build_user_model(tmp_path, _masked_gru(), x, y)
    status = stage_status(report)
    for stage in (
        "tflite_float32/litert",
        "onnx_float32/onnxruntime",
        "native_float32/host_c",
        "native_int8w/host_c_stream",
        "native_float32/qemu-cortex-m4f",
    ):
        assert status[stage] == "passed"


def test_attention_branch_is_refused_naming_class_and_layer() -> None:
    inputs = keras.Input((STEPS, 2))
    seq = keras.layers.GRU(4, return_sequences=True, name="gru")(inputs)
    attended = keras.layers.Attention(name="attn")([seq, seq])
    outputs = keras.layers.Dense(2, name="head")(keras.layers.GlobalAveragePooling1D()(attended))
    with pytest.raises(EdgeRnnError, match="layer 'attn': Attention: the model branches"):
        load_model_ir(keras.Model(inputs, outputs))


@pytest.mark.parametrize("quant, tolerance", [("float32", 1e-5), ("int8w", 0.02)])
def test_native_c_skips_padded_steps_in_run_and_step(tmp_path: Path, quant, tolerance) -> None:
    from edge_rnn.native import generate
    from edge_rnn.native.host import run_host, run_host_result

    model = _masked_gru(train=False)
    x, _ = _padded(30)
    generated = generate(load_model_ir(model), tmp_path / quant, quant=quant)
    out = run_host(generated, x)
    np.testing.assert_allclose(out, model(x).numpy(), atol=tolerance)
    streamed = run_host_result(generated, x, mode="step").values.reshape(out.shape)
    np.testing.assert_array_equal(streamed, out)
