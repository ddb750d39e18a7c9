"""`edge-rnn generate MODEL --backend native --quant float32|int8w|int8 --out DIR`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

NATIVE_QUANTS = ("float32", "int8w", "int8")


def _native(args: argparse.Namespace, calibration_x) -> list[str]:
    from edge_rnn.frontends.keras import load_model_ir
    from edge_rnn.native import generate

    model = load_model_ir(args.model, timesteps=args.timesteps)
    if args.quant not in NATIVE_QUANTS:
        from edge_rnn.errors import EdgeRnnError

        raise EdgeRnnError(
            f"--quant {args.quant}: the native backend supports {', '.join(NATIVE_QUANTS)}"
        )
    gen = generate(model, args.out, quant=args.quant, calibration_x=calibration_x)
    lines = [f"wrote {gen.out_dir}: {', '.join(f.name for f in gen.files)}",
             f"const data {gen.const_bytes:,} bytes, state RAM {gen.ram_bytes:,} bytes, "
             f"outputs {gen.output_dtype}"
             + (f" (value = raw * {gen.output_scale:g})" if gen.output_dtype != "f32" else "")]
    if not gen.streaming:
        lines.append(f"note: no {model.name}_step(): a backward/bidirectional layer needs the "
                     "whole window")
    return lines


# backend name -> generator(args, calibration windows or None) -> lines to print
BACKENDS: dict[str, Callable[[argparse.Namespace, object], list[str]]] = {"native": _native}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate", help="generate C source for a model (interpreter-free native backend)",
        description="native: C99 kernels + weights, quantizations float32 (FPU), int8w "
        "(int8 weights, FPU), int8 (full integer, no FPU needed; needs --calibration).",
    )
    parser.add_argument("model", help=".keras or .h5 model (metadata.json beside it is used)")
    parser.add_argument("--backend", default="native", choices=sorted(BACKENDS))
    parser.add_argument("--quant", default="float32", help="native: float32, int8w or int8")
    parser.add_argument("--out", required=True, help="output directory (must not exist)")
    parser.add_argument("--calibration", help="builtin:NAME, .npz or .csv training data")
    parser.add_argument("--timesteps", type=int, help="fix the sequence length of the model")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import tempfile

    import numpy as np

    calibration_x = None
    if args.calibration:
        from edge_rnn.api import calibration_npz

        with tempfile.TemporaryDirectory(prefix="edge-rnn-") as tmp:
            path = calibration_npz(args.calibration, Path(tmp, "calibration.npz"),
                                   timesteps=args.timesteps)
            with np.load(path) as data:
                calibration_x = np.asarray(data["x"], np.float32)
    for line in BACKENDS[args.backend](args, calibration_x):
        print(line)
    return 0
