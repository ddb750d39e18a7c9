"""Cross-compile the validation firmware (validation main + model) for a target.

The test windows are not compiled in: the firmware reads them one at a time from
`test_x.bin` beside it (semihosting file reads on Cortex-M, stdio on ARM Linux), so any test
set runs on any target. Cortex-M: arm-none-eabi-gcc, semihosting (`--specs=rdimon.specs`),
the startup file and the linker script in firmware_templates/cortexm with the emulated
machine's memory map passed by --defsym. RISC-V: riscv64-unknown-elf-gcc with picolibc (its
crt0, linker script and semihost library; the memory map by --defsym) and
firmware_templates/riscv/platform.c; the validation main and the semihosted window reads are
the Cortex-M ones. Whether the model fits the *board* is judged
separately, on the model alone (edge_rnn.ontarget.fit). ARM Linux: the cross gcc, a static
executable (fixed marker addresses for the instruction-count plugin).
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

CORTEXM_DIR = FIRMWARE_DIR / "cortexm"  # also the bare-metal main, fit probe and semihosted I/O
RISCV_DIR = FIRMWARE_DIR / "riscv"
PROTOCOL_DIR = FIRMWARE_DIR / "protocol"
WARNINGS = ("-std=c99", "-Wall", "-Wextra")
HEAP_BYTES = 2 * KIB  # newlib's stdio and float printing allocate a little
STACK_BYTES = 3 * KIB  # minimum the stack must get; it may grow into any unused RAM
WINDOWS_FILE = "test_x.bin"  # EDGE_RNN_TEST_FILE in edge_rnn_firmware.h
_OVERFLOW = re.compile(r"region `(\w+)' overflowed by (\d+) bytes")


class DoesNotFit(EdgeRnnError):
    """The firmware overflows the emulated machine's memory; `needs` maps region -> bytes."""

    def __init__(self, message: str, needs: dict[str, int]) -> None:
        super().__init__(message)
        self.needs = needs


@dataclass(frozen=True)
class Firmware:
    target: Target
    elf: Path  # the executable (bare-metal ELF or Linux binary)
    samples: int  # test windows in `windows`
    memory: MemoryUse | None  # the whole validation firmware as linked (bare metal only)
    windows: Path  # raw float32 windows, read at run time from the executable's directory
    # Instruction-count marker pairs per window: 1, or T when it runs step by step (STEP_WINDOWS).
    pairs_per_window: int = 1


# validate_main.c holds one time step instead of one window and runs it through `_step`.
STEP_WINDOWS = "EDGE_RNN_STEP_WINDOWS"


def model_sources(model_dir: Path) -> list[Path]:
    if not (model_dir / "edge_rnn_model.h").is_file():
        raise EdgeRnnError(
            f"model directory '{model_dir}' has no edge_rnn_model.h: generate the native C "
            "model first (edge-rnn generate)"
        )
    return sorted(model_dir.glob("*.c"))


def write_windows(x: np.ndarray, out_dir: Path) -> Path:
    """The windows as the firmware reads them: raw little-endian float32 (token ids: int32),
    window after window."""
    x = np.ascontiguousarray(x, dtype="<i4" if x.dtype == np.int32 else "<f4")
    if x.ndim != 3 or x.shape[0] == 0:
        raise EdgeRnnError(f"test windows must be shaped (N, T, F) with N >= 1, got {x.shape}")
    path = out_dir / WINDOWS_FILE
    path.write_bytes(x.tobytes())
    return path


def _does_not_fit(target: Target, log: str) -> DoesNotFit:
    emulator = target.emulator
    limits = {"FLASH": emulator.flash_kib * KIB, "RAM": emulator.ram_kib * KIB}
    needs = {region: limits.get(region, 0) + int(over) for region, over in _OVERFLOW.findall(log)}
    parts = [
        f"{region} needs {size} bytes, has {limits.get(region, 0)}"
        for region, size in needs.items()
    ]
    return DoesNotFit(
        f"the validation firmware does not fit the emulated {emulator.machine} of target "
        f"{target.name} ({emulator.flash_kib} KiB flash / {emulator.ram_kib} KiB RAM, RAM incl. "
        f"{STACK_BYTES} B stack + {HEAP_BYTES} B heap): {'; '.join(parts)}",
        needs,
    )


def cortexm_link_flags(
    target: Target, build_dir: Path, memory: dict[str, int], specs: str = "rdimon.specs"
) -> list[str]:
    """-nostartfiles, the specs, our linker script and its memory map (--defsym `memory`:
    __flash_size, __ram_size, __heap_size, __stack_size; origins from the emulator)."""
    symbols = {
        "__flash_origin": target.emulator.flash_origin,
        "__ram_origin": target.emulator.ram_origin,
        **memory,
    }
    defsyms = ",".join(f"--defsym={name}={value:#x}" for name, value in symbols.items())
    return [
        "-nostartfiles",
        f"--specs={specs}",
        "-T",
        str(CORTEXM_DIR / "cortexm.ld"),
        f"-Wl,{defsyms},--gc-sections,-Map={build_dir / 'app.map'}",
    ]


def riscv_link_flags(
    target: Target, build_dir: Path, memory: dict[str, int], *, with_io: bool = True
) -> list[str]:
    """picolibc's linker script and (`with_io`) semihost library, with the memory map by
    --defsym (`memory`: __flash_size, __ram_size, __stack_size). With io our own start-up
    (riscv/startup.S: the trap handler is installed before any code that may trap), without
    io (the fit probe) picolibc's plain crt0."""
    symbols = {
        "__flash": target.emulator.flash_origin,
        "__flash_size": memory["__flash_size"],
        "__ram": target.emulator.ram_origin,
        "__ram_size": memory["__ram_size"],
        "__stack_size": memory["__stack_size"],
    }
    defsyms = ",".join(f"--defsym={name}={value:#x}" for name, value in symbols.items())
    return [
        "--specs=picolibc.specs",
        *(["--oslib=semihost", "-nostartfiles"] if with_io else []),
        f"-Wl,{defsyms},--gc-sections,-Map={build_dir / 'app.map'}",
        # After the --defsym: the script's DEFINED(__stack_size) only sees symbols set before
        # it (the specs' own -T comes first, and the stack reserve stayed at its 2 KiB default).
        "-Tpicolibc.ld",
    ]


def bare_metal_link(
    target: Target, build_dir: Path, memory: dict[str, int], *, with_io: bool
) -> list[str]:
    """Platform sources and link flags of a bare-metal program; `with_io`: semihosted stdio
    and window reads (the validation firmware), else the smallest runtime (the fit probe)."""
    if target.kind == "riscv":
        io = [RISCV_DIR / "startup.S", RISCV_DIR / "platform.c", CORTEXM_DIR / "semihosting.c"]
        io = io if with_io else []
        return [*map(str, io), *riscv_link_flags(target, build_dir, memory, with_io=with_io)]
    sources = [CORTEXM_DIR / "startup.c", *([CORTEXM_DIR / "semihosting.c"] if with_io else [])]
    specs = "rdimon.specs" if with_io else "nosys.specs"
    return [*map(str, sources), *cortexm_link_flags(target, build_dir, memory, specs=specs)]


def build_firmware(
    target: Target,
    model_dir: str | Path,
    x: np.ndarray,
    build_dir: str | Path,
    *,
    include_dirs: tuple[Path, ...] = (),
    opt: str = "-O2",
    werror: bool = False,
    defines: tuple[str, ...] = (),
    step_if_too_big: bool = False,
) -> Firmware:
    """Compile and link the validation firmware running the model in `model_dir` on RAW x.

    `model_dir` holds the native model (`*.c`, its headers and `edge_rnn_model.h`);
    `include_dirs` adds e.g. the native kernel library headers; `defines` are passed as -D
    (ERN_PROFILE: the kernel zone markers for run_firmware(zones=True); STEP_WINDOWS: hold one
    time step, not one window, for a model with `_step`). Bare-metal firmware is
    linked for the emulated machine's memory (DoesNotFit when it overflows); with
    `step_if_too_big` an overflow links the STEP_WINDOWS main instead (the model is compiled
    once for both links; the returned firmware's pairs_per_window says which one it is).
    """
    require_tools(target)
    model_dir, build_dir = Path(model_dir), Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    sources = model_sources(model_dir)
    windows = write_windows(x, build_dir)
    bare_metal = target.bare_metal
    elf = build_dir / ("app.elf" if bare_metal else "app")
    flags = [
        *WARNINGS,
        *(["-Werror"] if werror else []),
        opt,
        *target.cflags,
        "-ffunction-sections",
        "-fdata-sections",
        *(f"-D{d}" for d in defines),
        *(f"-I{d}" for d in (model_dir, *include_dirs, CORTEXM_DIR, PROTOCOL_DIR)),
        *(["-DEDGE_RNN_BARE_METAL"] if bare_metal else []),
    ]
    if bare_metal:
        emulator = target.emulator
        memory_map = {
            "__flash_size": emulator.flash_kib * KIB,
            "__ram_size": emulator.ram_kib * KIB,
            "__heap_size": HEAP_BYTES,
            "__stack_size": STACK_BYTES,
        }
        platform = bare_metal_link(target, build_dir, memory_map, with_io=True)
    else:
        platform = ["-static"]  # self-contained: copy it to the board; no lazy binding in counts
    # The specs also choose the C library's headers (picolibc on RISC-V): the model needs them.
    specs = [flag for flag in platform if flag.startswith("--specs=")]
    what = f"building the firmware for {target.name}"
    objects = compile_objects(target, [*flags, *specs], sources, build_dir / "model", what)

    def link(main_defines: tuple[str, ...]) -> None:
        command = [
            target.compiler,
            *flags,
            *(f"-D{d}" for d in main_defines),
            *map(str, objects),
            str(CORTEXM_DIR / "validate_main.c"),
            *platform,
            *["-lm", "-o", str(elf)],
        ]
        try:
            run_tool(command, what)
        except ToolFailed as err:
            if _OVERFLOW.search(err.output):
                raise _does_not_fit(target, err.output) from None
            raise

    stepping = STEP_WINDOWS in defines
    try:
        link(())
    except DoesNotFit:
        if not step_if_too_big or stepping:
            raise
        link((STEP_WINDOWS,))
        stepping = True
    memory = None
    if bare_metal:
        memory = memory_use(elf, target.emulator.ram_origin, target.emulator.ram_kib * KIB)
    pairs = int(x.shape[1]) if stepping else 1
    return Firmware(target, elf, int(x.shape[0]), memory, windows, pairs_per_window=pairs)


def compile_objects(
    target: Target, flags: list[str], sources: list[Path], out_dir: Path, what: str
) -> list[Path]:
    """`sources` compiled with `flags` into `out_dir`, one object each (linked later)."""
    out_dir.mkdir(exist_ok=True)
    objects = [out_dir / f"{source.stem}.o" for source in sources]
    for source, obj in zip(sources, objects, strict=True):
        run_tool([target.compiler, *flags, "-c", str(source), "-o", str(obj)], what)
    return objects
