"""`edge-rnn convert MODEL --to tflite|onnx --quant Q --out FILE`."""

from __future__ import annotations

import argparse
from pathlib import Path

from edge_rnn.choices import ONNX_QUANTIZATIONS, ROUTE_CHOICES, TFLITE_QUANTIZATIONS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert a Keras model to TFLite or ONNX",
        description=f"TFLite quantizations: {', '.join(TFLITE_QUANTIZATIONS)}; "
        f"ONNX: {', '.join(ONNX_QUANTIZATIONS)}. int8/int16x8 calibrate on real windows.",
    )
    parser.add_argument("model", help=".keras or .h5 model (metadata.json beside it is used)")
    parser.add_argument("--to", dest="fmt", choices=("tflite", "onnx"), default="tflite")
    parser.add_argument("--quant", default="float32", help="quantization (see above)")
    parser.add_argument("--out", required=True, help="output file")
    parser.add_argument("--calibration", help="builtin:NAME, .npz or .csv training data")
    parser.add_argument(
        "--route",
        default="auto",
        choices=ROUTE_CHOICES,
        help="LSTM graph: fused op, unrolled, or auto (default)",
    )
    parser.add_argument("--timesteps", type=int, help="fix the sequence length of the model")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import tempfile

    from edge_rnn.errors import EdgeRnnError

    # Argument checks first: the conversion imports TensorFlow (tens of seconds).
    from edge_rnn.export.routes import check_quantization

    check_quantization(args.fmt, args.quant)
    out = Path(args.out)
    if out.exists():
        raise EdgeRnnError(f"output file '{out}' already exists: choose another --out")
    if not Path(args.model).is_file():
        raise EdgeRnnError(f"model file '{args.model}' not found")

    from edge_rnn.api import convert

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="edge-rnn-") as tmp:
        partial = Path(tmp, out.name)
        result = convert(
            args.model,
            args.fmt,
            args.quant,
            partial,
            calibration=args.calibration,
            route=args.route,
            timesteps=args.timesteps,
            timeout=args.timeout,
        )
        partial.replace(out)
    for note in result.notes:
        print(f"note: {note}")
    print(
        f"wrote {out} ({out.stat().st_size:,} bytes, route {result.route}, "
        f"ops {', '.join(result.ops)})"
    )
    return 0
