"""The float reference: the Keras model file (it takes normalized input)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_rnn.frontends.keras import flat_layers
from edge_rnn.runtimes.base import (
    Artefact,
    ModelMeta,
    RunContext,
    Runner,
    RunResult,
    register,
    shape_outputs,
)

BATCH = 256  # stateless Keras RNNs start every call from zero state: windows can share a batch


def _stateful_layers(model: Any) -> list[Any]:
    """Layers that keep state across calls (stateful RNNs, also inside Bidirectional)."""
    return [layer for layer in flat_layers(model) if getattr(layer, "stateful", False)]


def run_keras(model: Any, xn: np.ndarray) -> np.ndarray:
    """Outputs for every window, each from a reset state, in the model's own batch size when
    it has a fixed one (stateful models: `batch_shape`), padding the last batch."""
    fixed = model.inputs[0].shape[0]
    batch = int(fixed) if fixed else BATCH
    stateful = _stateful_layers(model)
    parts = []
    for start in range(0, len(xn), batch):
        chunk = xn[start : start + batch]
        pad = batch - len(chunk) if fixed else 0
        if pad:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, axis=0)])
        for layer in stateful:
            layer.reset_states()
        out = np.asarray(model(chunk, training=False), np.float32)
        parts.append(out[: len(out) - pad])
    return np.concatenate(parts) if parts else np.zeros((0,), np.float32)


@register
class KerasRunner(Runner):
    name = "keras"
    formats = ("keras",)
    order = 10

    def run(self, artefact: Artefact, x: np.ndarray, meta: ModelMeta, ctx: RunContext) -> RunResult:
        from edge_rnn.frontends.keras import load_keras_model

        model = load_keras_model(artefact.path)
        outputs = run_keras(model, meta.normalize(x))
        if not len(x):
            outputs = np.zeros((0, *meta.output_shape), np.float32)
        return RunResult(outputs=shape_outputs(outputs, meta, str(artefact.path)))
