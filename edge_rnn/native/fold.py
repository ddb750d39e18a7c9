"""Per-feature affine layers (Normalization, Rescaling, BatchNormalization) folded away for the
native backend, so they cost nothing at run time:

- at the model input (every scale non-zero): into the input normalization the C code applies;
- after a Dense/Conv1D with a linear activation: into that layer's rows and bias;
- before a Dense, a recurrent layer or a 'valid' Conv1D: into its input columns and bias (in
  the quantized modes only when its offsets are small, see CENTRED_OFFSET_MAX);
- before average pooling (or max pooling when every scale is positive): moved after it;
- two in a row: into one.
An Activation layer that then follows a linear Dense/Conv1D becomes that layer's activation.
Anything else (e.g. before a zero-padded Conv1D, or a max pooling with a negative scale)
becomes a Dense with a diagonal kernel. The float results differ from the unfolded model by
rounding only.
"""

from __future__ import annotations

import dataclasses
from typing import cast

import numpy as np

from edge_rnn import ir
from edge_rnn.input_fold import compose_normalization, foldable_at_input

# Folded into the next layer's input columns, an affine leaves that layer multiplying the
# affine's un-centred input: rounded weights (int8w, int8) then err in proportion to the input's
# distance from zero, not to its spread. For BatchNormalization the offset is beta - mean x
# scale, so a large one means a mean far from zero in output units; beyond this offset the
# quantized modes keep the affine as a diagonal Dense (centring first, a few MACs a step).
# benchmarks/bn_fold.py (Conv1D(relu) + BatchNormalization + LSTM, raw input with a 20 degC
# channel, offsets up to 18.6): int8w rel_l2 0.28 folded, 0.11 as a diagonal Dense (the rest is
# the Conv1D's own rounding on that raw input: 0.006 with a float Conv1D).
CENTRED_OFFSET_MAX = 1.0


def _scale_outputs(layer: ir.DenseLayer | ir.Conv1DLayer, a: ir.AffineLayer) -> ir.Layer:
    bias = a.offset if layer.bias is None else layer.bias * a.scale + a.offset
    return dataclasses.replace(
        layer,
        kernel=(layer.kernel * a.scale).astype(np.float32),
        bias=bias.astype(np.float32),
        use_bias=True,
    )


def _absorbed_bias(bias: np.ndarray | None, extra: np.ndarray, input_row: bool) -> np.ndarray:
    """bias + extra; a GRU reset_after bias (2, rows) takes it in its input row."""
    if bias is None:
        return extra.astype(np.float32)
    out = np.array(bias, np.float32)
    if input_row:
        out[0] += extra
    else:
        out += extra
    return out


def _scale_inputs(layer: ir.Layer, a: ir.AffineLayer) -> ir.Layer:
    """layer(x * scale + offset) as a layer of x."""
    if isinstance(layer, ir.BidirectionalLayer):
        return dataclasses.replace(
            layer,
            forward=cast(ir.RecurrentLayer, _scale_inputs(layer.forward, a)),
            backward=cast(ir.RecurrentLayer, _scale_inputs(layer.backward, a)),
        )
    if isinstance(layer, ir.Conv1DLayer):
        kernel = layer.kernel * a.scale[None, :, None]
        extra = np.einsum("c,kcf->f", a.offset, layer.kernel)
        bias = _absorbed_bias(layer.bias, extra, False)
        return dataclasses.replace(
            layer, kernel=kernel.astype(np.float32), bias=bias, use_bias=True
        )
    assert isinstance(layer, (ir.DenseLayer, ir.RecurrentLayer))
    kernel = (layer.kernel * a.scale[:, None]).astype(np.float32)
    extra = a.offset @ layer.kernel
    reset_after = isinstance(layer, ir.RecurrentLayer) and layer.reset_after
    own_bias: np.ndarray | None = layer.bias
    if own_bias is None and reset_after:
        own_bias = np.zeros((2, extra.size), np.float32)
    return dataclasses.replace(
        layer, kernel=kernel, bias=_absorbed_bias(own_bias, extra, reset_after), use_bias=True
    )


def _takes_scaled_input(layer: ir.Layer | None) -> bool:
    if isinstance(layer, ir.Conv1DLayer):
        return layer.padding == "valid"  # zero padding would not be scaled
    return isinstance(layer, (ir.DenseLayer, ir.RecurrentLayer, ir.BidirectionalLayer))


def _diagonal_dense(a: ir.AffineLayer, sequence: bool) -> ir.DenseLayer:
    return ir.DenseLayer(
        a.name,
        a.size,
        a.size,
        "linear",
        True,
        sequence,
        np.diag(a.scale).astype(np.float32),
        a.offset,
    )


def _commutes(layer: ir.Layer | None, a: ir.AffineLayer) -> bool:
    """pool(x * scale + offset) == pool(x) * scale + offset (averages always, max if scale > 0)."""
    if not isinstance(layer, (ir.PoolingLayer, ir.GlobalPoolingLayer)):
        return False
    return layer.pool == "average" or bool(np.all(a.scale > 0))


def fold_affines(model: ir.Model, quant: str = "float32") -> ir.Model:
    """The same function without AffineLayer (see the module docstring) for the native
    numeric mode `quant`."""
    if not any(isinstance(layer, ir.AffineLayer) for layer in model.layers):
        return model
    pending = list(model.layers)
    norm = model.normalization
    out: list[ir.Layer] = []
    steps = model.timesteps
    index = 0
    while index < len(pending):
        layer = pending[index]
        following = pending[index + 1] if index + 1 < len(pending) else None
        previous = out[-1] if out else None
        if isinstance(layer, ir.ActivationLayer) and ir.takes_activation(
            previous, layer.activation
        ):  # Conv1D -> BatchNormalization -> Activation: the activation joins the Conv1D too
            out[-1] = dataclasses.replace(previous, activation=layer.activation, leaky=layer.leaky)
        elif not isinstance(layer, ir.AffineLayer):
            out.append(layer)
            steps = layer.output_shape(steps)[0]
        elif previous is None and foldable_at_input(layer):
            norm = compose_normalization(norm, layer, model.features)
        elif (
            isinstance(previous, (ir.DenseLayer, ir.Conv1DLayer))
            and previous.activation == "linear"
        ):
            out[-1] = _scale_outputs(previous, layer)
        elif isinstance(following, ir.AffineLayer):
            pending[index + 1] = ir.AffineLayer(
                following.name,
                layer.size,
                (layer.scale * following.scale).astype(np.float32),
                (layer.offset * following.scale + following.offset).astype(np.float32),
            )
        elif _commutes(following, layer):
            assert following is not None
            pending[index : index + 2] = [following, layer]  # fold it after the pooling
            continue
        elif _takes_scaled_input(following) and (
            quant == "float32" or np.abs(layer.offset).max() <= CENTRED_OFFSET_MAX
        ):
            assert following is not None
            pending[index + 1] = _scale_inputs(following, layer)
        else:
            out.append(_diagonal_dense(layer, steps > 0))
        index += 1
    return dataclasses.replace(model, layers=tuple(out), normalization=norm)
