"""On-target pipeline with a small hand-written C stand-in model (adapter per /firmware README):
every target builds, runs under QEMU and prints exactly what the same C prints on the host;
a model too big for the micro:bit memory map fails naming the sizes; a fault is reported."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edge_rnn.errors import EdgeRnnError
from edge_rnn.ontarget import build_firmware, missing_tools, run_firmware
from edge_rnn.ontarget.build import CORTEXM_DIR, PROTOCOL_DIR
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
    vectors = tmp / "x.bin"
    vectors.write_bytes(X.astype("<f4").tobytes())
    binary = tmp / "host"
    flags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", f"-DEDGE_RNN_TEST_SAMPLES={len(X)}"]
    flags += [f'-DEDGE_RNN_TEST_VECTORS="{vectors}"']
    flags += [f"-I{path}" for path in (model, CORTEXM_DIR, PROTOCOL_DIR)]
    sources = [model / "toy.c", CORTEXM_DIR / "validate_main.c", CORTEXM_DIR / "test_vectors.S"]
    subprocess.run(["gcc", *flags, *map(str, sources), "-lm", "-o", str(binary)], check=True)
    return subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout


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
    if target.kind == "cortex-m":
        assert firmware.memory is not None
        assert 0 < firmware.memory.ram_bytes < target.link_ram_bytes
        assert 1000 < firmware.memory.flash_bytes < target.link_flash_bytes
        assert result.stack_bytes is not None and 64 < result.stack_bytes < 4096


def test_instruction_counts_repeat_exactly(tmp_path: Path) -> None:
    _skip_without("cortex-m4f")
    firmware = build_firmware(load_target("cortex-m4f"), _model_dir(tmp_path), X, tmp_path / "b")
    first, second = run_firmware(firmware), run_firmware(firmware)
    assert first.instructions == second.instructions


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
    _skip_without("cortex-m0plus")
    model = _model_dir(tmp_path, extra, use)
    with pytest.raises(EdgeRnnError) as info:
        build_firmware(load_target("cortex-m0plus"), model, X, tmp_path / "b")
    message = str(info.value)
    assert "model does not fit target cortex-m0plus" in message
    assert "256 KiB flash / 16 KiB RAM" in message and region in message
    has = "has 262144" if region.startswith("FLASH") else "has 16384"
    assert has in message


def test_fault_is_reported_by_name(tmp_path: Path) -> None:
    _skip_without("cortex-m3")
    # Reading from an unmapped address is a bus error, escalated to HardFault.
    model = _model_dir(tmp_path, "", " + *(volatile float *)0x60000000u")
    firmware = build_firmware(load_target("cortex-m3"), model, X, tmp_path / "b")
    with pytest.raises(EdgeRnnError, match=r"firmware on cortex-m3 .* stopped with HardFault"):
        run_firmware(firmware, count_instructions=False)


def test_missing_adapter_is_a_clear_error(tmp_path: Path) -> None:
    _skip_without("cortex-m4f")
    with pytest.raises(EdgeRnnError, match=r"no edge_rnn_model.h: generate the native C"):
        build_firmware(load_target("cortex-m4f"), tmp_path, X, tmp_path / "b")
