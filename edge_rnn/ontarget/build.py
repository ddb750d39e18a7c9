"""Cross-compile the validation firmware (validation main + model + test windows) for a target.

Cortex-M: arm-none-eabi-gcc, semihosting (`--specs=rdimon.specs`), the startup file and the
linker script in firmware_templates/cortexm with the board's memory map passed by --defsym,
so a model that does not fit is a link error, reported with the sizes. ARM Linux: the cross
gcc, a static executable (fixed marker addresses for the instruction-count plugin).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_rnn.errors import EdgeRnnError
from edge_rnn.ontarget.elf import MemoryUse, memory_use
from edge_rnn.ontarget.toolchain import FIRMWARE_DIR, ToolFailed, require_tools, run_tool
from edge_rnn.targets import KIB, Target

CORTEXM_DIR = FIRMWARE_DIR / "cortexm"
PROTOCOL_DIR = FIRMWARE_DIR / "protocol"
WARNINGS = ("-std=c99", "-Wall", "-Wextra")
HEAP_BYTES = 2 * KIB  # newlib's stdio and float printing allocate a little
STACK_BYTES = 3 * KIB  # minimum the stack must get; it may grow into any unused RAM
_OVERFLOW = re.compile(r"region `(\w+)' overflowed by (\d+) bytes")


@dataclass(frozen=True)
class Firmware:
    target: Target
    elf: Path  # the executable (bare-metal ELF or Linux binary)
    samples: int  # test windows compiled in
    memory: MemoryUse | None  # Cortex-M only


def _sources(model_dir: Path) -> list[Path]:
    if not (model_dir / "edge_rnn_model.h").is_file():
        raise EdgeRnnError(
            f"model directory '{model_dir}' has no edge_rnn_model.h: generate the native C "
            "model first (edge-rnn generate)"
        )
    return sorted(model_dir.glob("*.c"))


def _write_vectors(x: np.ndarray, out_dir: Path) -> Path:
    x = np.ascontiguousarray(x, dtype="<f4")
    if x.ndim != 3 or x.shape[0] == 0:
        raise EdgeRnnError(f"test windows must be shaped (N, T, F) with N >= 1, got {x.shape}")
    path = out_dir / "test_x.bin"
    path.write_bytes(x.tobytes())
    return path


def _does_not_fit(target: Target, log: str) -> EdgeRnnError:
    limits = {"FLASH": target.link_flash_bytes, "RAM": target.link_ram_bytes}
    parts = []
    for region, over in _OVERFLOW.findall(log):
        size = limits.get(region, 0)
        parts.append(f"{region} needs {size + int(over)} bytes, has {size} (over by {over})")
    return EdgeRnnError(
        f"model does not fit target {target.name} ({target.board}; linked for "
        f"{target.link_flash_bytes // KIB} KiB flash / {target.link_ram_bytes // KIB} KiB RAM, "
        f"RAM incl. {STACK_BYTES} B stack + {HEAP_BYTES} B heap): {'; '.join(parts)}. "
        "Use the int8 mode, fewer units, or a target with more memory"
    )


def _cortexm_link_flags(target: Target, build_dir: Path) -> list[str]:
    emulator = target.emulator
    symbols = {
        "__flash_origin": emulator.flash_origin,
        "__flash_size": target.link_flash_bytes,
        "__ram_origin": emulator.ram_origin,
        "__ram_size": target.link_ram_bytes,
        "__heap_size": HEAP_BYTES,
        "__stack_size": STACK_BYTES,
    }
    defsyms = ",".join(f"--defsym={name}={value:#x}" for name, value in symbols.items())
    return [
        "-nostartfiles",
        "--specs=rdimon.specs",
        "-T",
        str(CORTEXM_DIR / "cortexm.ld"),
        f"-Wl,{defsyms},--gc-sections,-Map={build_dir / 'app.map'}",
    ]


def build_firmware(
    target: Target,
    model_dir: str | Path,
    x: np.ndarray,
    build_dir: str | Path,
    *,
    include_dirs: tuple[Path, ...] = (),
    opt: str = "-O2",
    werror: bool = False,
) -> Firmware:
    """Compile and link the validation firmware running the model in `model_dir` on RAW x.

    `model_dir` holds the native model (`*.c`, its headers and `edge_rnn_model.h`);
    `include_dirs` adds e.g. the native kernel library headers.
    """
    require_tools(target)
    model_dir, build_dir = Path(model_dir), Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    sources = _sources(model_dir)
    vectors = _write_vectors(x, build_dir)
    bare_metal = target.kind == "cortex-m"
    elf = build_dir / ("app.elf" if bare_metal else "app")
    command = [
        target.compiler,
        *WARNINGS,
        *(["-Werror"] if werror else []),
        opt,
        *target.cflags,
        "-ffunction-sections",
        "-fdata-sections",
        f"-DEDGE_RNN_TEST_SAMPLES={x.shape[0]}",
        f'-DEDGE_RNN_TEST_VECTORS="{vectors}"',
        *(f"-I{d}" for d in (model_dir, *include_dirs, CORTEXM_DIR, PROTOCOL_DIR)),
        *(str(source) for source in sources),
        str(CORTEXM_DIR / "validate_main.c"),
        str(CORTEXM_DIR / "test_vectors.S"),
    ]
    if bare_metal:
        command += ["-DEDGE_RNN_BARE_METAL", str(CORTEXM_DIR / "startup.c")]
        command += _cortexm_link_flags(target, build_dir)
    else:
        command += ["-static"]  # self-contained: copy it to the board; no lazy binding in counts
    command += ["-lm", "-o", str(elf)]
    try:
        run_tool(command, f"building the firmware for {target.name}")
    except ToolFailed as err:
        if _OVERFLOW.search(err.output):
            raise _does_not_fit(target, err.output) from None
        raise
    memory = None
    if bare_metal:
        memory = memory_use(elf, target.emulator.ram_origin, target.link_ram_bytes)
    return Firmware(target=target, elf=elf, samples=int(x.shape[0]), memory=memory)
