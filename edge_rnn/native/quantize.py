"""Quantization for the native backend.

int8w: int8 weights with one float scale per row (symmetric, max |w| -> 127).
int8 (full integer): the same weights padded to multiples of 4 columns, int16 activations in
power-of-two Q formats chosen from calibration ranges, int32 biases in accumulator units and
one (multiplier, shift) pair per row that maps the accumulator to the activation input: for
sigmoid/tanh rows the floor index into the activation table (INDEX_Q), for hard_sigmoid Q11,
for relu/linear/leaky_relu the output Q, for relu6 RELU6_Q (its output Q too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from edge_rnn.errors import EdgeRnnError
from edge_rnn.ir import LeakyRelu
from edge_rnn.native.lower import (
    BOUNDED,
    ActivationStage,
    BidirectionalStage,
    Cell,
    CellStage,
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
from edge_rnn.native.twin import float_forward

PRE_Q = 11  # Q of a pre-activation fed to a bounded activation (range +-16)
INDEX_Q = {"sigmoid": 8, "tanh": 9}  # Q of the activation table's floor index (ern_tables.c)
RELU6_Q = 12  # relu6 in and out (ERN_RELU6_Q): [0, 6] fits, inputs above 8 saturate
HEADROOM = 1.25  # calibrated ranges are widened by this factor before choosing a Q format
ACC_LIMIT = 2**31 - 2**24  # keep every int32 sum below this (checked per row)


def pad4(n: int) -> int:
    return (n + 3) // 4 * 4


def row_scales(w: np.ndarray) -> np.ndarray:
    scale = np.abs(w).max(axis=1) / 127.0
    return np.where(scale > 0, scale, 1.0).astype(np.float64)


def int8w_rows(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 weights and float32 per-row scales."""
    scale = row_scales(w)
    wq = np.clip(np.round(w / scale[:, None]), -127, 127).astype(np.int8)
    return wq, scale.astype(np.float32)


def int8w_values(w: np.ndarray) -> np.ndarray:
    """The float values of int8w rows: int8 weights times their row scale."""
    wq, scale = int8w_rows(w)
    return (wq.astype(np.float32) * scale[:, None]).astype(np.float32)


def int8w_stages(stages: tuple[Stage, ...]) -> tuple[Stage, ...]:
    """The stages with the weights the int8w C code computes with: with
    `twin.float_forward`, the twin of the int8w code."""
    out: list[Stage] = []
    for stage in stages:
        if isinstance(stage, DenseStage):
            stage = replace(stage, w=int8w_values(stage.w))
        elif isinstance(stage, (ConvStage, DepthwiseStage)):
            stage = replace(stage, rows=replace(stage.rows, w=int8w_values(stage.rows.w)))
        elif isinstance(stage, (RecurrentStage, BidirectionalStage)):
            stage = replace(
                stage, cells=tuple(replace(c, w=int8w_values(c.w)) for c in stage.cells)
            )
        out.append(stage)
    return tuple(out)


def q_format(max_abs: float) -> int:
    """Largest Q (<= 15) whose int16 range holds max_abs * HEADROOM."""
    if max_abs <= 0:
        return 15
    return int(max(0, min(15, math.floor(15 - math.log2(max_abs * HEADROOM)))))


def multiplier(real: float) -> tuple[int, int]:
    """(mult, shift) with mult in [2^30, 2^31) and real ~= mult / 2^(32 + shift)."""
    if real <= 0:
        return 0, 0
    mantissa, exponent = math.frexp(real)
    mult = int(round(mantissa * 2**31))
    if mult == 2**31:
        mult, exponent = 2**30, exponent + 1
    shift = -1 - exponent
    if shift > 30:  # the output rounds to zero anyway
        return 0, 0
    if shift < -15:
        raise EdgeRnnError(f"requantization factor {real:g} is too large for int8 mode")
    return mult, shift


def index_multiplier(real: float) -> tuple[int, int]:
    """(mult, shift) of a table index floor(acc * mult / 2^(32 + shift)): shift 0 (one SMMUL)
    unless real >= 1/2 needs a left shift (mult in [2^30, 2^31) then)."""
    mult = int(round(real * 2**32))
    return (mult, 0) if mult < 2**31 else multiplier(real)


@dataclass(frozen=True)
class QLeaky:
    """leaky_relu in the Q of its values (ern_q_leaky): x > threshold ? min(x, max) :
    requant((x - threshold) << 15, mult, shift), the slope times (x - threshold) rounded."""

    mult: int
    shift: int
    threshold: int
    max: int


def q_leaky(leaky: LeakyRelu | None, q: int) -> QLeaky | None:
    if leaky is None:
        return None
    mult, shift = multiplier(leaky.negative_slope * 2.0**-15)
    threshold = min(round(leaky.threshold * 2.0**q), 32767)
    top = 32767 if leaky.max_value is None else min(round(leaky.max_value * 2.0**q), 32767)
    return QLeaky(mult, shift, threshold, top)


@dataclass(frozen=True, eq=False)
class QRows:
    """Quantized rows: wq (rows, k_pad) int8, in plain column order (C gets them interleaved)."""

    wq: np.ndarray
    bias: np.ndarray | None  # int32 accumulator units
    mult: np.ndarray  # int64 values < 2^31
    shift: np.ndarray  # int


@dataclass(frozen=True, eq=False)
class QCell:
    cell: Cell
    rows: QRows
    rbias: np.ndarray | None
    in_pad: int
    units_pad: int
    q_v: int
    q_c: int
    q_g: int
    q_a: int


@dataclass(frozen=True, eq=False)
class QCellStage:
    stage: CellStage
    q_in: int
    q_out: int
    cells: tuple[QCell, ...]


@dataclass(frozen=True, eq=False)
class QDenseStage:
    stage: DenseStage
    q_in: int
    q_out: int
    in_pad: int
    rows: QRows
    leaky: QLeaky | None = None  # activation "leaky_relu", in q_out


@dataclass(frozen=True, eq=False)
class QConvStage:
    stage: ConvStage | DepthwiseStage
    q_in: int
    q_out: int
    rows: QDenseStage  # the Conv1D rows as a Dense over the gathered window (depthwise: taps)


@dataclass(frozen=True, eq=False)
class QPassStage:
    """Pooling, padding, reshaping and activation stages: no weights, only Q formats."""

    stage: PoolStage | TimePadStage | GlobalPoolStage | ReshapeStage | ActivationStage
    q_in: int
    q_out: int
    leaky: QLeaky | None = None  # activation "leaky_relu", in q_in (= q_out)


@dataclass(frozen=True, eq=False)
class QLayerNormStage:
    """LayerNormalization in integers (ern_q_layer_norm): gamma as int16 in Q q_g, beta as
    int32 in the output Q, n^2 * epsilon in Q 2*q_in (the variance's Q)."""

    stage: LayerNormStage
    q_in: int
    q_out: int
    gamma: np.ndarray  # int64 values of int16
    q_g: int
    beta: np.ndarray  # int64 values of int32
    eps: int  # n^2 epsilon in Q 2*q_in, >= 1 so the variance is never zero


QStage = QCellStage | QDenseStage | QConvStage | QPassStage | QLayerNormStage


@dataclass(frozen=True, eq=False)
class QPlan:
    stages: tuple[QStage, ...]
    q_in: int  # Q of the normalized input

    @property
    def q_out(self) -> int:
        return self.stages[-1].q_out


def index_rows(cell: Cell) -> np.ndarray:
    """Per row of the cell: true where it feeds sigmoid/tanh (a table index, INDEX_Q)."""
    return np.repeat([a in INDEX_Q for a in cell.gate_activations()], cell.layer.units)


def fast_rows(qc: QCell) -> bool:
    """The C kernels' `fast` flag: every table-index row has shift 0 (one SMMUL) and every
    other row shift >= 1 (requantization without branches)."""
    index, shift = index_rows(qc.cell), qc.rows.shift
    return bool(np.all(np.where(index, shift == 0, shift >= 1)))


def fast_flag(qc: QCell) -> int:
    """The C cell's `fast` field: 0, 1 when fast_rows, 2 when moreover it is a GRU that
    ern_int.c gru_quads_dsp runs in one asm loop: tanh candidates, sigmoid gates, reset_after
    with a recurrent bias, candidates in Q q_g >= q_v, and twice the candidates' recurrent sums
    in the int32 range whatever h (|rbias| + 2^15 sum |w| < 2^30)."""
    if not fast_rows(qc):
        return 0
    layer = qc.cell.layer
    if layer.cell != "gru" or not layer.reset_after or qc.rbias is None:
        return 1
    acts = (layer.activation, layer.recurrent_activation) == ("tanh", "sigmoid")
    rows = np.abs(qc.rows.wq[2 * layer.units :, qc.in_pad :].astype(np.int64))
    inner = np.abs(qc.rbias.astype(np.int64)) + (rows.sum(axis=1) << 15)
    return 2 if acts and qc.q_g >= qc.q_v and bool(np.all(inner < 2**30)) else 1


def input_divisors(scale: np.ndarray, q: int) -> tuple[np.ndarray, float]:
    """The generated int8 input conversion divides x - mean by scale / 2^q, one float division
    instead of a division and a multiplication by 2^q: the same float32 result (a power of two
    scales a correctly rounded quotient exactly) wherever scale / 2^q is exact. Returns the
    divisors and the factor still to apply after dividing: 1.0, or 2^q with the plain scales
    where some scale / 2^q would lose bits (subnormal)."""
    scale = np.asarray(scale, np.float32)
    step = scale * np.float32(2.0**-q)
    exact = np.array_equal(step.astype(np.float64) * 2.0**q, scale.astype(np.float64))
    return (step, 1.0) if exact else (scale, 2.0**q)


# Blocks of four columns per pass of the DSP asm loops' Duff's device (ern_int.c ERN_DUFF).
DUFF_BLOCKS = {"speed": 8, "size": 4}


def dsp_constants(qc: QCell, layout: str, mve: bool = False) -> list[int]:
    """The cell descriptor's `dsp` words (ern.h) for the DSP cores' asm SimpleRNN step, which
    runs fast sigmoid/tanh rows: the blocks Duff's device skips so whole passes remain, its
    passes, act's offset plus the rounding of the conversion to Q q_v ((factor t + offset) >>
    s of the table entry t), factor, s, then the bytes of g's outputs and of xh's x part and
    the values the new h copies. Zeros for other cells and the Helium arrangement (`mve`, no
    such asm): the step then runs in C."""
    layer = qc.cell.layer
    s = qc.q_g - qc.q_v
    if mve or layer.cell != "simple_rnn" or layer.activation not in ("tanh", "sigmoid"):
        return [0] * 8
    if not fast_rows(qc) or s < 0:
        return [0] * 8
    blocks, per_pass = (qc.in_pad + qc.units_pad) // 4, DUFF_BLOCKS[layout]
    tanh = layer.activation == "tanh"
    return [
        -blocks % per_pass,
        -(-blocks // per_pass),
        (-32768 if tanh else 0) + ((1 << s) >> 1),
        2 if tanh else 1,
        s,
        2 * qc.units_pad,
        2 * qc.in_pad,
        qc.units_pad,
    ]


def interleave(wq: np.ndarray) -> np.ndarray:
    """Columns w0 w1 w2 w3 -> w0 w2 w1 w3 per group of four (see ern.h)."""
    rows, k = wq.shape
    return wq.reshape(rows, k // 4, 2, 2).transpose(0, 1, 3, 2).reshape(rows, k)


def group_rows(
    qc: QCell, layout: str = "speed", mve: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A cell's rows for the C group kernels (ern.h): weights of 4 rows interleaved per column
    pair (speed layout: int16; size layout: int8, the two rows of a word's SXTB16 halves
    byte-interleaved), and per group [bias x4, mult x4, rnd x4, the four int8 shifts in one word].

    LSTM groups are units (rows i, f, c, o of unit j), so one pass gives a unit's whole update;
    GRU groups are, per four units, their z, r and candidate groups in turn (one pass gives the
    four units' update, ern_int.c gru_quads), the candidate rows' recurrent columns before their
    input columns; SimpleRNN keeps gate order. Each gate is padded to units_pad rows (pad rows
    are zero).
    `mve` (ERN_Q_ROWS, Helium targets): LSTM groups are one gate of four units (the i, f, c, o
    groups of units 4b..4b+3 in turn), weights in row chunks (mve_chunks), biases with their
    int8-lane offset (lane_offsets). Returns the weights, the parameters and the GRU's
    recurrent candidate bias.
    """
    layer, rows = qc.cell.layer, qc.rows
    u, up = layer.units, qc.units_pad
    gates = rows.wq.shape[0] // u
    gru = layer.cell == "gru"
    if (qc.cell.has_cell_state and mve) or (gru and not mve):  # one gate of four units a group
        blocks = range(0, up, 4)
        order = [
            g * u + j if j < u else -1
            for b in blocks
            for g in range(gates)
            for j in range(b, b + 4)
        ]
    elif qc.cell.has_cell_state:  # LSTM
        order = [g * u + j for j in range(u) for g in range(gates)]
    else:
        order = [g * u + j if j < u else -1 for g in range(gates) for j in range(up)]
    idx = np.array(order)
    real = idx >= 0

    def take(values: np.ndarray | None, width: int = 0) -> np.ndarray:
        shape = (idx.size, width) if width else (idx.size,)
        out = np.zeros(shape, np.int64)
        if values is not None:
            out[real] = values[idx[real]]
        return out

    k = rows.wq.shape[1]
    bias, rbias = lane_offsets(qc) if mve and layout == "size" else (rows.bias, qc.rbias)
    if mve:
        w = mve_chunks(take(rows.wq, k).reshape(-1, 4, k), qc, layout)
    else:
        wq = take(rows.wq, k)
        if gru:  # every third group is a candidate one: its recurrent columns first
            candidate = np.arange(idx.size) // 4 % gates == gates - 1
            wq[candidate] = np.roll(wq[candidate], -qc.in_pad, axis=1)
        w = wq.reshape(-1, 4, k // 2, 2).transpose(0, 2, 1, 3)
    shift = take(rows.shift)
    rnd = np.where(shift > 0, np.left_shift(1, np.maximum(shift - 1, 0)), 0)
    shifts = shift.reshape(-1, 4) & 0xFF
    packed = (shifts << np.array([0, 8, 16, 24])).sum(axis=1)
    packed = np.where(packed >= 2**31, packed - 2**32, packed)
    par = np.concatenate(
        [
            take(bias).reshape(-1, 4),
            take(rows.mult).reshape(-1, 4),  # the four mult adjacent: LDRD/LDM, VLDRW
            rnd.reshape(-1, 4),
            packed[:, None],
        ],
        axis=1,
    )
    if layout == "size" and not mve:  # [pair][row][col] -> [pair][row pair][col][row in pair]
        w = w.reshape(-1, k // 2, 2, 2, 2).transpose(0, 1, 2, 4, 3)
    wout = w.reshape(-1).astype(np.int8 if layout == "size" else np.int16)
    return wout, par.reshape(-1).astype(np.int32), rbias


def lane_widths(n: int, layout: str) -> list[int]:
    """Chunk widths of a span of n columns (a multiple of 4) in the Helium arrangement (ern.h
    ern_q_dot4): 16 (int8 lanes, size layout only), then 8 (int16 lanes), then 4."""
    wide = n // 16 * 16 if layout == "size" else 0
    rest = n - wide
    return [16] * (wide // 16) + [8] * (rest // 8) + [4] * (rest % 8 // 4)


def lane_offsets(qc: QCell) -> tuple[np.ndarray, np.ndarray | None]:
    """The biases of the Helium size arrangement: its 16-column chunks read v - 128 (the low
    byte of an int16 value less 128 is a signed int8 lane, ern.h), so 128 times the weights of
    those columns joins the bias the span's sum starts from (the GRU candidates' recurrent span
    starts from the recurrent bias when reset_after). Returns the row biases and the recurrent
    candidate bias."""
    wq, layer = qc.rows.wq.astype(np.int64), qc.cell.layer
    k = wq.shape[1]

    def offset(c0: int, c1: int) -> np.ndarray:
        return 128 * wq[:, c0 : c0 + (c1 - c0) // 16 * 16].sum(axis=1)

    bias = offset(0, k) + (0 if qc.rows.bias is None else qc.rows.bias.astype(np.int64))
    if layer.cell != "gru":
        return bias, qc.rbias
    first, rec = 2 * layer.units, offset(qc.in_pad, k)
    bias[first:] += offset(0, qc.in_pad)[first:] - offset(0, k)[first:]
    if not layer.reset_after:
        bias[first:] += rec[first:]
        return bias, qc.rbias
    rbias = np.zeros(layer.units, np.int64) if qc.rbias is None else qc.rbias.astype(np.int64)
    return bias, rbias + rec[first:]


def mve_chunks(w: np.ndarray, qc: QCell, layout: str = "speed") -> np.ndarray:
    """Groups' rows w (groups, 4, k) for Helium (ern.h, ERN_Q_ROWS): each span of columns one
    kernel call reads (the whole row; GRU candidates: the input, then the recurrent columns) in
    chunks (lane_widths), a chunk's four rows one after the other, so one contiguous vector
    load is a row's chunk. GRU candidates: every group's input span, then every group's
    recurrent span (ern_int.c gru_candidates runs four groups per span call)."""
    in_pad = qc.in_pad
    candidates = qc.cell.layer.cell == "gru"

    def chunked(part: np.ndarray) -> np.ndarray:  # (groups, 4, n) -> (groups, 4 n)
        out, c0 = [], 0
        for width in lane_widths(part.shape[2], layout):
            out.append(part[:, :, c0 : c0 + width].reshape(part.shape[0], -1))
            c0 += width
        return np.concatenate(out, 1)

    if not candidates:
        return chunked(w)
    first = w.shape[0] * 2 // 3  # GRU: the z and r groups, then the candidate groups
    spans = [chunked(w[first:, :, :in_pad]).reshape(-1), chunked(w[first:, :, in_pad:]).reshape(-1)]
    return np.concatenate([chunked(w[:first]).reshape(-1), *spans])


def _quantize_rows(
    name: str,
    w: np.ndarray,
    cols: list[tuple[int, int]],
    k_pad: int,
    q_x: int,
    bias: np.ndarray | None,
    targets: np.ndarray,
    extra: np.ndarray | None = None,
    index: np.ndarray | None = None,
) -> tuple[QRows, np.ndarray | None]:
    """Quantize float rows into a padded matrix: `cols` maps (source start, dest start) blocks.
    Rows where `index` is true map to a table index (index_multiplier), the others to Q
    `targets` (multiplier)."""
    scale = row_scales(w)
    wq_plain = np.clip(np.round(w / scale[:, None]), -127, 127).astype(np.int8)
    wq = np.zeros((w.shape[0], k_pad), np.int8)
    bounds = [src for src, _ in cols[1:]] + [w.shape[1]]
    for (src, dst), end in zip(cols, bounds, strict=True):
        wq[:, dst : dst + end - src] = wq_plain[:, src:end]
    acc_unit = scale * 2.0**-q_x
    qb = None if bias is None else np.round(bias / acc_unit).astype(np.int64)
    qextra = None
    if extra is not None:  # GRU candidate recurrent bias, same rows' units
        qextra = np.round(extra / acc_unit[-extra.shape[0] :]).astype(np.int64)
    worst = np.abs(wq.astype(np.int64)).sum(axis=1) * 32768 + (np.abs(qb) if qb is not None else 0)
    if qextra is not None:
        worst[-qextra.shape[0] :] += np.abs(qextra)
    if worst.max() >= ACC_LIMIT:
        raise EdgeRnnError(
            f"layer '{name}': weights or biases too large for 32-bit sums in int8 mode; "
            "use --quant int8w"
        )
    index = np.zeros(len(targets), bool) if index is None else index
    pairs = [
        (index_multiplier if ix else multiplier)(float(a * 2.0**t))
        for a, t, ix in zip(acc_unit, targets, index, strict=True)
    ]
    mult = np.array([p[0] for p in pairs], np.int64)
    shift = np.array([p[1] for p in pairs], np.int64)
    qbias = None if qb is None else qb.astype(np.int32)
    return QRows(wq, qbias, mult, shift), None if qextra is None else qextra.astype(np.int32)


def _quantize_cell(cell: Cell, key: str, stats: dict[str, float]) -> QCell:
    layer = cell.layer
    u, n_in = layer.units, layer.input_size
    in_pad, units_pad = pad4(n_in), pad4(u)
    q_v = min(q_format(stats.get(key + ".x", 0.0)), q_format(stats.get(key + ".h", 0.0)))
    bounded = layer.activation in BOUNDED
    q_g = 15 if bounded else q_format(stats.get(key + ".g", 0.0))
    q_c = q_format(stats.get(key + ".c", 0.0)) if cell.has_cell_state else 15
    q_a = 15 if bounded else q_c
    acts = cell.gate_activations()
    targets = np.repeat([INDEX_Q.get(a, PRE_Q if a in BOUNDED else q_g) for a in acts], u)
    rows, rbias = _quantize_rows(
        layer.name,
        cell.w,
        [(0, 0), (n_in, in_pad)],
        in_pad + units_pad,
        q_v,
        cell.bias,
        targets,
        cell.rbias,
        index_rows(cell),
    )
    return QCell(cell, rows, rbias, in_pad, units_pad, q_v, q_c, q_g, q_a)


def _quantize_dense(stage: DenseStage, q_in: int, pre_max: float) -> QDenseStage:
    """Rows requantized to Q11 for bounded functions and softmax, else to the output Q."""
    act, leaky = stage.activation, stage.leaky
    if leaky is not None:  # the output's range too: slope * (x - threshold) may exceed x's
        pre_max = max(pre_max, leaky.negative_slope * (pre_max + leaky.threshold))
    q_out = 15 if act in BOUNDED or act == "softmax" else q_format(pre_max)
    q_out = RELU6_Q if act == "relu6" else q_out
    target = PRE_Q if act in BOUNDED or act == "softmax" else q_out
    in_pad = pad4(stage.in_size)
    rows, _ = _quantize_rows(
        stage.name, stage.w, [(0, 0)], in_pad, q_in, stage.bias, np.full(stage.out_size, target)
    )
    return QDenseStage(stage, q_in, q_out, in_pad, rows, q_leaky(leaky, q_out))


def _quantize_layer_norm(stage: LayerNormStage, q_in: int, out_max: float) -> QLayerNormStage:
    q_out = q_format(out_max)
    g_max = float(np.abs(stage.gamma).max())
    q_g = 15 if g_max == 0 else min(15, math.floor(math.log2(32767 / g_max)))
    n = stage.in_size
    eps = max(1, round(stage.epsilon * n * n * 4.0**q_in))
    if q_g < 0 or eps >= 2**60 or n > 1024:
        raise EdgeRnnError(
            f"layer '{stage.name}': gamma, epsilon or size (> 1024) too large for int8 mode; "
            "use --quant int8w"
        )
    gamma = np.round(stage.gamma.astype(np.float64) * 2.0**q_g).astype(np.int64)
    beta = np.round(stage.beta.astype(np.float64) * 2.0**q_out)
    beta = np.clip(beta, -(2**30), 2**30).astype(np.int64)
    return QLayerNormStage(stage, q_in, q_out, gamma, q_g, beta, eps)


def _pass_q_out(stage: Stage, q_in: int) -> int:
    if isinstance(stage, ActivationStage) and stage.activation in (*BOUNDED, "softmax"):
        return 15
    return RELU6_Q if isinstance(stage, ActivationStage) and stage.activation == "relu6" else q_in


def embedding_rows(table: np.ndarray, q_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An Embedding table for int8: int8 rows and, per row, the (multiplier, shift) that
    requantizes (value << 16) to the input Q at lookup."""
    wq, scale = int8w_rows(np.asarray(table, np.float32))
    pairs = [multiplier(float(sc) * 2.0 ** (q_in - 16)) for sc in scale.astype(np.float64)]
    mult = np.array([p[0] for p in pairs], np.int64)
    shift = np.array([p[1] for p in pairs], np.int64)
    return wq, mult, shift


def quantize_int8(stages: tuple[Stage, ...], x_norm: np.ndarray, input_max: float = 0.0) -> QPlan:
    """Choose Q formats from the float run over calibration windows, then quantize; the input
    Q also holds input_max (e.g. every value of an Embedding table)."""
    stats: dict[str, float] = {}
    float_forward(stages, x_norm, stats)
    q_in = q_format(max(stats["input"], input_max))
    q_prev = q_in
    out: list[QStage] = []
    for index, stage in enumerate(stages):
        key = str(index)
        if isinstance(stage, DenseStage):
            out.append(_quantize_dense(stage, q_prev, stats.get(key + ".out", 0.0)))
        elif isinstance(stage, (ConvStage, DepthwiseStage)):
            rows = _quantize_dense(stage.rows, q_prev, stats.get(key + ".out", 0.0))
            out.append(QConvStage(stage, q_prev, rows.q_out, rows))
        elif isinstance(stage, LayerNormStage):
            out.append(_quantize_layer_norm(stage, q_prev, stats.get(key + ".y", 0.0)))
        elif not isinstance(stage, (RecurrentStage, BidirectionalStage)):
            leaky = q_leaky(stage.leaky, q_prev) if isinstance(stage, ActivationStage) else None
            out.append(QPassStage(stage, q_prev, _pass_q_out(stage, q_prev), leaky))
        else:
            cells = tuple(
                _quantize_cell(cell, f"{key}.{d}", stats) for d, cell in enumerate(stage.cells)
            )
            bidir = isinstance(stage, BidirectionalStage)
            q_out = q_format(stats[key + ".m"]) if bidir else cells[0].q_v
            out.append(QCellStage(stage, q_prev, q_out, cells))
        q_prev = out[-1].q_out
    return QPlan(tuple(out), q_in)
