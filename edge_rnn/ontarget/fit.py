"""Does the model fit the board? Judged on the model alone, not the validation firmware.

The fit probe (firmware_templates/cortexm/fit_main.c) is the smallest application of the
model: its state, one window buffer and the outputs, one reset and run, no stdio and no test
data. It is linked with the same startup and linker script into a memory map far larger than
any board, so its exact flash and RAM are known even when they are too big; they are then
compared with the board's flash and RAM from targets/*.toml (what `edge-rnn targets` lists).
RAM also counts the stack one inference used on the emulated core, when it was measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge_rnn.ontarget.build import CORTEXM_DIR, WARNINGS, bare_metal_link, model_sources
from edge_rnn.ontarget.elf import memory_use
from edge_rnn.ontarget.toolchain import require_tools, run_tool
from edge_rnn.targets import KIB, Target, list_targets

PROBE_SPACE = 128 * 1024 * KIB  # link-time flash and RAM of the probe: larger than any board


@dataclass(frozen=True)
class ModelFit:
    target: Target
    flash_bytes: int  # model + runtime: code, weights, libm/libgcc, startup and vectors
    static_ram_bytes: int  # state, window and output buffers, library data
    stack_bytes: int | None = None  # peak of one inference, measured on the emulated core

    @property
    def ram_bytes(self) -> int:
        return self.static_ram_bytes + (self.stack_bytes or 0)

    @property
    def board_flash_bytes(self) -> int:
        return self.target.flash_kib * KIB

    @property
    def board_ram_bytes(self) -> int:
        return self.target.ram_kib * KIB

    @property
    def fits(self) -> bool:
        return self.flash_bytes <= self.board_flash_bytes and self.ram_bytes <= self.board_ram_bytes

    def summary(self) -> str:
        stack = "" if self.stack_bytes is None else f" incl. {self.stack_bytes:,} B stack"
        return (
            f"{'fits' if self.fits else 'does NOT fit'} {self.target.board}: model + runtime "
            f"flash {self.flash_bytes:,} of {self.board_flash_bytes:,} B, "
            f"RAM {self.ram_bytes:,}{stack} of {self.board_ram_bytes:,} B"
        )

    def as_memory(self) -> dict[str, int]:
        """The figures for a stage's `memory` (integers)."""
        return {
            "flash_bytes": self.flash_bytes,
            "ram_bytes": self.ram_bytes,
            "board_flash_bytes": self.board_flash_bytes,
            "board_ram_bytes": self.board_ram_bytes,
            "fits": int(self.fits),
        }


def probe_memory(target: Target) -> dict[str, int]:
    """The probe's memory map (--defsym): larger than any board, no heap or stack reserve.
    Flash below RAM (RISC-V virt: both in DRAM) gets the room up to the RAM origin."""
    gap = target.emulator.ram_origin - target.emulator.flash_origin
    flash_space = min(PROBE_SPACE, gap) if gap > 0 else PROBE_SPACE
    return {
        "__flash_size": flash_space,
        "__ram_size": PROBE_SPACE,
        "__heap_size": 0,
        "__stack_size": 0,
    }


def measure_fit(
    target: Target,
    model_dir: str | Path,
    build_dir: str | Path,
    *,
    include_dirs: tuple[Path, ...] = (),
    opt: str = "-O2",
) -> ModelFit:
    """Link the fit probe for the model in `model_dir` (a native C model) and measure it."""
    require_tools(target)
    model_dir, build_dir = Path(model_dir), Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    elf = build_dir / "fit.elf"
    memory = probe_memory(target)
    command = [
        target.compiler,
        *WARNINGS,
        opt,
        *target.cflags,
        "-ffunction-sections",
        "-fdata-sections",
        "-DEDGE_RNN_BARE_METAL",
        *(f"-I{d}" for d in (model_dir, *include_dirs, CORTEXM_DIR)),
        *(str(source) for source in model_sources(model_dir)),
        str(CORTEXM_DIR / "fit_main.c"),
        *bare_metal_link(target, build_dir, memory, with_io=False),
        "-lm",
        "-o",
        str(elf),
    ]
    run_tool(command, f"linking the fit probe for {target.name}")
    used = memory_use(elf, target.emulator.ram_origin, PROBE_SPACE)
    return ModelFit(target=target, flash_bytes=used.flash_bytes, static_ram_bytes=used.ram_bytes)


def boards_with_room(flash_bytes: int, ram_bytes: int) -> list[str]:
    """The microcontroller targets whose board has this much flash and RAM (a size check)."""
    return [
        target.name
        for target in list_targets()
        if target.bare_metal
        and target.flash_kib * KIB >= flash_bytes
        and target.ram_kib * KIB >= ram_bytes
    ]
