"""`edge-rnn carray FILE --out DIR`: a model file as an aligned const C array."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("carray", help="write a .tflite/.onnx as a C .h/.c pair")
    parser.add_argument("file", help=".tflite or .onnx model")
    parser.add_argument("--out", required=True, help="directory for the .h/.c files")
    parser.add_argument("--name", help="C identifier (default: from the file name)")
    parser.add_argument("--metadata", help="model metadata.json (class names, normalization)")
    parser.add_argument(
        "--arena",
        action="store_true",
        help="measure the TFLite Micro arena and put it in the header",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edge_rnn.codegen.carray import write_carray
    from edge_rnn.fsutil import read_json

    metadata = read_json(args.metadata, "metadata file") if args.metadata else None
    arena = None
    if args.arena:
        from edge_rnn.runtimes.tflm import find_min_arena

        arena = find_min_arena(args.file)
    result = write_carray(args.file, args.out, name=args.name, metadata=metadata, arena=arena)
    print(f"wrote {result.header} and {result.source}")
    return 0
