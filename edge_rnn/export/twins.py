"""Export twins: the IR rebuilt as a tf-keras model with a fixed batch of 1.

Keras 3 recurrent layers never fuse in the TFLite converter, tf-keras LSTMs do; a fixed batch
avoids dynamic TensorList shapes. Weights come from the IR, so the twin computes exactly what
the user's model computes (checked by the validator against the Keras 3 original).
"""

from __future__ import annotations

from typing import Any

from edge_rnn import ir
from edge_rnn.cells import CELLS
from edge_rnn.export.mask_twin import (
    keep_mask,
    mask_reaches,
    masked_average,
    masked_recurrent,
    merge_directions,
)
from edge_rnn.export.unrolled import compact_unrolled
from edge_rnn.native.twin import SELU_ALPHA, SELU_SCALE


def _activation(name: str, leaky: ir.LeakyRelu | None = None) -> Any:
    """tf-keras activation with Keras 3 semantics (hard_sigmoid differs between them)."""
    if leaky is not None:
        return _leaky_relu(leaky)
    if name == "silu":
        return "swish"
    if name not in _KERAS3:
        return name
    import tensorflow as tf

    def hard_sigmoid(x: Any) -> Any:
        return tf.nn.relu6(x + 3.0) * (1.0 / 6.0)

    def hard_silu(x: Any) -> Any:
        return x * hard_sigmoid(x)

    def gelu(x: Any) -> Any:  # tf.nn.gelu's erfc form has no ONNX op; this one is TFLite GELU
        return 0.5 * x * (1.0 + tf.math.erf(x * _SQRT_HALF))

    def selu(x: Any) -> Any:  # tf.nn.selu is a SELECT, which TFLite Micro lacks; this ELU
        return SELU_SCALE * (tf.nn.relu(x) + SELU_ALPHA * tf.minimum(tf.nn.elu(x), 0.0))

    return {"hard_sigmoid": hard_sigmoid, "hard_silu": hard_silu, "gelu": gelu, "selu": selu}[name]


_KERAS3 = ("hard_sigmoid", "hard_silu", "gelu", "selu")
_SQRT_HALF = 0.7071067811865476


def _leaky_relu(leaky: ir.LeakyRelu) -> Any:
    """Keras relu(x, negative_slope, max_value, threshold): one LeakyRelu op when only the
    slope is set. A threshold (a step at it) needs a select; TFLite Micro has SELECT_V2 only,
    which the converter keeps when one side is a scalar."""
    import tensorflow as tf

    slope, threshold, top = leaky.negative_slope, leaky.threshold, leaky.max_value

    def leaky_relu(x: Any) -> Any:
        if leaky.plain:
            return tf.nn.leaky_relu(x, alpha=slope)
        above = x if top is None else tf.minimum(x, top)
        if threshold == 0:  # continuous: no select
            positive = tf.nn.relu(above)
            return positive - slope * tf.nn.relu(-x) if slope else positive
        if not slope:
            return tf.where(x > threshold, above, 0.0)
        below = slope * (x - threshold)
        return tf.where(x > threshold, above - below, 0.0) + below

    return leaky_relu


def _cell_kwargs(layer: ir.RecurrentLayer, unroll: bool) -> dict[str, Any]:
    """The arguments a tf-keras recurrent layer and its cell share."""
    spec = CELLS[layer.cell]
    kwargs: dict[str, Any] = {
        "units": layer.units,
        "activation": _activation(layer.activation),
        "use_bias": layer.use_bias,
    }
    if spec.uses_recurrent_activation:
        kwargs["recurrent_activation"] = _activation(layer.recurrent_activation)
    if spec.has_reset_after:
        kwargs["reset_after"] = layer.reset_after
        if unroll and not layer.reset_after:
            # Unrolled, implementation 2 splits the recurrent product [units, units, -1] into an
            # empty third tensor TFLite Micro cannot allocate; implementation 1 multiplies per gate.
            kwargs["implementation"] = 1
    return kwargs


def _recurrent(layer: ir.RecurrentLayer, unroll: bool, name: str | None = None) -> Any:
    import tf_keras

    return getattr(tf_keras.layers, CELLS[layer.cell].keras_class)(
        **_cell_kwargs(layer, unroll),
        return_sequences=layer.return_sequences,
        go_backwards=layer.go_backwards,
        unroll=unroll,
        name=name or layer.name,
    )


def _masked(layer: ir.RecurrentLayer, name: str) -> Any:
    """The layer unrolled cell by cell, skipping the steps its keep input marks 0."""
    import tf_keras

    cell = getattr(tf_keras.layers, CELLS[layer.cell].keras_class + "Cell")
    return masked_recurrent(cell(**_cell_kwargs(layer, True)), layer, name)


def _cell_weights(layer: ir.RecurrentLayer) -> list[Any]:
    weights = [layer.kernel, layer.recurrent_kernel]
    return weights + ([layer.bias] if layer.bias is not None else [])


def _affine(layer: ir.AffineLayer) -> Any:
    import tensorflow as tf
    import tf_keras

    scale = tf.constant(layer.scale.reshape(1, -1))
    offset = tf.constant(layer.offset.reshape(1, -1))
    return tf_keras.layers.Lambda(lambda x: x * scale + offset, name=layer.name)


def _other(layer: ir.Layer) -> tuple[Any, list[Any]]:
    """The tf-keras layer for the IR layers around the recurrent core, and its weights."""
    import tf_keras

    L = tf_keras.layers
    if isinstance(layer, (ir.Conv1DLayer, ir.DepthwiseConv1DLayer)):
        options = {
            "strides": layer.strides,
            "padding": layer.padding,
            "dilation_rate": layer.dilation,
            "activation": _activation(layer.activation, layer.leaky),
            "use_bias": layer.use_bias,
            "name": layer.name,
        }
        if isinstance(layer, ir.Conv1DLayer):
            built = L.Conv1D(layer.filters, layer.kernel_size, **options)
        else:
            built = L.DepthwiseConv1D(
                layer.kernel_size, depth_multiplier=layer.depth_multiplier, **options
            )
        return built, [layer.kernel] + ([layer.bias] if layer.bias is not None else [])
    if isinstance(layer, ir.AffineLayer):
        return _affine(layer), []
    if isinstance(layer, ir.ActivationLayer):
        return L.Activation(_activation(layer.activation, layer.leaky), name=layer.name), []
    if isinstance(layer, ir.PoolingLayer):
        pool = L.MaxPooling1D if layer.pool == "max" else L.AveragePooling1D
        return pool(layer.pool_size, layer.strides, layer.padding, name=layer.name), []
    if isinstance(layer, ir.TimePadLayer):
        if layer.before < 0 or layer.after < 0:
            return L.Cropping1D((-layer.before, -layer.after), name=layer.name), []
        return L.ZeroPadding1D((layer.before, layer.after), name=layer.name), []
    if isinstance(layer, ir.GlobalPoolingLayer):
        pool = L.GlobalMaxPooling1D if layer.pool == "max" else L.GlobalAveragePooling1D
        return pool(name=layer.name), []
    assert isinstance(layer, ir.ReshapeLayer)
    target = (layer.steps, layer.size) if layer.steps else (layer.size,)
    return L.Reshape(target, name=layer.name), []


def _layer(layer: ir.Layer, unroll: frozenset[str]) -> tuple[Any, list[Any]]:
    """The tf-keras layer for one IR layer (Masking aside), and its weights."""
    import tf_keras

    if isinstance(layer, ir.DenseLayer):
        built = tf_keras.layers.Dense(
            layer.units,
            activation=_activation(layer.activation, layer.leaky),
            use_bias=layer.use_bias,
            name=layer.name,
        )
        return built, [layer.kernel] + ([layer.bias] if layer.bias is not None else [])
    if isinstance(layer, ir.LayerNormLayer):
        built = tf_keras.layers.LayerNormalization(
            epsilon=layer.epsilon,
            center=layer.beta is not None,
            scale=layer.gamma is not None,
            name=layer.name,
        )
        return built, [w for w in (layer.gamma, layer.beta) if w is not None]
    if isinstance(layer, ir.EmbeddingLayer):
        built = tf_keras.layers.Embedding(layer.input_dim, layer.output_dim, name=layer.name)
        return built, [layer.embeddings]
    if isinstance(layer, ir.BidirectionalLayer):
        unrolled = layer.name in unroll
        built = tf_keras.layers.Bidirectional(
            _recurrent(layer.forward, unrolled, "forward"),
            backward_layer=_recurrent(layer.backward, unrolled, "backward"),
            merge_mode=layer.merge_mode,
            name=layer.name,
        )
        return built, _cell_weights(layer.forward) + _cell_weights(layer.backward)
    if isinstance(layer, ir.RecurrentLayer) and layer.name in unroll:
        return compact_unrolled(layer, _activation), []
    if isinstance(layer, ir.RecurrentLayer):
        return _recurrent(layer, False), _cell_weights(layer)
    return _other(layer)


def build_twin(model: ir.Model, unroll: frozenset[str] = frozenset()) -> Any:
    """A tf-keras model with input (1, T, F) (token ids: (1, T) int32) computing `model`;
    `unroll` names the layers to unroll (see `edge_rnn.export.routes`)."""
    import tf_keras

    if model.layers and isinstance(model.layers[0], ir.MaskingLayer):
        return _masked_twin(model, unroll)
    twin = tf_keras.Sequential(name=model.name)
    if model.token_input:  # (1, T) int32 token ids
        twin.add(tf_keras.Input((model.timesteps,), batch_size=1, dtype="int32", name="input"))
    else:
        twin.add(tf_keras.Input(shape=model.input_shape, batch_size=1, name="input"))
    weights: list[tuple[Any, list[Any]]] = []
    for layer in model.layers:
        built, values = _layer(layer, unroll)
        twin.add(built)
        weights.append((built, values))
    _set_weights(weights)
    return twin


def _masked_twin(model: ir.Model, unroll: frozenset[str]) -> Any:
    """A model starting with Masking: its keep mask (see `mask_twin`) goes to the layers it
    reaches, which skip the padded steps with ops TFLite Micro runs."""
    import tf_keras

    masking = model.layers[0]
    assert isinstance(masking, ir.MaskingLayer)
    inputs = tf_keras.Input(shape=model.input_shape, batch_size=1, name="input")
    x, keep = keep_mask(masking.mask_value, masking.name)(inputs)
    reached = mask_reaches(model)
    weights: list[tuple[Any, list[Any]]] = []
    for layer in model.layers[1:]:
        if layer.name not in reached:
            built, values = _layer(layer, unroll)
            x = built(x)
            weights.append((built, values))
        elif isinstance(layer, ir.GlobalPoolingLayer):
            x = masked_average(layer.name, x, keep)
        elif isinstance(layer, ir.BidirectionalLayer):
            fwd = _masked(layer.forward, layer.name + "_forward")
            bwd = _masked(layer.backward, layer.name + "_backward")
            x = merge_directions(layer, fwd([x, keep]), bwd([x, keep]))
            weights += [(fwd, _cell_weights(layer.forward)), (bwd, _cell_weights(layer.backward))]
        else:
            assert isinstance(layer, ir.RecurrentLayer)
            built = _masked(layer, layer.name)
            x = built([x, keep])
            weights.append((built, _cell_weights(layer)))
    twin = tf_keras.Model(inputs, x, name=model.name)
    _set_weights(weights)
    return twin


def _set_weights(weights: list[tuple[Any, list[Any]]]) -> None:
    for built, values in weights:
        if values:
            built.set_weights(values)
