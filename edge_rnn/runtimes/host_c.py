"""Generated native C on the host, over `edge_rnn.native.host` (compile with gcc, run windows).

The artefact path is the generated model directory (or a file inside it). The C code applies
the normalization itself, so it gets RAW windows; it resets its state for every window.

Two runners: `host_c` runs `<name>_run` per window; `host_c_stream` is the streaming check:
after a reset, T calls of `<name>_step` with the carried state must give bit-identical outputs
to `<name>_run`, or the stage fails.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edge_rnn.errors import EdgeRnnError
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


def _host() -> Any:
    try:
        from edge_rnn.native import host
    except ImportError:
        raise RunnerSkipped("the native C backend (edge_rnn.native) is not installed") from None
    return host


def _result(artefact: Artefact, result: Any, meta: ModelMeta) -> RunResult:
    source = str(artefact.path)
    integer = result.dtype != "f32"
    return RunResult(
        outputs=shape_outputs(np.asarray(result.values, np.float32), meta, source),
        raw_outputs=shape_outputs(result.raw, meta, source) if integer else None,
        raw_scale=result.scale if integer else None,
        raw_zero_point=0 if integer else None,
        memory={"state_bytes": result.state_bytes},
    )


def _gen_dir(artefact: Artefact) -> Path:
    return artefact.path if artefact.path.is_dir() else artefact.path.parent


@register
class HostCRunner(Runner):
    name = "host_c"
    formats = ("native-c",)
    order = 50

    def run(self, artefact: Artefact, x: np.ndarray, meta: ModelMeta, ctx: RunContext) -> RunResult:
        result = _host().run_host_result(_gen_dir(artefact), meta.raw_input(x))
        return _result(artefact, result, meta)


@register
class HostCStreamRunner(Runner):
    name = "host_c_stream"
    formats = ("native-c",)
    order = 51

    def run(self, artefact: Artefact, x: np.ndarray, meta: ModelMeta, ctx: RunContext) -> RunResult:
        host = _host()
        if artefact.manifest_entry.streaming is False:
            reason = artefact.manifest_entry.details.get("no_streaming") or (
                "the model has backward (go_backwards/Bidirectional) layers, which need the "
                "whole window"
            )
            raise RunnerSkipped(f"no <name>_step: {reason}", not_applicable=True)
        with tempfile.TemporaryDirectory(prefix="edge-rnn-stream-", dir=ctx.work_dir) as tmp:
            binary = host.compile_host(_gen_dir(artefact), Path(tmp) / "model")
            windows = meta.raw_input(x)
            whole = host.run_binary(binary, windows, mode="run")
            streamed = host.run_binary(binary, windows, mode="step")
        differ = np.flatnonzero(np.any(whole.raw != streamed.raw, axis=-1))
        if differ.size:
            raise EdgeRnnError(
                f"streaming differs from the whole-window run in {differ.size} of {len(windows)} "
                f"windows (first: window {differ[0]}): <name>_step does not carry state correctly"
            )
        result = _result(artefact, streamed, meta)
        result.notes.append(
            f"T={meta.input_shape[0]} calls of _step per window are bit-identical to _run"
        )
        return result
