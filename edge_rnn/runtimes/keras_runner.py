"""The float reference: the Keras model file (it takes normalized input)."""

from __future__ import annotations

import numpy as np

from edge_rnn.runtimes.base import (
    Artefact,
    ModelMeta,
    RunContext,
    Runner,
    RunResult,
    register,
    shape_outputs,
)

BATCH = 256  # Keras RNNs are stateless between calls: windows can share a batch


@register
class KerasRunner(Runner):
    name = "keras"
    formats = ("keras",)
    order = 10

    def run(self, artefact: Artefact, x: np.ndarray, meta: ModelMeta, ctx: RunContext) -> RunResult:
        from edge_rnn.frontends.keras import load_keras_model

        model = load_keras_model(artefact.path)
        xn = meta.normalize(x)
        parts = [
            np.asarray(model(xn[i : i + BATCH], training=False), np.float32)
            for i in range(0, len(xn), BATCH)
        ]
        outputs = np.concatenate(parts) if parts else np.zeros((0, *meta.output_shape), np.float32)
        return RunResult(outputs=shape_outputs(outputs, meta, str(artefact.path)))
