"""Typed model description that every backend reads (frontend -> IR -> backends).

Weights keep the Keras layout (see `edge_rnn.cells` for gate order):
  kernel (input_size, gates*units), recurrent_kernel (units, gates*units),
  bias (gates*units,) or, for GRU with reset_after=True, (2, gates*units): row 0 is the
  input bias, row 1 the recurrent bias.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ACTIVATIONS = ("tanh", "sigmoid", "hard_sigmoid", "relu", "linear", "softmax")
MERGE_MODES = ("concat", "sum", "ave", "mul")
TASKS = ("classification", "regression")


@dataclass(frozen=True, eq=False)
class RecurrentLayer:
    name: str
    cell: str  # one of cells.CELL_TYPES
    units: int
    input_size: int
    activation: str
    recurrent_activation: str  # unused by simple_rnn
    use_bias: bool
    return_sequences: bool
    go_backwards: bool
    reset_after: bool  # GRU only; False for other cells
    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray | None
    # Keras stateful=True: trained to carry state across calls. Every backend runs windows
    # from a reset state; the native C `_step`/`_reset` API is the stateful form.
    stateful: bool = False

    @property
    def output_size(self) -> int:
        return self.units


@dataclass(frozen=True, eq=False)
class BidirectionalLayer:
    name: str
    forward: RecurrentLayer
    backward: RecurrentLayer  # go_backwards=True
    merge_mode: str  # one of MERGE_MODES
    return_sequences: bool

    @property
    def output_size(self) -> int:
        units = self.forward.units
        return 2 * units if self.merge_mode == "concat" else units


@dataclass(frozen=True, eq=False)
class DenseLayer:
    name: str
    units: int
    input_size: int
    activation: str
    use_bias: bool
    per_timestep: bool  # applied to every time step (input is a sequence)
    kernel: np.ndarray  # (input_size, units)
    bias: np.ndarray | None  # (units,)

    @property
    def output_size(self) -> int:
        return self.units


Layer = RecurrentLayer | BidirectionalLayer | DenseLayer


@dataclass(frozen=True)
class Normalization:
    """x_normalized = (x - mean) / scale, per feature; fitted on training data."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]

    def apply(self, x: np.ndarray) -> np.ndarray:
        mean = np.asarray(self.mean, np.float32)
        scale = np.asarray(self.scale, np.float32)
        return ((np.asarray(x, np.float32) - mean) / scale).astype(np.float32)


@dataclass(frozen=True, eq=False)
class Model:
    name: str  # a valid C identifier
    timesteps: int
    features: int
    layers: tuple[Layer, ...]
    task: str = "classification"  # one of TASKS
    class_names: tuple[str, ...] = ()
    normalization: Normalization | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def input_shape(self) -> tuple[int, int]:
        return (self.timesteps, self.features)

    @property
    def sequence_output(self) -> bool:
        """True when the model emits one output vector per time step."""
        last = self.layers[-1]
        if isinstance(last, DenseLayer):
            return last.per_timestep
        return last.return_sequences

    @property
    def output_shape(self) -> tuple[int, ...]:
        size = self.layers[-1].output_size
        return (self.timesteps, size) if self.sequence_output else (size,)

    def recurrent_layers(self) -> list[RecurrentLayer]:
        """Every recurrent cell, with both directions of a Bidirectional layer."""
        cells: list[RecurrentLayer] = []
        for layer in self.layers:
            if isinstance(layer, RecurrentLayer):
                cells.append(layer)
            elif isinstance(layer, BidirectionalLayer):
                cells.extend((layer.forward, layer.backward))
        return cells
