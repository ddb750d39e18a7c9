"""What a native model adds to a firmware: flash and static RAM on one microcontroller target.

The validation firmware's own sizes include the test windows and printf, so instead two tiny
programs are linked with the target's compiler and flags (`--gc-sections`, newlib `nosys` on
Cortex-M, picolibc on RISC-V):
one calling `<name>_run` on a static input window, one empty. The difference is the model's
code, weights and tables (flash) and its state plus the input/output buffers (RAM), including
whatever libm/libgcc functions the model pulls in (e.g. `expf` in float modes, soft-float on
cores without an FPU).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from edge_rnn.errors import EdgeRnnError
from edge_rnn.ontarget.build import riscv_link_flags
from edge_rnn.ontarget.fit import probe_memory
from edge_rnn.ontarget.toolchain import require_tools, run_tool
from edge_rnn.targets import Target

_MODEL_APP = """#include "edge_rnn_model.h"
static edge_rnn_state_t state;
static float x[EDGE_RNN_TIMESTEPS * EDGE_RNN_FEATURES];
static edge_rnn_output_t y[EDGE_RNN_OUTPUTS];
int main(void) {
    edge_rnn_reset(&state);
    edge_rnn_run(&state, x, y);
    return (int)y[0];
}
"""
_EMPTY_APP = "int main(void) { return 0; }\n"
_SHF_WRITE, _SHF_ALLOC = 0x1, 0x2


@dataclass(frozen=True)
class Footprint:
    flash_bytes: int  # code + const data + initial values the model adds
    ram_bytes: int  # .data + .bss the model adds (state, one input window, the outputs)


def _sections(elf: Path) -> tuple[int, int]:
    """(flash, static RAM) of a linked ELF from its allocated sections."""
    from elftools.elf.elffile import ELFFile

    flash = ram = 0
    with open(elf, "rb") as handle:
        for section in ELFFile(handle).iter_sections():
            flags, size = section["sh_flags"], section["sh_size"]
            if not flags & _SHF_ALLOC or section.name in (".heap", ".stack"):
                continue
            if flags & _SHF_WRITE:
                ram += size
            if section["sh_type"] != "SHT_NOBITS":
                flash += size  # code, constants, and the initial values of .data
    return flash, ram


def _runtime_flags(target: Target, out: Path) -> list[str]:
    if target.kind == "riscv":  # picolibc's default map is far too small: the probe's map
        return riscv_link_flags(target, out.parent, probe_memory(target), with_io=False)
    return ["--specs=nosys.specs"]


def _link(target: Target, source: str, sources: list[Path], include: Path, out: Path) -> Path:
    app = out.with_suffix(".c")
    app.write_text(source, encoding="utf-8")
    run_tool(
        [
            target.compiler,
            "-std=c99",
            "-O2",
            *target.cflags,
            "-ffunction-sections",
            "-fdata-sections",
            "-Wl,--gc-sections",
            *_runtime_flags(target, out),
            f"-I{include}",
            str(app),
            *map(str, sources),
            "-lm",
            "-o",
            str(out),
        ],
        f"linking a size probe for {target.name}",
    )
    return out


def model_footprint(target: Target, model_dir: str | Path) -> Footprint:
    """Flash and static RAM the native model in `model_dir` adds to a `target` firmware."""
    if not target.bare_metal:
        raise EdgeRnnError(
            f"target {target.name}: flash footprint is measured for microcontroller targets only"
        )
    require_tools(target)
    model_dir = Path(model_dir)
    sources = sorted(model_dir.glob("*.c"))
    if not (model_dir / "edge_rnn_model.h").is_file() or not sources:
        raise EdgeRnnError(f"'{model_dir}' is not a generated native model directory")
    with tempfile.TemporaryDirectory(prefix="edge-rnn-size-") as scratch:
        work = Path(scratch)
        model = _sections(_link(target, _MODEL_APP, sources, model_dir, work / "model.elf"))
        empty = _sections(_link(target, _EMPTY_APP, [], model_dir, work / "empty.elf"))
    return Footprint(flash_bytes=model[0] - empty[0], ram_bytes=model[1] - empty[1])
