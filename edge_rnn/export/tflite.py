"""Keras/IR -> TFLite for every quantization, through export twins, in a child process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge_rnn import ir
from edge_rnn.errors import EdgeRnnError
from edge_rnn.export.routes import tflite_route
from edge_rnn.export.worker import ConversionResult, run_conversion

DEFAULT_TIMEOUT_S = 600.0


def convert_tflite(
    model_path: str | Path,
    quantization: str,
    out_path: str | Path,
    *,
    metadata: dict[str, Any] | None = None,
    calibration: str | Path | None = None,
    calibration_source: str | None = None,
    route: str = "auto",
    timesteps: int | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> ConversionResult:
    """Convert a `.keras`/`.h5` model to `out_path`. int8 and int16x8 need `calibration`
    (an NPZ of raw training windows `x_train` or `x`; `calibration_source` names the user's
    data in messages when it is a temporary file)."""
    if quantization in ("int8", "int16x8") and calibration is None:
        raise EdgeRnnError(
            f"{quantization} quantization needs calibration windows: pass --calibration "
            "(an .npz with x, or a data spec such as builtin:gesture)"
        )
    request = {
        "format": "tflite",
        "model": str(model_path),
        "metadata": metadata,
        "quantization": quantization,
        "route": route,
        "timesteps": timesteps,
        "calibration": str(calibration) if calibration else None,
        "calibration_source": calibration_source,
        "out": str(out_path),
    }
    return run_conversion(request, timeout)


def _configure(converter: Any, quantization: str, calibration_x: Any) -> None:
    import tensorflow as tf

    from edge_rnn.export.calibration import representative_windows

    # Builtin ops only: no Flex/SELECT_TF_OPS, which no microcontroller runtime has.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization == "float32":
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        converter.representative_dataset = lambda: representative_windows(calibration_x)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    elif quantization == "int16x8":
        converter.representative_dataset = lambda: representative_windows(calibration_x)
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        ]
        converter.inference_input_type = tf.int16
        converter.inference_output_type = tf.int16


def convert_in_process(model: ir.Model, request: dict[str, Any]) -> dict[str, Any]:
    """Child side (see `edge_rnn.export.worker`)."""
    import tensorflow as tf

    from edge_rnn.export.bias_scales import rescale_shared_biases
    from edge_rnn.export.calibration import load_calibration
    from edge_rnn.export.inspect import inspect_tflite_bytes
    from edge_rnn.export.lstm_hidden_scale import align_lstm_hidden_scales
    from edge_rnn.export.tensor_names import shorten_fused_names
    from edge_rnn.export.twins import build_twin

    quantization = request["quantization"]
    route = tflite_route(model, quantization, request["route"])
    calibration_x = (
        load_calibration(request["calibration"], model, source=request.get("calibration_source"))
        if request["calibration"]
        else None
    )
    twin = build_twin(model, route.unroll)
    converter = tf.lite.TFLiteConverter.from_keras_model(twin)
    _configure(converter, quantization, calibration_x)
    try:
        flatbuffer = converter.convert()
    except Exception as err:  # the converter raises ConverterError and friends
        first = next(
            (line for line in str(err).splitlines() if "error" in line.lower()),
            str(err).splitlines()[0] if str(err) else type(err).__name__,
        )
        raise EdgeRnnError(
            f"TFLite {quantization} conversion of model '{model.name}' (route {route.name}) "
            f"failed: {first.strip()[:300]}"
        ) from None
    flatbuffer, rescaled = rescale_shared_biases(flatbuffer)
    flatbuffer, aligned = align_lstm_hidden_scales(flatbuffer)
    flatbuffer, _ = shorten_fused_names(flatbuffer)
    info = inspect_tflite_bytes(flatbuffer, f"{model.name} {quantization}")
    ops = sorted(info.ops)
    _refuse_unrunnable_ops(model, quantization, ops)
    notes = list(route.notes)
    if rescaled:
        notes.append(
            f"{rescaled} FULLY_CONNECTED bias(es) requantized to their op's input scale: the "
            "converter shares one bias between unrolled steps whose inputs have other scales"
        )
    if aligned:
        notes.append(
            f"{aligned} fused LSTM(s): hidden-state intermediate given the output state's scale "
            "(the converter left them different; LiteRT quantizes h with the intermediate's, "
            "TFLite Micro with the output state's)"
        )
    if quantization == "dynamic" and "int8" not in info.weight_dtypes:
        notes.append(
            "dynamic-range quantization left every weight in float32: TFLite skips weight "
            "tensors of 1024 elements or fewer, and TF 2.21 never quantizes the fused LSTM "
            "op's weights (--route unrolled gets int8 LSTM weights; int8 is smaller still)"
        )
    Path(request["out"]).write_bytes(flatbuffer)
    return {"route": route.name, "notes": notes, "ops": ops}


def _refuse_unrunnable_ops(model: ir.Model, quantization: str, ops: list[str]) -> None:
    flex = [op for op in ops if op.startswith("Flex") or op.startswith("CUSTOM")]
    if flex:
        raise EdgeRnnError(
            f"TFLite {quantization} model '{model.name}' needs TensorFlow ops {', '.join(flex)} "
            "that microcontroller runtimes lack; use --route unrolled or the native C backend"
        )
