"""On-target runs: cross-compile the validation firmware for a target, run it under QEMU
(system mode for Cortex-M, user mode for ARM Linux), count instructions, measure flash/RAM.

    firmware = build_firmware(load_target("cortex-m4f"), model_dir, x, work_dir)
    result = run_firmware(firmware, count_instructions=True)
    write_bundle(build_dir, "bundle/")  # ARM Linux board: models, windows, run_on_board.py
"""

from edge_rnn.ontarget.build import Firmware, build_firmware
from edge_rnn.ontarget.bundle import Bundle, write_bundle
from edge_rnn.ontarget.elf import MemoryUse, memory_use, symbol_address
from edge_rnn.ontarget.run import OnTargetResult, run_firmware
from edge_rnn.ontarget.toolchain import ToolMissing, missing_tools

__all__ = [
    "Bundle",
    "Firmware",
    "MemoryUse",
    "OnTargetResult",
    "ToolMissing",
    "build_firmware",
    "memory_use",
    "missing_tools",
    "run_firmware",
    "symbol_address",
    "write_bundle",
]
