"""Compact unrolled recurrent layers for the TFLite export twin.

tf-keras unrolled layers project every time step's input with its own FULLY_CONNECTED (and its
own quantized bias), and a GRU step takes 15 ops. In an unrolled graph each op and each tensor
costs flatbuffer bytes (quantization parameters, names) and TFLite Micro arena bytes (a node,
an eval tensor, the op's persistent data: per-channel multipliers for a FULLY_CONNECTED), so
the artefact grows with steps x ops per step. Here the input projection of all steps is one
FULLY_CONNECTED over the (T, F) window, split by one UNPACK, and each step keeps only the
recurrent product and the gate arithmetic: GRU 11 ops, LSTM 11, SimpleRNN 3 (docs/tflm.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from edge_rnn import ir
from edge_rnn.cells import CELLS

Tensor = Any
# (this step's input projections, the state or None for the zero initial state) -> (h, state);
# the first step is written without the zero state: a constant all-zero operand (0 - hh, f * 0)
# gets a zero quantization range, and TFLite Micro aborts on such an int16 SUB. It slices what
# it needs instead of splitting: an unused SPLIT output left the int8 quantizer keeping that
# SPLIT in float32 between a DEQUANTIZE and a QUANTIZE.
Step = Callable[[list[Tensor], list[Tensor] | None], tuple[Tensor, list[Tensor]]]


def _first(z: Tensor, hh: Tensor) -> tuple[Tensor, list[Tensor]]:
    """A GRU's first step, h = 0: h' = (1 - z) * hh."""
    new = hh - z * hh
    return new, [new]


def _gru(layer: ir.RecurrentLayer, act: Any, gate: Any) -> tuple[list[tuple[Any, Any]], Step]:
    """GRU as h' = hh + z * (h - hh): input blocks [z r] and [h] (their own UNPACK each)."""
    import tensorflow as tf

    u = layer.units
    bias = layer.bias if layer.bias is not None else np.zeros((2, 3 * u), np.float32)
    b_in, b_rec = (bias[0], bias[1]) if layer.reset_after else (bias, np.zeros_like(bias))
    kernel, recurrent = layer.kernel, layer.recurrent_kernel
    blocks = [
        (kernel[:, : 2 * u], b_in[: 2 * u] + b_rec[: 2 * u]),  # recurrent z/r bias folded in
        (kernel[:, 2 * u :], b_in[2 * u :]),
    ]
    split = [2 * u, u]
    if layer.reset_after:
        rec_bias = _const(np.concatenate([np.zeros(2 * u, np.float32), b_rec[2 * u :]]))
        rec = _const(recurrent)

        def step(x: list[Tensor], state: list[Tensor] | None) -> tuple[Tensor, list[Tensor]]:
            if state is None:  # h = 0: the recurrent product is its bias
                if not b_rec[2 * u :].any():
                    return _first(gate(x[0][:, :u]), act(x[1]))
                z, r = tf.split(gate(x[0]), 2, axis=1)
                return _first(z, act(x[1] + r * _const(b_rec[2 * u :])))
            h = state[0]
            rec_zr, rec_h = tf.split(tf.matmul(h, rec) + rec_bias, split, axis=1)
            z, r = tf.split(gate(x[0] + rec_zr), 2, axis=1)
            hh = act(x[1] + r * rec_h)
            new = hh + z * (h - hh)
            return new, [new]

    else:
        rec_zr = _const(recurrent[:, : 2 * u])
        rec_h = _const(recurrent[:, 2 * u :])

        def step(x: list[Tensor], state: list[Tensor] | None) -> tuple[Tensor, list[Tensor]]:
            if state is None:
                return _first(gate(x[0][:, :u]), act(x[1]))
            h = state[0]
            z, r = tf.split(gate(x[0] + tf.matmul(h, rec_zr)), 2, axis=1)
            hh = act(x[1] + tf.matmul(r * h, rec_h))
            new = hh + z * (h - hh)
            return new, [new]

    return blocks, step


def _lstm(layer: ir.RecurrentLayer, act: Any, gate: Any) -> tuple[list[tuple[Any, Any]], Step]:
    """LSTM with its gates re-packed [i o f | c], so one activation op covers i, o and f."""
    import tensorflow as tf

    u = layer.units
    order = np.r_[0:u, 3 * u : 4 * u, u : 2 * u, 2 * u : 3 * u]  # Keras i f c o -> i o f c
    bias = layer.bias if layer.bias is not None else np.zeros(4 * u, np.float32)
    rec = _const(layer.recurrent_kernel[:, order])

    def step(x: list[Tensor], state: list[Tensor] | None) -> tuple[Tensor, list[Tensor]]:
        if state is None:  # h = c = 0: f is not needed
            i, o = tf.split(gate(x[0][:, : 2 * u]), 2, axis=1)
            new_c = i * act(x[0][:, 3 * u :])
            new = o * act(new_c)
            return new, [new, new_c]
        h, c = state
        iof, g = tf.split(x[0] + tf.matmul(h, rec), [3 * u, u], axis=1)
        i, o, f = tf.split(gate(iof), 3, axis=1)
        new_c = f * c + i * act(g)
        new = o * act(new_c)
        return new, [new, new_c]

    return [(layer.kernel[:, order], bias[order])], step


def _simple_rnn(
    layer: ir.RecurrentLayer, act: Any, _gate: Any
) -> tuple[list[tuple[Any, Any]], Step]:
    import tensorflow as tf

    bias = layer.bias if layer.bias is not None else np.zeros(layer.units, np.float32)
    rec = _const(layer.recurrent_kernel)

    def step(x: list[Tensor], state: list[Tensor] | None) -> tuple[Tensor, list[Tensor]]:
        new = act(x[0] if state is None else x[0] + tf.matmul(state[0], rec))
        return new, [new]

    return [(layer.kernel, bias)], step


def _const(values: np.ndarray) -> Tensor:
    import tensorflow as tf

    return tf.constant(np.asarray(values, np.float32))


def compact_unrolled(layer: ir.RecurrentLayer, activation: Callable[[str], Any]) -> Any:
    """A tf-keras layer computing `layer` (batch 1, zero initial state, no mask) unrolled;
    `activation` maps an activation name to its tf-keras form."""
    import tensorflow as tf
    import tf_keras

    act = tf_keras.activations.get(activation(layer.activation))
    uses_gate = CELLS[layer.cell].uses_recurrent_activation
    gate = tf_keras.activations.get(activation(layer.recurrent_activation)) if uses_gate else act
    builder = {"gru": _gru, "lstm": _lstm, "simple_rnn": _simple_rnn}[layer.cell]
    blocks, step = builder(layer, act, gate)

    def run(x: Tensor) -> Tensor:
        steps = int(x.shape[1])
        window = tf.reshape(x, [steps, int(x.shape[2])])
        if layer.go_backwards:  # one REVERSE_V2: UNPACK hands out the steps in processing order
            window = tf.reverse(window, [0])
        inputs = [  # one FULLY_CONNECTED and one UNPACK per block, into (1, n) steps
            tf.unstack(tf.reshape(tf.matmul(window, _const(w)) + _const(b), [steps, 1, -1]))
            for w, b in blocks
        ]
        state: list[Tensor] | None = None
        outputs = []
        for t in range(steps):
            out, state = step([xs[t] for xs in inputs], state)
            outputs.append(out)
        # go_backwards keeps the processing order in the sequence, as Keras does
        return tf.stack(outputs, axis=1) if layer.return_sequences else outputs[-1]

    return tf_keras.layers.Lambda(run, name=layer.name)
