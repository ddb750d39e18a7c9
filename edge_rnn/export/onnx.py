"""Keras/IR -> ONNX (float via tf2onnx on the tf-keras twin; int8 via onnxruntime dynamic
quantization with every recurrent weight matrix in int8, see `edge_rnn.export.onnx_int8`), in a
child process."""

from __future__ import annotations

import tempfile
from contextlib import nullcontext
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


def _export_float(model: ir.Model, out: Path, *, gru_loops: bool = False) -> None:
    import tensorflow as tf
    import tf2onnx

    from edge_rnn.export.onnx_int8 import gru_as_loop
    from edge_rnn.export.twins import build_twin

    twin = build_twin(model, onnx_route(model).unroll)
    if model.token_input:
        spec = (tf.TensorSpec((1, model.timesteps), tf.int32, name="input"),)
    else:
        spec = (tf.TensorSpec((1, *model.input_shape), tf.float32, name="input"),)
    try:
        with gru_as_loop() if gru_loops else nullcontext():
            tf2onnx.convert.from_keras(
                twin, input_signature=spec, opset=OPSET, output_path=str(out)
            )
    except Exception as err:  # tf2onnx raises assorted errors
        raise EdgeRnnError(
            f"ONNX export of model '{model.name}' failed: {str(err).splitlines()[0][:300]}"
        ) from None


def convert_in_process(model: ir.Model, request: dict[str, Any]) -> dict[str, Any]:
    """Child side (see `edge_rnn.export.worker`)."""
    import onnx

    from edge_rnn.export.onnx_graph import all_nodes, compact

    out = Path(request["out"])
    notes: list[str] = []
    if request["quantization"] == "float32":
        _export_float(model, out)
    else:
        from edge_rnn.export.onnx_int8 import quantize

        with tempfile.TemporaryDirectory(prefix="edge-rnn-onnx-") as tmp:
            float_path = Path(tmp, "float.onnx")
            _export_float(model, float_path, gru_loops=True)
            notes.append(quantize(float_path, out))
    graph = onnx.load(str(out))
    compact(graph)
    onnx.save(graph, str(out))
    ops = sorted({node.op_type for node in all_nodes(graph.graph)})
    return {"route": onnx_route(model).name, "notes": notes, "ops": ops}
