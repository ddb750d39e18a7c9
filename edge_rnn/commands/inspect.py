"""`edge-rnn inspect FILE`: ops, sizes, tensor shapes and quantization of a .tflite/.onnx."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("inspect", help="show ops, sizes and I/O of a .tflite/.onnx")
    parser.add_argument("file", help=".tflite or .onnx model")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edge_rnn.export.inspect import format_info, inspect_file

    print(format_info(inspect_file(args.file)))
    return 0
