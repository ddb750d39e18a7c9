"""Board/core profiles: `targets/*.toml` loaded and checked into frozen dataclasses.

A target names a real board (its flash and RAM are what a model must fit: the fit check
compares the model + runtime with them) and how to run its code here: qemu-system-arm (Cortex-M)
or qemu-system-riscv32 (RISC-V microcontrollers) with a machine and memory map (the validation
firmware is linked for that map), or qemu user mode with a sysroot for ARM Linux. Every field
is checked; an error names the file and the field.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_rnn.choices import NATIVE_QUANTIZATIONS
from edge_rnn.errors import EdgeRnnError
from edge_rnn.resources import TARGETS_DIR as TARGETS_DIR  # re-exported

KINDS = ("cortex-m", "riscv", "linux")
BARE_METAL_KINDS = ("cortex-m", "riscv")  # firmware linked for a memory map, run in system mode
KIB = 1024


@dataclass(frozen=True)
class Emulator:
    qemu: str  # qemu-system-arm | qemu-system-riscv32 | qemu-aarch64 | qemu-arm
    machine: str = ""  # qemu-system-* -M (bare metal only)
    cpu: str = ""  # qemu-system-* -cpu (RISC-V: with the ISA options, e.g. rv32,f=false)
    flash_origin: int = 0  # memory map of the emulated machine (bare metal only)
    flash_kib: int = 0
    ram_origin: int = 0
    ram_kib: int = 0
    sysroot: str = ""  # qemu user mode -L (Linux only)


@dataclass(frozen=True)
class Target:
    name: str  # file stem
    title: str
    kind: str  # one of KINDS
    core: str
    fpu: str  # "none" when the core has no FPU
    dsp: bool
    board: str
    flash_kib: int
    ram_kib: int
    clock_mhz: int  # core clock of the board (0: not stated); sweep latency = instructions / clock
    compiler: str
    cflags: tuple[str, ...]
    default_quantization: str  # one of NATIVE_QUANTIZATIONS
    notes: str
    emulator: Emulator
    path: Path

    @property
    def has_fpu(self) -> bool:
        return self.fpu != "none"

    @property
    def bare_metal(self) -> bool:
        return self.kind in BARE_METAL_KINDS


class _Fields:
    """Typed access to one TOML table; every problem names the file and the field."""

    def __init__(self, table: dict[str, Any], path: Path, prefix: str = "") -> None:
        self.table, self.path, self.prefix = table, path, prefix
        self.used: set[str] = set()

    def fail(self, key: str, what: str) -> EdgeRnnError:
        return EdgeRnnError(f"target file '{self.path}': field '{self.prefix}{key}' {what}")

    def get(self, key: str, kind: type, default: Any = None) -> Any:
        self.used.add(key)
        if key not in self.table:
            if default is None:
                raise self.fail(key, f"is missing (expected {kind.__name__})")
            return default
        value = self.table[key]
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            raise self.fail(key, f"must be {kind.__name__}, got {value!r}")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        value = self.get(key, str, default)
        if default is None and not value.strip():
            raise self.fail(key, "must not be empty")
        return value

    def size(self, key: str, default: int | None = None, allow_zero: bool = False) -> int:
        value = self.get(key, int, default)
        if value < 0 or (value == 0 and not allow_zero):
            raise self.fail(key, f"must be a positive number of KiB/bytes, got {value}")
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.text(key)
        if value not in choices:
            raise self.fail(key, f"is '{value}': use one of {', '.join(choices)}")
        return value

    def check_unknown(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            raise self.fail(unknown[0], "is not a known field (typo?)")


def _load_emulator(table: Any, path: Path, kind: str) -> Emulator:
    if not isinstance(table, dict):
        raise EdgeRnnError(f"target file '{path}': table [emulator] is missing")
    fields = _Fields(table, path, "emulator.")
    if kind == "linux":
        emulator = Emulator(qemu=fields.text("qemu"), sysroot=fields.text("sysroot"))
    else:
        emulator = Emulator(
            qemu=fields.text("qemu"),
            machine=fields.text("machine"),
            cpu=fields.text("cpu"),
            flash_origin=fields.size("flash_origin", allow_zero=True),
            flash_kib=fields.size("flash_kib"),
            ram_origin=fields.size("ram_origin", allow_zero=True),
            ram_kib=fields.size("ram_kib"),
        )
    fields.check_unknown()
    return emulator


def load_target_file(path: str | Path) -> Target:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EdgeRnnError(f"target file '{path}' not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise EdgeRnnError(f"target file '{path}' is not valid TOML: {err}") from None
    fields = _Fields(data, path)
    kind = fields.choice("kind", KINDS)
    fields.used.add("emulator")
    cflags = fields.get("cflags", list)
    if not all(isinstance(flag, str) and flag for flag in cflags):
        raise fields.fail("cflags", "must be a list of non-empty strings")
    target = Target(
        name=path.stem,
        title=fields.text("title"),
        kind=kind,
        core=fields.text("core"),
        fpu=fields.text("fpu"),
        dsp=fields.get("dsp", bool),
        board=fields.text("board"),
        flash_kib=fields.size("flash_kib", allow_zero=kind == "linux"),
        ram_kib=fields.size("ram_kib"),
        clock_mhz=fields.size("clock_mhz", 0, allow_zero=True),
        compiler=fields.text("compiler"),
        cflags=tuple(cflags),
        default_quantization=fields.choice("default_quantization", NATIVE_QUANTIZATIONS),
        notes=fields.text("notes", ""),
        emulator=_load_emulator(data.get("emulator"), path, kind),
        path=path,
    )
    fields.check_unknown()
    if not target.has_fpu and target.default_quantization != "int8":
        raise fields.fail("default_quantization", "must be 'int8' on a core without an FPU")
    return target


def list_targets(directory: str | Path = TARGETS_DIR) -> list[Target]:
    """Every target profile in `directory`, sorted by name."""
    return [load_target_file(path) for path in sorted(Path(directory).glob("*.toml"))]


def load_target(name_or_path: str | Path) -> Target:
    """A target by name (`cortex-m4f`) or by the path of a .toml file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.is_file():
        return load_target_file(candidate)
    path = TARGETS_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(p.stem for p in sorted(TARGETS_DIR.glob("*.toml")))
        raise EdgeRnnError(f"unknown target '{name_or_path}': use one of {known} or a .toml path")
    return load_target_file(path)
