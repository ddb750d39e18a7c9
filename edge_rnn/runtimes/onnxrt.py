"""ONNX Runtime runner for float and int8 (dynamically quantized) ONNX artefacts."""

from __future__ import annotations

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


@register
class OnnxRuntimeRunner(Runner):
    name = "onnxruntime"
    formats = ("onnx",)
    order = 40

    def run(self, artefact: Artefact, x: np.ndarray, meta: ModelMeta, ctx: RunContext) -> RunResult:
        try:
            import onnxruntime
        except ImportError:
            raise RunnerSkipped("onnxruntime is not installed") from None
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        try:
            session = onnxruntime.InferenceSession(
                str(artefact.path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # onnxruntime's pybind errors share no public base class
            first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
            raise EdgeRnnError(
                f"{artefact.path}: ONNX Runtime cannot load this model ({first}): re-export it"
            ) from None
        inp = session.get_inputs()[0]
        expected = "tensor(int32)" if meta.token_input else "tensor(float)"
        if inp.type != expected:
            raise EdgeRnnError(
                f"{artefact.path}: input '{inp.name}' is {inp.type}, expected {expected}"
            )
        xn = meta.normalize(x)
        # A fixed batch of 1 (as exported from the batch-1 twin) takes one window per run.
        step = 1 if inp.shape and inp.shape[0] == 1 else max(len(xn), 1)
        parts = [
            np.asarray(session.run(None, {inp.name: xn[i : i + step]})[0], np.float32)
            for i in range(0, len(xn), step)
        ]
        outputs = np.concatenate(parts) if parts else np.zeros((0, *meta.output_shape), np.float32)
        return RunResult(outputs=shape_outputs(outputs, meta, str(artefact.path)))
