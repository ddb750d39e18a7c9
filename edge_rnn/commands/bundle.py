"""`edge-rnn bundle DIR --out BUNDLE`: models + test windows + runner for an ARM Linux board."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bundle",
        help="pack a build's .tflite/.onnx, test windows and a runner for a Linux board",
        description="Copy the build's TFLite/ONNX artefacts, its raw test windows, normalization "
        "and a standalone run_on_board.py (ai_edge_litert, tflite_runtime or onnxruntime) into "
        "BUNDLE. On the board: python3 run_on_board.py --model NAME > board.log; then "
        "edge-rnn validate DIR --device-log board.log --device-artefact NAME.",
    )
    parser.add_argument("build_dir", metavar="DIR", help="a directory made by `edge-rnn build`")
    parser.add_argument("--out", required=True, help="bundle directory (must not exist)")
    parser.add_argument(
        "--artefact",
        action="append",
        default=[],
        metavar="NAME",
        help="only these artefacts (repeatable; default: every tflite/onnx)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edge_rnn.ontarget.bundle import write_bundle

    bundle = write_bundle(args.build_dir, args.out, names=args.artefact or None)
    print(
        f"wrote {bundle.out_dir}: {len(bundle.artefacts)} model(s), {bundle.samples} windows, "
        f"runner {bundle.script.name}"
    )
    return 0
