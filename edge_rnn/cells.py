"""The one description of the recurrent cells: gate count, gate order and gate roles.

Keras packs the gates of a cell side by side in its kernels:
  SimpleRNN: 1 block;  LSTM: i, f, c, o;  GRU: z, r, h (update, reset, candidate).
ONNX orders LSTM gates i, o, f, c and GRU gates z, r, h. Every backend that re-lays out
weights goes through `split_gates` / `reorder_gates` so the order lives in one place.
Each gate block applies either the layer's `activation` or its `recurrent_activation`
(`gate_roles`), so code that needs a gate's function asks the spec, not the cell kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACTIVATION, RECURRENT = "activation", "recurrent_activation"  # the two gate roles


@dataclass(frozen=True)
class CellSpec:
    kind: str
    keras_class: str  # Keras (and tf-keras) layer class
    gates: tuple[str, ...]  # Keras order
    onnx_gates: tuple[str, ...]
    gate_roles: tuple[str, ...]  # per gate (Keras order): ACTIVATION or RECURRENT
    has_cell_state: bool  # a second state vector c besides h (LSTM)
    has_reset_after: bool  # the layer has the reset_after option (GRU)

    @property
    def gate_count(self) -> int:
        return len(self.gates)

    @property
    def uses_recurrent_activation(self) -> bool:
        return RECURRENT in self.gate_roles

    def gate_activations(self, activation: str, recurrent_activation: str) -> tuple[str, ...]:
        """The activation function of each gate block, in Keras gate order."""
        by_role = {ACTIVATION: activation, RECURRENT: recurrent_activation}
        return tuple(by_role[role] for role in self.gate_roles)


CELLS: dict[str, CellSpec] = {
    "simple_rnn": CellSpec("simple_rnn", "SimpleRNN", ("h",), ("h",), (ACTIVATION,), False, False),
    "lstm": CellSpec(
        "lstm",
        "LSTM",
        ("i", "f", "c", "o"),
        ("i", "o", "f", "c"),
        (RECURRENT, RECURRENT, ACTIVATION, RECURRENT),
        True,
        False,
    ),
    "gru": CellSpec(
        "gru",
        "GRU",
        ("z", "r", "h"),
        ("z", "r", "h"),
        (RECURRENT, RECURRENT, ACTIVATION),
        False,
        True,
    ),
}

# Keras class name -> our cell kind.
KERAS_CELL_CLASSES = {spec.keras_class: kind for kind, spec in CELLS.items()}


def split_gates(matrix: np.ndarray, kind: str) -> dict[str, np.ndarray]:
    """Split a Keras-packed kernel/bias along its last axis into {gate name: block}."""
    spec = CELLS[kind]
    blocks = np.split(matrix, spec.gate_count, axis=-1)
    return dict(zip(spec.gates, blocks, strict=False))


def reorder_gates(matrix: np.ndarray, kind: str, order: tuple[str, ...]) -> np.ndarray:
    """Re-pack a Keras-packed matrix with its gates in `order` (e.g. CELLS[kind].onnx_gates)."""
    blocks = split_gates(matrix, kind)
    return np.concatenate([blocks[gate] for gate in order], axis=-1)
