"""Which graph each quantization gets: a pure decision from the IR, no TensorFlow needed.

TF 2.21 facts behind it (measured; README.md, "Conversion routes"):
- tf-keras LSTM with tanh/sigmoid fuses into UNIDIRECTIONAL_SEQUENCE_LSTM: small, and the
  only LSTM form whose int8 calibration does not crash; int16x8 refuses that op.
- Every other recurrent layer becomes a WHILE loop unless unrolled; int8/int16x8 calibration
  segfaults on WHILE loops and TFLite Micro cannot run them, so we unroll (the model then
  grows with the number of time steps).
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_rnn import ir
from edge_rnn.choices import ONNX_QUANTIZATIONS, ROUTE_CHOICES, TFLITE_QUANTIZATIONS
from edge_rnn.errors import EdgeRnnError
from edge_rnn.export.mask_twin import mask_reaches


@dataclass(frozen=True)
class Route:
    """How each recurrent layer of the export twin is built."""

    name: str  # "fused-lstm", "unrolled" or "fused-lstm+unrolled"
    unroll: frozenset[str]  # names of the IR layers (or Bidirectional wrappers) to unroll
    notes: tuple[str, ...]


def check_quantization(fmt: str, quantization: str) -> None:
    choices = TFLITE_QUANTIZATIONS if fmt == "tflite" else ONNX_QUANTIZATIONS
    if quantization not in choices:
        raise EdgeRnnError(
            f"unknown {fmt} quantization '{quantization}': choose one of {', '.join(choices)}"
        )


def _fusable(layer: ir.RecurrentLayer) -> bool:
    return (
        layer.cell == "lstm"
        and layer.activation == "tanh"
        and layer.recurrent_activation == "sigmoid"
    )


def tflite_route(model: ir.Model, quantization: str, requested: str = "auto") -> Route:
    """Pick the graph for a TFLite conversion, or stop with the alternatives."""
    check_quantization("tflite", quantization)
    if requested not in ROUTE_CHOICES:
        raise EdgeRnnError(f"unknown route '{requested}': choose one of {', '.join(ROUTE_CHOICES)}")
    norms = [layer.name for layer in model.layers if isinstance(layer, ir.LayerNormLayer)]
    if quantization == "int16x8" and norms:
        raise EdgeRnnError(
            f"LayerNormalization '{norms[0]}' cannot be exported to TFLite int16x8: TF 2.21 "
            "writes a graph that LiteRT aborts on when allocating it; use int8 or float32"
        )
    unroll: set[str] = set()
    notes: list[str] = []
    fused = False
    masked = mask_reaches(model)
    for layer in model.layers:
        if not isinstance(layer, (ir.RecurrentLayer, ir.BidirectionalLayer)):
            continue
        cell = layer.forward if isinstance(layer, ir.BidirectionalLayer) else layer
        if layer.name in masked:  # the twin unrolls it cell by cell (see mask_twin)
            unroll.add(layer.name)
            continue
        if not _fusable(cell):
            if requested == "fused":
                raise EdgeRnnError(
                    f"layer '{layer.name}' ({cell.cell}, activation={cell.activation}, "
                    f"recurrent_activation={cell.recurrent_activation}) cannot use the fused "
                    "route: only LSTM with tanh/sigmoid fuses; use --route auto or unrolled"
                )
            unroll.add(layer.name)
            continue
        if quantization == "int16x8":
            if requested == "fused":
                raise EdgeRnnError(
                    f"layer '{layer.name}': TFLite cannot quantize the fused LSTM to int16x8; "
                    "use --route unrolled (bigger model) or quantization int8"
                )
            unroll.add(layer.name)
            notes.append(
                f"layer '{layer.name}': int16x8 is not supported for the fused LSTM op, "
                "so this LSTM was unrolled (model size grows with the time steps)"
            )
            continue
        if requested == "unrolled":
            unroll.add(layer.name)
        else:
            fused = True
    if unroll and not notes:
        steps = _steps_into(model)
        layers = ", ".join(f"{name} over {steps[name]} time steps" for name in sorted(unroll))
        notes.append(
            f"unrolled: {layers} (the only form TFLite Micro and int8 calibration handle for "
            "these layers; the native C backend keeps them small)"
        )
    stateful = [cell.name for cell in model.recurrent_layers() if cell.stateful]
    if stateful:
        notes.append(
            f"stateful layer(s) {', '.join(stateful)}: the graph runs one window of "
            f"{model.timesteps} steps per invoke; reset the state between windows (for "
            "step-by-step streaming with state kept across calls use the native C _step)"
        )
    name = "+".join(
        part for part, used in (("fused-lstm", fused), ("unrolled", bool(unroll))) if used
    )
    return Route(name=name, unroll=frozenset(unroll), notes=tuple(notes))


def _steps_into(model: ir.Model) -> dict[str, int]:
    """The sequence length each layer receives (strided Conv1D and pooling shorten it)."""
    steps, into = model.timesteps, {}
    for layer in model.layers:
        into[layer.name] = steps
        steps = layer.output_shape(steps)[0]
    return into


def onnx_route(model: ir.Model) -> Route:
    """ONNX keeps the recurrent layers as loops: tf2onnx maps tf-keras LSTM/GRU to native ops."""
    return Route(name="native-onnx-rnn", unroll=frozenset(), notes=())
