"""Keras/IR -> ONNX (float via tf2onnx on the tf-keras twin; int8 via onnxruntime dynamic
quantization), in a child process."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from edge_rnn import ir
from edge_rnn.errors import EdgeRnnError
from edge_rnn.export.routes import check_quantization, onnx_route
from edge_rnn.export.tflite import DEFAULT_TIMEOUT_S
from edge_rnn.export.worker import ConversionResult, run_conversion

OPSET = 17


def convert_onnx(
    model_path: str | Path,
    quantization: str,
    out_path: str | Path,
    *,
    metadata: dict[str, Any] | None = None,
    timesteps: int | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> ConversionResult:
    check_quantization("onnx", quantization)
    request = {
        "format": "onnx",
        "model": str(model_path),
        "metadata": metadata,
        "quantization": quantization,
        "timesteps": timesteps,
        "out": str(out_path),
    }
    return run_conversion(request, timeout)


def _export_float(model: ir.Model, out: Path) -> None:
    import tensorflow as tf
    import tf2onnx

    from edge_rnn.export.twins import build_twin

    twin = build_twin(model, onnx_route(model).unroll)
    if model.token_input:
        spec = (tf.TensorSpec((1, model.timesteps), tf.int32, name="input"),)
    else:
        spec = (tf.TensorSpec((1, *model.input_shape), tf.float32, name="input"),)
    try:
        tf2onnx.convert.from_keras(twin, input_signature=spec, opset=OPSET, output_path=str(out))
    except Exception as err:  # tf2onnx raises assorted errors
        raise EdgeRnnError(
            f"ONNX export of model '{model.name}' failed: {str(err).splitlines()[0][:300]}"
        ) from None


def convert_in_process(model: ir.Model, request: dict[str, Any]) -> dict[str, Any]:
    """Child side (see `edge_rnn.export.worker`)."""
    import onnx

    out = Path(request["out"])
    notes: list[str] = []
    if request["quantization"] == "float32":
        _export_float(model, out)
    else:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        with tempfile.TemporaryDirectory(prefix="edge-rnn-onnx-") as tmp:
            float_path = Path(tmp, "float.onnx")
            _export_float(model, float_path)
            quantize_dynamic(str(float_path), str(out), weight_type=QuantType.QInt8)
        notes.append(
            "dynamic int8: int8 weights, activations quantized at run time "
            "(onnxruntime quantize_dynamic; LSTM/GRU become DynamicQuantize ops)"
        )
    ops = sorted({node.op_type for node in onnx.load(str(out)).graph.node})
    return {"route": onnx_route(model).name, "notes": notes, "ops": ops}
