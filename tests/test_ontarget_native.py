"""Native C models from real Keras 3 layers on every emulated Cortex-M core, against the host
build of the same C: full-integer mode bit-exact, float32 within 1e-6; a model too big for the
micro:bit names the sizes.

Why float32 is not always bit-exact: the arithmetic is (IEEE single on every core, soft-float
on M0+/M3, no contraction), but `expf` is not. newlib on cores without a double-precision FPU
(M0+, M3, M4F, M7/M33 with fpv5-sp) keeps its older fdlibm expf, which differs from glibc's
by 1 ULP on ~10% of arguments (measured: 103 of 1024 in [-6, 6]); tanhf agrees everywhere.
On the M55 (double-precision FPU) newlib uses the same expf algorithm as glibc and float32
results are bit-exact; on M4F a model without expf (SimpleRNN + linear head) is bit-exact.
The ARM Linux targets (static glibc builds under qemu user mode) are bit-exact in every mode."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from edge_rnn import ir
from edge_rnn.errors import EdgeRnnError
from edge_rnn.ontarget import build_firmware, missing_tools, run_firmware
from edge_rnn.runtimes.qemu import NATIVE_KERNELS
from edge_rnn.targets import list_targets, load_target

pytestmark = pytest.mark.arm

T, F, UNITS, CLASSES = 10, 3, 8, 3
CELLS = ("LSTM", "GRU", "SimpleRNN")
# mode -> (quant, int8 weight layout, target generated for); "int8 size" and "int8 mve" (the
# Helium arrangement, ERN_Q_ROWS; portable C on the other cores) must give the bytes of "int8"
MODES = {
    "float32": ("float32", "speed", None),
    "int8": ("int8", "speed", None),
    "int8 size": ("int8", "size", None),
    "int8 mve": ("int8", "size", "cortex-m55"),
}
CORTEX_M = [t.name for t in list_targets() if t.kind == "cortex-m"]
# One RISC-V profile per code path: soft float RV32IMC, RV32EC without a multiplier, the F FPU.
RISCV = ["esp32-c3", "ch32v003", "ch32v307"]
LINUX = [t.name for t in list_targets() if t.kind == "linux"]
METADATA = {"normalization": {"mean": [0.5, -1.0, 2.0], "scale": [2.0, 0.5, 3.0]}}


def _keras_ir(cell: str, units: int = UNITS, head: str = "softmax", seed: int = 0):
    import keras

    from edge_rnn.frontends.keras import load_model_ir

    keras.utils.set_random_seed(seed)
    layer = getattr(keras.layers, cell)(units)
    model = keras.Sequential(
        [keras.Input((T, F)), layer, keras.layers.Dense(CLASSES, activation=head)],
        name=f"tiny_{cell.lower()}",
    )
    return load_model_ir(model, METADATA)


def _windows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mean, scale = (np.array(METADATA["normalization"][k], np.float32) for k in ("mean", "scale"))
    return (rng.standard_normal((n, T, F)) * scale + mean).astype(np.float32)


X = _windows(4, 1)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """(cell, mode) -> (GeneratedModel, host outputs as the C wrote them)."""
    from edge_rnn.native.generate import generate
    from edge_rnn.native.host import run_host_result

    tmp = tmp_path_factory.mktemp("native")
    calibration = _windows(32, 2)
    models = {}
    for cell in CELLS:
        model = _keras_ir(cell)
        for mode, (quant, layout, target) in MODES.items():
            out = tmp / f"{cell}_{mode.replace(' ', '_')}"
            gen = generate(
                model, out, quant=quant, calibration_x=calibration, layout=layout, target=target
            )
            models[cell, mode] = (gen, run_host_result(gen, X).raw)
    return models


def _skip_without(name: str) -> None:
    missing = missing_tools(load_target(name))
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (bash scripts/setup.sh --arm)")


def _on_target(gen, name: str, build_dir: Path) -> np.ndarray:
    firmware = build_firmware(
        load_target(name), gen.out_dir, X, build_dir, include_dirs=(NATIVE_KERNELS,), werror=True
    )
    return run_firmware(firmware, count_instructions=False).log.outputs


@pytest.mark.parametrize("name", CORTEX_M + RISCV)
def test_native_models_on_target_match_host(name: str, generated: dict, tmp_path: Path) -> None:
    _skip_without(name)
    for (cell, mode), (gen, host) in generated.items():
        device = _on_target(gen, name, tmp_path / f"{cell}_{mode.replace(' ', '_')}")
        assert device.shape == host.shape, (cell, mode)
        if mode.startswith("int8"):
            assert device.dtype.kind == "i"
            assert np.array_equal(device, host), f"{cell} int8 on {name} differs from host"
        elif name == "cortex-m55":
            assert np.array_equal(device, host), f"{cell} float32 on {name} differs from host"
        else:
            assert np.max(np.abs(device - host)) <= 1e-6, f"{cell} float32 on {name}"


def test_size_layout_gives_the_speed_layout_outputs_in_less_flash(generated: dict) -> None:
    """Only the storage of the int8 cell weights differs: int8 instead of int16."""
    for cell in CELLS:
        (speed, host_speed), (size, host_size) = (
            generated[cell, "int8"],
            generated[cell, "int8 size"],
        )
        assert np.array_equal(host_size, host_speed), cell
        assert "#define ERN_Q_SIZE 1" in (size.out_dir / "ern.h").read_text()
        assert "#define ERN_Q_SIZE 0" in (speed.out_dir / "ern.h").read_text()
        assert size.const_bytes < speed.const_bytes, cell
        mve, host_mve = generated[cell, "int8 mve"]
        assert np.array_equal(host_mve, host_speed), cell
        assert "#define ERN_Q_ROWS 1" in (mve.out_dir / "ern.h").read_text()
        assert "#define ERN_Q_ROWS 0" in (size.out_dir / "ern.h").read_text()
        assert mve.const_bytes == size.const_bytes, cell


@pytest.mark.parametrize("layout", ["speed", "size"])
@pytest.mark.parametrize("units", [10, 22])
def test_simple_rnn_asm_step_on_m4f(units: int, layout: str, tmp_path: Path) -> None:
    """The DSP cores' SimpleRNN step (rnn_step_dsp, from the descriptor's dsp words): 10 units
    (4 blocks of columns, h copied 8 + 4 values) and 22 (7 blocks: two passes of Duff's
    device in the size layout, 3 x 8 values copied); bit-exact with the host's C."""
    from edge_rnn.native.generate import generate
    from edge_rnn.native.host import run_host_result

    _skip_without("cortex-m4f")
    gen = generate(
        _keras_ir("SimpleRNN", units=units),
        tmp_path / "gen",
        quant="int8",
        calibration_x=_windows(32, 2),
        layout=layout,
    )
    words = re.search(r"\{([-\d, ]+)\}\};", (gen.out_dir / "tiny_simplernn.c").read_text())
    assert words and int(words.group(1).split(",")[1]) > 0  # the passes: the asm runs it
    host = run_host_result(gen, X).raw
    assert np.array_equal(_on_target(gen, "cortex-m4f", tmp_path / "m4f"), host)


@pytest.mark.parametrize("units", [6, 22])
@pytest.mark.parametrize("cell", CELLS)
def test_helium_arrangement_with_a_partial_unit_block(
    cell: str, units: int, tmp_path: Path
) -> None:
    """6 and 22 units: the last block of four units has two (predicated vector lanes on
    Cortex-M55); 22 (rows of 4 + 24 columns) also runs the int8 lanes of 16 columns, then 8
    and 4 (the GRU candidates' recurrent span 16 + 8); bit-exact with the column-pair
    arrangement on the host."""
    _skip_without("cortex-m55")
    _assert_helium_matches_pairs(_keras_ir(cell, units=units), tmp_path)


def _assert_helium_matches_pairs(model: ir.Model, tmp_path: Path) -> None:
    """The Helium arrangement gives the column-pair arrangement's outputs, on the host and on
    the emulated Cortex-M55."""
    from edge_rnn.native.generate import generate
    from edge_rnn.native.host import run_host_result

    calibration = _windows(32, 2)
    pairs = generate(model, tmp_path / "pairs", quant="int8", calibration_x=calibration)
    mve = generate(
        model, tmp_path / "mve", quant="int8", calibration_x=calibration, target="cortex-m55"
    )
    host = run_host_result(pairs, X).raw
    assert np.array_equal(run_host_result(mve, X).raw, host)
    assert np.array_equal(_on_target(mve, "cortex-m55", tmp_path / "m55"), host)


@pytest.mark.parametrize(
    ("cell", "options"), [("LSTM", {}), ("GRU", {}), ("GRU", {"reset_after": False})]
)
def test_helium_int8_lanes_over_a_wide_layer_input(
    cell: str, options: dict, tmp_path: Path
) -> None:
    """Two stacked layers: the second one's input is 18 values (20 padded), so its input span
    runs int8 lanes too (the GRU candidates' input-span offset goes to the bias, the recurrent
    one to the recurrent bias or, without reset_after, to the bias with r * h); bit-exact with
    the column-pair arrangement on the host, on the host and on the emulated Cortex-M55."""
    import keras

    from edge_rnn.frontends.keras import load_model_ir

    _skip_without("cortex-m55")
    keras.utils.set_random_seed(3)
    layer = getattr(keras.layers, cell)
    keras_model = keras.Sequential(
        [
            keras.Input((T, F)),
            layer(18, return_sequences=True, **options),
            layer(20, **options),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ],
        name=f"wide_{cell.lower()}",
    )
    _assert_helium_matches_pairs(load_model_ir(keras_model, METADATA), tmp_path)


@pytest.mark.parametrize("name", LINUX)
def test_native_models_on_arm_linux_are_bit_exact(
    name: str, generated: dict, tmp_path: Path
) -> None:
    """Static cross builds under qemu user mode: glibc's expf there is the host's algorithm."""
    _skip_without(name)
    for (cell, mode), (gen, host) in generated.items():
        device = _on_target(gen, name, tmp_path / f"{cell}_{mode.replace(' ', '_')}")
        assert np.array_equal(device, host), f"{cell} {mode} on {name} differs from host"


def test_m4f_float_bit_exact_with_host_without_contraction(tmp_path: Path) -> None:
    """Both sides built with -ffp-contract=off (the M4F profile has it; -std=c99 implies it on
    gcc too): a float model whose only libm call is tanhf gives identical bits."""
    from edge_rnn.native.generate import generate
    from edge_rnn.native.host import compile_host, run_binary

    _skip_without("cortex-m4f")
    assert "-ffp-contract=off" in load_target("cortex-m4f").cflags
    gen = generate(_keras_ir("SimpleRNN", head="linear"), tmp_path / "gen", quant="float32")
    binary = compile_host(gen, tmp_path / "host", extra_flags=("-ffp-contract=off",))
    host = run_binary(binary, X).raw
    device = _on_target(gen, "cortex-m4f", tmp_path / "build")
    assert np.array_equal(device.view(np.uint32), host.view(np.uint32))


def test_model_too_big_for_microbit_names_sizes(tmp_path: Path) -> None:
    """A float32 LSTM(128) carries ~330 KB of weights: more than the emulated micro:bit's 256 KiB
    flash, less than the Pico's 2 MiB the cortex-m0plus profile stands for."""
    from edge_rnn.native.generate import generate
    from edge_rnn.ontarget.fit import measure_fit

    _skip_without("cortex-m0plus")
    gen = generate(_keras_ir("LSTM", units=128), tmp_path / "big", quant="float32")
    with pytest.raises(EdgeRnnError) as info:
        _on_target(gen, "cortex-m0plus", tmp_path / "build")
    message = str(info.value)
    assert "does not fit the emulated microbit of target cortex-m0plus" in message
    assert "256 KiB flash / 16 KiB RAM" in message
    assert "FLASH needs" in message and "has 262144" in message
    fit = measure_fit(
        load_target("cortex-m0plus"), gen.out_dir, tmp_path / "fit", include_dirs=(NATIVE_KERNELS,)
    )
    assert fit.fits and gen.const_bytes < fit.flash_bytes < gen.const_bytes + 40_000


def test_kernel_zones_split_the_count_and_keep_outputs(generated: dict, tmp_path: Path) -> None:
    """A profile build (-DERN_PROFILE) counts every instruction in exactly one kernel zone, and
    its markers change no output."""
    _skip_without("cortex-m4f")
    gen, host = generated["LSTM", "int8"]
    firmware = build_firmware(
        load_target("cortex-m4f"),
        gen.out_dir,
        X,
        tmp_path,
        include_dirs=(NATIVE_KERNELS,),
        werror=True,
        defines=("ERN_PROFILE",),
    )
    result = run_firmware(firmware, zones=True)
    counts = result.instructions
    assert np.array_equal(result.log.outputs, host)
    assert counts is not None and counts.zones is not None
    assert set(counts.zones) == {"matrix", "act", "update", "dense", "other"}
    assert abs(sum(counts.zones.values()) - counts.per_inference) <= len(counts.zones)
    # 10 steps x 4 gates x 8 units x (4 + 8) padded columns: at least one instruction per 2 MACs
    assert counts.zones["matrix"] >= 10 * 32 * 12 // 2
    assert all(n > 0 for n in counts.zones.values()), counts.zones


def test_window_longer_than_the_microbit_ram_runs_step_by_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,200 x 3 float32 values (14 KB) do not fit the micro:bit's 16 KiB RAM next to the stack
    and heap; the model fits the board, so the firmware reads and runs one step at a time
    through _step: outputs bit-exact with the host's _run, instructions counted per window.
    The model is compiled once for both links."""
    import keras

    from edge_rnn.frontends.keras import load_model_ir
    from edge_rnn.manifest import ManifestEntry
    from edge_rnn.native.generate import generate
    from edge_rnn.native.host import run_host
    from edge_rnn.ontarget import build
    from edge_rnn.runtimes.base import Artefact, ModelMeta, RunContext, get_runner

    _skip_without("cortex-m0plus")
    steps = 1200
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((steps, F)), keras.layers.GRU(4), keras.layers.Dense(CLASSES, "softmax")]
    )
    x = np.random.default_rng(0).standard_normal((3, steps, F)).astype(np.float32)
    gen = generate(load_model_ir(model), tmp_path / "gru", quant="int8", calibration_x=x)
    entry = ManifestEntry(
        "native_int8",
        "gru",
        "native-c",
        "int8",
        output_scale=gen.output_scale,
        output_zero_point=0,
        streaming=True,
    )
    artefact = Artefact("native_int8", gen.out_dir, "native-c", "int8", entry)
    meta = ModelMeta(name=gen.name, input_shape=(steps, F), output_shape=(CLASSES,))
    commands: list[list[str]] = []
    real_run_tool = build.run_tool

    def recorded(command: list[str], what: str) -> str:
        commands.append(command)
        return real_run_tool(command, what)

    monkeypatch.setattr(build, "run_tool", recorded)
    result = get_runner("qemu-cortex-m0plus").run(
        artefact, x, meta, RunContext(work_dir=tmp_path / "work", timeout_s=600)
    )
    assert any("one time step at a time" in note for note in result.notes), result.notes
    model_c = str(gen.out_dir / f"{gen.name}.c")
    assert sum(model_c in command for command in commands) == 1  # not once per link
    assert sum("validate_main.c" in " ".join(command) for command in commands) == 2
    np.testing.assert_array_equal(result.outputs, run_host(gen.out_dir, x).reshape(3, CLASSES))
    assert result.memory["fits"] == 1
    assert result.memory["instructions_per_inference"] > steps * 100  # a window, not a step
