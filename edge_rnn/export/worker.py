"""Runs one conversion in a child process: TensorFlow segfaults on some RNN graphs
(int8 calibration of WHILE loops) and may hang, so the parent keeps a timeout and turns
crashes into a clear message.

Parent side: `run_conversion(request, timeout)`. Child side: `python -m edge_rnn.export.worker
REQUEST.json RESULT.json`; exit code 0 = success, 2 = EdgeRnnError (message on stderr's
last line), anything else = TensorFlow failed.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_rnn.children import run_child
from edge_rnn.errors import EdgeRnnError, ToolCrashed
from edge_rnn.tf_env import TF_ENV

MESSAGE_PREFIX = "EDGE-RNN-ERROR: "


@dataclass(frozen=True)
class ConversionResult:
    path: Path
    format: str
    quantization: str
    route: str
    notes: tuple[str, ...]
    ops: tuple[str, ...]
    # What the artefact takes when the model's input affine layers were folded out of its graph:
    # {"mean": [...], "scale": [...]} (docs/architecture.md, manifest `input_normalization`).
    input_normalization: dict[str, list[float]] | None = None


def run_conversion(request: dict[str, Any], timeout: float) -> ConversionResult:
    """Run `request` (format, model, metadata, quantization, out, ...) in a child Python."""
    what = f"{request['format']} {request['quantization']} conversion of '{request['model']}'"
    with tempfile.TemporaryDirectory(prefix="edge-rnn-convert-") as tmp:
        request_path, result_path = Path(tmp, "request.json"), Path(tmp, "result.json")
        request_path.write_text(json.dumps(request), encoding="utf-8")
        # A fixed hash seed keeps Python-side tracing order stable. TensorFlow's int8 quantizer
        # itself is not deterministic on unrolled graphs (see README, "Known limits").
        env = {**TF_ENV, **os.environ, "PYTHONHASHSEED": "0"}
        proc = run_child(
            [sys.executable, "-m", "edge_rnn.export.worker", str(request_path), str(result_path)],
            timeout_s=timeout,
            env=env,
            on_timeout=lambda: ToolCrashed(
                f"{what} did not finish within {timeout:.0f} s; raise the timeout (--timeout) "
                "or try another route/quantization"
            ),
        )
        if proc.returncode == 0:
            result = json.loads(result_path.read_text(encoding="utf-8"))
            return ConversionResult(
                Path(request["out"]),
                request["format"],
                request["quantization"],
                result["route"],
                tuple(result["notes"]),
                tuple(result["ops"]),
                result.get("input_normalization"),
            )
        messages = [
            line[len(MESSAGE_PREFIX) :]
            for line in proc.stderr.splitlines()
            if line.startswith(MESSAGE_PREFIX)
        ]
        if messages:
            raise EdgeRnnError(messages[-1])
        if proc.returncode < 0:
            name = signal.Signals(-proc.returncode).name
            raise ToolCrashed(
                f"TensorFlow crashed ({name}) during the {what}; this happens when calibrating "
                "recurrent loops: use --route unrolled, or the native C backend"
            )
        tail = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        raise ToolCrashed(f"{what} failed: {tail[-1][:300] if tail else 'no message'}")


def _convert(request: dict[str, Any]) -> dict[str, Any]:
    from edge_rnn.export import onnx as onnx_export
    from edge_rnn.export import tflite as tflite_export
    from edge_rnn.frontends.keras import load_model_ir
    from edge_rnn.input_fold import fold_input_affines

    loaded = load_model_ir(
        request["model"], request.get("metadata"), timesteps=request.get("timesteps")
    )
    model = fold_input_affines(loaded)
    convert = tflite_export if request["format"] == "tflite" else onnx_export
    result = convert.convert_in_process(model, request)
    if model is loaded:
        return result
    folded = loaded.layers[: len(loaded.layers) - len(model.layers)]
    norm = model.normalization
    assert norm is not None  # folding always produces one
    result["notes"] = [
        *result["notes"],
        f"input layer(s) {', '.join(repr(layer.name) for layer in folded)} folded out of the "
        f"graph and computed in float32: the model takes (x - mean) / scale with mean "
        f"{_short(norm.mean)} and scale {_short(norm.scale)} (manifest: input_normalization)",
    ]
    result["input_normalization"] = {"mean": list(norm.mean), "scale": list(norm.scale)}
    return result


def _short(values: tuple[float, ...], shown: int = 6) -> str:
    text = ", ".join(f"{v:.6g}" for v in values[:shown])
    return f"[{text}{', ...' if len(values) > shown else ''}]"


def main(argv: list[str]) -> int:
    request_path, result_path = argv
    request = json.loads(Path(request_path).read_text(encoding="utf-8"))
    try:
        result = _convert(request)
    except EdgeRnnError as err:
        print(f"{MESSAGE_PREFIX}{err}", file=sys.stderr)
        return 2
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
