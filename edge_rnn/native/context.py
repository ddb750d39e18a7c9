"""Lowered (and quantized) stages -> the plain dicts the C templates render.

Arrays are named `s<stage>d<direction>_<what>`; every byte of const data and of the state
struct is counted here so GeneratedModel can report flash and RAM without compiling.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_rnn import ir
from edge_rnn.codegen.templates import c_float, c_values
from edge_rnn.native.lower import (
    C_ACTIVATIONS,
    C_CELLS,
    C_MERGES,
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
    WindowedStage,
    stream_delay,
    streaming_blocker,
)
from edge_rnn.native.quantize import (
    QCell,
    QCellStage,
    QDenseStage,
    QLayerNormStage,
    QLeaky,
    QPlan,
    dsp_constants,
    embedding_rows,
    fast_flag,
    group_rows,
    input_divisors,
    int8w_rows,
    interleave,
    pad4,
)
from edge_rnn.native.twin_int import quantize_input

CTYPES = {
    "float": ("float", 4),
    "int8_t": ("int8_t", 1),
    "int16_t": ("int16_t", 2),
    "int32_t": ("int32_t", 4),
}


class _Builder:
    def __init__(self) -> None:
        self.arrays: list[dict[str, Any]] = []
        self.state: list[dict[str, Any]] = []
        self.leaky: list[dict[str, str]] = []  # ern_f_leaky / ern_q_leaky descriptors

    def array(self, name: str, ctype: str, values: np.ndarray | None) -> str:
        if values is None:
            return "0"
        flat = np.asarray(values).reshape(-1)
        fmt = "float" if ctype == "float" else "int"
        per_line = 8 if ctype == "float" else 16
        self.arrays.append(
            {
                "name": name,
                "ctype": ctype,
                "count": flat.size,
                "body": c_values(flat.tolist(), fmt=fmt, per_line=per_line),
            }
        )
        return name

    def leaky_desc(self, name: str, leaky: ir.LeakyRelu | None, qleaky: QLeaky | None) -> str:
        """A pointer to the leaky_relu parameters (integer when qleaky is given), "0" without."""
        if leaky is None:
            return "0"
        if qleaky is not None:
            q = qleaky
            init = f"{q.mult}, {q.shift}, {q.threshold}, {q.max}"
        else:
            top = "FLT_MAX" if leaky.max_value is None else c_float(leaky.max_value)
            init = f"{c_float(leaky.negative_slope)}, {c_float(leaky.threshold)}, {top}"
        self.leaky.append({"name": name, "init": init})
        return "&" + name

    def field(self, name: str, ctype: str, count: int) -> str:
        count = max(count, 1)
        if ctype != "float":
            count = (count + 1) // 2 * 2  # keep every int16 field 4-byte sized and aligned
        self.state.append({"name": name, "ctype": ctype, "count": count})
        return name

    def flash_bytes(self) -> int:
        return sum(CTYPES[a["ctype"]][1] * a["count"] for a in self.arrays)

    def ram_bytes(self) -> int:
        return sum(CTYPES[f["ctype"]][1] * f["count"] for f in self.state)


def _float_path_weights(b: _Builder, prefix: str, w: np.ndarray, quant: str) -> dict[str, str]:
    """Weights of the float-arithmetic modes: float32 as is, int8w as int8 rows + row scales."""
    if quant == "int8w":
        wq, scale = int8w_rows(w)
        return {
            "w": "0",
            "wq": b.array(prefix + "_w", "int8_t", wq),
            "wscale": b.array(prefix + "_ws", "float", scale),
        }
    return {"w": b.array(prefix + "_w", "float", w), "wq": "0", "wscale": "0"}


def _cell_ctx(
    b: _Builder, prefix: str, cell: Cell, quant: str, qc: QCell | None, layout: str, mve: bool
) -> dict[str, Any]:
    layer = cell.layer
    ctx: dict[str, Any] = {
        "desc": prefix,
        "cell": C_CELLS[layer.cell],
        "act": C_ACTIVATIONS[layer.activation],
        "rec_act": C_ACTIVATIONS[layer.recurrent_activation],
        "reset_after": int(layer.reset_after),
        "units": layer.units,
        "in": layer.input_size,
        "go_backwards": layer.go_backwards,
    }
    if qc is not None:
        w, par, rbias = group_rows(qc, layout, mve)
        ctx.update(
            in_off=qc.in_pad,
            units_pad=qc.units_pad,
            q_v=qc.q_v,
            q_c=qc.q_c,
            q_g=qc.q_g,
            q_a=qc.q_a,
            w=b.array(prefix + "_w", "int8_t" if layout == "size" else "int16_t", w),
            par=b.array(prefix + "_p", "int32_t", par),
            rbias=b.array(
                prefix + "_rb",
                "int32_t",
                None if rbias is None else np.pad(rbias, (0, qc.units_pad - layer.units)),
            ),
            fast=fast_flag(qc),
            dsp=dsp_constants(qc, layout, mve),
        )
        width, vt = qc.in_pad + qc.units_pad, "int16_t"
    else:
        ctx["in_off"] = layer.input_size
        ctx.update(_float_path_weights(b, prefix, cell.w, quant))
        ctx.update(
            bias=b.array(prefix + "_b", "float", cell.bias),
            rbias=b.array(prefix + "_rb", "float", cell.rbias),
        )
        width, vt = layer.input_size + layer.units, "float"
    ctx["xh"] = b.field(prefix + "_xh", vt, width)
    ctx["c"] = "s->" + b.field(prefix + "_c", vt, layer.units) if cell.has_cell_state else "0"
    return ctx


def _dense_ctx(
    b: _Builder,
    prefix: str,
    stage: DenseStage,
    quant: str,
    qs: QDenseStage | None,
    out_field: bool = True,
    per_tap: bool = False,
) -> dict[str, Any]:
    """`per_tap` (DepthwiseConv1D): int8 rows unpadded in plain order, read tap by tap."""
    ctx: dict[str, Any] = {
        "desc": prefix,
        "act": C_ACTIVATIONS[stage.activation],
        "in": stage.in_size,
        "units": stage.out_size,
        "leaky": b.leaky_desc(prefix + "_lk", stage.leaky, qs.leaky if qs else None),
    }
    if qs is not None:
        wq = qs.rows.wq[:, : stage.in_size] if per_tap else interleave(qs.rows.wq)
        ctx.update(
            in_pad=stage.in_size if per_tap else qs.in_pad,
            wq=b.array(prefix + "_w", "int8_t", wq),
            bias=b.array(prefix + "_b", "int32_t", qs.rows.bias),
            mult=b.array(prefix + "_m", "int32_t", qs.rows.mult),
            shift=b.array(prefix + "_s", "int8_t", qs.rows.shift),
        )
        vt, width = "int16_t", pad4(stage.out_size)
    else:
        ctx.update(_float_path_weights(b, prefix, stage.w, quant))
        ctx["bias"] = b.array(prefix + "_b", "float", stage.bias)
        vt, width = "float", stage.out_size
    if out_field:
        ctx["out"] = b.field(prefix + "_y", vt, width)
    return ctx


def _window_ctx(
    b: _Builder, prefix: str, stage: WindowedStage, vt: str, streaming: bool
) -> dict[str, Any]:
    """Sliding windows; streamed, they keep the last `span` input steps in the state."""
    entry: dict[str, Any] = {
        "taps": stage.pool_size if isinstance(stage, PoolStage) else stage.kernel_size,
        "strides": stage.strides,
        "pad_left": stage.pad_left,
        "span": stage.span,
    }
    if streaming:
        entry.update(
            hist=b.field(prefix + "_hist", vt, stage.span * stage.in_size),
            count=b.field(prefix + "_n", "int32_t", 1),
            need=stream_delay(stage),
            out=b.field(prefix + "_y", vt, pad4(stage.out_size)),
        )
        entry["history"] = {
            "steps": stage.span,
            "bytes": CTYPES[vt][1] * stage.span * stage.in_size,
            "delay": entry["need"],
            "every": stage.strides,
        }
    return entry


def _layer_norm_ctx(
    b: _Builder, prefix: str, stage: LayerNormStage, qs: QLayerNormStage | None
) -> dict[str, Any]:
    """The const descriptor (`init`: its C initializer) of a LayerNormalization stage."""
    if qs is None:
        gamma = b.array(prefix + "_g", "float", stage.gamma)
        beta = b.array(prefix + "_b", "float", stage.beta)
        init = f"{stage.in_size}, {c_float(stage.epsilon)}, {gamma}, {beta}"
    else:
        gamma = b.array(prefix + "_g", "int16_t", qs.gamma)
        beta = b.array(prefix + "_b", "int32_t", qs.beta)
        init = f"{stage.in_size}, {qs.q_g}, {qs.q_out}, {qs.eps}u, {gamma}, {beta}"
    return {"desc": prefix + "_ln", "init": init}


def _other_ctx(
    b: _Builder, index: int, stage: Stage, quant: str, qs: Any, vt: str, streaming: bool
) -> dict[str, Any]:
    """Conv1D, pooling, activation, LayerNormalization and reshape stages (see the window
    loop in model.c.j2)."""
    prefix = f"s{index}"
    if isinstance(stage, DepthwiseStage):  # reads its taps where they are: no window copy
        return {
            "dense": _dense_ctx(b, prefix, stage.rows, quant, qs.rows if qs else None, False, True),
            "multiplier": stage.multiplier,
            "dilation": stage.dilation,
            **_window_ctx(b, prefix, stage, vt, streaming),
        }
    if isinstance(stage, ConvStage):
        width = pad4(stage.rows.in_size) if vt != "float" else stage.rows.in_size
        return {
            "dense": _dense_ctx(b, prefix, stage.rows, quant, qs.rows if qs else None, False),
            "col": b.field(prefix + "_col", vt, width),
            "dilation": stage.dilation,
            **_window_ctx(b, prefix, stage, vt, streaming),
        }
    if isinstance(stage, PoolStage):
        return {"is_max": int(stage.pool == "max"), **_window_ctx(b, prefix, stage, vt, streaming)}
    if isinstance(stage, TimePadStage):  # steps copied between the two sequence buffers
        return {"before": stage.before}
    entry: dict[str, Any] = {}
    if isinstance(stage, GlobalPoolStage):
        entry["is_max"] = int(stage.pool == "max")
        if streaming:  # an average: running sums of the steps seen (see ern_f_sum_push)
            sum_type = "int32_t" if vt == "int16_t" else "float"
            entry["sum"] = b.field(prefix + "_sum", sum_type, pad4(stage.in_size))
            entry["count"] = b.field(prefix + "_n", "int32_t", 1)
    if isinstance(stage, ActivationStage):
        entry["act"] = C_ACTIVATIONS[stage.activation]
        entry["leaky"] = b.leaky_desc(prefix + "_lk", stage.leaky, qs.leaky if qs else None)
    if isinstance(stage, LayerNormStage):
        entry["lnorm"] = _layer_norm_ctx(b, prefix, stage, qs)
    size = max(stage.steps_in, 1) * stage.in_size  # reshape: the values packed together
    if not isinstance(stage, ReshapeStage) or stage.seq_in or stage.seq_out:
        entry["out"] = b.field(
            prefix + "_y", vt, pad4(size if isinstance(stage, ReshapeStage) else stage.out_size)
        )
    return entry


def _direct_input(ctx_stages: list[dict[str, Any]], integer: bool) -> str | None:
    """Streaming: when the first per-step stage is a (one-direction) recurrent layer that would
    only copy the input into its working vector (float, or int8 in the cell's Q), the input
    goes there straight (the stage marked `input_direct`); returns that field's name."""
    first = next((st for st in ctx_stages if st["seq_in"]), None)
    if first is None or first["kind"] != "cell":
        return None
    cell = first["cells"][0]
    if integer and first["q_in"] != cell["q_v"]:
        return None
    first["input_direct"] = True
    return str(cell["xh"])


def build_context(
    model: ir.Model,
    stages: tuple[Stage, ...],
    quant: str,
    plan: QPlan | None,
    embedding: ir.EmbeddingLayer | None = None,
    mask: float | None = None,
    layout: str = "speed",
    mve: bool = False,
) -> dict[str, Any]:
    """`embedding`: the model's input is token ids looked up in this table (`model` is then
    the rest of the model, whose input is the embedding vector). `layout`: of the int8 cell
    weights, "speed" (int16) or "size" (int8), see ern.h; `mve`: in the Helium arrangement
    (ERN_Q_ROWS)."""
    b = _Builder()
    integer = quant == "int8"
    input_factor = 1.0
    vt = "int16_t" if integer else "float"
    if embedding is not None and plan is not None:
        wq, mult, shift = embedding_rows(embedding.embeddings, plan.q_in)
        b.array("embed_w", "int8_t", wq)
        b.array("embed_m", "int32_t", mult)
        b.array("embed_s", "int8_t", shift)
    elif embedding is not None:
        _float_path_weights(b, "embed", np.asarray(embedding.embeddings, np.float32), quant)
    else:
        norm = model.normalization or ir.Normalization(
            (0.0,) * model.features, (1.0,) * model.features
        )
        b.array("input_mean", "float", np.asarray(norm.mean, np.float32))
        if plan is None or mask is not None:
            b.array("input_scale", "float", np.asarray(norm.scale, np.float32))
        if plan is not None:
            step, input_factor = input_divisors(np.asarray(norm.scale), plan.q_in)
            b.array("input_step", "float", step)
    no_streaming = streaming_blocker(stages)
    streaming = no_streaming is None
    ctx_stages = []
    for index, stage in enumerate(stages):
        qs = plan.stages[index] if plan else None
        entry: dict[str, Any] = {
            "index": index,
            "kind": stage.kind,
            "seq_in": stage.seq_in,
            "seq_out": stage.seq_out,
            "steps_in": stage.steps_in,
            "steps_out": stage.steps_out,
            "in_size": stage.in_size,
            "out_size": stage.out_size,
            "merge": C_MERGES[stage.merge if isinstance(stage, BidirectionalStage) else "concat"],
            "q_in": qs.q_in if qs else 0,
            "q_out": qs.q_out if qs else 0,
            "input_direct": False,  # see _direct_input
        }
        if isinstance(stage, DenseStage):
            assert qs is None or isinstance(qs, QDenseStage)
            entry["dense"] = _dense_ctx(b, f"s{index}", stage, quant, qs)
        elif not isinstance(stage, (RecurrentStage, BidirectionalStage)):
            entry.update(_other_ctx(b, index, stage, quant, qs, vt, streaming))
        else:
            assert qs is None or isinstance(qs, QCellStage)
            entry["cells"] = [
                _cell_ctx(b, f"s{index}d{d}", cell, quant, qs.cells[d] if qs else None, layout, mve)
                for d, cell in enumerate(stage.cells)
            ]
            if isinstance(stage, BidirectionalStage) and not stage.seq_out:
                entry["vec"] = b.field(f"s{index}_m", vt, pad4(stage.out_size))
        ctx_stages.append(entry)
    layers = [
        c.layer
        for s in stages
        if isinstance(s, (RecurrentStage, BidirectionalStage))
        for c in s.cells
    ]
    max_units = pad4(max((layer.units for layer in layers), default=1))
    if integer:  # the int8 steps' scratch (ern.h): GRU gates * units_pad, others units_pad
        gru = [pad4(layer.units) for layer in layers if layer.cell == "gru"]
        b.field("g", vt, max([3 * max(gru, default=0), max_units]))
        if gru:
            b.field("tmp", vt, max(gru))
    else:
        b.field("g", vt, 4 * max_units)
    width = max([pad4(model.features)] + [pad4(s.out_size) for s in stages])
    input_field = "x"
    if streaming:
        input_field = _direct_input(ctx_stages, integer) or b.field("x", vt, pad4(model.features))
    max_steps = max([model.timesteps] + [s.steps_out for s in stages])
    if not streaming:
        b.field("seq_a", vt, max_steps * width)
        b.field("seq_b", vt, max_steps * width)
    out_size = stages[-1].out_size
    return {
        "name": model.name,
        "NAME": model.name.upper(),
        "quant": quant,
        "integer": integer,
        "layout": layout if integer else None,
        "vt": vt,
        "timesteps": model.timesteps,
        "features": 1 if embedding else model.features,  # values per step in the C API
        "input_size": model.features,  # values per step into the first stage
        "tokens": {"vocab": embedding.input_dim} if embedding else None,
        "in_t": "int32_t" if embedding else "float",
        "quant_api": integer and not embedding,  # _run_q/_step_q on quantized float input
        "mask": mask,  # Keras Masking value: steps equal to it are skipped
        "mask_q": None
        if mask is None or plan is None
        else int(quantize_input(np.asarray(mask, np.float32), plan.q_in)),
        "out_size": out_size,
        "outputs": out_size * max(stages[-1].steps_out, 1),
        "seq_out": stages[-1].seq_out,
        "out_steps": stages[-1].steps_out,
        "streaming": streaming,
        "stateful": [layer.name for layer in model.recurrent_layers() if layer.stateful],
        "no_streaming": no_streaming,
        "history": [
            dict(s["history"], name=st.name)
            for s, st in zip(ctx_stages, stages, strict=True)
            if "history" in s
        ],
        "stages": ctx_stages,
        "width": width,
        "input_field": input_field,  # streaming: the state field a step's input goes to
        "q_in": plan.q_in if plan else 0,
        "input_factor": input_factor,  # int8: times the quotient by input_step (quantize.py)
        "q_out": plan.q_out if plan else 0,
        "arrays": b.arrays,
        "leaky": b.leaky,
        "state": b.state,
        "flash_bytes": b.flash_bytes(),
        "ram_bytes": b.ram_bytes(),
    }
