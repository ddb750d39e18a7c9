"""`edge-rnn demo [--out DIR]`: the whole pipeline on the built-in gesture data set."""

from __future__ import annotations

import argparse

from edge_rnn.choices import CELL_TYPES

DEMO_OUT = "edge-rnn-demo"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="end-to-end demo on built-in data (train, convert, generate C, validate)",
        description="Train an LSTM on the built-in 3-axis accelerometer gesture data, convert it "
        "to every TFLite/ONNX quantization, write C, validate every artefact and print the table.",
    )
    parser.add_argument("--out", default=DEMO_OUT, help=f"output directory (default {DEMO_OUT})")
    parser.add_argument("--force", action="store_true", help="replace an existing --out")
    parser.add_argument("--cell", default="lstm", choices=CELL_TYPES)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edge_rnn.api import build
    from edge_rnn.config import BuildConfig, DataConfig, ModelConfig, TrainConfig

    config = BuildConfig(
        name=f"gesture_{args.cell}",
        data=DataConfig(source="builtin:gesture"),
        model=ModelConfig(cell=args.cell, units=(16,)),
        train=TrainConfig(epochs=20),
        source="edge-rnn demo",
    )
    result = build(config, args.out, overwrite=args.force)
    print(f"\ndemo written to {result.out_dir}: manifest.json, report.html, C in carray/")
    return 0
