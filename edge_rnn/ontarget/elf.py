"""Flash and RAM of a linked firmware, and symbol addresses, read from the ELF."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge_rnn.errors import EdgeRnnError

RESERVES = (".heap", ".stack")  # NOLOAD regions the linker script sets aside


@dataclass(frozen=True)
class MemoryUse:
    flash_bytes: int  # code + constants (weights) + initial values of .data
    ram_bytes: int  # static RAM: .data + .bss (stack and heap reserves not included)
    heap_reserve: int = 0
    stack_reserve: int = 0


def memory_use(elf_path: str | Path, ram_origin: int, ram_size: int) -> MemoryUse:
    """Sizes of the allocated sections; a section inside [ram_origin, +ram_size) is RAM."""
    from elftools.elf.elffile import ELFFile

    flash = ram = heap = stack = 0
    with open(elf_path, "rb") as handle:
        for section in ELFFile(handle).iter_sections():
            if not section["sh_flags"] & 0x2 or section["sh_size"] == 0:  # SHF_ALLOC
                continue
            size = section["sh_size"]
            if section.name == ".heap":
                heap = size
            elif section.name == ".stack":
                stack = size
            elif ram_origin <= section["sh_addr"] < ram_origin + ram_size:
                ram += size
                if section["sh_type"] != "SHT_NOBITS":
                    flash += size  # initial values are copied from flash at reset
            else:
                flash += size
    return MemoryUse(flash, ram, heap, stack)


def symbol_address(elf_path: str | Path, name: str) -> int:
    """Address of a function (Thumb bit cleared: that is where its first instruction is)."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    with open(elf_path, "rb") as handle:
        symbols = ELFFile(handle).get_section_by_name(".symtab")
        found = (
            symbols.get_symbol_by_name(name) if isinstance(symbols, SymbolTableSection) else None
        )
        if not found:
            raise EdgeRnnError(f"'{elf_path}' has no symbol '{name}' (was it stripped?)")
        return int(found[0]["st_value"]) & ~1
