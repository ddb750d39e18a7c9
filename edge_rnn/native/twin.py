"""numpy reference of the float C kernels (float32 and int8w), also used for calibration.

`float_forward` runs the lowered stages on normalized windows exactly as the C code orders
them (Keras semantics); with `stats` it records the largest magnitude of every quantity the
integer mode needs a Q format for (keys like "2.0.h": stage 2, direction 0, hidden state).
`stats` may instead be a callable that gets every recorded value (per time step for the
cells), in the order the integer twin (`twin_int`) reports the same keys: the error
localization compares the two (edge_rnn/validate/localize_native.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from edge_rnn.ir import LeakyRelu
from edge_rnn.native.lower import (
    ActivationStage,
    BidirectionalStage,
    Cell,
    ConvStage,
    DenseStage,
    DepthwiseStage,
    GlobalPoolStage,
    LayerNormStage,
    PoolStage,
    RecurrentStage,
    ReshapeStage,
    Stage,
    TimePadStage,
)


def activate(x: np.ndarray, act: str, leaky: LeakyRelu | None = None) -> np.ndarray:
    if leaky is not None:  # act "leaky_relu"
        return leaky_relu(x, leaky)
    if act == "tanh":
        return np.tanh(x)
    if act == "sigmoid":
        return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)
    if act == "hard_sigmoid":
        return np.clip((x + np.float32(3.0)) / np.float32(6.0), 0.0, 1.0).astype(np.float32)
    if act == "relu":
        return np.maximum(x, np.float32(0.0))
    if act == "relu6":
        return np.clip(x, np.float32(0.0), np.float32(6.0))
    if act == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
    if act in SMOOTH:
        return SMOOTH[act](x.astype(np.float32)).astype(np.float32)
    return x


SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805
# Keras 3 semantics (ern_f_activate computes the same in float32)
SMOOTH: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "gelu": lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2.0))),
    "softplus": lambda x: np.logaddexp(0, x),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "hard_silu": lambda x: x * np.clip((x + 3) / 6, 0, 1),
}


def leaky_relu(x: np.ndarray, leaky: LeakyRelu) -> np.ndarray:
    """Keras relu(x, negative_slope, max_value, threshold) in float32 (ern_f_leaky_relu)."""
    above = x if leaky.max_value is None else np.minimum(x, np.float32(leaky.max_value))
    below = np.float32(leaky.negative_slope) * (x - np.float32(leaky.threshold))
    return np.where(x > np.float32(leaky.threshold), above, below).astype(np.float32)


Stats = dict[str, float] | Callable[[str, np.ndarray], None]


def _record(stats: Stats | None, key: str, value: np.ndarray) -> None:
    if stats is None or not value.size:
        return
    if callable(stats):
        stats(key, value)
    else:
        stats[key] = max(stats.get(key, 0.0), float(np.max(np.abs(value))))


def _cell_step(cell: Cell, x: np.ndarray, h: np.ndarray, c: np.ndarray, stats, key: str):
    layer, u = cell.layer, cell.layer.units
    n_in = layer.input_size
    w = cell.w
    bias = cell.bias if cell.bias is not None else np.zeros(cell.rows, np.float32)
    xh = np.concatenate([x, h], axis=1)
    if layer.cell == "lstm":
        pre = xh @ w.T + bias
        i = activate(pre[:, :u], layer.recurrent_activation)
        f = activate(pre[:, u : 2 * u], layer.recurrent_activation)
        g = activate(pre[:, 2 * u : 3 * u], layer.activation)
        o = activate(pre[:, 3 * u :], layer.recurrent_activation)
        c = f * c + i * g
        a = activate(c, layer.activation)
        h = o * a
        for name, value in (("i", i), ("f", f), ("g", g), ("o", o), ("c", c), ("a", a)):
            _record(stats, f"{key}.{name}", value)
    elif layer.cell == "gru":
        zr = activate(xh @ w[: 2 * u].T + bias[: 2 * u], layer.recurrent_activation)
        z, r = zr[:, :u], zr[:, u:]
        _record(stats, key + ".z", z)
        _record(stats, key + ".r", r)
        wh = w[2 * u :]
        xpart = x @ wh[:, :n_in].T + bias[2 * u :]
        if layer.reset_after:
            rb = cell.rbias if cell.rbias is not None else np.float32(0.0)
            hpart = r * (h @ wh[:, n_in:].T + rb)
        else:
            hpart = (r * h) @ wh[:, n_in:].T
        hh = activate(xpart + hpart, layer.activation)
        _record(stats, key + ".g", hh)
        h = z * h + (np.float32(1.0) - z) * hh
    else:
        h = activate(xh @ w.T + bias, layer.activation)
        _record(stats, key + ".g", h)
    return h.astype(np.float32), c.astype(np.float32)


def run_cell(
    cell: Cell, xs: np.ndarray, stats=None, key: str = "", keep: np.ndarray | None = None
) -> np.ndarray:
    """Outputs (N, T, units) in processing order (reversed time for go_backwards). keep
    (N, T): False where Masking skips the step (state and output carry over)."""
    n, steps = xs.shape[:2]
    u = cell.layer.units
    h = np.zeros((n, u), np.float32)
    c = np.zeros((n, u), np.float32)
    order = range(steps - 1, -1, -1) if cell.layer.go_backwards else range(steps)
    outs = []
    for t in order:
        _record(stats, key + ".x", xs[:, t])
        h_new, c_new = _cell_step(cell, xs[:, t], h, c, stats, key)
        live = np.ones((n, 1), bool) if keep is None else keep[:, t, None]
        h, c = np.where(live, h_new, h), np.where(live, c_new, c)
        _record(stats, key + ".h", h)
        outs.append(h)
    return np.stack(outs, axis=1)


def merge(mode: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if mode == "concat":
        return np.concatenate([a, b], axis=-1)
    if mode == "sum":
        return a + b
    if mode == "ave":
        return (a + b) * np.float32(0.5)
    return a * b


def dense(stage: DenseStage, v: np.ndarray, stats, key: str) -> np.ndarray:
    return _dense_out(stage, v @ stage.w.T, stats, key)


def _dense_out(stage: DenseStage, products: np.ndarray, stats, key: str) -> np.ndarray:
    pre = products + (stage.bias if stage.bias is not None else np.float32(0.0))
    _record(stats, key + ".out", pre)
    return activate(pre.astype(np.float32), stage.activation, stage.leaky)


def channel_taps(stage: DepthwiseStage, v: np.ndarray) -> np.ndarray:
    """(N, T, F) -> (N, T_out, outputs, kernel_size): the taps each depthwise output reads
    (those of its input channel, output // multiplier)."""
    taps = gather_windows(v, stage.window_steps())  # (N, T_out, kernel_size, F)
    return np.repeat(taps, stage.multiplier, axis=3).transpose(0, 1, 3, 2)


def gather_windows(v: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """(N, T, F) -> (N, T_out, taps, F), zeros where a tap falls outside [0, T)."""
    inside = (steps >= 0) & (steps < v.shape[1])
    out = v[:, np.clip(steps, 0, v.shape[1] - 1)]
    return np.where(inside[None, :, :, None], out, np.float32(0.0)).astype(v.dtype)


def time_pad(stage: TimePadStage, v: np.ndarray) -> np.ndarray:
    """Each output step is one input step or zeros (any dtype)."""
    return gather_windows(v, stage.window_steps())[:, :, 0]


def pool(stage: PoolStage, v: np.ndarray) -> np.ndarray:
    """Max or average over the taps inside the sequence (padding is left out, as in TF)."""
    steps = stage.window_steps()
    inside = ((steps >= 0) & (steps < v.shape[1]))[None, :, :, None]
    taps = gather_windows(v, steps)
    if stage.pool == "max":
        return np.where(inside, taps, np.float32(-np.inf)).max(axis=2)
    total = np.zeros(taps.shape[:2] + taps.shape[3:], np.float32)
    for j in range(taps.shape[2]):  # in step order, as the C code adds
        total = total + taps[:, :, j]
    return (total / inside.sum(axis=2).astype(np.float32)).astype(np.float32)


def layer_norm(stage: LayerNormStage, v: np.ndarray) -> np.ndarray:
    """Over the last axis, in float32 as ern_f_layer_norm (mean, then the mean square)."""
    mean = v.mean(axis=-1, keepdims=True, dtype=np.float32)
    d = v - mean
    var = (d * d).mean(axis=-1, keepdims=True, dtype=np.float32)
    inv = np.float32(1.0) / np.sqrt(var + np.float32(stage.epsilon))
    return (d * inv * stage.gamma + stage.beta).astype(np.float32)


def global_average(v: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
    """GlobalAveragePooling1D over the kept steps (keep (N, T); all without a mask), summed in
    step order as the streamed C; 0 when a window keeps no step."""
    live = np.ones(v.shape[:2], bool) if keep is None else keep
    total = np.zeros((v.shape[0], v.shape[2]), np.float32)
    for t in range(v.shape[1]):
        total = np.where(live[:, t, None], total + v[:, t], total)
    count = live.sum(axis=1, keepdims=True).astype(np.float32)
    return np.where(count > 0, total / np.maximum(count, np.float32(1)), 0).astype(np.float32)


def _other_stage(
    stage: Stage, v: np.ndarray, stats, key: str, keep: np.ndarray | None = None
) -> np.ndarray:
    """Every stage but the recurrent ones (keep: the steps a masked average pools)."""
    if isinstance(stage, DenseStage):
        return dense(stage, v, stats, key)
    if isinstance(stage, ConvStage):
        cols = gather_windows(v, stage.window_steps())
        return dense(stage.rows, cols.reshape(cols.shape[0], cols.shape[1], -1), stats, key)
    if isinstance(stage, DepthwiseStage):
        products = (channel_taps(stage, v) * stage.rows.w).sum(axis=-1, dtype=np.float32)
        return _dense_out(stage.rows, products, stats, key)
    if isinstance(stage, PoolStage):
        return pool(stage, v)
    if isinstance(stage, TimePadStage):
        return time_pad(stage, v)
    if isinstance(stage, GlobalPoolStage):
        if stage.pool == "max":
            return v.max(axis=1)
        return global_average(v, keep)
    if isinstance(stage, ActivationStage):
        _record(stats, key + ".out", v)
        return activate(v, stage.activation, stage.leaky)
    if isinstance(stage, LayerNormStage):
        return layer_norm(stage, v)
    assert isinstance(stage, ReshapeStage)
    shape = (stage.steps_out, stage.out_size) if stage.steps_out else (stage.out_size,)
    return v.reshape(len(v), *shape)


def float_forward(
    stages: tuple[Stage, ...],
    x_norm: np.ndarray,
    stats: Stats | None = None,
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """Model outputs for normalized windows x_norm (N, T, F), float32; keep (N, T): the
    steps a Masking model does not skip (its recurrent layers skip the others, its global
    average pools only these)."""
    v = np.asarray(x_norm, np.float32)
    _record(stats, "input", v)
    for index, stage in enumerate(stages):
        key = str(index)
        if not isinstance(stage, (BidirectionalStage, RecurrentStage)):
            v = _other_stage(stage, v, stats, key, keep)
            _record(stats, key + ".y", v)
            continue
        outs = [run_cell(cell, v, stats, f"{key}.{d}", keep) for d, cell in enumerate(stage.cells)]
        if isinstance(stage, BidirectionalStage):
            fwd, bwd = outs
            if stage.seq_out:
                v = merge(stage.merge, fwd, bwd[:, ::-1])
            else:
                v = merge(stage.merge, fwd[:, -1], bwd[:, -1])
            _record(stats, key + ".m", v)
        else:
            v = outs[0] if stage.seq_out else outs[0][:, -1]
    return v.astype(np.float32)
