"""Subprocess worker for the TFLite Micro runner (TFLM can hang or abort: keep it out of process).

Usage: python -m edge_rnn.runtimes._tflm_worker MODEL REQUEST_JSON
The request names an optional input .npz (normalized windows "x"), an output .npz, whether to
bisect the arena, and the arena size to run with. Result: JSON on stdout, arrays in the .npz.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ALIGN = 16
MAX_ARENA = 64 << 20
RUN_ARENA = 8 << 20  # when no bisection was asked for
MARGIN_FRACTION = 0.10
MARGIN_MIN_BYTES = 1024
_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")


def _interpreter(model: bytes, arena: int):  # -> tflite_micro Interpreter
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(model, arena_size=int(arena))


def _works(model: bytes, arena: int) -> bool:
    """Allocate and invoke once on zeros: allocation happens in construction, scratch in Prepare."""
    try:
        interpreter = _interpreter(model, arena)
        details = interpreter.get_input_details(0)
        interpreter.set_input(np.zeros(details["shape"], details["dtype"]), 0)
        interpreter.invoke()
    except RuntimeError:
        return False
    return True


def _quiet_stderr_call(func) -> str:
    """Run func with C-level fd 2 captured (TFLM logs there); return what it printed."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            func()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        return capture.read().decode("utf-8", "replace")


def _reported_total(model: bytes, arena: int) -> int | None:
    interpreter = _interpreter(model, arena)
    details = interpreter.get_input_details(0)
    interpreter.set_input(np.zeros(details["shape"], details["dtype"]), 0)
    interpreter.invoke()
    match = _TOTAL.search(_quiet_stderr_call(interpreter.print_allocations))
    return int(match.group(1)) if match else None


def find_arena(model: bytes) -> dict[str, Any]:
    """Smallest working arena (multiple of ALIGN) by bisection, and the interpreter's figure."""
    high = 1 << 16
    while not _probe(model, high):
        high *= 2
        if high > MAX_ARENA:
            return {"error": _failure(model)}
    low = 0  # an arena of 0 bytes never works
    while high - low > ALIGN:
        mid = (low + high) // 2 // ALIGN * ALIGN
        if mid <= low:
            break
        if _probe(model, mid):
            high = mid
        else:
            low = mid
    return {"min_bytes": high, "reported_bytes": _reported_total(model, high)}


def _failure(model: bytes) -> str:
    """Why the model does not run with the largest arena, in TFLM's own last log lines (an op
    without a kernel for its tensor types fails its invoke here, not its allocation)."""
    log = _quiet_stderr_call(lambda: _works(model, MAX_ARENA))
    said = "; ".join([line.strip() for line in log.splitlines() if line.strip()][-2:])
    return f"TFLM could not allocate or invoke this model with {MAX_ARENA} bytes" + (
        f" (TFLM: {said})" if said else ""
    )


def recommended_arena(min_bytes: int) -> int:
    """min + max(10 %, 1 KiB), rounded up to 16 bytes (see edge_rnn.runtimes.tflm)."""
    margin = max(int(np.ceil(min_bytes * MARGIN_FRACTION)), MARGIN_MIN_BYTES)
    return -(-(min_bytes + margin) // ALIGN) * ALIGN


def _probe(model: bytes, arena: int) -> bool:
    """_works() in a forked child: too small an arena can segfault TFLM instead of failing."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child: silence TFLM's log, report by exit code only
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os._exit(0 if _works(model, arena) else 1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def run(model: bytes, request: dict[str, Any]) -> dict[str, Any]:
    from edge_rnn.runtimes._tflite_io import run_windows

    interpreter = _interpreter(model, request["arena"])
    with np.load(request["input"]) as data:
        xn = data["x"]
    done = run_windows(
        xn,
        input_details=interpreter.get_input_details(0),
        output_details=interpreter.get_output_details(0),
        set_input=lambda v: interpreter.set_input(v, 0),
        invoke=interpreter.invoke,
        get_output=lambda: interpreter.get_output(0),
        reset=interpreter.reset,
        source=request["source"],
    )
    arrays = {"outputs": done["outputs"]}
    if done["raw"] is not None:
        arrays["raw"] = done["raw"]
    np.savez(request["output"], **arrays)
    return {"scale": done["scale"], "zero_point": done["zero_point"]}


def main(argv: list[str]) -> int:
    from edge_rnn.errors import EdgeRnnError

    model = Path(argv[0]).read_bytes()
    request = json.loads(argv[1])
    reply: dict[str, Any] = {}
    try:
        if "probe" in request:
            reply["works"] = _probe(model, int(request["probe"]))
        if request.get("find_arena"):
            reply["arena"] = find_arena(model)
            if "error" in reply["arena"]:
                reply["error"] = reply["arena"]["error"]
        if "input" in request and "error" not in reply:
            arena = reply.get("arena", {}).get("min_bytes")
            request["arena"] = recommended_arena(arena) if arena else RUN_ARENA
            reply.update(run(model, request))
    except (RuntimeError, EdgeRnnError) as err:
        reply["error"] = str(err).strip().splitlines()[-1] if str(err).strip() else repr(err)
    print("EDGE-RNN-TFLM " + json.dumps(reply))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
