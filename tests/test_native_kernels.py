"""The hand-written C kernels (firmware_templates/native) against numpy and the integer twin."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edge_rnn import ir
from edge_rnn.native import twin_int
from edge_rnn.native.quantize import interleave, q_leaky
from edge_rnn.native.twin import activate
from edge_rnn.resources import FIRMWARE_DIR

NATIVE = FIRMWARE_DIR / "native"
KERNELS = ["ern_float.c", "ern_int.c", "ern_norm.c", "ern_tables.c"]
WARN = ["-std=c99", "-Wall", "-Wextra", "-Werror"]


def _build_and_run(tmp: Path, cc: list[str], flags: list[str], prefix: list[str] = ()) -> bytes:
    exe = tmp / "test_kernels"
    srcs = [str(NATIVE / f) for f in [*KERNELS, "test_kernels.c"]]
    subprocess.run([*cc, *WARN, "-O2", *flags, *srcs, "-o", str(exe), "-lm"], check=True)
    return subprocess.run([*prefix, str(exe)], check=True, capture_output=True).stdout


def _parse(blob: bytes) -> dict[str, np.ndarray]:
    offset = 0
    parts = {}
    for name, dtype, shape in [
        ("int_act", np.int16, (65536, 8)),
        ("float_act", np.float32, (4001, 14)),
        ("requant", np.int32, (20000, 4)),
    ]:
        count = int(np.prod(shape))
        parts[name] = np.frombuffer(blob, dtype, count, offset).reshape(shape)
        offset += count * np.dtype(dtype).itemsize
    rec = np.dtype([("w", np.int8, 24), ("v", "<i2", 24), ("acc", "<i4", 2)])
    parts["dot"] = np.frombuffer(blob, rec, 1000, offset)
    offset += rec.itemsize * 1000
    rec4 = np.dtype([("w", "<i2", 96), ("v", "<i2", 24), ("acc", "<i4", 8)])
    parts["dot4"] = np.frombuffer(blob, rec4, 1000, offset)
    offset += rec4.itemsize * 1000
    parts["mla"] = np.frombuffer(blob, "<i4", 20000 * 4, offset).reshape(20000, 4)
    offset += 20000 * 16
    parts["round"] = np.frombuffer(blob, np.dtype([("v", "<f4"), ("r", "<i4")]), 20000, offset)
    assert offset + 20000 * 8 == len(blob)
    return parts


@pytest.fixture(scope="module")
def host_output(tmp_path_factory) -> dict[str, np.ndarray]:
    tmp = tmp_path_factory.mktemp("kernels")
    return _parse(
        _build_and_run(tmp, ["gcc"], ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"])
    )


def test_tables_match_their_definition():
    i = np.arange(513)
    tables = twin_int.tables()
    j = np.arange(4096)
    expected_sigmoid = np.minimum(np.round(32768 / (1 + np.exp(-(j - 2047.5) / 256))), 32767)
    expected_exp = np.minimum(np.round(np.exp(-i / 32) * 32768), 32767)
    np.testing.assert_array_equal(tables["ern_sigmoid_q15"], expected_sigmoid)
    np.testing.assert_array_equal(tables["ern_exp_table"], expected_exp)


def test_integer_activations_bit_exact_with_twin_and_close_to_math(host_output):
    x = np.arange(-32768, 32768, dtype=np.int64)
    got = host_output["int_act"].astype(np.int64)
    np.testing.assert_array_equal(got[:, 0], twin_int.q_tanh(x))
    np.testing.assert_array_equal(got[:, 1], twin_int.q_sigmoid(x))
    np.testing.assert_array_equal(got[:, 2], twin_int.q_hard_sigmoid(x))
    np.testing.assert_array_equal(got[:, 3], twin_int.q_exp_neg(-np.abs(x)))
    np.testing.assert_array_equal(got[:, 5], twin_int.q_act(x, "relu6"))
    real = x / 2048.0
    # stated accuracy (Q15 LSB): tanh 34 (half a 1/512 step at slope 1, 2 for the table's
    # rounding), sigmoid 17 (half a 1/256 step at slope 1/4), hard_sigmoid 1, exp 5
    assert np.abs(got[:, 0] - np.clip(np.tanh(real) * 32768, -32767, 32767)).max() <= 34
    assert np.abs(got[:, 1] - np.minimum(32768 / (1 + np.exp(-real)), 32767)).max() <= 17
    hard = np.minimum(np.clip((real + 3) / 6, 0, 1) * 32768, 32767)
    assert np.abs(got[:, 2] - hard).max() <= 1
    assert np.abs(got[:, 3] - np.minimum(np.exp(-np.abs(real)) * 32768, 32767)).max() <= 5
    # relu6 in Q12 (RELU6_Q) is exact: the clamp of the input to [0, 6]
    np.testing.assert_array_equal(got[:, 5], np.clip(x, 0, 6 * 4096))


def test_leaky_relu_bit_exact_with_twin_and_rounded(host_output):
    """ern_q_leaky_run with a slope, max_value and threshold (Q12), and a slope above 1 (Q10):
    the twin's values, the slope times (x - threshold) rounded to the nearest step."""
    got = host_output["int_act"][:, 6:].astype(np.int64)
    x = np.arange(-32768, 32768, dtype=np.int64)
    general = q_leaky(ir.LeakyRelu(0.01, 2.5, 0.5), 12)
    steep = q_leaky(ir.LeakyRelu(1.7), 10)
    # the constants test_kernels.c holds
    assert (general.mult, general.shift, general.threshold, general.max) == (
        1374389535,
        20,
        2048,
        10240,
    )
    assert (steep.mult, steep.shift, steep.threshold, steep.max) == (1825361101, 13, 0, 32767)
    np.testing.assert_array_equal(got[:, 0], twin_int.q_leaky_relu(x, general))
    np.testing.assert_array_equal(got[:, 1], twin_int.q_leaky_relu(x, steep))
    exact = np.where(x > 2048, np.minimum(x, 10240), 0.01 * (x - 2048))
    assert np.abs(got[:, 0] - exact).max() <= 0.5 + 1e-6
    exact = np.clip(np.where(x > 0, x, 1.7 * x), -32768, 32767)  # saturates below -19275
    assert np.abs(got[:, 1] - exact).max() <= 0.5 + 1e-6


def test_q_shift_and_requant_bit_exact_with_twin(host_output):
    lcg_shifts = []  # replay the driver's generator for the shift amounts
    state = 12345
    for _ in range(65536):
        state = (state * 1664525 + 1013904223) % 2**32
        lcg_shifts.append(state % 31 - 15)
    x = np.arange(-32768, 32768, dtype=np.int64)
    expected = twin_int.q_shift(x * 3, np.array(lcg_shifts))
    np.testing.assert_array_equal(host_output["int_act"][:, 4], expected)
    rec = host_output["requant"].astype(np.int64)
    np.testing.assert_array_equal(rec[:, 3], twin_int.requant(rec[:, 0], rec[:, 1], rec[:, 2]))
    # and the requantization is a rounding of the real product
    real = rec[:, 0] * rec[:, 1] / 2.0 ** (32 + rec[:, 2])
    assert np.all(np.abs(rec[:, 3] - np.clip(real, -32768, 32767)) <= 1)


def test_input_rounding_exact_and_bit_exact_with_twin(host_output):
    """ern_q_round rounds half away from zero exactly (0.49999997 to 0, where adding 0.5f in
    float would give 1) and saturates, as twin_int.quantize_input."""
    rec = host_output["round"]
    np.testing.assert_array_equal(rec["r"], twin_int.quantize_input(rec["v"], 0))
    v = rec["v"].astype(np.float64)
    exact = np.clip(np.sign(v) * np.floor(np.abs(v) + 0.5), -32768, 32767)
    np.testing.assert_array_equal(rec["r"], exact)
    assert rec["r"][4] == 0 and rec["r"][5] == 0  # the float sum 0.49999997f + 0.5f is 1.0f


def test_float_activations_match_numpy(host_output):
    v = (np.float32(-10.0) + np.arange(4001, dtype=np.float32) * np.float32(0.005)).astype(
        np.float32
    )
    got = host_output["float_act"]
    np.testing.assert_allclose(got[:, 0], np.tanh(v), atol=2e-7)
    np.testing.assert_allclose(got[:, 1], 1 / (1 + np.exp(-v.astype(np.float64))), atol=2e-7)
    np.testing.assert_allclose(got[:, 2], np.clip((v + 3) / 6, 0, 1), atol=1e-7)
    np.testing.assert_array_equal(got[:, 3], np.maximum(v, 0))
    np.testing.assert_array_equal(got[:, 4], v)
    np.testing.assert_array_equal(got[:, 5], np.clip(v, 0, 6))
    slope, threshold = np.float32(0.01), np.float32(0.5)
    leaky = np.where(v > threshold, np.minimum(v, np.float32(2.5)), slope * (v - threshold))
    np.testing.assert_array_equal(got[:, 6], leaky)
    # the smooth functions, in ir.SMOOTH_ACTIVATIONS (= enum) order, against the float twin
    for column, act in enumerate(ir.SMOOTH_ACTIVATIONS, 7):
        np.testing.assert_allclose(got[:, column], activate(v, act), atol=2e-6, rtol=2e-6)


def test_interleaved_dot_product(host_output):
    rec = host_output["dot"]
    # the driver's bytes are the stored (interleaved) layout; interleave is its own inverse
    plain = interleave(np.ascontiguousarray(rec["w"])).astype(np.int64)
    assert not np.array_equal(plain, rec["w"])
    expected = rec["acc"][:, 0] + np.einsum("nk,nk->n", plain, rec["v"].astype(np.int64))
    np.testing.assert_array_equal(rec["acc"][:, 1], expected)


def test_group_dot_product_and_rounded_multiply_add(host_output):
    rec = host_output["dot4"]
    w = rec["w"].astype(np.int64).reshape(-1, 12, 4, 2)  # [pair][row][2] per ern.h
    v = rec["v"].astype(np.int64).reshape(-1, 12, 2)
    npairs = 2 + 2 * (np.arange(len(rec)) % 6)  # as test_kernels.c varies it
    v = np.where(np.arange(12)[None, :, None] < npairs[:, None, None], v, 0)
    expected = rec["acc"][:, :4] + np.einsum("nprk,npk->nr", w, v)
    np.testing.assert_array_equal(rec["acc"][:, 4:], expected)
    a, b, c, got = host_output["mla"].astype(np.int64).T
    np.testing.assert_array_equal(got, c + ((a * b + (1 << 31)) >> 32))


@pytest.mark.arm
def test_dsp_path_identical_to_portable(host_output, tmp_path):
    """SXTB16/SMLAD (ARMv7 DSP) kernels under qemu-arm give the x86 portable results."""
    cc, qemu = "arm-linux-gnueabihf-gcc", "qemu-arm"
    if not (shutil.which(cc) and shutil.which(qemu)):
        pytest.skip(f"{cc} and {qemu} are needed")
    blob = _build_and_run(tmp_path, [cc], ["-static", "-mcpu=cortex-a7", "-mthumb"], [qemu])
    arm = _parse(blob)
    for key in ("int_act", "requant"):
        np.testing.assert_array_equal(arm[key], host_output[key])
    np.testing.assert_array_equal(arm["dot"]["acc"], host_output["dot"]["acc"])
    np.testing.assert_array_equal(arm["dot4"]["acc"], host_output["dot4"]["acc"])
    np.testing.assert_array_equal(arm["mla"], host_output["mla"])
    np.testing.assert_array_equal(arm["round"], host_output["round"])  # VCVT, QADD, SSAT


@pytest.mark.arm
def test_size_layout_dot4_identical_to_speed_layout(host_output, tmp_path):
    """The int8 (size) layout of the group kernel, portable on the host and SXTB16 under
    qemu-arm, gives the int16 (speed) layout's sums for the same weights, and its half
    activation table (ERN_SIGMOID_HALF) the whole table's sigmoid and tanh of every input."""
    size = ["-DERN_Q_SIZE=1"]
    host = _parse(_build_and_run(tmp_path, ["gcc"], ["-fsanitize=address,undefined", *size]))
    np.testing.assert_array_equal(host["dot4"], host_output["dot4"])
    np.testing.assert_array_equal(host["int_act"], host_output["int_act"])
    cc, qemu = "arm-linux-gnueabihf-gcc", "qemu-arm"
    if not (shutil.which(cc) and shutil.which(qemu)):
        pytest.skip(f"{cc} and {qemu} are needed")
    flags = ["-static", "-mcpu=cortex-a7", "-mthumb", *size]
    arm = _parse(_build_and_run(tmp_path, [cc], flags, [qemu]))
    np.testing.assert_array_equal(arm["dot4"], host_output["dot4"])
    np.testing.assert_array_equal(arm["int_act"], host_output["int_act"])


@pytest.mark.parametrize("layout", ["-DERN_Q_SIZE=0", "-DERN_Q_SIZE=1"])
def test_rows_arrangement_dot4_identical_to_pairs(host_output, tmp_path, layout):
    """The Helium arrangement of the group kernel's weights (ERN_Q_ROWS), read by the portable
    path on the host, gives the column-pair sums for the same weights (its MVE path is checked
    on the emulated Cortex-M55 in tests/test_ontarget_native.py)."""
    flags = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-DERN_Q_ROWS=1", layout]
    rows = _parse(_build_and_run(tmp_path, ["gcc"], flags))
    np.testing.assert_array_equal(rows["dot4"], host_output["dot4"])


@pytest.mark.arm
@pytest.mark.parametrize(
    "layout",
    ["-DERN_Q_SIZE=0", "-DERN_Q_SIZE=1", "-DERN_Q_ROWS=1", "-DERN_Q_ROWS=1 -DERN_Q_SIZE=1"],
)
@pytest.mark.parametrize(
    "cpu",
    [
        ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
        ["-mcpu=cortex-m0plus", "-mthumb"],
        ["-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"],  # Helium (MVE) path
    ],
    ids=["m4", "m0plus", "m55"],
)
@pytest.mark.parametrize("opt", ["-O2", "-O0", "-O2 -fno-omit-frame-pointer -DERN_PORTABLE"])
def test_kernels_compile_warning_free_for_cortex_m(tmp_path, cpu, layout, opt):
    """Also unoptimized (IDE debug builds) and with a frame pointer: the asm paths bind r7."""
    if not shutil.which("arm-none-eabi-gcc"):
        pytest.skip("arm-none-eabi-gcc is needed")
    for src in KERNELS:
        subprocess.run(
            [
                "arm-none-eabi-gcc",
                *WARN,
                *opt.split(),
                *cpu,
                *layout.split(),
                "-c",
                str(NATIVE / src),
                "-o",
                str(tmp_path / (src + ".o")),
            ],
            check=True,
        )


@pytest.mark.arm
@pytest.mark.parametrize("asm", ["", "-fomit-frame-pointer -DERN_ASM"], ids=["default", "asm"])
@pytest.mark.parametrize("cpu", ["cortex-m4", "cortex-m55"])
def test_kernels_compile_warning_free_with_clang_for_cortex_m(tmp_path, cpu, asm):
    """clang (as in armclang) keeps a frame pointer in r7, which the asm paths bind: by default
    it takes the portable path; -fomit-frame-pointer -DERN_ASM turns the asm on."""
    libc = Path("/usr/lib/arm-none-eabi/include")  # Debian's newlib, beside arm-none-eabi-gcc
    if not (shutil.which("clang") and (libc / "string.h").is_file()):
        pytest.skip("clang and the arm-none-eabi C library headers are needed")
    for layout in ["-DERN_Q_SIZE=0", "-DERN_Q_ROWS=1 -DERN_Q_SIZE=1"]:
        for src in KERNELS:
            subprocess.run(
                ["clang", "--target=thumbv7em-none-eabi", f"-mcpu={cpu}", "-mfloat-abi=hard"]
                + ["-isystem", str(libc), *WARN, "-O2", *asm.split(), *layout.split(), "-c"]
                + [str(NATIVE / src), "-o", str(tmp_path / (src + ".o"))],
                check=True,
            )
