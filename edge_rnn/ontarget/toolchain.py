"""Which external tools a target needs, and a clear error when one is missing."""

from __future__ import annotations

import shutil
from pathlib import Path

from edge_rnn.children import run_child
from edge_rnn.errors import EdgeRnnError
from edge_rnn.resources import FIRMWARE_DIR as FIRMWARE_DIR  # re-exported
from edge_rnn.targets import Target

INSTALL_HINT = "install them with `bash scripts/setup.sh --arm` (Debian/Ubuntu packages)"


class ToolMissing(EdgeRnnError):
    """A compiler or emulator is not installed; runners turn this into a skip."""


class ToolFailed(EdgeRnnError):
    """A compiler step failed; `output` keeps everything it printed."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output


def missing_tools(target: Target) -> list[str]:
    """The tools this target needs that are not on PATH (empty when all are there)."""
    needed = [target.compiler, target.emulator.qemu]
    missing = [tool for tool in needed if shutil.which(tool) is None]
    if target.kind == "linux" and not Path(target.emulator.sysroot).is_dir():
        missing.append(f"sysroot {target.emulator.sysroot}")
    if target.kind == "riscv" and not missing and not _has_picolibc(target.compiler):
        missing.append(f"picolibc for {target.compiler}")
    return missing


def _has_picolibc(compiler: str) -> bool:
    """gcc prints the full path of a specs file it finds, else the bare name."""
    done = run_child(
        [compiler, "-print-file-name=picolibc.specs"],
        timeout_s=30,
        on_timeout=lambda: EdgeRnnError(f"{compiler} -print-file-name did not answer in 30 s"),
    )
    return done.returncode == 0 and Path(done.stdout.strip()).is_absolute()


def require_tools(target: Target) -> None:
    missing = missing_tools(target)
    if missing:
        raise ToolMissing(
            f"target {target.name} needs {', '.join(missing)} which are not installed: "
            + INSTALL_HINT
        )


def run_tool(command: list[str], what: str, timeout_s: float = 120.0) -> str:
    """Run a compiler step; on failure raise with the tool's own first error lines."""
    try:
        done = run_child(
            command,
            timeout_s=timeout_s,
            on_timeout=lambda: EdgeRnnError(f"{what} took longer than {timeout_s:.0f} s"),
        )
    except FileNotFoundError:
        raise ToolMissing(f"{command[0]} not found: {INSTALL_HINT}") from None
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
        detail = " | ".join((errors or done.stderr.splitlines() or ["no output"])[:3])
        raise ToolFailed(f"{what} failed: {detail}", done.stdout + done.stderr)
    return done.stdout + done.stderr
