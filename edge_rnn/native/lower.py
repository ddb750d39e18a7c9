"""IR -> the row-major arrays and stage list that the C kernels, the twin and the templates use.

A stage is one IR layer, one dataclass per kind. Recurrent weights become one matrix per
direction whose row r is [kernel[:, r] | recurrent_kernel[:, r]] (Keras gate order), so one dot
product per row serves x and h together. GRU with reset_after keeps the candidate's recurrent
bias apart (`rbias`) because it is multiplied by the reset gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from edge_rnn import ir
from edge_rnn.cells import CELLS
from edge_rnn.errors import EdgeRnnError

# Names of the C enums in ern.h (the templates emit these, never their values).
C_ACTIVATIONS = {act: f"ERN_{act.upper()}" for act in ir.ACTIVATIONS}
C_CELLS = {kind: f"ERN_{kind.upper()}" for kind in CELLS}
C_MERGES = {mode: f"ERN_MERGE_{mode.upper()}" for mode in ir.MERGE_MODES}
BOUNDED = ("tanh", "sigmoid", "hard_sigmoid")


@dataclass(frozen=True, eq=False)
class Cell:
    """One direction of a recurrent layer, re-laid out for the kernels."""

    layer: ir.RecurrentLayer
    w: np.ndarray  # (gates*units, input_size + units) float32
    bias: np.ndarray | None  # (gates*units,)
    rbias: np.ndarray | None  # (units,) GRU reset_after only

    @property
    def rows(self) -> int:
        return int(self.w.shape[0])

    def gate_activations(self) -> tuple[str, ...]:
        """Activation of each gate block, in Keras gate order."""
        layer = self.layer
        return CELLS[layer.cell].gate_activations(layer.activation, layer.recurrent_activation)

    @property
    def has_cell_state(self) -> bool:
        return CELLS[self.layer.cell].has_cell_state


@dataclass(frozen=True, eq=False)
class _Shapes:
    """What every stage has: its sizes and whether it reads/writes one vector per time step."""

    name: str
    in_size: int
    out_size: int
    seq_in: bool
    seq_out: bool


@dataclass(frozen=True, eq=False)
class RecurrentStage(_Shapes):
    """A recurrent layer running in one direction."""

    kind: ClassVar[str] = "cell"  # the templates' name for the stage kind
    cells: tuple[Cell, ...]  # exactly one


@dataclass(frozen=True, eq=False)
class BidirectionalStage(_Shapes):
    kind: ClassVar[str] = "bidir"
    cells: tuple[Cell, ...]  # forward, backward
    merge: str  # one of ir.MERGE_MODES


@dataclass(frozen=True, eq=False)
class DenseStage(_Shapes):
    kind: ClassVar[str] = "dense"
    activation: str
    w: np.ndarray  # (units, in_size)
    bias: np.ndarray | None


Stage = RecurrentStage | BidirectionalStage | DenseStage
CellStage = RecurrentStage | BidirectionalStage


def lower_cell(layer: ir.RecurrentLayer) -> Cell:
    units = layer.units
    rows = CELLS[layer.cell].gate_count * units
    expected = {
        "kernel": (layer.input_size, rows),
        "recurrent_kernel": (units, rows),
    }
    for field, shape in expected.items():
        if getattr(layer, field).shape != shape:
            raise EdgeRnnError(
                f"layer '{layer.name}': {field} has shape {getattr(layer, field).shape}, "
                f"expected {shape}"
            )
    w = np.concatenate([layer.kernel, layer.recurrent_kernel], axis=0).T.astype(np.float32)
    bias = rbias = None
    if layer.bias is not None:
        b = np.asarray(layer.bias, np.float32)
        if layer.reset_after:
            b = b.reshape(2, rows)
            bias = b[0].copy()
            bias[: 2 * units] += b[1][: 2 * units]  # z and r add both biases
            rbias = b[1][2 * units :].copy()
        else:
            bias = b.reshape(rows)
    return Cell(layer, np.ascontiguousarray(w), bias, rbias)


def _lower_layer(layer: ir.Layer, size: int, seq: bool) -> Stage:
    if isinstance(layer, ir.DenseLayer):
        w = np.ascontiguousarray(np.asarray(layer.kernel, np.float32).T)
        return DenseStage(
            layer.name, size, layer.units, seq, layer.per_timestep, layer.activation, w, layer.bias
        )
    if isinstance(layer, ir.BidirectionalLayer):
        cells = (lower_cell(layer.forward), lower_cell(layer.backward))
        return BidirectionalStage(
            layer.name,
            size,
            layer.output_size,
            seq,
            layer.return_sequences,
            cells,
            layer.merge_mode,
        )
    return RecurrentStage(
        layer.name, size, layer.units, seq, layer.return_sequences, (lower_cell(layer),)
    )


def lower(model: ir.Model) -> tuple[Stage, ...]:
    stages: list[Stage] = []
    seq, size = True, model.features
    for layer in model.layers:
        stage = _lower_layer(layer, size, seq)
        stages.append(stage)
        seq, size = stage.seq_out, stage.out_size
    return tuple(stages)


def is_streamable(stages: tuple[Stage, ...]) -> bool:
    """True when every recurrent stage runs forward in time, so one step at a time works."""
    return all(
        isinstance(stage, DenseStage)
        or (isinstance(stage, RecurrentStage) and not stage.cells[0].layer.go_backwards)
        for stage in stages
    )
