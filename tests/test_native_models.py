"""Generated native C models against Keras, the numpy twins and themselves (streaming, reset,
sanitizers, determinism), over cells x layer options x numeric modes."""

from __future__ import annotations

import filecmp
import shutil
import subprocess

import numpy as np
import pytest

from edge_rnn import ir
from edge_rnn.codegen.templates import c_float
from edge_rnn.errors import EdgeRnnError
from edge_rnn.native import generate
from edge_rnn.native.generate import prepare
from edge_rnn.native.host import compile_host, run_binary
from edge_rnn.native.lower import lower
from edge_rnn.native.quantize import input_divisors, int8w_stages
from edge_rnn.native.twin import float_forward
from edge_rnn.native.twin_int import int_forward, quantize_input

T, F, N = 7, 3, 24
# Stated tolerances (max abs error vs Keras, relative to max(1, max |Keras output|)).
TOL = {"float32": 1e-5, "int8w": 0.03, "int8": 0.05}


def _build(case: str):
    import keras

    keras.utils.set_random_seed(7)
    L = keras.layers
    inp = keras.Input((T, F))
    cases = {
        "lstm": lambda x: L.Dense(3, activation="softmax")(L.LSTM(5)(x)),
        "gru_reset_after": lambda x: L.Dense(3)(L.GRU(6)(x)),
        "gru_reset_before": lambda x: L.Dense(3)(L.GRU(6, reset_after=False)(x)),
        "rnn_relu": lambda x: L.Dense(2)(L.SimpleRNN(6, activation="relu")(x)),
        "lstm_seq": lambda x: L.Dense(2)(L.LSTM(4, return_sequences=True)(x)),
        "stacked": lambda x: L.Dense(3)(L.GRU(5)(L.LSTM(6, return_sequences=True)(x))),
        "gru_nobias_hard": lambda x: L.GRU(4, use_bias=False, recurrent_activation="hard_sigmoid")(
            x
        ),
        "lstm_acts": lambda x: L.LSTM(
            5, activation="relu", recurrent_activation="hard_sigmoid", return_sequences=True
        )(x),
        "dense_first": lambda x: L.SimpleRNN(4)(L.Dense(5, activation="tanh")(x)),
        "backwards": lambda x: L.Dense(2)(L.LSTM(4, go_backwards=True)(x)),
        "backwards_seq": lambda x: L.SimpleRNN(3, go_backwards=True, return_sequences=True)(x),
        "bi_concat": lambda x: L.Dense(3, activation="softmax")(
            L.Bidirectional(L.LSTM(4), merge_mode="concat")(x)
        ),
        "bi_sum_seq": lambda x: L.Bidirectional(L.GRU(3, return_sequences=True), merge_mode="sum")(
            x
        ),
        "bi_ave": lambda x: L.Bidirectional(L.SimpleRNN(4), merge_mode="ave")(x),
        "bi_mul_seq": lambda x: L.Dense(2)(
            L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode="mul")(x)
        ),
    }
    model = keras.Model(inp, cases[case](inp), name=f"m_{case}")
    rng = np.random.RandomState(3)
    x_raw = rng.randn(N, T, F) * np.array([2.0, 0.5, 4.0]) + np.array([1.0, -2.0, 0.5])
    x_raw = x_raw.astype(np.float32)
    mean, scale = (1.0, -2.0, 0.5), (2.0, 0.5, 4.0)
    norm = ir.Normalization(mean, scale)
    ref = np.asarray(model(norm.apply(x_raw), training=False)).reshape(N, -1)
    from edge_rnn.frontends.keras import load_model_ir

    meta = {"normalization": {"mean": list(mean), "scale": list(scale)}}
    return load_model_ir(model, meta), x_raw, ref


CASES = [
    "lstm",
    "gru_reset_after",
    "gru_reset_before",
    "rnn_relu",
    "lstm_seq",
    "stacked",
    "gru_nobias_hard",
    "lstm_acts",
    "dense_first",
    "backwards",
    "backwards_seq",
    "bi_concat",
    "bi_sum_seq",
    "bi_ave",
    "bi_mul_seq",
]


@pytest.fixture(scope="module", params=CASES)
def case(request):
    return request.param, *_build(request.param)


@pytest.mark.parametrize("quant", ["float32", "int8w", "int8"])
def test_model_against_keras_twin_and_streaming(case, quant, tmp_path):
    name, model, x_raw, ref = case
    gen = generate(model, tmp_path / "gen", quant=quant, calibration_x=x_raw)
    binary = compile_host(gen, tmp_path / "model")
    result = run_binary(binary, x_raw)
    assert result.state_bytes == gen.ram_bytes
    err = np.abs(result.values - ref).max()
    assert err <= TOL[quant] * max(1.0, np.abs(ref).max()), f"{name} {quant}: {err}"

    stages, plan = prepare(model, quant, x_raw)
    x_norm = model.normalization.apply(x_raw)
    if quant == "int8":  # bit-exact with the integer twin
        expected = int_forward(plan, quantize_input(x_norm, plan.q_in)).reshape(N, -1)
        np.testing.assert_array_equal(result.raw, expected)
        np.testing.assert_array_equal(run_binary(binary, x_raw, mode="runq").raw, result.raw)
    else:  # the float twin with the same (dequantized) weights
        if quant == "int8w":
            stages = int8w_stages(stages)
        twin = float_forward(stages, x_norm).reshape(N, -1)
        np.testing.assert_allclose(result.values, twin, atol=2e-5, rtol=0)

    assert gen.streaming == (name not in ("backwards", "backwards_seq") and "bi_" not in name)
    if gen.streaming:  # T steps after a reset == run, window after window
        np.testing.assert_array_equal(run_binary(binary, x_raw, mode="step").raw, result.raw)


@pytest.mark.parametrize("name", ["stacked", "bi_mul_seq", "gru_reset_before"])
@pytest.mark.parametrize("quant", ["float32", "int8"])
def test_sanitizers_clean(name, quant, tmp_path):
    model, x_raw, _ = _build(name)
    gen = generate(model, tmp_path / "gen", quant=quant, calibration_x=x_raw)
    binary = compile_host(gen, tmp_path / "model", sanitize=True)
    plain = run_binary(compile_host(gen, tmp_path / "plain"), x_raw[:4])
    np.testing.assert_array_equal(run_binary(binary, x_raw[:4]).raw, plain.raw)
    if gen.streaming:
        run_binary(binary, x_raw[:4], mode="step")


def test_generation_is_deterministic(tmp_path):
    model, x_raw, _ = _build("bi_concat")
    for quant in ("float32", "int8w", "int8"):
        a = generate(model, tmp_path / f"a_{quant}", quant=quant, calibration_x=x_raw)
        b = generate(model, tmp_path / f"b_{quant}", quant=quant, calibration_x=x_raw)
        for fa, fb in zip(a.files, b.files, strict=True):
            assert filecmp.cmp(fa, fb, shallow=False), fa.name


@pytest.mark.arm
@pytest.mark.parametrize(
    "cpu",
    [
        ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
        ["-mcpu=cortex-m0plus", "-mthumb"],
    ],
)
def test_generated_code_compiles_for_cortex_m(cpu, tmp_path):
    if not shutil.which("arm-none-eabi-gcc"):
        pytest.skip("arm-none-eabi-gcc is needed")
    for name in ("stacked", "bi_mul_seq"):
        model, x_raw, _ = _build(name)
        for quant in ("float32", "int8w", "int8"):
            gen = generate(model, tmp_path / f"{name}_{quant}", quant=quant, calibration_x=x_raw)
            for src in gen.sources:
                subprocess.run(
                    [
                        "arm-none-eabi-gcc",
                        "-std=c99",
                        "-Wall",
                        "-Wextra",
                        "-Werror",
                        "-O2",
                        *cpu,
                        "-c",
                        str(src),
                        "-o",
                        str(tmp_path / "x.o"),
                    ],
                    check=True,
                )


def test_int8_input_divides_once_where_scale_over_2_to_the_q_is_exact(tmp_path):
    """The int8 input is (x - mean) / (scale / 2^q), the float32 quotient by scale times 2^q,
    where scale / 2^q is exact; a scale whose step would be subnormal (inexact) keeps the
    division by scale and the multiplication. Either way bit-exact with the twin."""
    step, factor = input_divisors(np.array([2.0, 0.5, 3.0], np.float32), 12)
    assert factor == 1.0
    np.testing.assert_array_equal(step, np.array([2.0, 0.5, 3.0], np.float32) / 4096)
    tiny = np.array([1e-39, 0.5, 3.0], np.float32)  # subnormal already: / 4096 loses bits
    step, factor = input_divisors(tiny, 12)
    assert factor == 4096.0
    np.testing.assert_array_equal(step, tiny)

    import dataclasses

    model, x_raw, _ = _build("lstm")
    model = dataclasses.replace(model, normalization=ir.Normalization((0.0,) * F, tuple(tiny)))
    x_raw = (x_raw * tiny).astype(np.float32)  # normalized values as before
    gen = generate(model, tmp_path / "gen", quant="int8", calibration_x=x_raw)
    assert f"* {c_float(2.0**gen.input_q)})" in (gen.out_dir / "m_lstm.c").read_text()
    _, plan = prepare(model, "int8", x_raw)
    expected = int_forward(plan, quantize_input(model.normalization.apply(x_raw), plan.q_in))
    result = run_binary(compile_host(gen, tmp_path / "model"), x_raw)
    np.testing.assert_array_equal(result.raw, expected.reshape(N, -1))


def test_errors_name_the_problem(tmp_path):
    model, x_raw, _ = _build("lstm")
    with pytest.raises(EdgeRnnError, match="calibration"):
        generate(model, tmp_path / "a", quant="int8")
    with pytest.raises(EdgeRnnError, match="expected \\(N, 7, 3\\)"):
        generate(model, tmp_path / "b", quant="int8", calibration_x=x_raw[:, :3])
    with pytest.raises(EdgeRnnError, match="unknown native quantization 'int4'"):
        generate(model, tmp_path / "c", quant="int4")
    gru, _, _ = _build("gru_reset_after")
    layer = gru.layers[0]
    import dataclasses

    bad = dataclasses.replace(
        gru, layers=(dataclasses.replace(layer, recurrent_activation="tanh"), *gru.layers[1:])
    )
    with pytest.raises(EdgeRnnError, match=f"layer '{layer.name}'.*sigmoid or hard_sigmoid"):
        generate(bad, tmp_path / "d", quant="int8", calibration_x=x_raw)
    assert not (tmp_path / "d").exists()
    assert len(lower(model)) == 2
