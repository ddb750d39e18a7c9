"""IR -> the row-major arrays and stage list that the C kernels, the twin and the templates use.

A stage is one IR layer, one dataclass per kind (affine layers are folded away first, see
`edge_rnn.native.fold`). Steps 0 means one vector instead of a sequence. Recurrent weights
become one matrix per direction whose row r is [kernel[:, r] | recurrent_kernel[:, r]] (Keras
gate order), so one dot product per row serves x and h together. GRU with reset_after keeps the
candidate's recurrent bias apart (`rbias`) because it is multiplied by the reset gate.
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
    steps_in: int
    steps_out: int

    @property
    def seq_in(self) -> bool:
        return self.steps_in > 0

    @property
    def seq_out(self) -> bool:
        return self.steps_out > 0


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
    leaky: ir.LeakyRelu | None = None  # activation "leaky_relu"


@dataclass(frozen=True, eq=False)
class _KernelWindows(_Shapes):
    """Conv1D and DepthwiseConv1D: `rows` applied at each output step to the window of
    kernel_size input steps starting at step * strides - pad_left."""

    rows: DenseStage
    kernel_size: int
    strides: int
    dilation: int
    pad_left: int
    padding: str

    @property
    def span(self) -> int:
        return (self.kernel_size - 1) * self.dilation + 1

    def window_steps(self) -> np.ndarray:
        """(steps_out, kernel_size) input step of each tap; outside [0, steps_in) is padding."""
        return _windows(
            self.steps_out, self.kernel_size, self.strides, self.dilation, self.pad_left
        )


@dataclass(frozen=True, eq=False)
class ConvStage(_KernelWindows):
    """Conv1D: `rows` is a Dense over the kernel_size input steps side by side (k * in_size
    columns)."""

    kind: ClassVar[str] = "conv"


@dataclass(frozen=True, eq=False)
class DepthwiseStage(_KernelWindows):
    """DepthwiseConv1D: row o of `rows` (kernel_size columns) reads the taps of input channel
    o // multiplier only, so each output costs kernel_size multiplies."""

    kind: ClassVar[str] = "dwconv"
    multiplier: int


@dataclass(frozen=True, eq=False)
class PoolStage(_Shapes):
    kind: ClassVar[str] = "pool"
    pool: str  # max | average (over the steps inside the input)
    pool_size: int
    strides: int
    pad_left: int
    padding: str

    @property
    def span(self) -> int:
        return self.pool_size

    def window_steps(self) -> np.ndarray:
        return _windows(self.steps_out, self.pool_size, self.strides, 1, self.pad_left)


def _windows(steps_out: int, taps: int, strides: int, dilation: int, pad_left: int) -> np.ndarray:
    starts = np.arange(steps_out)[:, None] * strides - pad_left
    return starts + np.arange(taps)[None, :] * dilation


@dataclass(frozen=True, eq=False)
class TimePadStage(_Shapes):
    """ZeroPadding1D/Cropping1D that no Conv1D after it absorbs: output step t is input step
    t - before (zeros outside the input)."""

    kind: ClassVar[str] = "tpad"
    before: int

    def window_steps(self) -> np.ndarray:
        return _windows(self.steps_out, 1, 1, 1, self.before)


@dataclass(frozen=True, eq=False)
class GlobalPoolStage(_Shapes):
    kind: ClassVar[str] = "gpool"
    pool: str


@dataclass(frozen=True, eq=False)
class ActivationStage(_Shapes):
    kind: ClassVar[str] = "act"
    activation: str
    leaky: ir.LeakyRelu | None = None  # activation "leaky_relu"


@dataclass(frozen=True, eq=False)
class LayerNormStage(_Shapes):
    """LayerNormalization over the values of each step (or of the vector)."""

    kind: ClassVar[str] = "lnorm"
    epsilon: float
    gamma: np.ndarray  # (size,) float32, ones when the layer has no scale
    beta: np.ndarray  # (size,) float32, zeros when it has no center


@dataclass(frozen=True, eq=False)
class ReshapeStage(_Shapes):
    """Flatten/Reshape: the same values in the same order, another (steps, size)."""

    kind: ClassVar[str] = "reshape"


Stage = (
    RecurrentStage
    | BidirectionalStage
    | DenseStage
    | ConvStage
    | DepthwiseStage
    | PoolStage
    | TimePadStage
    | GlobalPoolStage
    | ActivationStage
    | LayerNormStage
    | ReshapeStage
)
CellStage = RecurrentStage | BidirectionalStage
WINDOWED = (ConvStage, DepthwiseStage, PoolStage)  # sliding windows over the time axis
WindowedStage = ConvStage | DepthwiseStage | PoolStage


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


KernelLayer = ir.Conv1DLayer | ir.DepthwiseConv1DLayer


def _kernel_windows(
    layer: KernelLayer, steps: int, pad: ir.TimePadLayer | None = None
) -> ConvStage | DepthwiseStage:
    """`pad`: a ZeroPadding1D right before the layer, absorbed into its window offsets (its
    zeros after the input are those the windows read past the last step anyway)."""
    padded = pad.output_shape(steps)[0] if pad else steps
    steps_out, pad_left = ir.window_positions(padded, layer.span, layer.strides, layer.padding)
    kernel = np.asarray(layer.kernel, np.float32)
    if isinstance(layer, ir.DepthwiseConv1DLayer):
        # row c * multiplier + m = kernel[:, c, m]: the taps of channel c
        w = kernel.transpose(1, 2, 0).reshape(layer.output_size, layer.kernel_size)
    else:  # row f = [kernel[0, :, f] | kernel[1, :, f] | ...]: the window's steps side by side
        w = kernel.transpose(2, 0, 1).reshape(layer.output_size, -1)
    rows = DenseStage(
        layer.name,
        w.shape[1],
        layer.output_size,
        0,
        0,
        layer.activation,
        np.ascontiguousarray(w),
        layer.bias,
        layer.leaky,
    )
    pad_left += pad.before if pad else 0
    common = (layer.name, layer.input_size, layer.output_size, steps, steps_out, rows)
    window = (layer.kernel_size, layer.strides, layer.dilation, pad_left, layer.padding)
    if isinstance(layer, ir.DepthwiseConv1DLayer):
        return DepthwiseStage(*common, *window, layer.depth_multiplier)
    return ConvStage(*common, *window)


def _lower_layer(layer: ir.Layer, size: int, steps: int) -> Stage:
    steps_out, out_size = layer.output_shape(steps)
    shapes = (layer.name, size, out_size, steps, steps_out)
    if isinstance(layer, ir.DenseLayer):
        w = np.ascontiguousarray(np.asarray(layer.kernel, np.float32).T)
        return DenseStage(*shapes, layer.activation, w, layer.bias, layer.leaky)
    if isinstance(layer, ir.BidirectionalLayer):
        cells = (lower_cell(layer.forward), lower_cell(layer.backward))
        return BidirectionalStage(*shapes, cells, layer.merge_mode)
    if isinstance(layer, ir.RecurrentLayer):
        return RecurrentStage(*shapes, (lower_cell(layer),))
    if isinstance(layer, (ir.Conv1DLayer, ir.DepthwiseConv1DLayer)):
        return _kernel_windows(layer, steps)
    if isinstance(layer, ir.TimePadLayer):
        return TimePadStage(*shapes, layer.before)
    if isinstance(layer, ir.PoolingLayer):
        _, pad = ir.window_positions(steps, layer.pool_size, layer.strides, layer.padding)
        return PoolStage(*shapes, layer.pool, layer.pool_size, layer.strides, pad, layer.padding)
    if isinstance(layer, ir.GlobalPoolingLayer):
        return GlobalPoolStage(*shapes, layer.pool)
    if isinstance(layer, ir.ActivationLayer):
        return ActivationStage(*shapes, layer.activation, layer.leaky)
    if isinstance(layer, ir.ReshapeLayer):
        return ReshapeStage(*shapes)
    if isinstance(layer, ir.LayerNormLayer):
        ones, zeros = np.ones(size, np.float32), np.zeros(size, np.float32)
        gamma = ones if layer.gamma is None else np.asarray(layer.gamma, np.float32)
        beta = zeros if layer.beta is None else np.asarray(layer.beta, np.float32)
        return LayerNormStage(*shapes, float(layer.epsilon), gamma, beta)
    raise EdgeRnnError(f"layer '{layer.name}': fold affine layers before lowering")


def lower(model: ir.Model) -> tuple[Stage, ...]:
    """Stages of a model without affine layers (`edge_rnn.native.fold.fold_affines`)."""
    stages: list[Stage] = []
    steps, size = model.timesteps, model.features
    layers = list(model.layers)
    for index, layer in enumerate(layers):
        following = layers[index + 1] if index + 1 < len(layers) else None
        if _absorbed_padding(layer, following):
            continue
        previous = layers[index - 1] if index else None
        if isinstance(previous, ir.TimePadLayer) and _absorbed_padding(previous, layer):
            assert isinstance(layer, (ir.Conv1DLayer, ir.DepthwiseConv1DLayer))
            stage: Stage = _kernel_windows(layer, steps, previous)
        else:
            stage = _lower_layer(layer, size, steps)
        stages.append(stage)
        steps, size = stage.steps_out, stage.out_size
    return tuple(stages)


def _absorbed_padding(layer: ir.Layer, following: ir.Layer | None) -> bool:
    """A ZeroPadding1D before a Conv1D/DepthwiseConv1D is part of its windows (exact: both pad
    with zeros); pooling leaves padding out, so a padding before it stays a stage."""
    return (
        isinstance(layer, ir.TimePadLayer)
        and min(layer.before, layer.after) >= 0
        and isinstance(following, (ir.Conv1DLayer, ir.DepthwiseConv1DLayer))
    )


def streaming_blocker(stages: tuple[Stage, ...]) -> str | None:
    """Why `_step` (one time step at a time) cannot be generated, or None when it can."""
    for stage in stages:
        if isinstance(stage, BidirectionalStage) or (
            isinstance(stage, RecurrentStage) and stage.cells[0].layer.go_backwards
        ):
            return (
                "this model has a backward or bidirectional layer, which needs the\n"
                " * whole window before its first output."
            )
        if isinstance(stage, WINDOWED) and stage.padding == "same":
            return f"layer '{stage.name}' has padding='same', which needs later time steps."
        if isinstance(stage, WINDOWED) and (
            stage.pad_left >= stage.span or stage.window_steps()[-1, -1] >= stage.steps_in
        ):
            return (
                f"layer '{stage.name}' reads zero padding (ZeroPadding1D) beyond what\n"
                " * a causal window starts with, or after the last step."
            )
        if isinstance(stage, TimePadStage):
            return f"layer '{stage.name}' pads or crops the time axis of the whole window."
        averaged = isinstance(stage, GlobalPoolStage) and stage.pool == "average"
        if isinstance(stage, (GlobalPoolStage, ReshapeStage)) and stage.seq_in and not averaged:
            return f"layer '{stage.name}' needs every step of the window at once."
    shrinking = [s.name for s in stages if s.seq_out and s.steps_out != s.steps_in]
    if shrinking and stages[-1].seq_out:
        return (
            f"the output sequence is shorter than the input ({', '.join(shrinking)}),\n"
            " * so steps and outputs do not pair up."
        )
    return None


def stream_delay(stage: WindowedStage) -> int:
    """Steps a streamed Conv1D/pooling stage must see before its first output ('valid' waits
    for a full window; 'causal' starts from zero padding)."""
    return stage.span - stage.pad_left
