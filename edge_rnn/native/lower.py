"""IR -> the row-major arrays and stage list that the C kernels, the twin and the templates use.

A stage is one IR layer. Recurrent weights become one matrix per direction whose row r is
[kernel[:, r] | recurrent_kernel[:, r]] (Keras gate order), so one dot product per row serves
x and h together. GRU with reset_after keeps the candidate's recurrent bias apart (`rbias`)
because it is multiplied by the reset gate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_rnn import ir
from edge_rnn.cells import CELLS
from edge_rnn.errors import EdgeRnnError

ACT_IDS = {"linear": 0, "relu": 1, "tanh": 2, "sigmoid": 3, "hard_sigmoid": 4, "softmax": 5}
CELL_IDS = {"simple_rnn": 0, "lstm": 1, "gru": 2}
MERGE_IDS = {"concat": 0, "sum": 1, "ave": 2, "mul": 3}
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
        return self.w.shape[0]


@dataclass(frozen=True, eq=False)
class Stage:
    """One layer: kind 'cell' (1 direction), 'bidir' (2) or 'dense'."""

    kind: str
    name: str
    in_size: int
    out_size: int
    seq_in: bool
    seq_out: bool
    cells: tuple[Cell, ...] = ()
    merge: str = "concat"
    dense: ir.DenseLayer | None = None
    w: np.ndarray | None = None  # dense: (units, in_size)
    bias: np.ndarray | None = None


def gate_acts(layer: ir.RecurrentLayer) -> list[str]:
    """Activation of each gate block, in Keras gate order."""
    act, rec = layer.activation, layer.recurrent_activation
    return {"simple_rnn": [act], "lstm": [rec, rec, act, rec], "gru": [rec, rec, act]}[layer.cell]


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
        if layer.cell == "gru" and layer.reset_after:
            b = b.reshape(2, rows)
            bias = b[0].copy()
            bias[: 2 * units] += b[1][: 2 * units]  # z and r add both biases
            rbias = b[1][2 * units :].copy()
        else:
            bias = b.reshape(rows)
    return Cell(layer, np.ascontiguousarray(w), bias, rbias)


def lower(model: ir.Model) -> tuple[Stage, ...]:
    stages: list[Stage] = []
    seq, size = True, model.features
    for layer in model.layers:
        if isinstance(layer, ir.DenseLayer):
            w = np.ascontiguousarray(np.asarray(layer.kernel, np.float32).T)
            stage = Stage(
                "dense",
                layer.name,
                size,
                layer.units,
                seq,
                layer.per_timestep,
                dense=layer,
                w=w,
                bias=layer.bias,
            )
        elif isinstance(layer, ir.BidirectionalLayer):
            cells = (lower_cell(layer.forward), lower_cell(layer.backward))
            stage = Stage(
                "bidir",
                layer.name,
                size,
                layer.output_size,
                seq,
                layer.return_sequences,
                cells=cells,
                merge=layer.merge_mode,
            )
        else:
            stage = Stage(
                "cell",
                layer.name,
                size,
                layer.units,
                seq,
                layer.return_sequences,
                cells=(lower_cell(layer),),
            )
        stages.append(stage)
        seq, size = stage.seq_out, stage.out_size
    return tuple(stages)


def is_streamable(stages: tuple[Stage, ...]) -> bool:
    """True when every recurrent stage runs forward in time, so one step at a time works."""
    return all(
        stage.kind == "dense" or (stage.kind == "cell" and not stage.cells[0].layer.go_backwards)
        for stage in stages
    )
