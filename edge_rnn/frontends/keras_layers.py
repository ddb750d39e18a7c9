"""Keras layers around the recurrent core -> IR: per-feature affine maps (Normalization,
Rescaling, BatchNormalization), activations, Conv1D, DepthwiseConv1D, SeparableConv1D, pooling,
ZeroPadding1D/Cropping1D, Flatten and Reshape.

Each converter gets the layer and the (steps, size) of its input (steps 0: one vector), reports
problems to the shared check and returns an IR layer, a tuple of them (SeparableConv1D) or None
when it reported a problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_rnn import ir
from edge_rnn.errors import EdgeRnnError

POOL_CLASSES = {"MaxPooling1D": "max", "AveragePooling1D": "average"}
GLOBAL_POOL_CLASSES = {"GlobalMaxPooling1D": "max", "GlobalAveragePooling1D": "average"}
AFFINE_CLASSES = ("Normalization", "Rescaling", "BatchNormalization")


@dataclass
class Check:
    """Collects every problem before raising, so the user fixes them all in one go."""

    source: str
    problems: list[str] = field(default_factory=list)

    def add(self, layer: str, message: str) -> None:
        self.problems.append(f"layer '{layer}': {message}")

    def raise_if_any(self) -> None:
        if self.problems:
            count = len(self.problems)
            raise EdgeRnnError(
                f"{self.source}: {count} unsupported feature{'s' if count > 1 else ''}: "
                + "; ".join(self.problems)
            )


def activation_name(
    layer: Any, key: str, check: Check, allowed: tuple[str, ...] = ir.ACTIVATIONS
) -> str:
    value = layer.get_config().get(key)
    if isinstance(value, str) and value in allowed:
        return value
    check.add(layer.name, f"{key}={value!r} is not supported; use one of {', '.join(allowed)}")
    return "linear"


# keras.activations.leaky_relu's slope: what activation="leaky_relu" computes
LEAKY_RELU_SLOPE = 0.2


def activation(
    layer: Any, check: Check, allowed: tuple[str, ...] = ir.ACTIVATIONS
) -> dict[str, Any]:
    """The IR fields `activation` and `leaky` of a Dense/Conv1D/Activation layer."""
    name = activation_name(layer, "activation", check, allowed)
    leaky = ir.LeakyRelu(LEAKY_RELU_SLOPE) if name == "leaky_relu" else None
    return {"activation": name, "leaky": leaky}


def relu_family(
    negative_slope: float, max_value: float | None, threshold: float
) -> tuple[str, ir.LeakyRelu | None]:
    """Keras relu(x, negative_slope, max_value, threshold) as an IR activation: relu, relu6,
    or leaky_relu with its parameters."""
    if negative_slope == 0 and threshold == 0 and max_value in (None, 6):
        return ("relu" if max_value is None else "relu6"), None
    args = (float(negative_slope), None if max_value is None else float(max_value))
    return "leaky_relu", ir.LeakyRelu(*args, float(threshold))


def _per_feature(layer: Any, what: str, values: Any, size: int, check: Check) -> np.ndarray:
    flat = np.asarray(values, np.float32).reshape(-1)
    if flat.size == 1:
        return np.full(size, flat[0], np.float32)
    if flat.size != size:
        check.add(layer.name, f"{what} has {flat.size} values for {size} features")
        return np.zeros(size, np.float32)
    return flat


def _last_axis(layer: Any, axis: Any, rank: int, check: Check) -> None:
    """Statistics per feature (or one for all: axis None) are what an affine map can hold."""
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    if axes in ((), (None,)):
        return
    if len(axes) != 1 or axes[0] not in (-1, rank - 1):
        check.add(layer.name, f"axis={axis!r}: only the feature (last) axis is supported")


def affine(layer: Any, steps: int, size: int, check: Check) -> ir.AffineLayer:
    """y = x * scale + offset with the float32 constants Keras itself computes."""
    kind = type(layer).__name__
    config = layer.get_config()
    rank = 3 if steps else 2
    if kind == "Normalization":
        _last_axis(layer, config.get("axis"), rank, check)
        if config.get("invert"):
            check.add(layer.name, "Normalization(invert=True) is not supported")
        mean = _per_feature(layer, "mean", layer.mean, size, check)
        variance = _per_feature(layer, "variance", layer.variance, size, check)
        scale = np.float32(1.0) / np.maximum(np.sqrt(variance), np.float32(1e-7))
        offset = -mean * scale
    elif kind == "Rescaling":
        scale = _per_feature(layer, "scale", config.get("scale", 1.0), size, check)
        offset = _per_feature(layer, "offset", config.get("offset", 0.0), size, check)
    else:  # BatchNormalization at inference: moving statistics
        _last_axis(layer, config.get("axis"), rank, check)
        epsilon = np.float32(config.get("epsilon", 1e-3))
        variance = np.asarray(layer.moving_variance, np.float32)
        scale = np.float32(1.0) / np.sqrt(variance + epsilon)
        if layer.gamma is not None:
            scale = scale * np.asarray(layer.gamma, np.float32)
        offset = -np.asarray(layer.moving_mean, np.float32) * scale
        if layer.beta is not None:
            offset = offset + np.asarray(layer.beta, np.float32)
    return ir.AffineLayer(
        layer.name, size, np.asarray(scale, np.float32), np.asarray(offset, np.float32)
    )


def _one(value: Any) -> int:
    return int(value[0] if isinstance(value, (list, tuple)) else value)


def _channels_last(layer: Any, check: Check) -> None:
    data_format = layer.get_config().get("data_format", "channels_last")
    if data_format not in (None, "channels_last"):
        check.add(layer.name, f"data_format={data_format!r}: only channels_last is supported")


def _needs_sequence(layer: Any, steps: int, check: Check) -> bool:
    if steps:
        return True
    check.add(layer.name, f"{type(layer).__name__} needs a sequence input (steps, features)")
    return False


def _window_options(layer: Any, check: Check, allowed: tuple[str, ...]) -> dict[str, Any]:
    """Conv1D/DepthwiseConv1D/SeparableConv1D options: the keyword arguments their IR layers
    share."""
    config = layer.get_config()
    _channels_last(layer, check)
    padding = str(config.get("padding", "valid"))
    if padding not in ir.CONV_PADDINGS:
        check.add(layer.name, f"padding={padding!r}: use one of {', '.join(ir.CONV_PADDINGS)}")
    return {
        "kernel_size": _one(config["kernel_size"]),
        "strides": _one(config.get("strides", 1)),
        "dilation": _one(config.get("dilation_rate", 1)),
        "padding": padding,
        **activation(layer, check, allowed),
    }


def _fits(layer: Any, converted: Any, steps: int, check: Check) -> None:
    if converted.output_shape(steps)[0] < 1:
        check.add(layer.name, f"{steps} input steps are fewer than the kernel spans")


def conv1d(layer: Any, steps: int, size: int, check: Check) -> ir.Conv1DLayer | None:
    if not _needs_sequence(layer, steps, check):
        return None
    config = layer.get_config()
    if int(config.get("groups", 1)) != 1:
        check.add(layer.name, "grouped Conv1D (groups > 1) is not supported")
    use_bias = bool(config.get("use_bias", True))
    weights = [np.asarray(w, np.float32) for w in layer.get_weights()]
    converted = ir.Conv1DLayer(
        name=layer.name,
        filters=int(config["filters"]),
        input_size=size,
        use_bias=use_bias,
        kernel=weights[0],
        bias=weights[1] if use_bias else None,
        **_window_options(layer, check, ir.ACTIVATIONS),
    )
    _fits(layer, converted, steps, check)
    return converted


# a per-channel softmax over one value would be 1: no model means it
_DEPTHWISE_ACTIVATIONS = tuple(a for a in ir.ACTIVATIONS if a != "softmax")


def depthwise_conv1d(
    layer: Any, steps: int, size: int, check: Check
) -> ir.DepthwiseConv1DLayer | None:
    if not _needs_sequence(layer, steps, check):
        return None
    config = layer.get_config()
    use_bias = bool(config.get("use_bias", True))
    weights = [np.asarray(w, np.float32) for w in layer.get_weights()]
    converted = ir.DepthwiseConv1DLayer(
        name=layer.name,
        input_size=size,
        depth_multiplier=int(config.get("depth_multiplier", 1)),
        use_bias=use_bias,
        kernel=weights[0],
        bias=weights[1] if use_bias else None,
        **_window_options(layer, check, _DEPTHWISE_ACTIVATIONS),
    )
    _fits(layer, converted, steps, check)
    return converted


def separable_conv1d(
    layer: Any, steps: int, size: int, check: Check
) -> tuple[ir.DepthwiseConv1DLayer, ir.DenseLayer] | None:
    """SeparableConv1D = its depthwise half (linear, no bias) and a per-step Dense with its
    pointwise kernel, bias and activation (what Keras computes, in that order)."""
    if not _needs_sequence(layer, steps, check):
        return None
    config = layer.get_config()
    use_bias = bool(config.get("use_bias", True))
    weights = [np.asarray(w, np.float32) for w in layer.get_weights()]
    options = _window_options(layer, check, ir.ACTIVATIONS)
    depthwise = ir.DepthwiseConv1DLayer(
        name=f"{layer.name}_depthwise",
        input_size=size,
        depth_multiplier=int(config.get("depth_multiplier", 1)),
        use_bias=False,
        kernel=weights[0],
        bias=None,
        **dict(options, activation="linear", leaky=None),
    )
    _fits(layer, depthwise, steps, check)
    pointwise = weights[1].reshape(weights[1].shape[-2:])  # (1, in * multiplier, filters)
    dense = ir.DenseLayer(
        layer.name,
        int(config["filters"]),
        depthwise.output_size,
        options["activation"],
        use_bias,
        True,
        pointwise,
        weights[2] if use_bias else None,
        options["leaky"],
    )
    return depthwise, dense


def time_pad(layer: Any, steps: int, size: int, check: Check) -> ir.TimePadLayer | None:
    """ZeroPadding1D (zero steps before/after) and Cropping1D (steps dropped), as one signed
    amount per end."""
    if not _needs_sequence(layer, steps, check):
        return None
    _channels_last(layer, check)
    crop = type(layer).__name__ == "Cropping1D"
    amounts = layer.get_config()["cropping" if crop else "padding"]
    before, after = (amounts, amounts) if isinstance(amounts, int) else amounts
    sign = -1 if crop else 1
    converted = ir.TimePadLayer(layer.name, size, sign * int(before), sign * int(after))
    if converted.output_shape(steps)[0] < 1:
        check.add(layer.name, f"cropping {before}+{after} steps leaves none of {steps}")
    return converted


def pooling(layer: Any, steps: int, size: int, check: Check) -> ir.PoolingLayer | None:
    if not _needs_sequence(layer, steps, check):
        return None
    config = layer.get_config()
    _channels_last(layer, check)
    pool_size = _one(config["pool_size"])
    strides = config.get("strides")
    padding = str(config.get("padding", "valid"))
    if padding not in ir.POOL_PADDINGS:
        check.add(layer.name, f"padding={padding!r}: use one of {', '.join(ir.POOL_PADDINGS)}")
    converted = ir.PoolingLayer(
        layer.name,
        size,
        POOL_CLASSES[type(layer).__name__],
        pool_size,
        _one(strides) if strides else pool_size,
        padding,
    )
    if converted.output_shape(steps)[0] < 1:
        check.add(layer.name, f"{steps} input steps are fewer than pool_size={pool_size}")
    return converted


def global_pooling(layer: Any, steps: int, size: int, check: Check) -> ir.GlobalPoolingLayer:
    _needs_sequence(layer, steps, check)
    _channels_last(layer, check)
    if layer.get_config().get("keepdims"):
        check.add(layer.name, "keepdims=True is not supported (the output is one vector)")
    return ir.GlobalPoolingLayer(layer.name, size, GLOBAL_POOL_CLASSES[type(layer).__name__])


def reshape(layer: Any, steps: int, size: int, check: Check) -> ir.ReshapeLayer | None:
    """Flatten, or Reshape to (n,) or (steps, size): the values keep their order."""
    total = max(steps, 1) * size
    if type(layer).__name__ == "Flatten":
        return ir.ReshapeLayer(layer.name, 0, total)
    target = [int(v) for v in layer.get_config()["target_shape"]]
    if target.count(-1) == 1:
        known = int(np.prod([v for v in target if v != -1]))
        target[target.index(-1)] = total // known if known and total % known == 0 else 0
    if len(target) not in (1, 2) or int(np.prod(target)) != total or min(target) < 1:
        check.add(
            layer.name,
            f"target_shape {tuple(layer.get_config()['target_shape'])} of {total} values: "
            "only (n,) or (steps, features) is supported",
        )
        return None
    return ir.ReshapeLayer(layer.name, target[0] if len(target) == 2 else 0, target[-1])
