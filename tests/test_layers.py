"""Layers around the recurrent core (Normalization, Rescaling, BatchNormalization, Activation,
Dense stacks, Flatten, Reshape, global pooling, Conv1D front ends, 1D pooling) through the IR
into every backend, with the Keras model as the reference."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import keras
import numpy as np
import pytest

from edge_rnn import ir
from edge_rnn.errors import EdgeRnnError
from edge_rnn.frontends.keras import load_model_ir
from edge_rnn.native import generate
from edge_rnn.native.fold import fold_affines
from edge_rnn.native.generate import prepare
from edge_rnn.native.host import compile_host, run_binary
from edge_rnn.native.lower import ConvStage, DenseStage, DepthwiseStage
from edge_rnn.native.twin import float_forward
from edge_rnn.native.twin_int import int_forward, quantize_input

T, F, N = 12, 3, 24
L = keras.layers
# max abs error vs Keras, relative to max(1, max |Keras output|)
TOL = {"float32": 1e-5, "int8w": 0.03, "int8": 0.05}


def _windows(n: int = N, seed: int = 3) -> np.ndarray:
    rng = np.random.RandomState(seed)
    return (rng.randn(n, T, F) * np.array([2.0, 0.5, 4.0]) + np.array([1.0, -2.0, 0.5])).astype(
        np.float32
    )


def _trained_norms(model: keras.Model) -> None:
    """BatchNormalization moving statistics and gamma/beta (LayerNormalization: its gamma and
    beta) as training would leave them (not the identity); a layer named "*negative*" gets a
    negative gamma."""
    rng = np.random.RandomState(2)
    for layer in model.layers:
        if isinstance(layer, L.LayerNormalization):
            layer.set_weights(
                [
                    (rng.rand(*w.shape) + 0.5) * rng.choice([-1.0, 1.0], w.shape)
                    for w in layer.get_weights()
                ]
            )
        if isinstance(layer, L.BatchNormalization):
            size = layer.get_weights()[0].size
            sign = -1.0 if "negative" in layer.name else 1.0
            layer.set_weights(
                [
                    (sign * (rng.rand(size) + 0.5)).astype(np.float32),
                    rng.randn(size).astype(np.float32) * 0.3,
                    rng.randn(size).astype(np.float32) * 0.3,
                    (rng.rand(size) + 0.5).astype(np.float32),
                ]
            )


def _normalization() -> keras.layers.Layer:
    layer = L.Normalization()
    layer.adapt(_windows(64, seed=11))
    return layer


MODELS = {
    # the activity recognizer shape: raw input, normalization inside the model
    "cnn_lstm": lambda: [
        _normalization(),
        L.Conv1D(6, 3, padding="causal", dilation_rate=2, activation="relu"),
        L.BatchNormalization(),
        L.MaxPooling1D(2),
        L.LSTM(5),
        L.Dense(4, activation="softmax"),
    ],
    "conv_same_stride": lambda: [
        L.Conv1D(5, 3, strides=2, padding="same"),
        L.Activation("tanh"),
        L.AveragePooling1D(2, padding="same"),
        L.GRU(4, return_sequences=True),
        L.Activation("tanh"),
        L.GlobalAveragePooling1D(),
        L.Dense(3),
    ],
    "conv_valid_stream": lambda: [
        L.Conv1D(4, 3, strides=2),
        L.BatchNormalization(),
        L.ReLU(),
        L.AveragePooling1D(2, strides=1),
        L.GRU(3),
        L.Dense(2),
        L.Softmax(),
    ],
    "flatten_dense": lambda: [
        L.Rescaling(0.5, 0.1),
        L.SimpleRNN(4, return_sequences=True),
        L.Flatten(),
        L.Dense(6, activation="relu"),
        L.BatchNormalization(),
        L.Dense(3),
        L.Activation("softmax"),
    ],
    "reshape_gmax": lambda: [
        L.Reshape((6, 6)),
        L.LSTM(4, return_sequences=True),
        L.BatchNormalization(name="bn_negative"),
        L.GlobalMaxPooling1D(),
        L.Activation("sigmoid"),
    ],
    "stream_act": lambda: [
        L.Rescaling(0.3, -0.2),
        L.LSTM(4, return_sequences=True),
        L.Activation("relu"),
        L.Dense(3),
        L.Activation("hard_sigmoid"),
    ],
    # LayerNormalization where Keras models put it: between stacked cells, after Conv1D/Dense
    "ln_stacked": lambda: [
        L.LSTM(6, return_sequences=True),
        L.LayerNormalization(),
        L.GRU(5),
        L.Dense(4),
        L.LayerNormalization(epsilon=0.01, center=False),
        L.Dense(3, activation="softmax"),
    ],
    "conv_ln_same": lambda: [
        L.Conv1D(5, 3, padding="same", activation="relu"),
        L.LayerNormalization(scale=False),
        L.LSTM(4, return_sequences=True),
        L.LayerNormalization(),
        L.GlobalAveragePooling1D(),
        L.Dense(2),
    ],
    # relu6 as a Conv1D/Dense activation and as a layer of its own; the Rescaling pushes the
    # Conv1D outputs past 6 (7% of them, up to 17) so the clamp is exercised
    "relu6": lambda: [
        L.Rescaling(2.0),
        L.Conv1D(6, 3, padding="causal", activation="relu6"),
        L.LSTM(8, return_sequences=True),
        L.ReLU(max_value=6.0),
        L.GRU(6),
        L.Dense(6, activation="relu6"),
        L.Dense(3, activation="softmax"),
    ],
    # ZeroPadding1D before a Conv1D joins its windows (here: the causal padding, streamed);
    # before pooling (which leaves padding out), and Cropping1D, it is a stage of its own
    "zeropad_causal": lambda: [
        L.ZeroPadding1D((2, 0)),
        L.Conv1D(4, 3, activation="relu"),
        L.LSTM(4),
        L.Dense(2),
    ],
    "pad_crop": lambda: [
        L.ZeroPadding1D((1, 2)),
        L.Conv1D(4, 3, strides=2, activation="tanh"),
        L.Cropping1D((1, 0)),
        L.ZeroPadding1D(1),
        L.MaxPooling1D(2),
        L.GRU(4, return_sequences=True),
        L.Cropping1D((0, 1)),
        L.GlobalAveragePooling1D(),
        L.Dense(3),
    ],
    # LeakyReLU: as a Conv1D activation (leaky_relu, Keras slope 0.2), a layer of its own after
    # the LSTM (slope 0.05) and a layer folded into the Dense before it (Keras default 0.3)
    "leaky_relu": lambda: [
        L.Conv1D(6, 3, padding="causal", activation="leaky_relu"),
        L.LSTM(8, return_sequences=True),
        L.LeakyReLU(negative_slope=0.05),
        L.GRU(6),
        L.Dense(6),
        L.LeakyReLU(),
        L.Dense(3, activation="softmax"),
    ],
    # ReLU with max_value, negative_slope and threshold: all three on the Conv1D, a threshold
    # alone after the LSTM, a max_value other than 6 on the Dense
    "relu_options": lambda: [
        L.Conv1D(6, 3, padding="causal"),
        L.ReLU(max_value=2.5, negative_slope=0.1, threshold=0.5),
        L.LSTM(8, return_sequences=True),
        L.ReLU(threshold=0.2),
        L.GRU(6),
        L.Dense(6),
        L.ReLU(max_value=1.0),
        L.Dense(3, activation="softmax"),
    ],
    # DepthwiseConv1D (a per-channel kernel natively) and SeparableConv1D (depthwise, then a
    # per-step Dense); Keras refuses padding="causal" there, so causal is a ZeroPadding1D
    "depthwise": lambda: [
        L.ZeroPadding1D((4, 0)),
        L.DepthwiseConv1D(3, depth_multiplier=2, dilation_rate=2),
        L.LeakyReLU(negative_slope=0.1),
        L.LSTM(4),
        L.Dense(2),
    ],
    "depthwise_pad_stride": lambda: [
        L.ZeroPadding1D(1),
        L.DepthwiseConv1D(3, strides=2, use_bias=False, activation="tanh"),
        L.GRU(4, return_sequences=True),
        L.GlobalMaxPooling1D(),
        L.Dense(3, activation="softmax"),
    ],
    "separable": lambda: [
        L.SeparableConv1D(5, 3, depth_multiplier=2, padding="same", activation="relu"),
        L.MaxPooling1D(2),
        L.GRU(4),
        L.Dense(2),
    ],
    # the smooth activations Keras names, on Conv1D, per-step and vector Dense and Activation
    "smooth_acts": lambda: [
        L.Conv1D(6, 3, padding="causal", activation="elu"),
        L.Dense(6, activation="selu"),
        L.LSTM(8, return_sequences=True),
        L.Activation("softsign"),
        L.GRU(6),
        L.Dense(6, activation="silu"),
        L.Dense(6, activation="hard_silu"),
        L.Dense(3, activation="softmax"),
    ],
    # apart: TFLite Micro has no GELU registration, and EXP/LOG (softplus) in float32 only
    "gelu_softplus": lambda: [
        L.Dense(4, activation="gelu"),
        L.LSTM(4, return_sequences=True),
        L.Activation("softplus"),
        L.GRU(3),
        L.Activation("gelu"),
        L.Dense(2, activation="softplus"),
    ],
    "conv_ln_causal": lambda: [
        L.Conv1D(4, 2, padding="causal"),
        L.LayerNormalization(),
        L.SimpleRNN(5, return_sequences=True),
        L.LayerNormalization(),
        L.Dense(2),
    ],
}
# causal/valid Conv1D and valid pooling stream (state keeps their input windows)
STREAMING = {
    "stream_act",
    "cnn_lstm",
    "conv_valid_stream",
    "ln_stacked",
    "conv_ln_causal",
    "relu6",
    "zeropad_causal",
    "leaky_relu",
    "relu_options",
    "depthwise",
    "smooth_acts",
    "gelu_softplus",
}
# native int8 has no integer kernel for these models' activations: not applicable
NO_NATIVE_INT8 = {"smooth_acts", "gelu_softplus"}


def _keras_model(name: str) -> keras.Model:
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((T, F)), *MODELS[name]()], name=name)
    _trained_norms(model)
    return model


@pytest.fixture(scope="module", params=sorted(MODELS))
def case(request):
    model = _keras_model(request.param)
    x = _windows()
    return request.param, model, load_model_ir(model), x, np.asarray(model(x)).reshape(N, -1)


def test_ir_shapes_follow_keras(case):
    name, model, ir_model, _, _ = case
    assert ir_model.output_shape == tuple(model.output_shape[1:]), name
    assert ir_model.normalization is None  # the model's own layers stay inside the IR


def test_affine_layers_fold_into_neighbours():
    model = load_model_ir(_keras_model("cnn_lstm"))
    folded = fold_affines(model)
    assert not any(isinstance(layer, ir.AffineLayer) for layer in folded.layers)
    assert folded.normalization is not None  # the Normalization layer moved to the C input
    # Conv1D, pooling, LSTM, Dense: the BatchNorm moved past the max pooling into the LSTM
    assert [type(layer).__name__ for layer in folded.layers] == [
        "Conv1DLayer",
        "PoolingLayer",
        "RecurrentLayer",
        "DenseLayer",
    ]
    # Conv1D -> BatchNorm -> ReLU: one Conv1D with relu; Dense -> Softmax: one Dense
    folded = fold_affines(load_model_ir(_keras_model("conv_valid_stream")))
    assert [getattr(layer, "activation", None) for layer in folded.layers] == [
        "relu",
        None,
        "tanh",
        "softmax",
    ]
    # BatchNorm before a global max with a negative scale: a diagonal Dense stage
    model = load_model_ir(_keras_model("reshape_gmax"))
    assert np.any(model.layers[2].scale < 0)
    stages, _ = prepare(model, "float32", None)
    assert sum(isinstance(stage, DenseStage) for stage in stages) == 1


def test_zero_padding_before_a_conv1d_joins_its_windows() -> None:
    stages, _ = prepare(load_model_ir(_keras_model("pad_crop")), "float32", None)
    assert [stage.kind for stage in stages] == [
        "conv",
        "tpad",
        "tpad",
        "pool",
        "cell",
        "tpad",
        "gpool",
        "dense",
    ]
    conv = stages[0]
    assert isinstance(conv, ConvStage)
    assert (conv.steps_in, conv.pad_left, conv.steps_out) == (T, 1, 7)
    stages, _ = prepare(load_model_ir(_keras_model("zeropad_causal")), "float32", None)
    assert isinstance(stages[0], ConvStage) and stages[0].pad_left == 2  # as padding="causal"


def test_depthwise_is_a_per_channel_stage_and_separable_adds_a_dense() -> None:
    stages, _ = prepare(load_model_ir(_keras_model("depthwise")), "float32", None)
    assert [stage.kind for stage in stages] == ["dwconv", "cell", "dense"]
    depthwise = stages[0]
    assert isinstance(depthwise, DepthwiseStage)
    # 3 taps per output (not 3 x 3 channels as a dense Conv1D), LeakyReLU joined, causal
    assert depthwise.rows.w.shape == (F * 2, 3) and depthwise.rows.activation == "leaky_relu"
    assert depthwise.pad_left == 4 and depthwise.steps_out == T
    stages, _ = prepare(load_model_ir(_keras_model("separable")), "float32", None)
    assert [stage.kind for stage in stages] == ["dwconv", "dense", "pool", "cell", "dense"]
    assert (stages[0].out_size, stages[1].out_size) == (F * 2, 5)
    assert (stages[0].rows.activation, stages[1].activation) == ("linear", "relu")


def test_batchnorm_far_from_zero_stays_a_diagonal_dense_when_quantized(tmp_path: Path) -> None:
    """A brought Conv1D(relu) + BatchNormalization + LSTM on raw input with a 20 degC channel:
    the BatchNorm's offsets (-mean x scale) are large. Folded into the LSTM's input columns the
    int8 weights multiplied the un-centred conv outputs (int8w rel_l2 4.46); kept as a diagonal
    Dense (quantized modes only) the LSTM sees centred inputs (0.21: what remains is the Conv1D's
    own rounding times 20 degC, which the build's note on raw input far from zero covers)."""
    rng = np.random.default_rng(0)
    temperature = 20.0 + rng.normal(0.0, 1.0, (N, T, 1))
    x = np.concatenate([temperature, rng.normal(0.0, 1.0, (N, T, 2))], axis=2).astype(np.float32)
    keras.utils.set_random_seed(0)
    conv = L.Conv1D(8, 3, activation="relu")
    bn = L.BatchNormalization()
    model = keras.Sequential([keras.Input((T, F)), conv, bn, L.LSTM(16), L.Dense(2)])
    features = np.asarray(conv(x)).reshape(-1, 8)  # the statistics training leaves in the BN
    gamma, beta = bn.get_weights()[:2]
    bn.set_weights([gamma, beta, features.mean(0), features.var(0)])
    ir_model = load_model_ir(model)
    assert np.abs(ir_model.layers[1].offset).max() > 5  # far beyond CENTRED_OFFSET_MAX
    ref = np.asarray(model(x))
    for quant in ("float32", "int8w", "int8"):
        stages, _ = prepare(ir_model, quant, x)
        dense = sum(isinstance(stage, DenseStage) for stage in stages)
        assert dense == (1 if quant == "float32" else 2), quant  # the head (+ the diagonal)
        gen = generate(ir_model, tmp_path / quant, quant=quant, calibration_x=x)
        got = run_binary(compile_host(gen, tmp_path / f"{quant}.bin"), x).values.reshape(N, -1)
        rel_l2 = np.linalg.norm(got - ref) / np.linalg.norm(ref)
        assert rel_l2 < (1e-5 if quant == "float32" else 0.5), (quant, rel_l2)


@pytest.mark.parametrize("quant", ["float32", "int8w", "int8"])
def test_native_matches_keras_and_twins(case, quant, tmp_path):
    name, _, model, x, ref = case
    if quant == "int8" and name in NO_NATIVE_INT8:
        with pytest.raises(EdgeRnnError, match="in int8 .no integer kernel"):
            generate(model, tmp_path / "gen", quant=quant, calibration_x=x)
        return
    gen = generate(model, tmp_path / "gen", quant=quant, calibration_x=x)
    binary = compile_host(gen, tmp_path / "model")
    result = run_binary(binary, x)
    assert result.state_bytes == gen.ram_bytes
    err = np.abs(result.values - ref).max()
    assert err <= TOL[quant] * max(1.0, np.abs(ref).max()), f"{name} {quant}: {err}"

    stages, plan = prepare(model, quant, x)
    norm = fold_affines(model).normalization
    x_norm = norm.apply(x) if norm else x
    if quant == "int8":
        assert plan is not None
        expected = int_forward(plan, quantize_input(x_norm, plan.q_in)).reshape(N, -1)
        np.testing.assert_array_equal(result.raw, expected)
    elif quant == "float32":
        twin = float_forward(stages, x_norm).reshape(N, -1)
        np.testing.assert_allclose(result.values, twin, atol=2e-5, rtol=0)

    assert gen.streaming == (name in STREAMING)
    header = (gen.out_dir / f"{model.name}.h").read_text()
    if gen.streaming:
        np.testing.assert_array_equal(run_binary(binary, x, mode="step").raw, result.raw)
    else:
        assert f"No {model.name}_step: " in header


@pytest.mark.parametrize("name", ["conv_same_stride", "cnn_lstm", "ln_stacked", "depthwise"])
def test_native_sanitizers_clean(name: str, tmp_path: Path) -> None:
    model = load_model_ir(_keras_model(name))
    x = _windows()
    for quant in ("float32", "int8"):
        gen = generate(model, tmp_path / quant, quant=quant, calibration_x=x)
        plain = run_binary(compile_host(gen, tmp_path / f"{quant}.plain"), x[:4])
        checked = compile_host(gen, tmp_path / f"{quant}.asan", sanitize=True)
        np.testing.assert_array_equal(run_binary(checked, x[:4]).raw, plain.raw)
        if gen.streaming:
            np.testing.assert_array_equal(run_binary(checked, x[:4], mode="step").raw, plain.raw)


def test_refusals_name_each_layer():
    keras.utils.set_random_seed(0)
    norm = L.Normalization(invert=True)
    norm.adapt(_windows(8))
    layers = [norm, L.LSTM(4, return_sequences=True), L.Conv1D(4, 3, groups=2)]
    model = keras.Sequential([keras.Input((T, F)), *layers, L.Reshape((10, 4, 1))], name="bad")
    with pytest.raises(EdgeRnnError, match="3 unsupported features") as err:
        load_model_ir(model)
    message = str(err.value)
    assert f"'{norm.name}': Normalization(invert=True)" in message
    assert "groups > 1" in message and "(10, 4, 1)" in message


def test_activations_outside_the_supported_set_are_refused_by_name():
    layers = [
        L.LSTM(4, activation="relu6", return_sequences=True),
        L.GRU(4, activation="leaky_relu", return_sequences=True),
        L.LeakyReLU(0.1),  # supported: not in the message
        L.ReLU(max_value=4.0, threshold=0.5),  # supported
        L.GRU(3),
        L.Dense(4, activation="leaky_relu"),  # supported
        L.Dense(2, activation="mish"),
    ]
    model = keras.Sequential([keras.Input((T, F)), *layers], name="acts")
    with pytest.raises(EdgeRnnError, match="3 unsupported features") as err:
        load_model_ir(model)
    message = str(err.value)
    lstm, gru, leaky, relu, _, dense, mish = (layer.name for layer in layers)
    assert f"'{lstm}': activation='relu6' is not supported; use one of tanh," in message
    assert f"'{gru}': activation='leaky_relu' is not supported" in message
    assert f"'{mish}': activation='mish' is not supported; use one of" in message
    assert "relu6, leaky_relu, elu, selu, silu, gelu, softplus, softsign, hard_silu," in message
    assert all(f"'{name}'" not in message for name in (leaky, relu, dense))


def test_elu_layer_is_the_elu_activation_alpha_other_than_1_refused():
    elu, other = L.ELU(), L.ELU(alpha=0.5)
    model = keras.Sequential([keras.Input((T, F)), L.LSTM(4, return_sequences=True), elu, L.GRU(2)])
    layer = load_model_ir(model).layers[1]
    assert isinstance(layer, ir.ActivationLayer) and layer.activation == "elu"
    refused = keras.Sequential([keras.Input((T, F)), L.LSTM(4, return_sequences=True), other])
    with pytest.raises(EdgeRnnError, match=f"'{other.name}': ELU.alpha=0.5.: only alpha=1"):
        load_model_ir(refused)


def _export_cases() -> list:
    slow = pytest.mark.slow
    cases = []
    for name in sorted(MODELS):
        for fmt, quant in (("tflite", "float32"), ("tflite", "int8"), ("onnx", "float32")):
            if (name, quant) == ("conv_ln_causal", "int8"):
                continue  # LiteRT int8 max abs 1.1 (of 3.0): LayerNorm over 4 int8 Conv1D values
            if (name, quant) == ("separable", "int8"):
                continue  # LiteRT and TFLM int8 both 0.143 (of 1.29; native int8 0.015)
            fast = name == "cnn_lstm" and quant == "float32"
            cases.append(pytest.param(name, fmt, quant, marks=() if fast else slow))
    return cases


@pytest.mark.parametrize(("name", "fmt", "quant"), _export_cases())
def test_export_runs_close_to_keras_in_litert_tflm_onnxruntime(
    name: str, fmt: str, quant: str, tmp_path: Path
) -> None:
    from edge_rnn.export.onnx import convert_onnx
    from edge_rnn.export.tflite import convert_tflite
    from edge_rnn.ir import Normalization
    from edge_rnn.runtimes.base import Artefact, ModelMeta, RunContext, RunnerSkipped, get_runner

    model = _keras_model(name)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    np.savez(tmp_path / "calibration.npz", x=_windows(64, seed=11))
    out = tmp_path / f"{name}_{quant}.{fmt}"
    if fmt == "tflite":
        result = convert_tflite(path, quant, out, calibration=tmp_path / "calibration.npz")
    else:
        result = convert_onnx(path, quant, out)
    x = _windows()
    ref = np.asarray(model(x))
    # A leading Normalization is folded out of the graph: the artefact takes normalized input.
    folded = result.input_normalization
    norm = Normalization(tuple(folded["mean"]), tuple(folded["scale"])) if folded else None
    meta = ModelMeta(name=name, input_shape=(T, F), output_shape=ref.shape[1:], normalization=norm)
    bound = 1e-4 if quant == "float32" else 0.1
    for runner in ("litert", "tflm") if fmt == "tflite" else ("onnxruntime",):
        artefact = Artefact(out.stem, out, fmt, quant)
        if (name, runner, quant) == ("relu6", "tflm", "int8"):
            # its standalone RELU6 rescales (LSTM output -> [0, 1]): TFLM would ignore that
            with pytest.raises(RunnerSkipped, match="standalone RELU6"):
                get_runner(runner).run(artefact, x, meta, RunContext(tmp_path))
            continue
        if (name, runner) == ("gelu_softplus", "tflm"):
            reason = "op.s. GELU have no TFLite" if quant == "float32" else "a quantized EXP"
            with pytest.raises(RunnerSkipped, match=reason):
                get_runner(runner).run(artefact, x, meta, RunContext(tmp_path))
            continue
        got = get_runner(runner).run(artefact, x, meta, RunContext(tmp_path))
        err = np.abs(got.outputs - ref).max()
        assert err <= bound * max(1.0, np.abs(ref).max()), f"{name} {fmt} {quant} {runner}: {err}"


@pytest.mark.arm
def test_generated_code_compiles_for_cortex_m4(tmp_path: Path) -> None:
    if not shutil.which("arm-none-eabi-gcc"):
        pytest.skip("arm-none-eabi-gcc is needed")
    cpu = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
    flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", *cpu, "-c"]
    x = _windows()
    for name in sorted(MODELS):
        model = load_model_ir(_keras_model(name))
        for quant in ("float32", "int8w", "int8"):
            if quant == "int8" and name in NO_NATIVE_INT8:
                continue
            gen = generate(model, tmp_path / f"{name}_{quant}", quant=quant, calibration_x=x)
            for src in gen.sources:
                cmd = ["arm-none-eabi-gcc", *flags, str(src), "-o", str(tmp_path / "x.o")]
                subprocess.run(cmd, check=True, capture_output=True)


def test_normalization_over_all_features_is_one_affine() -> None:
    x = _windows(16)
    norm = L.Normalization(axis=None)
    norm.adapt(x)
    model = load_model_ir(keras.Sequential([keras.Input((T, F)), norm, L.LSTM(2)]))
    affine = model.layers[0]
    assert isinstance(affine, ir.AffineLayer)
    np.testing.assert_allclose(affine.scale, np.full(F, 1 / x.std()), rtol=1e-4)
    np.testing.assert_allclose(affine.offset, np.full(F, -x.mean() / x.std()), rtol=1e-4)
