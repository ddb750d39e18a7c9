"""Where a failing TFLite stage's error appears (the quantization-debugger idea, per tensor).

The quantized model runs in LiteRT with every intermediate tensor kept, the float32 model of
the same graph (same export twin and route) beside it on the same few windows. Ops are matched
in execution order (the converter keeps the op sequence; QUANTIZE/DEQUANTIZE are skipped), or
by output tensor name when the sequences differ. Each op output is dequantized and compared
with its float twin, then mapped back to the Keras layer (the name component after the model
name; unnamed tensors inherit their input's layer) and the time step (an unrolled recurrent
layer's UNPACK hands out step i, every other tensor belongs to the latest step it depends on;
steps count in the layer's processing order). Saturation compares the float values with the
range the quantized tensor can represent.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_rnn.runtimes._tflite_io import quant_params
from edge_rnn.runtimes.base import quantize

WINDOWS = 4  # the stage's worst windows: enough to see where the error starts, cheap to run
DEFAULT_LIMIT = 0.05  # rel_l2 where a tensor counts as wrong when the stage has no rel_l2 limit
SATURATION_MIN = 1e-3  # fraction of values beyond the range that counts as saturating
PASSTHROUGH_OPS = frozenset({"QUANTIZE", "DEQUANTIZE", "DELEGATE"})


@dataclass
class TensorError:
    """One op output compared with its float twin over the localization windows."""

    name: str
    op: str
    layer: str
    step: int | None  # None: the tensor does not belong to one time step
    dtype: str
    rel_l2: float
    introduced: float  # rel_l2 minus the largest rel_l2 of the op's compared inputs
    float_min: float
    float_max: float
    representable: tuple[float, float] | None  # what the quantized tensor can hold
    saturated: float  # fraction of float values beyond the representable range
    step_lsb: float | None  # quantization step (scale)
    float_rms: float
    # A recurrent state: read by this layer's ops of its own step and of a later one (the next
    # step's product h_t @ U carries h_t's step label but only feeds the next step).
    carries_state: bool = False

    def where(self) -> str:
        return f"layer {self.layer}" + ("" if self.step is None else f", step {self.step}")

    def cause(self) -> str:
        """What happens at this tensor, in words."""
        label = f"{self.op} output '{self.name.split(';')[0]}'"  # fused names repeat
        if self.representable and self.saturated >= SATURATION_MIN:
            low, high = self.representable
            return (
                f"{label} saturates its {self.dtype} range: {100 * self.saturated:.1f} % of its "
                f"float values lie outside [{low:.4g}, {high:.4g}] (float values span "
                f"[{self.float_min:.4g}, {self.float_max:.4g}])"
            )
        text = f"{label} adds the most error (rel_l2 {self.rel_l2:.3g}, +{self.introduced:.3g})"
        if self.step_lsb:
            text += (
                f"; {self.dtype} step {self.step_lsb:.3g} for float values of RMS "
                f"{self.float_rms:.3g} ({self.float_rms / self.step_lsb:.0f} steps)"
            )
        return text


@dataclass(frozen=True)
class _Op:
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


def open_interpreter(path: Path) -> Any:
    """LiteRT without default delegates (XNNPACK hides intermediates), all tensors kept."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    with warnings.catch_warnings():  # "intended for debugging": that is what this is
        warnings.simplefilter("ignore")
        interpreter = Interpreter(
            model_path=str(path),
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            experimental_preserve_all_tensors=True,
        )
    interpreter.allocate_tensors()
    return interpreter


def _ops(interpreter: Any) -> tuple[list[_Op], dict[int, int]]:
    """Executed ops without pass-through ones, and tensor aliases through those (out -> in)."""
    ops, alias = [], {}
    for op in interpreter._get_ops_details():  # no public API lists a graph's ops
        inputs = tuple(int(i) for i in op["inputs"] if i >= 0)
        outputs = tuple(int(i) for i in op["outputs"])
        if op["op_name"] in PASSTHROUGH_OPS:
            if op["op_name"] != "DELEGATE" and inputs and len(outputs) == 1:
                alias[outputs[0]] = inputs[0]
            continue
        ops.append(_Op(op["op_name"], inputs, outputs))
    return ops, alias


def match_tensors(quantized: Any, reference: Any) -> list[tuple[int, int, _Op]]:
    """(quantized tensor, float tensor, producing op) for every op output of both graphs."""
    q_ops, _ = _ops(quantized)
    f_ops, _ = _ops(reference)
    if [op.name for op in q_ops] == [op.name for op in f_ops]:
        return [
            (q, f, qop)
            for qop, fop in zip(q_ops, f_ops, strict=True)
            if len(qop.outputs) == len(fop.outputs)
            for q, f in zip(qop.outputs, fop.outputs, strict=True)
        ]
    by_name = {d["name"]: d["index"] for d in reference.get_tensor_details()}
    names = {d["index"]: d["name"] for d in quantized.get_tensor_details()}
    return [(q, by_name[names[q]], op) for op in q_ops for q in op.outputs if names[q] in by_name]


def _layer_of(name: str, model_name: str) -> str:
    """'model/gru_1/gru_cell/MatMul_3' -> 'gru_1'; a Bidirectional direction (the export
    twin names them forward/backward) -> 'bi/forward'."""
    parts = name.split(";")[0].split("/")
    if len(parts) < 2 or parts[0] != model_name:
        return ""
    direction = parts[2:3] if parts[2:3] in (["forward"], ["backward"]) else []
    return "/".join([parts[1], *direction])


def _graph_places(
    quantized: Any, model_name: str
) -> tuple[dict[int, str], dict[int, int | None], dict[int, list[int]]]:
    """Layer, time step and (aliased) inputs of every op output of the quantized graph."""
    names = {d["index"]: d["name"] for d in quantized.get_tensor_details()}
    ops, alias = _ops(quantized)
    model_input = int(quantized.get_input_details()[0]["index"])
    layer: dict[int, str] = {model_input: "input"}
    step: dict[int, int | None] = {model_input: None}
    inputs: dict[int, list[int]] = {}

    def resolve(index: int) -> int:
        while index in alias:
            index = alias[index]
        return index

    for op in ops:
        produced = [resolve(i) for i in op.inputs if resolve(i) in layer]
        steps = [s for s in (step[i] for i in produced) if s is not None]
        inherited = next((layer[i] for i in produced if layer[i] != "input"), "input")
        for position, out in enumerate(op.outputs):
            inputs[out] = produced
            layer[out] = _layer_of(names[out], model_name) or inherited
            unpacked = op.name == "UNPACK" and len(op.outputs) > 1
            step[out] = position if unpacked else (max(steps) if steps else None)
    return layer, step, inputs


def _carries_state(own: int | None, read_at: set[int | None]) -> bool:
    """A tensor made at step `own` and read there and at a later step: the layer's state."""
    if own is None or own not in read_at:
        return False
    return any(s is not None and s > own for s in read_at)


class Accumulator:
    """Squared error, squared float values, range and saturation of one tensor over windows."""

    def __init__(self, params: tuple[float, int] | None, dtype: np.dtype) -> None:
        self.params, self.dtype = params, dtype
        self.sse = self.ssf = 0.0
        self.count = self.outside = 0
        self.low, self.high = np.inf, -np.inf

    def representable(self) -> tuple[float, float] | None:
        if self.params is None:
            return None
        scale, zero = self.params
        info = np.iinfo(self.dtype)
        return (info.min - zero) * scale, (info.max - zero) * scale

    def add(self, quantized: np.ndarray, reference: np.ndarray) -> None:
        ref = reference.astype(np.float64).ravel()
        if self.params is None:
            got = quantized.astype(np.float64).ravel()
        else:
            scale, zero = self.params
            got = (quantized.astype(np.float64).ravel() - zero) * scale
            low, high = self.representable() or (-np.inf, np.inf)
            self.outside += int(np.sum((ref < low - scale / 2) | (ref > high + scale / 2)))
        self.sse += float(np.sum((got - ref) ** 2))
        self.ssf += float(np.sum(ref**2))
        self.count += ref.size
        if ref.size:
            self.low, self.high = min(self.low, ref.min()), max(self.high, ref.max())

    def rel_l2(self) -> float:
        if self.ssf > 0:
            return float(np.sqrt(self.sse / self.ssf))
        return 0.0 if self.sse == 0 else float("inf")

    def error(
        self, name: str, op: str, layer: str, step: int | None, introduced: float, state: bool
    ) -> TensorError:
        """The comparison as a TensorError; `introduced`: rel_l2 minus that of its inputs."""
        return TensorError(
            name=name,
            op=op,
            layer=layer,
            step=step,
            dtype=np.dtype(self.dtype).name,
            rel_l2=self.rel_l2(),
            introduced=introduced,
            float_min=float(self.low),
            float_max=float(self.high),
            representable=self.representable(),
            saturated=self.outside / self.count if self.count else 0.0,
            step_lsb=self.params[0] if self.params else None,
            float_rms=float(np.sqrt(self.ssf / self.count)) if self.count else 0.0,
            carries_state=state,
        )


def compare_tensors(
    quantized_path: Path, reference_path: Path, windows: np.ndarray, model_name: str
) -> list[TensorError]:
    """Every op output of the quantized model against the float model on normalized
    `windows` (N, T, F), in execution order (the model input first)."""
    quantized, reference = open_interpreter(quantized_path), open_interpreter(reference_path)
    pairs = match_tensors(quantized, reference)
    q_in, f_in = quantized.get_input_details()[0], reference.get_input_details()[0]
    pairs.insert(0, (int(q_in["index"]), int(f_in["index"]), _Op("input", (), ())))
    details = {d["index"]: d for d in quantized.get_tensor_details()}
    f_details = {d["index"]: d for d in reference.get_tensor_details()}
    kept = []
    for q, f, op in pairs:
        q_type, f_type = np.dtype(details[q]["dtype"]), np.dtype(f_details[f]["dtype"])
        if not np.issubdtype(f_type, np.floating):
            continue  # shapes, indices
        try:
            params = quant_params(details[q])
        except Exception:  # per-channel or unscaled integers: not an activation
            continue
        if params is None and not np.issubdtype(q_type, np.floating):
            continue
        kept.append((q, f, op, Accumulator(params, q_type)))
    in_params = quant_params(q_in)
    for window in windows:
        sample = window[np.newaxis]
        reference.set_tensor(f_in["index"], sample.astype(f_in["dtype"]))
        if in_params is not None:
            sample = quantize(sample, *in_params, np.dtype(q_in["dtype"]))
        quantized.set_tensor(q_in["index"], sample.astype(q_in["dtype"]))
        for interpreter in (quantized, reference):
            interpreter.reset_all_variables()
            interpreter.invoke()
        for q, f, _, acc in kept:
            acc.add(quantized.get_tensor(q), reference.get_tensor(f))
    layer, step, inputs = _graph_places(quantized, model_name)
    errors: dict[int, float] = {q: acc.rel_l2() for q, _, _, acc in kept}
    read_at: dict[int, set[int | None]] = {}  # tensor -> steps of this layer's ops reading it
    for out, feeding_tensors in inputs.items():
        for source in feeding_tensors:
            if layer.get(source) == layer[out]:
                read_at.setdefault(source, set()).add(step[out])
    result = []
    for q, _, op, acc in kept:
        feeding = [errors[i] for i in inputs.get(q, []) if i in errors]
        result.append(
            acc.error(
                details[q]["name"],
                op.name,
                layer.get(q, "input"),
                step.get(q),
                errors[q] - max(feeding, default=0.0),
                _carries_state(step.get(q), read_at.get(q, set())),
            )
        )
    return result


def _layer_outputs(errors: list[TensorError]) -> dict[str, dict[int | None, TensorError]]:
    """Per layer (in order of appearance), its output at each step: the last tensor of that
    step that carries the state to the next step, else (the last step, layers without steps)
    the step's last tensor."""
    outputs: dict[str, dict[int | None, TensorError]] = {}
    for error in errors:
        if error.op == "UNPACK":  # hands out every step's input at once
            continue
        steps = outputs.setdefault(error.layer, {})
        held = steps.get(error.step)
        if held is None or error.carries_state or not held.carries_state:
            steps[error.step] = error
    return outputs


def _point(error: TensorError, before: float) -> dict[str, Any]:
    return {
        "layer": error.layer,
        "step": error.step,
        "tensor": error.name,
        "op": error.op,
        "rel_l2_before": round(before, 6),
        "rel_l2": round(error.rel_l2, 6),
    }


def _tensor(error: TensorError) -> dict[str, Any]:
    return {
        "layer": error.layer,
        "step": error.step,
        "tensor": error.name,
        "op": error.op,
        "dtype": error.dtype,
        "rel_l2": round(error.rel_l2, 6),
        "saturated": round(error.saturated, 6),
        "representable": list(error.representable) if error.representable else None,
        "float_range": [error.float_min, error.float_max],
        "text": error.cause(),
    }


def find_origin(errors: list[TensorError], limit: float) -> dict[str, Any]:
    """Where the error appears: the first layer output above `limit`, the largest step-to-step
    jump in that layer up to there, what happens at that step, and the saturating tensors."""
    outputs = _layer_outputs(errors)
    position = {id(e): i for i, e in enumerate(errors)}
    chain = [(layer, step, e) for layer, steps in outputs.items() for step, e in steps.items()]
    chain.sort(key=lambda item: position[id(item[2])])
    crossing = next((i for i, (_, _, e) in enumerate(chain) if e.rel_l2 > limit), None)
    if crossing is None:  # e.g. failing on flips only: the worst layer output instead
        crossing = max(range(len(chain)), key=lambda i: chain[i][2].rel_l2)
    layer = chain[crossing][0]
    # The largest increase between consecutive outputs, within the crossing layer up to the
    # crossing (the layer's input counts as its step -1).
    best, before, previous = chain[crossing][2], 0.0, 0.0
    best_rise = -np.inf
    for _, _, error in chain[: crossing + 1]:
        if error.layer == layer and error.rel_l2 - previous > best_rise:
            best, before, best_rise = error, previous, error.rel_l2 - previous
        previous = error.rel_l2
    at_step = [e for e in errors if e.layer == layer and e.step == best.step]
    saturating = [e for e in at_step if e.representable and e.saturated >= SATURATION_MIN]
    cause = (
        max(saturating, key=lambda e: (e.saturated, e.introduced))
        if saturating
        else max(at_step, key=lambda e: e.introduced)
    )
    worst = sorted(
        (e for e in errors if e.representable and e.saturated >= SATURATION_MIN),
        key=lambda e: -e.saturated,
    )
    first = _point(chain[crossing][2], chain[crossing - 1][2].rel_l2 if crossing else 0.0)
    jump = _point(best, before)
    summary = (
        f"{best.where()}: rel_l2 jumps from {before:.3g} to {best.rel_l2:.3g}"
        + (
            f" (above {limit:g} from {chain[crossing][2].where()})"
            if chain[crossing][2].rel_l2 > limit
            else f" (no layer output exceeds {limit:g})"
        )
        + f"; {cause.cause()}"
    )
    if len(worst) > 1:
        summary += f"; {len(worst)} of {len(errors)} tensors saturate"
    curves = []
    for name, steps in outputs.items():
        numbered = sorted(s for s in steps if s is not None)
        last = steps[numbered[-1]] if numbered else steps[None]
        curves.append(
            {
                "layer": name,
                "steps": numbered,
                "rel_l2": [round(steps[s].rel_l2, 6) for s in numbered],
                "output_rel_l2": round(last.rel_l2, 6),
            }
        )
    return {
        "summary": summary,
        "first": {**first, "jump": jump},
        "cause": _tensor(cause),
        "saturated": [_tensor(e) for e in worst[:5]],
        "layers": curves,
    }
