"""Typed model description that every backend reads (frontend -> IR -> backends).

Weights keep the Keras layout (see `edge_rnn.cells` for gate order):
  kernel (input_size, gates*units), recurrent_kernel (units, gates*units),
  bias (gates*units,) or, for GRU with reset_after=True, (2, gates*units): row 0 is the
  input bias, row 1 the recurrent bias. Conv1D kernels are (kernel_size, input_size, filters),
  DepthwiseConv1D kernels (kernel_size, input_size, depth_multiplier).

Every layer maps the shape (steps, size) of its input to `output_shape(steps)`; steps 0 means
one vector (no time axis). Conv1D and pooling change the number of steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeGuard

import numpy as np

from edge_rnn.choices import MERGE_MODES as MERGE_MODES  # re-exported: ir.MERGE_MODES
from edge_rnn.choices import TASKS as TASKS

# smooth functions Keras names (silu is swish, hard_silu hard_swish); native int8 has none
SMOOTH_ACTIVATIONS = ("elu", "selu", "silu", "gelu", "softplus", "softsign", "hard_silu")
ACTIVATIONS = (
    "tanh",
    "sigmoid",
    "hard_sigmoid",
    "relu",
    "relu6",
    "leaky_relu",
    *SMOOTH_ACTIVATIONS,
    "linear",
    "softmax",
)
# relu6 (min(max(x, 0), 6)), leaky_relu (see LeakyRelu) and the smooth functions only outside
# recurrent cells
CELL_ACTIVATIONS = tuple(
    a for a in ACTIVATIONS if a not in ("relu6", "leaky_relu", *SMOOTH_ACTIVATIONS)
)
CONV_PADDINGS = ("valid", "same", "causal")
POOL_PADDINGS = ("valid", "same")
POOLS = ("max", "average")


@dataclass(frozen=True)
class LeakyRelu:
    """The parameters of activation "leaky_relu": Keras relu(x, negative_slope, max_value,
    threshold), i.e. min(x, max_value) above the threshold, negative_slope * (x - threshold)
    at or below it (all >= 0, as Keras checks). LeakyReLU(s) and activation="leaky_relu"
    (s = 0.2) are negative_slope alone; a ReLU layer with other options is the general form."""

    negative_slope: float
    max_value: float | None = None
    threshold: float = 0.0

    @property
    def plain(self) -> bool:
        """Only a slope: the LeakyReLU op of TFLite/ONNX."""
        return self.max_value is None and self.threshold == 0.0


def window_positions(steps: int, span: int, stride: int, padding: str) -> tuple[int, int]:
    """(output steps, zero steps padded on the left) of a sliding window of `span` input steps
    moved by `stride` (Keras/TensorFlow rules for valid, same and causal padding)."""
    if padding == "causal":
        return (steps - 1) // stride + 1, span - 1
    if padding == "same":
        out = -(-steps // stride)
        return out, max((out - 1) * stride + span - steps, 0) // 2
    return max((steps - span) // stride + 1, 0), 0


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

    def output_shape(self, steps: int) -> tuple[int, int]:
        return (steps if self.return_sequences else 0, self.units)


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

    def output_shape(self, steps: int) -> tuple[int, int]:
        return (steps if self.return_sequences else 0, self.output_size)


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
    leaky: LeakyRelu | None = None  # the parameters when activation is "leaky_relu"

    @property
    def output_size(self) -> int:
        return self.units

    def output_shape(self, steps: int) -> tuple[int, int]:
        return (steps, self.units)


@dataclass(frozen=True, eq=False)
class _SameSize:
    """A layer whose output has as many features as its input (`size`)."""

    name: str
    size: int

    @property
    def output_size(self) -> int:
        return self.size

    def output_shape(self, steps: int) -> tuple[int, int]:
        return (steps, self.size)


@dataclass(frozen=True, eq=False)
class AffineLayer(_SameSize):
    """y = x * scale + offset per feature: Normalization, Rescaling and BatchNormalization at
    inference time."""

    scale: np.ndarray  # (size,) float32
    offset: np.ndarray  # (size,) float32


@dataclass(frozen=True, eq=False)
class ActivationLayer(_SameSize):
    """An activation on its own (softmax: over the features of each step)."""

    activation: str
    leaky: LeakyRelu | None = None  # the parameters when activation is "leaky_relu"


@dataclass(frozen=True, eq=False)
class _SlidingKernel:
    """What Conv1D and DepthwiseConv1D share: a kernel sliding over the time axis (built with
    keywords: the subclasses add their fields after these)."""

    name: str
    input_size: int
    kernel_size: int
    strides: int
    dilation: int
    padding: str  # one of CONV_PADDINGS
    activation: str
    use_bias: bool
    kernel: np.ndarray  # Conv1D (kernel_size, input_size, filters), depthwise (.., multiplier)
    bias: np.ndarray | None  # (output_size,)

    @property
    def span(self) -> int:
        """Input steps one output step sees."""
        return (self.kernel_size - 1) * self.dilation + 1

    @property
    def output_size(self) -> int:
        raise NotImplementedError

    def output_shape(self, steps: int) -> tuple[int, int]:
        positions = window_positions(steps, self.span, self.strides, self.padding)
        return (positions[0], self.output_size)


@dataclass(frozen=True, eq=False)
class Conv1DLayer(_SlidingKernel):
    filters: int
    leaky: LeakyRelu | None = None  # the parameters when activation is "leaky_relu"

    @property
    def output_size(self) -> int:
        return self.filters


@dataclass(frozen=True, eq=False)
class DepthwiseConv1DLayer(_SlidingKernel):
    """DepthwiseConv1D: output channel c * depth_multiplier + m is input channel c convolved
    with kernel[:, c, m] (the first half of a SeparableConv1D, whose pointwise half is a
    per-step Dense)."""

    depth_multiplier: int
    leaky: LeakyRelu | None = None  # the parameters when activation is "leaky_relu"

    @property
    def output_size(self) -> int:
        return self.input_size * self.depth_multiplier


@dataclass(frozen=True, eq=False)
class PoolingLayer(_SameSize):
    """MaxPooling1D / AveragePooling1D (the average leaves padding out, as TensorFlow does)."""

    pool: str  # one of POOLS
    pool_size: int
    strides: int
    padding: str  # one of POOL_PADDINGS

    def output_shape(self, steps: int) -> tuple[int, int]:
        return (window_positions(steps, self.pool_size, self.strides, self.padding)[0], self.size)


@dataclass(frozen=True, eq=False)
class TimePadLayer(_SameSize):
    """ZeroPadding1D (zero steps added: before/after > 0) or Cropping1D (steps removed:
    before/after < 0) on the time axis."""

    before: int
    after: int

    def output_shape(self, steps: int) -> tuple[int, int]:
        return (steps + self.before + self.after, self.size)


# Keras layers before a recurrent layer that do not pass Masking's mask on (no
# `supports_masking`): the layers after them run every step, padded ones too.
DROPS_MASK = (Conv1DLayer, DepthwiseConv1DLayer, PoolingLayer, TimePadLayer)


@dataclass(frozen=True, eq=False)
class GlobalPoolingLayer(_SameSize):
    """GlobalMaxPooling1D / GlobalAveragePooling1D: a sequence -> one vector."""

    pool: str  # one of POOLS

    def output_shape(self, steps: int) -> tuple[int, int]:
        return (0, self.size)


@dataclass(frozen=True, eq=False)
class ReshapeLayer:
    """Flatten (steps 0: one vector) or Reshape to (steps, size); the values keep their order."""

    name: str
    steps: int
    size: int

    @property
    def output_size(self) -> int:
        return self.size

    def output_shape(self, steps: int) -> tuple[int, int]:
        return (self.steps, self.size)


@dataclass(frozen=True, eq=False)
class EmbeddingLayer:
    """Token id -> row of `embeddings`; only first, so the model's input is one integer id per
    time step (`Model.token_input`, features == 1)."""

    name: str
    input_dim: int  # vocabulary size: ids 0..input_dim-1
    output_dim: int
    embeddings: np.ndarray  # (input_dim, output_dim)

    @property
    def output_size(self) -> int:
        return self.output_dim

    def output_shape(self, steps: int) -> tuple[int, int]:
        return (steps, self.output_dim)


@dataclass(frozen=True, eq=False)
class MaskingLayer(_SameSize):
    """Keras Masking: a time step whose features all equal `mask_value` is skipped by the
    recurrent layers (their state and output carry over), as Keras does with padded windows."""

    mask_value: float


@dataclass(frozen=True, eq=False)
class LayerNormLayer(_SameSize):
    """Keras LayerNormalization over the features of each time step (or of the vector):
    y = (x - mean) / sqrt(var + epsilon) * gamma + beta."""

    epsilon: float
    gamma: np.ndarray | None  # (size,), None when scale=False
    beta: np.ndarray | None  # (size,), None when center=False


Layer = (
    RecurrentLayer
    | BidirectionalLayer
    | DenseLayer
    | AffineLayer
    | ActivationLayer
    | Conv1DLayer
    | DepthwiseConv1DLayer
    | PoolingLayer
    | TimePadLayer
    | GlobalPoolingLayer
    | ReshapeLayer
    | EmbeddingLayer
    | LayerNormLayer
    | MaskingLayer
)


def takes_activation(
    layer: Layer | None, activation: str
) -> TypeGuard[DenseLayer | Conv1DLayer | DepthwiseConv1DLayer]:
    """A linear Dense/Conv1D/DepthwiseConv1D that an Activation right after it joins (not a
    softmax after a DepthwiseConv1D: its activation runs per channel, softmax over a step)."""
    if not isinstance(layer, (DenseLayer, Conv1DLayer, DepthwiseConv1DLayer)):
        return False
    per_channel = isinstance(layer, DepthwiseConv1DLayer)
    return layer.activation == "linear" and not (per_channel and activation == "softmax")


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

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(steps, size) of the model input and after every layer (steps 0: a vector)."""
        shapes = [(self.timesteps, self.features)]
        for layer in self.layers:
            shapes.append(layer.output_shape(shapes[-1][0]))
        return shapes

    @property
    def token_input(self) -> bool:
        """True when the input is integer token ids (an Embedding first), not features."""
        return isinstance(self.layers[0], EmbeddingLayer)

    @property
    def sequence_output(self) -> bool:
        """True when the model emits one output vector per time step."""
        return self.layer_shapes()[-1][0] > 0

    @property
    def output_shape(self) -> tuple[int, ...]:
        steps, size = self.layer_shapes()[-1]
        return (steps, size) if steps else (size,)

    def recurrent_layers(self) -> list[RecurrentLayer]:
        """Every recurrent cell, with both directions of a Bidirectional layer."""
        cells: list[RecurrentLayer] = []
        for layer in self.layers:
            if isinstance(layer, RecurrentLayer):
                cells.append(layer)
            elif isinstance(layer, BidirectionalLayer):
                cells.extend((layer.forward, layer.backward))
        return cells
