"""Masking in the export twin with ops TFLite Micro runs.

tf-keras' own Masking exports REDUCE_ANY (no TFLM kernel) and its recurrent layers unstack a
bool mask (TFLM's UNPACK has no bool kernel). Here the mask is a float 0/1 per step, computed
with EQUAL + REDUCE_ALL + LOGICAL_NOT + CAST, and the layers it reaches are unrolled cell by
cell: a skipped step keeps the state and repeats the last output (SELECT_V2), as Keras does.
"""

from __future__ import annotations

import functools
from typing import Any

from edge_rnn import ir

# Where the mask stops: ir.DROPS_MASK, Reshape and the global pooling layers (a masked
# average uses it, nothing after them sees it).
_DROPS_MASK = (*ir.DROPS_MASK, ir.ReshapeLayer, ir.GlobalPoolingLayer)


def mask_reaches(model: ir.Model) -> frozenset[str]:
    """Names of the recurrent and global average pooling layers Masking's mask reaches."""
    if not model.layers or not isinstance(model.layers[0], ir.MaskingLayer):
        return frozenset()
    reached: set[str] = set()
    for layer in model.layers[1:]:
        if isinstance(layer, ir.GlobalPoolingLayer) and layer.pool == "average":
            reached.add(layer.name)
        if isinstance(layer, _DROPS_MASK):
            break
        if isinstance(layer, (ir.RecurrentLayer, ir.BidirectionalLayer)):
            reached.add(layer.name)
            cell = layer.forward if isinstance(layer, ir.BidirectionalLayer) else layer
            if not cell.return_sequences:
                break
    return frozenset(reached)


def keep_mask(mask_value: float, name: str) -> Any:
    """Layer x (1, T, F) -> [x with skipped steps zeroed (Keras Masking's output), keep
    (1, T, 1): 1.0 where some feature differs from mask_value]."""
    import tensorflow as tf
    import tf_keras

    def call(x: Any) -> list[Any]:
        padded = tf.reduce_all(tf.equal(x, mask_value), axis=-1, keepdims=True)
        keep = tf.cast(tf.logical_not(padded), tf.float32)
        return [x if mask_value == 0.0 else x * keep, keep]

    return tf_keras.layers.Lambda(call, name=name)


@functools.cache
def _masked_recurrent_class() -> Any:
    import tensorflow as tf
    import tf_keras

    class MaskedRecurrent(tf_keras.layers.Layer):  # type: ignore[misc]
        """[x (1, T, F), keep (1, T, 1)] -> the outputs of `cell` unrolled over T, skipping the
        steps where keep is 0 (in processing order: reversed for go_backwards)."""

        def __init__(self, cell: Any, return_sequences: bool, go_backwards: bool, name: str):
            super().__init__(name=name)
            self.cell = cell
            self.return_sequences = return_sequences
            self.go_backwards = go_backwards

        def build(self, input_shape: Any) -> None:
            self.cell.build(input_shape[0][:1] + input_shape[0][2:])
            super().build(input_shape)

        def call(self, inputs: list[Any]) -> Any:
            x, keep = inputs
            xs, keeps = tf.unstack(x, axis=1), tf.unstack(keep, axis=1)
            order = range(len(xs) - 1, -1, -1) if self.go_backwards else range(len(xs))
            states = [tf.zeros((1, size)) for size in tf.nest.flatten(self.cell.state_size)]
            out = tf.zeros((1, self.cell.output_size))
            outs = []
            for t in order:
                live = keeps[t] > 0.5  # (1, 1) bool, broadcast by SELECT_V2
                step_out, new_states = self.cell(xs[t], states)
                out = tf.where(live, step_out, out)
                new_states = tf.nest.flatten(new_states)
                states = [tf.where(live, n, s) for n, s in zip(new_states, states, strict=True)]
                outs.append(out)
            return tf.stack(outs, axis=1) if self.return_sequences else out

    return MaskedRecurrent


def masked_recurrent(cell: Any, layer: ir.RecurrentLayer, name: str) -> Any:
    return _masked_recurrent_class()(cell, layer.return_sequences, layer.go_backwards, name)


def merge_directions(layer: ir.BidirectionalLayer, fwd: Any, bwd: Any) -> Any:
    """Keras Bidirectional's output from its two masked directions."""
    import tensorflow as tf
    import tf_keras

    def call(pair: list[Any]) -> Any:
        a, b = pair
        if layer.forward.return_sequences:
            b = tf.reverse(b, axis=[1])
        if layer.merge_mode == "concat":
            return tf.concat([a, b], axis=-1)
        if layer.merge_mode == "sum":
            return a + b
        if layer.merge_mode == "ave":
            return (a + b) * 0.5
        return a * b

    return tf_keras.layers.Lambda(call, name=layer.name)([fwd, bwd])


def masked_average(name: str, x: Any, keep: Any) -> Any:
    """Keras GlobalAveragePooling1D with a mask: the mean over the kept steps."""
    import tensorflow as tf
    import tf_keras

    def call(pair: list[Any]) -> Any:
        v, k = pair
        return tf.reduce_sum(v * k, axis=1) / tf.reduce_sum(k, axis=1)

    return tf_keras.layers.Lambda(call, name=name)([x, keep])
