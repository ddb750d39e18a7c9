"""Compile a generated native model with the host gcc and run windows through it."""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_rnn.children import run_child
from edge_rnn.errors import EdgeRnnError
from edge_rnn.native.generate import GeneratedModel
from edge_rnn.resources import FIRMWARE_DIR

CFLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-O2")
SANITIZE = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g")
HOST_MAIN = FIRMWARE_DIR / "native" / "host_main.c"


@dataclass(frozen=True)
class HostResult:
    raw: np.ndarray  # (N, outputs) float32 or int16, as the C code wrote them
    values: np.ndarray  # raw * scale, float32, shaped (N, *output_shape) when known
    dtype: str
    scale: float
    state_bytes: int


def _sources(gen_dir: Path) -> list[Path]:
    sources = sorted(gen_dir.glob("*.c"))
    if not (gen_dir / "edge_rnn_model.h").is_file() or not sources:
        raise EdgeRnnError(f"'{gen_dir}' is not a generated native model directory")
    return sources


def compile_host(
    generated: GeneratedModel | str | Path,
    binary: Path,
    *,
    sanitize: bool = False,
    cc: str = "gcc",
    extra_flags: tuple[str, ...] = (),
) -> Path:
    gen_dir = Path(generated.out_dir if isinstance(generated, GeneratedModel) else generated)
    cmd = [
        cc,
        *CFLAGS,
        *(SANITIZE if sanitize else ()),
        *extra_flags,
        f"-I{gen_dir}",
        *map(str, _sources(gen_dir)),
        str(HOST_MAIN),
        "-o",
        str(binary),
        "-lm",
    ]
    proc = run_child(
        cmd,
        timeout_s=300,
        on_timeout=lambda: EdgeRnnError(f"{cc} took longer than 300 s on '{gen_dir}'"),
    )
    if proc.returncode != 0:
        raise EdgeRnnError(f"{cc} failed on '{gen_dir}': {proc.stderr.strip()[:2000]}")
    return binary


def run_binary(
    binary: Path,
    x_raw: np.ndarray,
    *,
    mode: str = "run",
    prefix: tuple[str, ...] = (),
    lengths: np.ndarray | None = None,
) -> HostResult:
    """Feed windows (N, T, F) raw float32 (token ids: int32) to a compiled host_main; state
    reset per window. lengths (N,): valid steps per window, for mode "runlen"."""
    x = np.ascontiguousarray(x_raw, dtype=np.int32 if x_raw.dtype == np.int32 else np.float32)
    with tempfile.TemporaryDirectory(prefix="edge-rnn-host-") as tmp:
        inp, out, lens = Path(tmp) / "x.f32", Path(tmp) / "y.bin", Path(tmp) / "n.i32"
        x.tofile(inp)
        extra = []
        if lengths is not None:
            np.ascontiguousarray(lengths, np.int32).tofile(lens)
            extra.append(str(lens))
        proc = run_child(
            [*prefix, str(binary), str(inp), str(len(x)), str(out), mode, *extra],
            timeout_s=600,
            on_timeout=lambda: EdgeRnnError(f"native model '{binary}' ran longer than 600 s"),
        )
        if proc.returncode != 0:
            raise EdgeRnnError(
                f"native host run failed (exit {proc.returncode}): {proc.stderr.strip()[:2000]}"
            )
        header = dict(re.findall(r"(\w+)=(\S+)", proc.stdout.splitlines()[0]))
        dtype = header["dtype"]
        raw = np.fromfile(out, dtype=np.float32 if dtype == "f32" else np.int16)
    raw = raw.reshape(len(x), int(header["outputs"]))
    scale = float(header["scale"])
    values = raw.astype(np.float32) * np.float32(scale) if dtype != "f32" else raw
    return HostResult(raw, values, dtype, scale, int(header["state_bytes"]))


def run_host_result(
    generated: GeneratedModel | str | Path,
    x_raw: np.ndarray,
    *,
    sanitize: bool = False,
    mode: str = "run",
) -> HostResult:
    if shutil.which("gcc") is None:
        raise EdgeRnnError("gcc not found: install it to run native C models on the host")
    with tempfile.TemporaryDirectory(prefix="edge-rnn-build-") as tmp:
        binary = compile_host(generated, Path(tmp) / "model", sanitize=sanitize)
        return run_binary(binary, x_raw, mode=mode)


def run_host(
    generated: GeneratedModel | str | Path, x_raw: np.ndarray, *, sanitize: bool = False
) -> np.ndarray:
    """Model outputs as float32 (integer outputs dequantized), shaped (N, *output_shape)."""
    result = run_host_result(generated, x_raw, sanitize=sanitize)
    values = result.values
    if isinstance(generated, GeneratedModel):
        values = values.reshape(len(values), *generated.output_shape)
    return values


def host_instructions(gen_dir: str | Path, x_window: np.ndarray) -> int:
    """x86-64 instructions of one `<name>_run` call (valgrind callgrind, -O2, portable C path):
    the instruction proxy where no emulator counts them on the target core."""
    if shutil.which("valgrind") is None:
        raise EdgeRnnError("valgrind not found: install it to count host instructions")
    gen_dir = Path(gen_dir)
    adapter = (gen_dir / "edge_rnn_model.h").read_text(encoding="utf-8")
    found = re.search(r"#define edge_rnn_run\([^)]*\)\s+(\w+)\(", adapter)
    if not found:
        raise EdgeRnnError(f"'{gen_dir}/edge_rnn_model.h' does not name the run function")
    with tempfile.TemporaryDirectory(prefix="edge-rnn-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        prefix = (
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            f"--toggle-collect={found.group(1)}",
        )
        binary = compile_host(gen_dir, Path(tmp) / "model")
        run_binary(binary, np.asarray(x_window)[:1], prefix=prefix)
        summary = re.search(r"^summary:\s+(\d+)", out.read_text(), re.M)
    if not summary:
        raise EdgeRnnError("callgrind wrote no instruction summary")
    return int(summary.group(1))
