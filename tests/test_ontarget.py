"""On-target pipeline with a small hand-written C stand-in model (adapter per /firmware README):
every target builds, runs under QEMU and prints exactly what the same C prints on the host;
the test windows are streamed (the firmware does not change with the test set); the fit
probe measures the model alone against the board; firmware too big for the micro:bit memory
map fails naming the sizes; a fault is reported; C++ with constructors runs on our startup."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edge_rnn.errors import EdgeRnnError
from edge_rnn.ontarget import Firmware, build_firmware, missing_tools, run_firmware
from edge_rnn.ontarget.build import (
    CORTEXM_DIR,
    PROTOCOL_DIR,
    STACK_BYTES,
    DoesNotFit,
    cortexm_link_flags,
)
from edge_rnn.ontarget.fit import measure_fit
from edge_rnn.ontarget.run import qemu_command
from edge_rnn.protocol import parse_protocol
from edge_rnn.targets import list_targets, load_target

pytestmark = pytest.mark.arm

ADAPTER = """\
#ifndef EDGE_RNN_MODEL_H
#define EDGE_RNN_MODEL_H
#define EDGE_RNN_MODEL_NAME "toy"
#define EDGE_RNN_TIMESTEPS 4
#define EDGE_RNN_FEATURES 3
#define EDGE_RNN_OUTPUTS 3
#define EDGE_RNN_OUTPUT_DTYPE "f32"
typedef struct { float acc[3]; } edge_rnn_state_t;
typedef float edge_rnn_input_t; /* raw sensor values */
typedef float edge_rnn_output_t;
void toy_reset(edge_rnn_state_t *s);
void toy_run(edge_rnn_state_t *s, const float *x, float *y);
#define edge_rnn_reset(s) toy_reset(s)
#define edge_rnn_run(s, x, y) toy_run((s), (x), (y))
#endif
"""

# A leaky sum squashed by tanhf and scaled by expf: exercises float math and libm.
MODEL = """\
#include <math.h>
#include "edge_rnn_model.h"
%(extra)s
void toy_reset(edge_rnn_state_t *s) { s->acc[0] = s->acc[1] = s->acc[2] = 0.0f; }
void toy_run(edge_rnn_state_t *s, const float *x, float *y)
{
    int t, k;
    for (t = 0; t < EDGE_RNN_TIMESTEPS; ++t) {
        for (k = 0; k < 3; ++k) {
            s->acc[k] = s->acc[k] * 0.5f + x[t * 3 + k] * 1.25f;
        }
    }
    for (k = 0; k < 3; ++k) {
        y[k] = tanhf(s->acc[k]) * expf((float)k / 8.0f)%(use)s;
    }
}
"""

X = np.random.default_rng(7).standard_normal((6, 4, 3)).astype(np.float32) * 2


def _model_dir(tmp: Path, extra: str = "", use: str = "") -> Path:
    model = tmp / "model"
    model.mkdir(parents=True)
    (model / "edge_rnn_model.h").write_text(ADAPTER)
    (model / "toy.c").write_text(MODEL % {"extra": extra, "use": use})
    return model


def _skip_without(target_name: str) -> None:
    missing = missing_tools(load_target(target_name))
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (bash scripts/setup.sh --arm)")


@pytest.fixture(scope="module")
def host_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc")
    tmp = tmp_path_factory.mktemp("host")
    model = _model_dir(tmp)
    (tmp / "test_x.bin").write_bytes(X.astype("<f4").tobytes())
    binary = tmp / "host"
    flags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"]
    flags += [f"-I{path}" for path in (model, CORTEXM_DIR, PROTOCOL_DIR)]
    sources = [model / "toy.c", CORTEXM_DIR / "validate_main.c"]
    subprocess.run(["gcc", *flags, *map(str, sources), "-lm", "-o", str(binary)], check=True)
    done = subprocess.run([str(binary)], check=True, capture_output=True, text=True, cwd=tmp)
    return done.stdout


@pytest.mark.parametrize("name", [target.name for target in list_targets()])
def test_target_matches_host_bit_exactly(name: str, host_output: str, tmp_path: Path) -> None:
    _skip_without(name)
    target = load_target(name)
    firmware = build_firmware(target, _model_dir(tmp_path), X, tmp_path / "build", werror=True)
    result = run_firmware(firmware)
    host = parse_protocol(host_output)
    # Float32 with -ffp-contract=off (and soft-float on M0+/M3) equals the x86 host bit for bit.
    assert np.array_equal(result.log.outputs, host.outputs)
    counts = result.instructions
    assert counts is not None and counts.inferences == len(X)
    assert 100 < counts.lowest <= counts.per_inference <= counts.highest < 200_000
    if target.bare_metal:  # counted by class too; per inference each rounds by up to 0.5
        assert counts.classes is not None
        assert abs(sum(counts.classes.values()) - counts.per_inference) <= len(counts.classes) / 2
    if target.bare_metal:
        assert firmware.memory is not None
        assert 0 < firmware.memory.ram_bytes < target.emulator.ram_kib * 1024
        assert 1000 < firmware.memory.flash_bytes < target.emulator.flash_kib * 1024
        assert firmware.memory.stack_reserve == STACK_BYTES  # picolibc.ld takes the --defsym
        assert result.stack_bytes is not None and 64 < result.stack_bytes < 4096


def test_instruction_counts_repeat_exactly(tmp_path: Path) -> None:
    _skip_without("cortex-m4f")
    firmware = build_firmware(load_target("cortex-m4f"), _model_dir(tmp_path), X, tmp_path / "b")
    first, second = run_firmware(firmware), run_firmware(firmware)
    assert first.instructions == second.instructions


def test_firmware_streams_any_number_of_windows(tmp_path: Path) -> None:
    """The windows are not compiled in: 20x more windows, the same executable, still 16 KiB."""
    _skip_without("cortex-m0plus")
    target, model = load_target("cortex-m0plus"), _model_dir(tmp_path)
    more = np.random.default_rng(3).standard_normal((50 * len(X), 4, 3)).astype(np.float32)
    many = np.concatenate([X, more])
    few = build_firmware(target, model, X, tmp_path / "few")
    lots = build_firmware(target, model, many, tmp_path / "lots")
    assert few.elf.read_bytes() == lots.elf.read_bytes()
    result = run_firmware(lots, count_instructions=False)
    assert result.log.samples == len(many) and result.log.outputs.shape == (len(many), 3)
    np.testing.assert_array_equal(
        result.log.outputs[: len(X)], run_firmware(few, count_instructions=False).log.outputs
    )
    lots.windows.write_bytes(lots.windows.read_bytes()[:-4])  # not a whole number of windows
    with pytest.raises(EdgeRnnError, match="no whole test windows read"):
        run_firmware(lots, count_instructions=False)


@pytest.mark.parametrize(
    "extra,use,region",
    [
        ("static const float big[80000] = {1.0f};", " + big[x[0] > 0.0f]", "FLASH needs"),
        ("static volatile float scratch[5000];", " + (scratch[k] = x[k])", "RAM needs"),
    ],
)
def test_model_too_big_for_microbit_names_the_sizes(
    tmp_path: Path, extra: str, use: str, region: str
) -> None:
    """Too big for the emulated micro:bit, but the fit probe says it fits the Pico it stands for."""
    _skip_without("cortex-m0plus")
    target = load_target("cortex-m0plus")
    model = _model_dir(tmp_path, extra, use)
    with pytest.raises(DoesNotFit) as info:
        build_firmware(target, model, X, tmp_path / "b")
    message = str(info.value)
    assert "does not fit the emulated microbit of target cortex-m0plus" in message
    assert "256 KiB flash / 16 KiB RAM" in message and region in message
    has = "has 262144" if region.startswith("FLASH") else "has 16384"
    assert has in message
    fit = measure_fit(target, model, tmp_path / "fit")
    assert fit.fits and (fit.board_flash_bytes, fit.board_ram_bytes) == (2048 * 1024, 264 * 1024)
    if region.startswith("FLASH"):
        assert 320_000 < fit.flash_bytes < 330_000 and fit.static_ram_bytes < 2000
    else:
        assert 20_000 < fit.static_ram_bytes < 22_000 and fit.flash_bytes < 10_000


def test_fit_probe_measures_the_model_not_the_harness(tmp_path: Path) -> None:
    """The probe has no stdio and no windows: far smaller than the validation firmware, and it
    grows by exactly the model's constants; beyond the board's flash it does not fit."""
    _skip_without("cortex-m0plus")
    target = load_target("cortex-m0plus")
    small = measure_fit(target, _model_dir(tmp_path / "s"), tmp_path / "fs")
    firmware = build_firmware(target, _model_dir(tmp_path / "h"), X, tmp_path / "h" / "b")
    assert firmware.memory is not None
    assert small.flash_bytes < firmware.memory.flash_bytes / 2
    huge = _model_dir(
        tmp_path / "l", "static const float big[600000] = {1.0f};", " + big[x[0] > 0]"
    )
    large = measure_fit(target, huge, tmp_path / "fl")
    assert large.flash_bytes - small.flash_bytes >= 600_000 * 4
    assert not large.fits and "does NOT fit Raspberry Pi Pico" in large.summary()


def test_cpp_constructors_and_destructors_run_on_our_startup(tmp_path: Path) -> None:
    """What TFLite Micro needs from the startup: file-scope constructors run before main
    (__libc_init_array), atexit destructors link (__dso_handle, exidx symbols)."""
    _skip_without("cortex-m4f")
    target = load_target("cortex-m4f")
    compiler = target.compiler.replace("gcc", "g++")
    if shutil.which(compiler) is None:
        pytest.skip(f"needs {compiler}")
    source = tmp_path / "app.cc"
    source.write_text(
        '#include <stdio.h>\n#include "edge_rnn_firmware.h"\n'
        "struct Counter {\n  int value;\n  Counter() : value(42) {}\n"
        "  virtual ~Counter() {}\n  virtual int get() const { return value; }\n};\n"
        "Counter global_counter;  // constructed before main, destructor registered\n"
        "static int local() { static Counter counter; return counter.get(); }\n"
        'extern "C" int main() {\n  edge_rnn_platform_init();\n'
        '  printf("global=%d local=%d\\n", global_counter.get(), local());\n'
        "  return global_counter.get() == 42 ? 0 : 3;\n}\n"
    )
    common = [*target.cflags, "-DEDGE_RNN_BARE_METAL", f"-I{CORTEXM_DIR}", "-O2"]
    for c_file in ("startup.c", "semihosting.c"):
        subprocess.run(
            [
                target.compiler,
                *common,
                "-c",
                str(CORTEXM_DIR / c_file),
                "-o",
                str(tmp_path / f"{c_file}.o"),
            ],
            check=True,
        )
    elf = tmp_path / "app.elf"
    memory = {"__flash_size": 1 << 20, "__ram_size": 256 << 10, "__heap_size": 4096}
    memory["__stack_size"] = 4096
    subprocess.run(
        [compiler, *common, "-fno-exceptions", "-fno-rtti", str(source)]
        + [str(tmp_path / "startup.c.o"), str(tmp_path / "semihosting.c.o")]
        + cortexm_link_flags(target, tmp_path, memory)
        + ["-o", str(elf)],
        check=True,
    )
    firmware = Firmware(target=target, elf=elf, samples=0, memory=None, windows=tmp_path / "-")
    done = subprocess.run(
        qemu_command(firmware) + ["-kernel", str(elf)], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (0, "global=42 local=42\n")


def test_fault_is_reported_by_name(tmp_path: Path) -> None:
    _skip_without("cortex-m3")
    # Reading from an unmapped address is a bus error, escalated to HardFault.
    model = _model_dir(tmp_path, "", " + *(volatile float *)0x60000000u")
    firmware = build_firmware(load_target("cortex-m3"), model, X, tmp_path / "b")
    with pytest.raises(EdgeRnnError, match=r"firmware on cortex-m3 .* stopped with HardFault"):
        run_firmware(firmware, count_instructions=False)


@pytest.mark.parametrize("name,traps", [("esp32-c3", True), ("ch32v307", False)])
def test_riscv_isa_is_cut_to_the_chip(name: str, traps: bool, tmp_path: Path) -> None:
    """A float instruction in the model: the ESP32-C3's core (no F) traps and the trap handler
    exits with the named code; the CH32V307's (F) runs it."""
    _skip_without(name)
    extra = (
        'static float fpu_op(void) { __asm__ volatile(".option push\\n.option arch, +f\\n'
        'fmv.w.x ft0, zero\\n.option pop"); return 0.0f; }'
    )
    model = _model_dir(tmp_path, extra, " + fpu_op()")
    firmware = build_firmware(load_target(name), model, X, tmp_path / "b")
    if not traps:
        assert run_firmware(firmware, count_instructions=False).log.outputs.shape == (len(X), 3)
        return
    with pytest.raises(EdgeRnnError, match=r"on esp32-c3 .* a RISC-V trap: an illegal instr"):
        run_firmware(firmware, count_instructions=False)


@pytest.mark.parametrize(
    "built,cpu,trap",
    [
        # F: picolibc's crt0 turned the FPU on before any handler was installed and looped.
        (
            "ch32v307",
            "rv32,a=false,f=false,d=false",
            r"illegal instruction \(mcause 2\) at 0x\w+ in _start",
        ),
        # C: the first compressed instruction, in the C start-up code.
        ("esp32-c3", "rv32,c=false,a=false,f=false,d=false", r"illegal instruction \(mcause 2\)"),
    ],
)
def test_riscv_firmware_for_a_missing_extension_fails_fast(
    built: str, cpu: str, trap: str, tmp_path: Path
) -> None:
    """A firmware built for an ISA the emulated core lacks stops at its first trap with the
    target, the -march it was built for and QEMU's -cpu, instead of hanging until the timeout
    (which would raise "did not finish" instead)."""
    _skip_without(built)
    firmware = build_firmware(load_target(built), _model_dir(tmp_path), X, tmp_path / "b")
    target = firmware.target
    emulator = dataclasses.replace(target.emulator, cpu=cpu)
    firmware = dataclasses.replace(firmware, target=dataclasses.replace(target, emulator=emulator))
    march = target.cflags[0]
    with pytest.raises(EdgeRnnError) as raised:
        run_firmware(firmware, count_instructions=False, timeout_s=60)
    message = str(raised.value)
    assert message.startswith(f"firmware on {built} (qemu-system-riscv32 -cpu {cpu}) stopped")
    assert re.search(trap, message) and f"built for {march}, with an extension" in message


HANG = (
    "static volatile int forever = 1;\nstatic float hang(void) { while (forever) {} return 0.0f; }"
)
IN_START_UP = "__attribute__((constructor)) static void before_main(void) { (void)hang(); }"


@pytest.mark.parametrize(
    "name,extra,use,expected",
    [
        ("esp32-c3", IN_START_UP, "", r"printed nothing within 2 s of starting: it hangs in start"),
        ("cortex-m3", "", " + hang()", r"did not finish within 8 s \(it printed 0 of 6 windows'"),
    ],
)
def test_a_hang_is_reported_with_where_it_stopped(
    name: str, extra: str, use: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A firmware that prints nothing is stopped after START_UP_S (not the whole timeout); one
    that hangs in the model is reported at the timeout with the windows it got through."""
    _skip_without(name)
    monkeypatch.setattr("edge_rnn.ontarget.run.START_UP_S", 2.0)
    model = _model_dir(tmp_path, f"{HANG}\n{extra}", use)
    firmware = build_firmware(load_target(name), model, X, tmp_path / "b")
    timeout_s = 8 if use else 60
    with pytest.raises(EdgeRnnError, match=expected) as raised:
        run_firmware(firmware, count_instructions=False, timeout_s=timeout_s)
    assert f"on {name} (qemu-system-" in str(raised.value)
    assert str(raised.value).endswith(f"built with {load_target(name).cflags[0]}")


def test_riscv_fit_probe_is_the_model_and_a_small_runtime(tmp_path: Path) -> None:
    """On RISC-V the probe links picolibc's plain crt0 (the semihosted one prints on a trap and
    adds ~14 KB); the sweep's footprint (model minus empty program) grows by a table's size."""
    from edge_rnn.ontarget.footprint import model_footprint

    _skip_without("gd32vf103")
    target = load_target("gd32vf103")
    small = _model_dir(tmp_path / "s")
    big = _model_dir(
        tmp_path / "b", "static const float big[10000] = {1.0f};", " + big[x[0] > 0.0f]"
    )
    footprint = model_footprint(target, small)
    assert 40_000 <= model_footprint(target, big).flash_bytes - footprint.flash_bytes < 40_100
    fit = measure_fit(target, small, tmp_path / "fit")
    assert footprint.flash_bytes < fit.flash_bytes < footprint.flash_bytes + 1024
    assert fit.fits and fit.static_ram_bytes < 1024
    harness = build_firmware(target, small, X, tmp_path / "h").memory
    assert harness is not None and harness.flash_bytes > fit.flash_bytes + 10_000


def test_missing_adapter_is_a_clear_error(tmp_path: Path) -> None:
    _skip_without("cortex-m4f")
    with pytest.raises(EdgeRnnError, match=r"no edge_rnn_model.h: generate the native C"):
        build_firmware(load_target("cortex-m4f"), tmp_path, X, tmp_path / "b")
