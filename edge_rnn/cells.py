"""The one description of the recurrent cells: gate count and gate order per framework.

Keras packs the gates of a cell side by side in its kernels:
  SimpleRNN: 1 block;  LSTM: i, f, c, o;  GRU: z, r, h (update, reset, candidate).
ONNX orders LSTM gates i, o, f, c and GRU gates z, r, h. Every backend that re-lays out
weights goes through `split_gates` / `reorder_gates` so the order lives in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CELL_TYPES = ("simple_rnn", "lstm", "gru")


@dataclass(frozen=True)
class CellSpec:
    kind: str
    gates: tuple[str, ...]  # Keras order
    onnx_gates: tuple[str, ...]

    @property
    def gate_count(self) -> int:
        return len(self.gates)


CELLS: dict[str, CellSpec] = {
    "simple_rnn": CellSpec("simple_rnn", ("h",), ("h",)),
    "lstm": CellSpec("lstm", ("i", "f", "c", "o"), ("i", "o", "f", "c")),
    "gru": CellSpec("gru", ("z", "r", "h"), ("z", "r", "h")),
}

# Keras class name -> our cell kind.
KERAS_CELL_CLASSES = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}


def split_gates(matrix: np.ndarray, kind: str) -> dict[str, np.ndarray]:
    """Split a Keras-packed kernel/bias along its last axis into {gate name: block}."""
    spec = CELLS[kind]
    blocks = np.split(matrix, spec.gate_count, axis=-1)
    return dict(zip(spec.gates, blocks, strict=False))


def reorder_gates(matrix: np.ndarray, kind: str, order: tuple[str, ...]) -> np.ndarray:
    """Re-pack a Keras-packed matrix with its gates in `order` (e.g. CELLS[kind].onnx_gates)."""
    blocks = split_gates(matrix, kind)
    return np.concatenate([blocks[gate] for gate in order], axis=-1)
