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


def _masked_head(kind: str, mask_value: float = PAD) -> keras.Model:
    """Masking + recurrent layers whose padded steps Keras skips, ending in `kind`."""
    keras.utils.set_random_seed(5)
    L = keras.layers
    heads = {
        "average": [L.GRU(6, return_sequences=True, name="gru"), L.GlobalAveragePooling1D()],
        "max": [L.LSTM(5, return_sequences=True), L.GlobalMaxPooling1D()],
        "bidirectional": [
            L.Bidirectional(L.GRU(4, return_sequences=True, reset_after=False)),
            L.Dense(3, activation="tanh"),
            L.GlobalAveragePooling1D(),
        ],
        "backwards": [L.SimpleRNN(4, go_backwards=True, return_sequences=True), L.LSTM(3)],
        "conv": [L.GRU(4, return_sequences=True), L.Conv1D(3, 2), L.GRU(3)],
    }
    layers = [L.Masking(mask_value, name="mask"), *heads[kind], L.Dense(2, activation="softmax")]
    return keras.Sequential([keras.Input((STEPS, 2)), *layers], name=f"masked_{kind}")


@pytest.mark.parametrize(
    "kind, mask_value",
    [("average", PAD), ("max", PAD), ("bidirectional", PAD), ("backwards", PAD), ("conv", -1.0)],
)
def test_twin_skips_padded_steps_with_ops_tflite_micro_runs(kind: str, mask_value: float) -> None:
    """The twin computes Keras' mask itself (tf-keras' Masking needs REDUCE_ANY and a bool
    UNPACK, which TFLite Micro lacks); the average pools the valid steps only."""
    original = _masked_head(kind, mask_value)
    x, _ = _padded(6)
    x[x == PAD] = mask_value
    twin = build_twin(load_model_ir(original))
    for window in x:
        np.testing.assert_allclose(
            twin(window[None]).numpy(), original(window[None]).numpy(), atol=1e-6
        )
    import tensorflow as tf

    graph = tf.function(twin).get_concrete_function(tf.TensorSpec((1, STEPS, 2))).graph
    ops = {op.type for op in graph.get_operations()}
    assert "Any" not in ops  # REDUCE_ANY
    unstacked = [op for op in graph.get_operations() if op.type == "Unpack"]
    assert all(op.inputs[0].dtype != tf.bool for op in unstacked)


@pytest.mark.slow
def test_masked_pooling_model_builds_on_every_backend(tmp_path: Path) -> None:
    """Masking + GRU(return_sequences) + GlobalAveragePooling1D: TFLite Micro float32/int8 and
    the native C (streamed average of the valid steps), on the host and on a Cortex-M4."""
    x, y = _padded(60)
    _, report = build_user_model(tmp_path, _masked_head("average"), x, y)
    status = stage_status(report)
    for stage in (
        "tflite_float32/tflm",
        "tflite_int8/tflm",
        "native_float32/host_c",
        "native_int8w/host_c_stream",
        "native_int8/host_c",
        "native_float32/qemu-cortex-m4f",
    ):
        assert status.get(stage) == "passed", (stage, report["stages"])


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


def _masked_lstm_seq() -> keras.Model:
    """One output per step: Keras repeats the last one over the padding."""
    keras.utils.set_random_seed(6)
    layers = [keras.layers.Masking(PAD), keras.layers.LSTM(6, return_sequences=True)]
    return keras.Sequential([keras.Input((STEPS, 2)), *layers, keras.layers.Dense(3)])


@pytest.mark.parametrize(
    "quant, tolerance, kind",
    [
        ("float32", 1e-5, "last"),
        ("int8w", 0.02, "last"),
        ("int8", 0.05, "last"),
        ("int8", 0.05, "seq"),
        ("float32", 1e-5, "average"),
        ("int8w", 0.02, "average"),
        ("int8", 0.05, "average"),
    ],
)
def test_native_c_skips_padded_steps_in_run_step_and_run_len(
    tmp_path: Path, quant: str, tolerance: float, kind: str
) -> None:
    """average: GlobalAveragePooling1D streams (running sums and a count of the valid steps)."""
    from edge_rnn.native import generate
    from edge_rnn.native.generate import prepare, split_masking
    from edge_rnn.native.host import compile_host, run_binary
    from edge_rnn.native.twin import float_forward
    from edge_rnn.native.twin_int import int_forward, quantize_input

    if kind == "average":
        model = _masked_head("average")
    else:
        model = _masked_lstm_seq() if kind == "seq" else _masked_gru(train=False)
    x, _ = _padded(30)
    model_ir = load_model_ir(model)
    binary = compile_host(
        generate(model_ir, tmp_path / quant, quant=quant, calibration_x=x), tmp_path / "model"
    )
    out = run_binary(binary, x)
    ref = model(x).numpy().reshape(out.values.shape)
    np.testing.assert_allclose(out.values, ref, atol=tolerance)
    np.testing.assert_array_equal(run_binary(binary, x, mode="step").raw, out.raw)
    # _run_len reads only the valid steps: anything after them changes nothing
    keep = ~np.all(x == PAD, axis=2)
    lengths = keep.sum(axis=1)
    noisy = np.where(keep[:, :, None], x, np.random.default_rng(1).normal(size=x.shape))
    runlen = run_binary(binary, noisy.astype(np.float32), mode="runlen", lengths=lengths)
    np.testing.assert_array_equal(runlen.raw, out.raw)
    if quant == "float32":
        stages, _ = prepare(split_masking(model_ir)[0], quant, x)
        twin = float_forward(stages, x, keep=keep)
        np.testing.assert_allclose(out.values, twin.reshape(out.values.shape), atol=1e-6)
    if quant == "int8":  # bit-exact with the integer twin; _run_q skips the same steps
        _, plan = prepare(split_masking(model_ir)[0], quant, x)
        assert plan is not None
        expected = int_forward(plan, quantize_input(x, plan.q_in), keep)
        np.testing.assert_array_equal(out.raw, expected.reshape(out.raw.shape))
        np.testing.assert_array_equal(run_binary(binary, x, mode="runq").raw, out.raw)


@pytest.mark.parametrize("quant", ["float32", "int8"])
def test_global_average_streams_without_masking_too(tmp_path: Path, quant: str) -> None:
    """GRU(return_sequences) + GlobalAveragePooling1D gets `_step` (running sums): the last
    step's output is `_run`'s, as Keras' and (int8) bit-exact with the integer twin."""
    from edge_rnn.native import generate
    from edge_rnn.native.generate import prepare
    from edge_rnn.native.host import compile_host, run_binary
    from edge_rnn.native.twin_int import int_forward, quantize_input

    keras.utils.set_random_seed(5)
    layers = [keras.layers.GRU(5, return_sequences=True), keras.layers.GlobalAveragePooling1D()]
    model = keras.Sequential([keras.Input((STEPS, 2)), *layers, keras.layers.Dense(2)])
    x, _ = _padded(20)
    model_ir = load_model_ir(model)
    gen = generate(model_ir, tmp_path / quant, quant=quant, calibration_x=x)
    assert gen.streaming
    binary = compile_host(gen, tmp_path / "model")
    out = run_binary(binary, x)
    tolerance = 1e-5 if quant == "float32" else 0.05
    np.testing.assert_allclose(out.values, model(x).numpy(), atol=tolerance)
    np.testing.assert_array_equal(run_binary(binary, x, mode="step").raw, out.raw)
    if quant == "int8":
        _, plan = prepare(model_ir, quant, x)
        assert plan is not None
        expected = int_forward(plan, quantize_input(x, plan.q_in))
        np.testing.assert_array_equal(out.raw, expected.reshape(out.raw.shape))


@pytest.mark.arm
@pytest.mark.parametrize("kind", ["seq", "average"])
def test_masked_int8_code_compiles_for_cortex_m0plus(tmp_path: Path, kind: str) -> None:
    """masked_q, _run_len and _step_q of a Masking model (average: the streamed masked
    GlobalAveragePooling1D), warning-free without an FPU."""
    import shutil
    import subprocess

    from edge_rnn.native import generate

    if not shutil.which("arm-none-eabi-gcc"):
        pytest.skip("arm-none-eabi-gcc is needed")
    x, _ = _padded(30)
    model = _masked_head("average") if kind == "average" else _masked_lstm_seq()
    gen = generate(load_model_ir(model), tmp_path / "g", quant="int8", calibration_x=x)
    flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "-mcpu=cortex-m0plus", "-mthumb"]
    for src in gen.sources:
        cmd = ["arm-none-eabi-gcc", *flags, "-c", str(src), "-o", str(tmp_path / "x.o")]
        subprocess.run(cmd, check=True, capture_output=True)


def _masked_conv_gru(mask_value: float, depthwise: bool = False) -> keras.Model:
    """Keras drops the mask at the (depthwise) Conv1D: the GRU runs over the padded steps too."""
    keras.utils.set_random_seed(7)
    conv = (
        keras.layers.DepthwiseConv1D(3, depth_multiplier=2, padding="same", name="conv")
        if depthwise
        else keras.layers.Conv1D(4, 3, padding="causal", name="conv")
    )
    layers = [keras.layers.Masking(mask_value, name="mask"), conv, keras.layers.GRU(6, name="gru")]
    return keras.Sequential([keras.Input((STEPS, 2)), *layers], name="masked_conv")


@pytest.mark.parametrize("depthwise", [False, True])
def test_native_c_and_twin_run_padded_steps_where_keras_drops_the_mask(
    tmp_path: Path, depthwise: bool
) -> None:
    from edge_rnn.native import generate
    from edge_rnn.native.host import compile_host, run_binary

    model = _masked_conv_gru(PAD, depthwise)
    x, _ = _padded(30)
    expected = model(x).numpy()
    binary = compile_host(generate(load_model_ir(model), tmp_path / "g"), tmp_path / "model")
    np.testing.assert_allclose(run_binary(binary, x).values, expected, atol=1e-5)
    twin = build_twin(load_model_ir(model))
    np.testing.assert_allclose(np.concatenate([twin(w[None]) for w in x]), expected, atol=1e-5)


def test_native_c_refuses_a_nonzero_mask_dropped_by_conv1d(tmp_path: Path) -> None:
    from edge_rnn.native import generate

    with pytest.raises(EdgeRnnError, match="drops the mask of 'mask' at layer 'conv' \\(Conv1D\\)"):
        generate(load_model_ir(_masked_conv_gru(-1.0)), tmp_path / "g")


def test_native_refusal_of_a_masked_pooling_head_names_the_layer_and_the_way_out(
    tmp_path: Path,
) -> None:
    """Masking + GRU(return_sequences) + GlobalMaxPooling1D: Keras does not mask the maximum
    (it includes the outputs of padded steps: zeros before the first valid step); the native
    backend does not stream a maximum, and says which layer and what to use instead."""
    from edge_rnn.native import generate

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((STEPS, 2)),
            keras.layers.Masking(PAD),
            keras.layers.GRU(4, return_sequences=True),
            keras.layers.GlobalMaxPooling1D(name="gmp"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    with pytest.raises(EdgeRnnError, match=r"layer 'gmp' needs every step.*TFLite/ONNX") as err:
        generate(load_model_ir(model), tmp_path / "g")
    assert "return_sequences=False" in str(err.value)
    assert not (tmp_path / "g").exists()
