"""What a RISC-V firmware's trap handler reported, in words naming the target and its ISA.

firmware_templates/riscv/startup.S installs the handler before any other code runs; on any
exception it prints `FAULT mcause=0x.. mepc=0x.. mtval=0x..` and exits with code 120. The usual
cause is a firmware built for an extension the emulated core lacks (an F or C instruction on a
core without it), so the message puts the -march it was built for next to QEMU's -cpu.
"""

from __future__ import annotations

import re
from pathlib import Path

from edge_rnn.targets import Target

FAULT_LINE = re.compile(r"^FAULT mcause=0x(\w{8}) mepc=0x(\w{8}) mtval=0x(\w{8})$", re.MULTILINE)

# The RISC-V privileged specification's exception codes (mcause with the interrupt bit clear).
CAUSES = {
    0: "a misaligned instruction fetch (a jump to a compressed-code address on a core without C)",
    1: "an instruction access fault",
    2: "an illegal instruction",
    3: "a breakpoint",
    4: "a misaligned load",
    5: "a load access fault",
    6: "a misaligned store",
    7: "a store access fault",
    11: "an environment call",
}
_WRONG_ISA = (0, 2)  # what an extension the core lacks looks like


def function_at(elf: Path, address: int) -> str | None:
    """The function symbol whose extent holds `address`."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    with open(elf, "rb") as handle:
        symbols = ELFFile(handle).get_section_by_name(".symtab")
        if not isinstance(symbols, SymbolTableSection):
            return None
        for symbol in symbols.iter_symbols():
            start, size = int(symbol["st_value"]), int(symbol["st_size"])
            if symbol["st_info"]["type"] == "STT_FUNC" and start <= address < start + size:
                return symbol.name
    return None


def describe_fault(stdout: str, target: Target, elf: Path) -> str | None:
    """One sentence for the FAULT line in `stdout` (None when there is none)."""
    found = FAULT_LINE.search(stdout)
    if found is None:
        return None
    cause, pc, value = (int(field, 16) for field in found.groups())
    what = CAUSES.get(cause, f"exception {cause}")
    function = function_at(elf, pc)
    where = f"{pc:#010x}" + (f" in {function}" if function else "")
    detail = f"a RISC-V trap: {what} (mcause {cause}) at {where}, mtval {value:#010x}"
    if cause not in _WRONG_ISA:
        return detail
    march = next((flag for flag in target.cflags if flag.startswith("-march=")), "its -march")
    return (
        f"{detail}: the firmware was built for {march}, with an extension this emulated core "
        f"lacks; build it for the core's ISA (the profile's cflags {march} and [emulator] cpu "
        f"'{target.emulator.cpu}' must name the same extensions)"
    )
