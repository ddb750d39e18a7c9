"""Generated native C on the host: a thin wrapper over `edge_rnn.native.host.run_host_result`.

The artefact path is the generated model directory (or a file inside it). The C code applies
the normalization itself, so it gets RAW windows; it resets its state for every window.
"""

from __future__ import annotations

import numpy as np

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


@register
class HostCRunner(Runner):
    name = "host_c"
    formats = ("native-c",)
    order = 50

    def run(self, artefact: Artefact, x: np.ndarray, meta: ModelMeta, ctx: RunContext) -> RunResult:
        try:
            from edge_rnn.native.host import run_host_result
        except ImportError:
            raise RunnerSkipped("the native C backend (edge_rnn.native) is not installed") from None
        gen_dir = artefact.path if artefact.path.is_dir() else artefact.path.parent
        result = run_host_result(gen_dir, np.asarray(x, np.float32))
        source = str(artefact.path)
        integer = result.dtype != "f32"
        return RunResult(
            outputs=shape_outputs(np.asarray(result.values, np.float32), meta, source),
            raw_outputs=shape_outputs(result.raw, meta, source) if integer else None,
            raw_scale=result.scale if integer else None,
            raw_zero_point=0 if integer else None,
            memory={"state_bytes": result.state_bytes},
        )
