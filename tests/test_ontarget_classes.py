"""The instruction-count plugin's classes: a known instruction sequence between the markers gives
known counts per class, on Arm Thumb and RISC-V, and the classes add up to the total."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from edge_rnn.ontarget import Firmware, missing_tools
from edge_rnn.ontarget.build import CORTEXM_DIR, WARNINGS, bare_metal_link
from edge_rnn.ontarget.run import plugin_arguments, qemu_command, read_counts
from edge_rnn.targets import load_target

pytestmark = pytest.mark.arm

# Between the markers: the start marker's return, then 5 loop passes of MUL, a load, a store,
# an FPU add, a decrement and a conditional branch back (taken 4 times, falling through once),
# around them two ALU moves and a push and pop of two registers (Arm) or a load and a store
# (RISC-V), then the call of the end marker (a taken branch; the marker itself is not counted).
SEQUENCE = {
    "cortex-m4f": (
        "bl edge_rnn_marker_start\n"
        "movs r0, #5\n"
        "push {r4, r5}\n"
        "1: mul r1, r0, r0\n"
        "ldr r2, [sp]\n"
        "str r2, [sp]\n"
        "vadd.f32 s0, s0, s0\n"
        "subs r0, r0, #1\n"
        "bne 1b\n"
        "pop {r4, r5}\n"
        "mov r1, r0\n"
        "bl edge_rnn_marker_end\n",
        '"r0", "r1", "r2", "r4", "r5", "s0", "lr", "cc", "memory"',
    ),
    "ch32v307": (
        "call edge_rnn_marker_start\n"
        "li t0, 5\n"
        "lw t2, 0(sp)\n"
        "1: mul t1, t0, t0\n"
        "lw t2, 0(sp)\n"
        "sw t2, 0(sp)\n"
        "fadd.s ft0, ft0, ft0\n"
        "addi t0, t0, -1\n"
        "bnez t0, 1b\n"
        "sw t2, 0(sp)\n"
        "mv t1, t0\n"
        "jal ra, edge_rnn_marker_end\n",
        '"t0", "t1", "t2", "ft0", "ra", "memory"',
    ),
}
EXPECTED = {
    "alu": 2 + 5,
    "mul": 5,
    "load_store": 2 + 5 * 2,
    "branch_taken": 1 + 4 + 1,
    "branch_not_taken": 1,
    "fpu": 5,
}

PROGRAM = """\
#include "edge_rnn_firmware.h"
EDGE_RNN_MARKER void edge_rnn_marker_start(void) {}
EDGE_RNN_MARKER void edge_rnn_marker_end(void) {}
int main(void)
{
    edge_rnn_platform_init();
    __asm__ volatile(%s : : : %s);
    return 0;
}
"""


@pytest.mark.parametrize("name", sorted(SEQUENCE))
def test_known_sequence_gives_its_class_counts(name: str, tmp_path: Path) -> None:
    target = load_target(name)
    missing = missing_tools(target)
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (bash scripts/setup.sh --arm)")
    code, clobbers = SEQUENCE[name]
    source = tmp_path / "sequence.c"
    source.write_text(PROGRAM % (repr(code).replace("'", '"'), clobbers))
    elf = tmp_path / "app.elf"
    memory = {"__flash_size": 1 << 20, "__ram_size": 256 << 10, "__heap_size": 4096}
    memory["__stack_size"] = 4096
    compile_ = [target.compiler, *WARNINGS, "-Werror", "-O2", *target.cflags]
    compile_ += ["-DEDGE_RNN_BARE_METAL", f"-I{CORTEXM_DIR}", str(source)]
    link = bare_metal_link(target, tmp_path, memory, with_io=True)
    subprocess.run([*compile_, *link, "-o", str(elf)], check=True)
    firmware = Firmware(target=target, elf=elf, samples=0, memory=None, windows=tmp_path / "-")
    counts_file = tmp_path / "icount.txt"
    command = qemu_command(firmware) + plugin_arguments(firmware, counts_file)
    subprocess.run([*command, "-kernel", str(elf)], check=True, capture_output=True, timeout=60)
    counts = read_counts(counts_file)
    assert counts.classes == EXPECTED
    assert counts.per_inference == sum(EXPECTED.values())
