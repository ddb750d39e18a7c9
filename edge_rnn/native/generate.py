"""IR model -> a self-contained directory of C99: kernels, the model's weights and API, and the
generic adapter header `edge_rnn_model.h` (see firmware_templates/native/README.md)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edge_rnn import ir
from edge_rnn.cells import CELLS
from edge_rnn.choices import NATIVE_LAYOUTS, NATIVE_QUANTIZATIONS
from edge_rnn.codegen.templates import render
from edge_rnn.errors import EdgeRnnError
from edge_rnn.fsutil import atomic_output_dir
from edge_rnn.native.context import build_context
from edge_rnn.native.fold import fold_affines
from edge_rnn.native.lower import (
    BOUNDED,
    C_ACTIVATIONS,
    ActivationStage,
    BidirectionalStage,
    ConvStage,
    DenseStage,
    DepthwiseStage,
    RecurrentStage,
    Stage,
    lower,
)
from edge_rnn.native.quantize import QPlan, quantize_int8
from edge_rnn.resources import FIRMWARE_DIR

QUANTS = NATIVE_QUANTIZATIONS
KERNEL_FILES = ("ern.h", "ern_float.c", "ern_int.c", "ern_norm.c", "ern_tables.c")
MAX_ROW = 480  # int8: longest row (input + units) whose int32 sum cannot overflow
SMALL_FLASH_KIB = 64  # auto layout: targets with at most this much flash take the size layout


@dataclass(frozen=True)
class GeneratedModel:
    out_dir: Path
    name: str
    quant: str
    files: tuple[Path, ...]
    sources: tuple[Path, ...]  # the .c files to compile
    const_bytes: int  # weights, biases, scales, requantization and normalization constants
    ram_bytes: int  # the state struct: state, scratch and (non-streaming) sequence buffers
    streaming: bool  # <name>_step exists
    no_streaming: str | None  # why it does not
    timesteps: int
    features: int
    output_shape: tuple[int, ...]
    output_dtype: str  # "f32" or "i16"
    layout: str | None  # int8: "speed" or "size" (cell weights as int16 or int8)
    output_scale: float  # float output = raw * output_scale
    input_q: int | None  # int8: quantized input = round(normalized * 2^input_q)


def check_supported(model: ir.Model, stages: tuple[Stage, ...], quant: str) -> None:
    """One pass listing every layer/option the native backend cannot generate."""
    if quant not in QUANTS:
        raise EdgeRnnError(f"unknown native quantization '{quant}'; use one of {', '.join(QUANTS)}")
    problems: list[str] = []
    for index, stage in enumerate(stages):
        act = _activation_of(stage)
        if quant == "int8" and act in ir.SMOOTH_ACTIVATIONS:
            problems.append(
                f"layer '{stage.name}': activation '{act}' in int8 (no integer kernel: int8w "
                "keeps int8 weights with float activations; the TFLite int8 artefact has it)"
            )
        if not isinstance(stage, (RecurrentStage, BidirectionalStage, DenseStage)):
            continue  # the frontend admits only what these stages compute
        if isinstance(stage, DenseStage):
            if stage.activation not in C_ACTIVATIONS:
                problems.append(f"layer '{stage.name}': activation '{stage.activation}'")
            if stage.activation == "softmax" and index != len(stages) - 1:
                problems.append(f"layer '{stage.name}': softmax is only supported last")
            continue
        if isinstance(stage, BidirectionalStage) and stage.cells[0].layer.go_backwards:
            problems.append(f"layer '{stage.name}': Bidirectional forward layer with go_backwards")
        for cell in stage.cells:
            layer = cell.layer
            for field in ("activation", "recurrent_activation"):
                act = getattr(layer, field)
                if act not in C_ACTIVATIONS or act == "softmax":
                    problems.append(f"layer '{layer.name}': {field}='{act}'")
            if quant != "int8":
                continue
            spec = CELLS[layer.cell]
            if spec.uses_recurrent_activation and layer.recurrent_activation not in BOUNDED:
                problems.append(
                    f"layer '{layer.name}': int8 needs a bounded recurrent_activation "
                    f"(tanh/sigmoid/hard_sigmoid), not '{layer.recurrent_activation}'"
                )
            if layer.cell == "gru" and layer.recurrent_activation == "tanh":  # z in [-1, 1]
                problems.append(
                    f"layer '{layer.name}': int8 GRU needs recurrent_activation "
                    "sigmoid or hard_sigmoid"
                )
            if layer.input_size + layer.units > MAX_ROW:
                problems.append(f"layer '{layer.name}': input + units > {MAX_ROW} in int8 mode")
    if problems:
        raise EdgeRnnError(
            f"model '{model.name}': the native C backend ({quant}) does not support: "
            + "; ".join(problems)
            + " (change the model, or use --backend tflm)"
        )


def _activation_of(stage: Stage) -> str | None:
    if isinstance(stage, (ConvStage, DepthwiseStage)):
        return stage.rows.activation
    return stage.activation if isinstance(stage, (DenseStage, ActivationStage)) else None


def prepare(
    model: ir.Model, quant: str, calibration_x: np.ndarray | None, input_max: float = 0.0
) -> tuple[tuple[Stage, ...], QPlan | None]:
    """Fold, lower, check and (int8) quantize: everything but writing files. The input
    normalization of the generated code is `fold_affines(model).normalization`; the int8
    input Q also holds input_max."""
    model = fold_affines(model, quant)
    inner = [f"'{layer.name}'" for layer in model.layers if isinstance(layer, ir.MaskingLayer)]
    if inner:  # split_masking took a first Masking off already
        raise EdgeRnnError(
            f"model '{model.name}': the native C backend supports Masking only as the first "
            f"layer, not {', '.join(inner)}; use the TFLite or ONNX artefacts"
        )
    stages = lower(model)
    check_supported(model, stages, quant)
    if quant != "int8":
        return stages, None
    if calibration_x is None or len(calibration_x) == 0:
        raise EdgeRnnError(
            "int8 needs calibration windows to choose activation ranges: pass calibration_x "
            "(raw windows, N x T x F) or --calibration"
        )
    x = np.asarray(calibration_x, np.float32)
    if x.ndim != 3 or x.shape[1:] != model.input_shape:
        raise EdgeRnnError(
            f"calibration windows have shape {x.shape}, expected (N, {model.timesteps}, "
            f"{model.features})"
        )
    x_norm = model.normalization.apply(x) if model.normalization else x
    return stages, quantize_int8(stages, x_norm, input_max)


def split_embedding(model: ir.Model) -> tuple[ir.Model, ir.EmbeddingLayer | None]:
    """A token-id model as (the layers after its Embedding, the Embedding): the generated code
    looks the table up while loading each step's input."""
    if not model.token_input:
        return model, None
    embedding = model.layers[0]
    assert isinstance(embedding, ir.EmbeddingLayer)
    rest = replace(
        model, layers=model.layers[1:], features=embedding.output_dim, normalization=None
    )
    return rest, embedding


def embed_tokens(embedding: ir.EmbeddingLayer, ids: np.ndarray) -> np.ndarray:
    """Token-id windows (N, T) or (N, T, 1) -> their rows (N, T, dim), zeros for ids outside
    the vocabulary (as the generated lookup)."""
    ids = np.asarray(ids).reshape(len(ids), -1).astype(np.int64)
    inside = (ids >= 0) & (ids < embedding.input_dim)
    rows = np.asarray(embedding.embeddings, np.float32)[np.where(inside, ids, 0)]
    return np.where(inside[..., None], rows, np.float32(0.0)).astype(np.float32)


def split_masking(model: ir.Model) -> tuple[ir.Model, float | None]:
    """A model starting with Masking as (the layers after it, its mask value or None): the
    generated code skips the steps that equal it in every layer, as Keras' recurrent layers
    do while the mask reaches them.

    Keras drops the mask at a (depthwise) Conv1D, pooling, padding or cropping layer
    (ir.DROPS_MASK) and runs it over the padded steps, which Masking set to zero. With mask
    value 0 and no recurrent layer before it, that is the model without Masking; otherwise skipping
    steps would differ from Keras, so the native backend refuses the model."""
    first = model.layers[0]
    if not isinstance(first, ir.MaskingLayer):
        return model, None
    rest = replace(model, layers=model.layers[1:])
    for index, layer in enumerate(rest.layers):
        if not isinstance(layer, ir.DROPS_MASK):
            continue
        before = rest.layers[:index]
        if first.mask_value == 0.0 and not any(
            isinstance(b, ir.RecurrentLayer | ir.BidirectionalLayer) for b in before
        ):
            return rest, None
        raise EdgeRnnError(
            f"model '{model.name}': Keras drops the mask of '{first.name}' at layer "
            f"'{layer.name}' ({type(layer).__name__.removesuffix('Layer')}) and runs it over "
            "the padded steps, which the native C backend (it skips padded steps in every "
            "layer) cannot reproduce; use the TFLite or ONNX artefacts, or put the recurrent "
            "layers right after Masking (a mask value of 0 before any recurrent layer works)"
        )
    return rest, first.mask_value


@dataclass(frozen=True)
class NativePlan:
    """What the generated code computes, before any file is written."""

    model: ir.Model  # folded, without a first Embedding or Masking layer
    embedding: ir.EmbeddingLayer | None  # looked up while loading each step's input
    mask: float | None  # Masking's value: steps equal to it are skipped
    stages: tuple[Stage, ...]
    plan: QPlan | None  # int8 only


def plan_native(model: ir.Model, quant: str, calibration_x: np.ndarray | None) -> NativePlan:
    """Fold, split off Embedding and Masking, lower, check and (int8) quantize `model` as
    `generate` does (calibration_x: raw windows, or token ids)."""
    model = fold_affines(model, quant)
    model, embedding = split_embedding(model)
    model, mask = split_masking(model)
    input_max = 0.0
    if embedding is not None and quant == "int8" and calibration_x is not None:
        calibration_x = embed_tokens(embedding, calibration_x)  # the first stage's input
        input_max = float(np.abs(embedding.embeddings).max())
    stages, plan = prepare(model, quant, calibration_x, input_max)
    return NativePlan(model, embedding, mask, stages, plan)


def generate(
    model: ir.Model,
    out_dir: str | Path,
    *,
    quant: str = "float32",
    calibration_x: np.ndarray | None = None,
    overwrite: bool = False,
    layout: str = "auto",
    target: str | None = None,
) -> GeneratedModel:
    """Write `<name>.h/.c`, `edge_rnn_model.h`, the kernel library and README into out_dir.
    `layout` (int8 only): cell weights as int16 ("speed") or int8 ("size", half the flash);
    "auto" chooses for `target` (a profile name, see choose_layout). For a Helium target
    (has_mve) int8 cell weights are arranged for its vector loads (ERN_Q_ROWS in ern.h); other
    cores run such a model on the portable C path."""
    layout = choose_layout(layout, target)
    mve = quant == "int8" and has_mve(target)
    planned = plan_native(model, quant, calibration_x)
    model, embedding, mask, plan = planned.model, planned.embedding, planned.mask, planned.plan
    ctx = build_context(model, planned.stages, quant, plan, embedding, mask, layout, mve)
    if mask is not None and not ctx["streaming"]:
        reason = str(ctx["no_streaming"]).replace("\n * ", " ")
        raise EdgeRnnError(
            f"model '{model.name}': the native C backend skips masked steps only in models that "
            f"run forward step by step, and {reason[0].lower()}{reason[1:]} Use the TFLite/ONNX "
            "artefacts of this build, or for C a model without that layer (e.g. the recurrent "
            "layer's last output, return_sequences=False, instead of pooling over the steps: "
            "with Masking it is the last valid step's)"
        )
    name = model.name
    rendered = {
        f"{name}.h": render("native/model.h.j2", **ctx),
        f"{name}.c": render("native/model.c.j2", **ctx),
        "edge_rnn_model.h": render("native/edge_rnn_model.h.j2", **ctx),
    }
    out_dir = Path(out_dir)
    with atomic_output_dir(out_dir, overwrite=overwrite) as tmp:
        for filename, text in rendered.items():
            (tmp / filename).write_text(text, encoding="utf-8")
        for filename in KERNEL_FILES:
            shutil.copyfile(FIRMWARE_DIR / "native" / filename, tmp / filename)
        _set_defines(tmp / "ern.h", ERN_Q_SIZE=ctx["layout"] == "size", ERN_Q_ROWS=mve)
    files = tuple(sorted(out_dir / f for f in (*rendered, *KERNEL_FILES)))
    return GeneratedModel(
        out_dir=out_dir,
        name=name,
        quant=quant,
        files=files,
        sources=tuple(f for f in files if f.suffix == ".c"),
        const_bytes=ctx["flash_bytes"],
        ram_bytes=ctx["ram_bytes"],
        streaming=ctx["streaming"],
        no_streaming=" ".join(ctx["no_streaming"].replace("\n *", "").split())
        if ctx["no_streaming"]
        else None,
        timesteps=model.timesteps,
        features=model.features,
        output_shape=model.output_shape,
        output_dtype="i16" if plan else "f32",
        layout=ctx["layout"],
        output_scale=2.0**-plan.q_out if plan else 1.0,
        input_q=plan.q_in if plan else None,
    )


def choose_layout(layout: str, target: str | None = None) -> str:
    """The int8 weight layout: "auto" is size (int8, SXTB16 or portable loads) for cores without
    DSP instructions, whose speed layout gains less, for small flash and for Helium cores
    (VLDRB.S16 widens int8 as fast as VLDRH loads int16); speed (int16 pairs for SMLAD)
    otherwise, and without a target."""
    if layout not in NATIVE_LAYOUTS:
        raise EdgeRnnError(
            f"unknown int8 weight layout '{layout}'; use one of {', '.join(NATIVE_LAYOUTS)}"
        )
    if layout != "auto":
        return layout
    if not target:
        return "speed"
    from edge_rnn.targets import load_target

    profile = load_target(target)
    small = 0 < profile.flash_kib <= SMALL_FLASH_KIB
    return "size" if not profile.dsp or small or has_mve(target) else "speed"


def has_mve(target: str | None) -> bool:
    """The target profile's core has Helium (MVE) integer vector instructions."""
    if not target:
        return False
    from edge_rnn.targets import load_target

    return "mve" in load_target(target).fpu.split("+")


def _set_defines(header: Path, **flags: bool) -> None:
    """The copied kernel header with each `#define NAME 0` flag set to 1 where true (e.g.
    ERN_Q_SIZE 1: the kernels read int8 cell weights)."""
    text = header.read_text(encoding="utf-8")
    for name, on in flags.items():
        default = f"#define {name} 0"
        assert text.count(default) == 1, f"ern.h must define {name} once"
        text = text.replace(default, f"#define {name} {int(on)}")
    header.write_text(text, encoding="utf-8")
