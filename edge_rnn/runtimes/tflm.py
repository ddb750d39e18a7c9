"""TFLite Micro runner (the `tflite_micro` Python interpreter, same kernels as on a board).

It runs in a subprocess with a timeout: TFLM hangs on some graphs and aborts on others.
Arena: the interpreter's own `print_allocations` total was seen to under-report the arena a
model needs, so `find_min_arena` bisects on "allocate + invoke succeeds" (16-byte steps) and
recommends min + max(10 %, 1 KiB), rounded up to 16 bytes. The margin covers what the host
interpreter does not see: optimized kernels (CMSIS-NN) ask for scratch buffers the reference
kernels do not, and a 32-bit target lays out some structs differently from this 64-bit host.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import edge_rnn
from edge_rnn.children import run_child
from edge_rnn.errors import EdgeRnnError, ToolCrashed
from edge_rnn.runtimes._tflm_worker import (
    MARGIN_FRACTION,
    MARGIN_MIN_BYTES,
    recommended_arena,
)
from edge_rnn.runtimes.base import (
    Artefact,
    ModelMeta,
    RunContext,
    Runner,
    RunnerSkipped,
    RunResult,
    register,
    shape_outputs,
)

# Quantizations TFLM cannot run, with the reason (measured with TF 2.21 / tflite-micro).
NOT_RUNNABLE = {
    "float16": "TFLite Micro does not run float16 models (its DEQUANTIZE takes int8 only)",
    "dynamic": "TFLite Micro does not run dynamic-range models (no float x int8 FULLY_CONNECTED)",
}
MARGIN = f"+max({MARGIN_FRACTION:.0%}, {MARGIN_MIN_BYTES} B), rounded up to 16 B"


@dataclass(frozen=True)
class ArenaResult:
    min_bytes: int  # smallest arena (multiple of 16) where allocate + invoke succeed
    interpreter_reported_bytes: int | None  # print_allocations total at that size
    recommended_bytes: int  # min_bytes plus `margin`
    margin: str

    @classmethod
    def from_min(cls, min_bytes: int, reported: int | None) -> ArenaResult:
        return cls(min_bytes, reported, recommended_arena(min_bytes), MARGIN)

    def as_dict(self) -> dict[str, Any]:
        return {
            "min_bytes": self.min_bytes,
            "interpreter_reported_bytes": self.interpreter_reported_bytes,
            "recommended_bytes": self.recommended_bytes,
            "margin": self.margin,
        }


def _call_worker(model: Path, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    env = dict(os.environ)
    root = str(Path(edge_rnn.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    command = [sys.executable, "-m", "edge_rnn.runtimes._tflm_worker", str(model)]
    done = run_child(
        [*command, json.dumps(request)],
        timeout_s=timeout_s,
        env=env,
        on_timeout=lambda: RunnerSkipped(
            f"TFLite Micro did not finish within {timeout_s:g} s on {model.name} "
            "(it hangs on some WHILE-loop graphs)"
        ),
    )
    for line in done.stdout.splitlines():
        if line.startswith("EDGE-RNN-TFLM "):
            reply = json.loads(line.split(" ", 1)[1])
            if "error" in reply:
                raise EdgeRnnError(f"{model}: TFLite Micro cannot run it: {reply['error']}")
            return reply
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    raise ToolCrashed(f"{model}: TFLite Micro crashed (exit code {done.returncode}): {tail}")


def find_min_arena(tflite_path: str | Path, *, timeout_s: float = 120.0) -> ArenaResult:
    """Smallest TFLM tensor arena for this .tflite, by bisection in a subprocess."""
    path = Path(tflite_path)
    if not path.is_file():
        raise EdgeRnnError(f"TFLite model '{path}' not found")
    arena = _call_worker(path, {"find_arena": True}, timeout_s)["arena"]
    return ArenaResult.from_min(arena["min_bytes"], arena["reported_bytes"])


def arena_works(tflite_path: str | Path, arena_bytes: int, *, timeout_s: float = 60.0) -> bool:
    """Whether TFLM allocates and invokes this model within `arena_bytes` (a check for tests)."""
    return bool(_call_worker(Path(tflite_path), {"probe": int(arena_bytes)}, timeout_s)["works"])


@register
class TFLMRunner(Runner):
    name = "tflm"
    formats = ("tflite",)
    order = 30
    integer_reference = "litert"

    def run(self, artefact: Artefact, x: np.ndarray, meta: ModelMeta, ctx: RunContext) -> RunResult:
        if artefact.quantization in NOT_RUNNABLE:
            raise RunnerSkipped(NOT_RUNNABLE[artefact.quantization], not_applicable=True)
        from edge_rnn.tflm.ops import tflm_refusal

        refusal = tflm_refusal(artefact.path)
        if refusal:
            raise RunnerSkipped(refusal, not_applicable=True)
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        stem = ctx.work_dir / f"tflm_{artefact.name}"
        np.savez(f"{stem}_in.npz", x=meta.normalize(x))
        request = {
            "find_arena": True,
            "input": f"{stem}_in.npz",
            "output": f"{stem}_out.npz",
            "source": str(artefact.path),
        }
        reply = _call_worker(artefact.path, request, ctx.timeout_s)
        arena = ArenaResult.from_min(reply["arena"]["min_bytes"], reply["arena"]["reported_bytes"])
        with np.load(f"{stem}_out.npz") as data:
            outputs = data["outputs"]
            raw = data.get("raw")
        source = str(artefact.path)
        return RunResult(
            outputs=shape_outputs(outputs, meta, source),
            raw_outputs=None if raw is None else shape_outputs(raw, meta, source),
            raw_scale=reply["scale"],
            raw_zero_point=reply["zero_point"],
            memory={
                "arena_min_bytes": arena.min_bytes,
                "arena_interpreter_reported_bytes": arena.interpreter_reported_bytes or 0,
                "arena_recommended_bytes": arena.recommended_bytes,
            },
            notes=[f"ran with the recommended arena of {arena.recommended_bytes} B ({MARGIN})"],
        )
