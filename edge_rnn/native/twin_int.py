"""numpy twin of the full-integer C kernels (firmware_templates/native/ern_int.c), bit for bit.

Every function mirrors its C namesake on int64 arrays; values stay within the int32/int16
ranges that the C code uses (the generator checks the accumulator bounds). The activation
tables are read from the C source so both sides always use the same numbers. A `probe` gets
the quantities `twin.float_forward` records, under the same keys and in the same order, with
their Q format (for the error localization, edge_rnn/validate/localize_native.py).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable

import numpy as np

from edge_rnn.native.lower import (
    BOUNDED,
    ActivationStage,
    BidirectionalStage,
    DepthwiseStage,
    GlobalPoolStage,
    PoolStage,
    ReshapeStage,
    TimePadStage,
)
from edge_rnn.native.quantize import (
    INDEX_Q,
    PRE_Q,
    RELU6_Q,
    QCell,
    QCellStage,
    QConvStage,
    QDenseStage,
    QLayerNormStage,
    QLeaky,
    QPassStage,
    QPlan,
    QRows,
    QStage,
)
from edge_rnn.native.twin import channel_taps, gather_windows, time_pad
from edge_rnn.resources import FIRMWARE_DIR

I64 = np.int64
Probe = Callable[[str, np.ndarray, int], None]  # key, int16 values, their Q format


def _tell(probe: Probe | None, key: str, value: np.ndarray, q: int) -> None:
    if probe is not None:
        probe(key, value, q)


@functools.lru_cache(maxsize=1)
def tables() -> dict[str, np.ndarray]:
    text = (FIRMWARE_DIR / "native" / "ern_tables.c").read_text(encoding="utf-8")
    found = {}
    for name, body in re.findall(r"const u?int16_t (ern_\w+)\[\w+\] = \{([^}]*)\}", text):
        # every entry, including those a size-layout build leaves out (#if lines)
        data = " ".join(line for line in body.splitlines() if not line.lstrip().startswith("#"))
        values = [int(v) for v in data.split(",") if v.strip()]
        found[name] = np.array(values, I64)
    return found


def sat16(v: np.ndarray) -> np.ndarray:
    return np.clip(v, -32768, 32767)


def q_shift(v: np.ndarray, s) -> np.ndarray:
    v = np.asarray(v, I64)
    s = np.asarray(s, I64)
    right = (v + np.left_shift(1, np.maximum(s - 1, 0))) >> np.maximum(s, 0)
    left = v * np.left_shift(1, np.maximum(-s, 0))
    return sat16(np.where(s > 0, right, left))


def _interp(table: np.ndarray, u: np.ndarray, bits: int) -> np.ndarray:
    i = np.minimum(u >> bits, 511)  # clamped indices are never selected by the callers
    f = u & ((1 << bits) - 1)
    t0 = table[i]
    return t0 + (((table[i + 1] - t0) * f + (1 << (bits - 1))) >> bits)


def act_at(k: np.ndarray, act: str) -> np.ndarray:
    """sigmoid/tanh (Q15) of the floor index k of the input in Q INDEX_Q[act] (ern_int.c
    act_at): one table of sigmoid at the middle of each Q8 step, tanh(x) = 2 sigmoid(2x) - 1."""
    t = tables()["ern_sigmoid_q15"][np.clip(np.asarray(k, I64), -2048, 2047) + 2048]
    return 2 * t - 32768 if act == "tanh" else t


def q_tanh(x: np.ndarray) -> np.ndarray:
    return act_at(np.asarray(x, I64) >> (PRE_Q - INDEX_Q["tanh"]), "tanh")


def q_sigmoid(x: np.ndarray) -> np.ndarray:
    return act_at(np.asarray(x, I64) >> (PRE_Q - INDEX_Q["sigmoid"]), "sigmoid")


def q_hard_sigmoid(x: np.ndarray) -> np.ndarray:
    v = x + 6144
    return np.where(v <= 0, 0, np.minimum((v * 43691 + 8192) >> 14, 32767))


def q_exp_neg(x: np.ndarray) -> np.ndarray:
    u = -x
    return np.where(u >= 512 << 6, 0, _interp(tables()["ern_exp_table"], np.minimum(u, 32767), 6))


def q_act(p: np.ndarray, act: str) -> np.ndarray:
    if act == "tanh":
        return q_tanh(p)
    if act == "sigmoid":
        return q_sigmoid(p)
    if act == "hard_sigmoid":
        return q_hard_sigmoid(p)
    if act == "relu":
        return np.maximum(p, 0)
    if act == "relu6":
        return np.clip(p, 0, 6 << RELU6_Q)
    return p


def requant(acc: np.ndarray, mult: np.ndarray, shift: np.ndarray) -> np.ndarray:
    hi = (acc * mult + (1 << 31)) >> 32
    return q_shift(hi, shift)


def q_leaky_relu(v: np.ndarray, lk: QLeaky) -> np.ndarray:
    """ern_q_leaky_run."""
    v = np.asarray(v, I64)
    below = requant((v - lk.threshold) * 32768, np.asarray(lk.mult, I64), np.asarray(lk.shift, I64))
    return np.where(v > lk.threshold, np.minimum(v, lk.max), below)


def index_requant(acc: np.ndarray, mult: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """The table index floor(acc * mult / 2^(32 + shift)) (ern_q_index; act_at saturates)."""
    return (np.asarray(acc, I64) * mult) >> (32 + np.asarray(shift, I64))


def rows_out(acc: np.ndarray, rows: QRows, r0: int, r1: int, act: str) -> np.ndarray:
    """Outputs of rows r0:r1 of a cell (ern_int.c row_out)."""
    mult, shift = rows.mult[r0:r1], rows.shift[r0:r1]
    if act in INDEX_Q:
        return act_at(index_requant(acc, mult, shift), act)
    return q_act(requant(acc, mult, shift), act)


def q_softmax(v: np.ndarray) -> np.ndarray:
    d = np.maximum(v - v.max(axis=-1, keepdims=True), -32768)
    e = q_exp_neg(d)
    total = e.sum(axis=-1, keepdims=True)
    return np.minimum((e * 32768 + total // 2) // total, 32767)


def _rows(rows: QRows, v: np.ndarray, r0: int, r1: int, c0: int, c1: int, acc=None):
    """bias (or acc) + W[r0:r1, c0:c1] . v, as int64 sums."""
    base = acc if acc is not None else (0 if rows.bias is None else rows.bias[r0:r1].astype(I64))
    return base + v @ rows.wq[r0:r1, c0:c1].astype(I64).T


def _gates(qc: QCell, xh: np.ndarray, gate: int, act: str) -> np.ndarray:
    u, k = qc.cell.layer.units, qc.in_pad + qc.units_pad
    r0, r1 = gate * u, (gate + 1) * u
    return rows_out(_rows(qc.rows, xh, r0, r1, 0, k), qc.rows, r0, r1, act)


def cell_step(
    qc: QCell, xh: np.ndarray, c: np.ndarray, probe: Probe | None = None, key: str = ""
) -> np.ndarray:
    """One step on xh (N, in_pad + units_pad), updated in place; returns the new c."""
    layer = qc.cell.layer
    u, ip = layer.units, qc.in_pad
    acts = qc.cell.gate_activations()
    h = xh[:, ip : ip + u]
    if layer.cell == "lstm":
        i, f, g, o = (_gates(qc, xh, n, acts[n]) for n in range(4))
        c = sat16(((f * c + (1 << 14)) >> 15) + q_shift(i * g, 15 + qc.q_g - qc.q_c))
        if layer.activation in INDEX_Q:
            sh = qc.q_c - INDEX_Q[layer.activation]
            a = act_at(c >> sh if sh >= 0 else c << -sh, layer.activation)
        elif layer.activation in BOUNDED:
            a = q_act(q_shift(c, qc.q_c - PRE_Q), layer.activation)
        else:
            a = q_act(c, layer.activation)
        for name, value, q in (("i", i, 15), ("f", f, 15), ("g", g, qc.q_g), ("o", o, 15)):
            _tell(probe, f"{key}.{name}", value, q)
        _tell(probe, key + ".c", c, qc.q_c)
        _tell(probe, key + ".a", a, qc.q_a)
        xh[:, ip : ip + u] = q_shift(o * a, 15 + qc.q_a - qc.q_v)
    elif layer.cell == "gru":
        z, r = _gates(qc, xh, 0, acts[0]), _gates(qc, xh, 1, acts[1])
        _tell(probe, key + ".z", z, 15)
        _tell(probe, key + ".r", r, 15)
        r0, r1, k = 2 * u, 3 * u, ip + qc.units_pad
        acc = _rows(qc.rows, xh[:, :ip], r0, r1, 0, ip)
        if layer.reset_after:
            rb = 0 if qc.rbias is None else qc.rbias.astype(I64)
            inner = _rows(qc.rows, xh[:, ip:k], r0, r1, ip, k, acc=rb)
            acc = acc + ((inner * r + (1 << 14)) >> 15)
        else:
            rh = np.zeros((xh.shape[0], qc.units_pad), I64)
            rh[:, :u] = (r * h + (1 << 14)) >> 15
            acc = _rows(qc.rows, rh, r0, r1, ip, k, acc=acc)
        hh = rows_out(acc, qc.rows, r0, r1, layer.activation)
        _tell(probe, key + ".g", hh, qc.q_g)
        hh = q_shift(hh, qc.q_g - qc.q_v)
        xh[:, ip : ip + u] = (z * h + (32768 - z) * hh + (1 << 14)) >> 15
    else:
        g = _gates(qc, xh, 0, acts[0])
        _tell(probe, key + ".g", g, qc.q_g)
        xh[:, ip : ip + u] = q_shift(g, qc.q_g - qc.q_v)
    return c


def run_cell(
    qc: QCell,
    xs: np.ndarray,
    q_in: int,
    keep: np.ndarray | None = None,
    probe: Probe | None = None,
    key: str = "",
) -> np.ndarray:
    """Hidden states (N, T, units) in processing order; xs in Q q_in. keep (N, T): False
    where Masking skips the step (state and output carry over)."""
    n, steps, n_in = xs.shape
    u = qc.cell.layer.units
    xh = np.zeros((n, qc.in_pad + qc.units_pad), I64)
    c = np.zeros((n, u), I64)
    order = range(steps - 1, -1, -1) if qc.cell.layer.go_backwards else range(steps)
    outs = []
    for t in order:
        new = xh.copy()
        new[:, :n_in] = q_shift(xs[:, t], q_in - qc.q_v)
        _tell(probe, key + ".x", new[:, :n_in].copy(), qc.q_v)
        c_new = cell_step(qc, new, c, probe, key)
        live = np.ones((n, 1), bool) if keep is None else keep[:, t, None]
        xh, c = np.where(live, new, xh), np.where(live, c_new, c)
        _tell(probe, key + ".h", xh[:, qc.in_pad : qc.in_pad + u].copy(), qc.q_v)
        outs.append(xh[:, qc.in_pad : qc.in_pad + u].copy())
    return np.stack(outs, axis=1)


def q_merge(mode: str, a, qa: int, b, qb: int, qm: int) -> np.ndarray:
    if mode == "concat":
        return np.concatenate([q_shift(a, qa - qm), q_shift(b, qb - qm)], axis=-1)
    if mode == "mul":
        return q_shift(a * b, qa + qb - qm)
    s = q_shift(a, qa - qm) + q_shift(b, qb - qm)
    return (s + 1) >> 1 if mode == "ave" else sat16(s)


def quantize_input(x_norm: np.ndarray, q: int) -> np.ndarray:
    """Mirror of the generated input conversion (ern_q_round): float32 scaling, then exactly
    round half away from zero and saturate, from t = trunc(2 v) as (t + (t >= 0)) >> 1."""
    v = np.asarray(x_norm, np.float32) * np.float32(2.0**q)
    v = np.clip(v, np.float32(-32768.0), np.float32(32767.0))
    t = np.trunc(v + v).astype(I64)
    return (t + (t >= 0)) >> 1


def lookup(wq: np.ndarray, mult: np.ndarray, shift: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The generated int8 Embedding lookup (`embedding_rows`): token ids (N, T[, 1]) -> rows
    in the input Q (N, T, dim), zeros for ids outside the vocabulary."""
    ids = np.asarray(ids).reshape(len(ids), -1).astype(I64)
    inside = (ids >= 0) & (ids < len(wq))
    safe = np.where(inside, ids, 0)
    rows = requant(wq[safe].astype(I64) << 16, mult[safe][..., None], shift[safe][..., None])
    return np.where(inside[..., None], rows, 0)


def dense(qs: QDenseStage, v: np.ndarray, probe: Probe | None = None, key: str = "") -> np.ndarray:
    pad = np.zeros(v.shape[:-1] + (qs.in_pad,), I64)
    pad[..., : qs.stage.in_size] = v
    return _dense_out(qs, _rows(qs.rows, pad, 0, qs.stage.out_size, 0, qs.in_pad), probe, key)


def depthwise(qs: QConvStage, v: np.ndarray, probe: Probe | None, key: str) -> np.ndarray:
    """ern_q_depthwise_run: each output's taps times its own int8 row, its bias, then as Dense."""
    assert isinstance(qs.stage, DepthwiseStage)
    rows = qs.rows.rows
    taps = qs.stage.kernel_size
    acc = (channel_taps(qs.stage, v) * rows.wq[:, :taps].astype(I64)).sum(axis=-1)
    if rows.bias is not None:
        acc = acc + rows.bias.astype(I64)
    return _dense_out(qs.rows, acc, probe, key)


def _dense_out(qs: QDenseStage, acc: np.ndarray, probe: Probe | None, key: str) -> np.ndarray:
    act = qs.stage.activation
    y = requant(acc, qs.rows.mult, qs.rows.shift)
    _tell(probe, key + ".out", y, PRE_Q if act in (*BOUNDED, "softmax") else qs.q_out)
    y = q_act(y, "linear" if act == "softmax" else act)
    if qs.leaky is not None:
        return q_leaky_relu(y, qs.leaky)
    return q_softmax(y) if act == "softmax" else y


def _average(total: np.ndarray, count: np.ndarray | np.int64) -> np.ndarray:
    """Round half away from zero, as ern_q_pool."""
    half = count // 2
    return np.where(total >= 0, (total + half) // count, -((half - total) // count))


def act_run(v: np.ndarray, act: str, q_in: int) -> np.ndarray:
    if act in ("linear", "relu"):
        return q_act(v, act)
    v = q_shift(v, q_in - (RELU6_Q if act == "relu6" else PRE_Q))
    return q_softmax(v) if act == "softmax" else q_act(v, act)


def _pass(
    qs: QPassStage, v: np.ndarray, probe: Probe | None, key: str, keep: np.ndarray | None
) -> np.ndarray:
    """keep (N, T): the steps a masked global average pools (all without a mask)."""
    stage = qs.stage
    if isinstance(stage, ActivationStage):
        _tell(probe, key + ".out", v, qs.q_in)
        if qs.leaky is not None:
            return q_leaky_relu(v, qs.leaky)
        return act_run(v, stage.activation, qs.q_in)
    if isinstance(stage, ReshapeStage):
        shape = (stage.steps_out, stage.out_size) if stage.steps_out else (stage.out_size,)
        return v.reshape(len(v), *shape)
    if isinstance(stage, TimePadStage):
        return time_pad(stage, v)
    if isinstance(stage, GlobalPoolStage):
        if stage.pool == "max":
            return v.max(axis=1)
        live = np.ones(v.shape[:2], bool) if keep is None else keep
        count = live.sum(axis=1, keepdims=True).astype(I64)
        total = np.where(live[:, :, None], v, 0).sum(axis=1)
        return np.where(count > 0, _average(total, np.maximum(count, 1)), 0)  # as ern_q_mean
    assert isinstance(stage, PoolStage)
    steps = stage.window_steps()
    inside = ((steps >= 0) & (steps < v.shape[1]))[None, :, :, None]
    taps = gather_windows(v, steps)
    if stage.pool == "max":
        return np.where(inside, taps, np.iinfo(I64).min).max(axis=2)
    return _average(taps.sum(axis=2), inside.sum(axis=2).astype(I64))


def layer_norm(qs: QLayerNormStage, v: np.ndarray) -> np.ndarray:
    """ern_q_layer_norm over the last axis: exact deviations d = n * x - sum, their int64 sum
    of squares over n plus n^2 epsilon, normalized into [2^60, 2^62) by an even shift 2e,
    floor sqrt s, r = 2^61 // s, z = d * r in Q16, then gamma and beta."""
    n = v.shape[-1]
    d = n * v - v.sum(axis=-1, keepdims=True)
    var = ((d * d).sum(axis=-1, keepdims=True) + n // 2) // n + qs.eps
    e = np.zeros_like(var)
    while np.any(var < 2**60):
        low = var < 2**60
        var = np.where(low, var << 2, var)
        e = e + low
    r = (1 << 61) // np.vectorize(math.isqrt, otypes=[I64])(var)
    sh = 45 - e
    z = (d * r + np.left_shift(1, sh - 1)) >> sh
    k = 16 + qs.q_g - qs.q_out
    return sat16(((z * qs.gamma + (1 << (k - 1))) >> k) + qs.beta)


def _other_stage(
    qs: QStage, v: np.ndarray, probe: Probe | None, key: str, keep: np.ndarray | None = None
) -> np.ndarray:
    """Every stage but the recurrent ones."""
    if isinstance(qs, QDenseStage):
        return dense(qs, v, probe, key)
    if isinstance(qs, QConvStage) and isinstance(qs.stage, DepthwiseStage):
        return depthwise(qs, v, probe, key)
    if isinstance(qs, QConvStage):
        cols = gather_windows(v, qs.stage.window_steps())
        return dense(qs.rows, cols.reshape(cols.shape[0], cols.shape[1], -1), probe, key)
    if isinstance(qs, QPassStage):
        return _pass(qs, v, probe, key, keep)
    assert isinstance(qs, QLayerNormStage)
    return layer_norm(qs, v)


def int_forward(
    plan: QPlan, xq: np.ndarray, keep: np.ndarray | None = None, probe: Probe | None = None
) -> np.ndarray:
    """Raw int16 model outputs for quantized windows xq (N, T, F) in Q plan.q_in; keep
    (N, T): the steps a Masking model does not skip (its recurrent layers skip the others)."""
    v = np.asarray(xq, I64)
    _tell(probe, "input", v, plan.q_in)
    for index, qs in enumerate(plan.stages):
        key = str(index)
        if not isinstance(qs, QCellStage):
            v = _other_stage(qs, v, probe, key, keep)
            _tell(probe, key + ".y", v, qs.q_out)
            continue
        stage = qs.stage
        outs = [
            run_cell(qc, v, qs.q_in, keep, probe, f"{key}.{d}") for d, qc in enumerate(qs.cells)
        ]
        if isinstance(stage, BidirectionalStage):
            (fwd, bwd), (qa, qb) = outs, (qs.cells[0].q_v, qs.cells[1].q_v)
            if stage.seq_out:
                v = q_merge(stage.merge, fwd, qa, bwd[:, ::-1], qb, qs.q_out)
            else:
                v = q_merge(stage.merge, fwd[:, -1], qa, bwd[:, -1], qb, qs.q_out)
            _tell(probe, key + ".m", v, qs.q_out)
        else:
            v = outs[0] if stage.seq_out else outs[0][:, -1]
    return v
