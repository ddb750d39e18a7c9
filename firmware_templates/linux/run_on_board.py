#!/usr/bin/env python3
"""edge-rnn board runner (copied into a bundle by `edge_rnn.ontarget.bundle.write_bundle`).

Runs the bundle's test windows through one of its models on an ARM Linux board and prints the
edge-rnn line protocol v1 (docs/architecture.md), which `edge-rnn validate DIR --device-log LOG`
compares with the float reference. Needs only numpy and one of: ai_edge_litert, tflite_runtime
(for .tflite) or onnxruntime (for .onnx).

    python3 run_on_board.py [--model NAME] [--out LOG]

Every window: raw input -> normalization of bundle.json -> the model's own input quantization
-> one inference from a reset state. Integer outputs are printed raw (dtype i8/i16); the
validator dequantizes them with the output scale/zero point in bundle.json.
"""

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FNV_OFFSET, FNV_PRIME = 0x811C9DC5, 0x01000193
INT_DTYPES = {"int8": "i8", "int16": "i16"}


def fail(message):
    sys.exit(f"run_on_board: {message}")


def tflite_interpreter(path):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            fail("install ai-edge-litert (or tflite-runtime): pip install ai-edge-litert")
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    return interpreter


def quant_params(details):
    """(scale, zero_point) of an integer tensor, None for a float one."""
    if not np.issubdtype(np.dtype(details["dtype"]), np.integer):
        return None
    scales = details["quantization_parameters"]["scales"]
    zeros = details["quantization_parameters"]["zero_points"]
    if len(scales) == 1:
        return float(scales[0]), int(zeros[0])
    scale, zero = details["quantization"]
    return float(scale), int(zero)


def run_tflite(path, xn):
    interpreter = tflite_interpreter(path)
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    in_q, in_dtype = quant_params(inp), np.dtype(inp["dtype"])
    raws = []
    for window in xn:
        interpreter.reset_all_variables()  # fused LSTM state survives invoke()
        sample = window[None]
        if in_q is not None:
            info = np.iinfo(in_dtype)
            q = np.round(sample / np.float32(in_q[0])) + in_q[1]
            sample = np.clip(q, info.min, info.max)
        interpreter.set_tensor(inp["index"], sample.astype(in_dtype))
        interpreter.invoke()
        raws.append(np.array(interpreter.get_tensor(out["index"]), copy=True))
    raw = np.stack(raws).reshape(len(xn), -1)
    dtype = INT_DTYPES.get(np.dtype(out["dtype"]).name, "f32")
    return raw, dtype, "ai_edge_litert/tflite_runtime"


def run_onnx(path, xn):
    try:
        import onnxruntime
    except ImportError:
        fail("install onnxruntime: pip install onnxruntime")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    outputs = [session.run(None, {name: window[None]})[0] for window in xn]
    return np.asarray(outputs, np.float32).reshape(len(xn), -1), "f32", "onnxruntime"


def protocol_lines(model, raw, dtype, costs):
    """The protocol text; FNV-1a 32 over the bytes of every S line with its newline."""
    yield f"EDGE-RNN v1 model={model} samples={len(raw)} outputs={raw.shape[1]} dtype={dtype}"
    digest = FNV_OFFSET
    for index, row in enumerate(raw):
        if dtype == "f32":
            values = " ".join(f"{float(np.float32(v)):.9g}" for v in row)
        else:
            values = " ".join(str(int(v)) for v in row)
        line = f"S {index} {values}"
        for byte in (line + "\n").encode("ascii"):
            digest = ((digest ^ byte) * FNV_PRIME) & 0xFFFFFFFF
        yield line
    yield "COST " + " ".join(f"{key}={value}" for key, value in costs.items())
    yield f"END samples={len(raw)} fnv1a={digest:08x}"


def choose(bundle, wanted):
    models = bundle["artefacts"]
    if wanted is None:
        return models[0]
    for entry in models:
        if wanted in (entry["name"], entry["path"], Path(entry["path"]).name):
            return entry
    fail(f"no model '{wanted}' in bundle.json; choose one of {[m['name'] for m in models]}")


def main():
    parser = argparse.ArgumentParser(description="run the bundle's test windows on this board")
    parser.add_argument("--model", help="artefact name or file (default: the first one)")
    parser.add_argument("--out", help="also write the protocol to this file")
    args = parser.parse_args()
    bundle = json.loads((HERE / "bundle.json").read_text())
    entry = choose(bundle, args.model)
    path = HERE / entry["path"]
    if hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
        fail(f"{entry['path']} does not match its sha256 in bundle.json: copy the bundle again")
    x = np.load(HERE / bundle["test_x"]).astype(np.float32)
    # An artefact converted with the model's input layers folded out has its own normalization.
    norm = entry.get("input_normalization") or bundle.get("normalization")
    if norm:
        mean, scale = np.float32(norm["mean"]), np.float32(norm["scale"])
        x = ((x - mean) / scale).astype(np.float32)
    run = run_onnx if entry["format"] == "onnx" else run_tflite
    start = time.perf_counter()
    raw, dtype, runtime = run(path, x)
    per_window = (time.perf_counter() - start) / max(len(x), 1) * 1e6
    costs = {"runtime": runtime, "artefact": entry["name"], "us_per_window": f"{per_window:.1f}"}
    text = "\n".join(protocol_lines(bundle["model"], raw, dtype, costs)) + "\n"
    sys.stdout.write(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
