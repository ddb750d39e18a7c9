"""`edge-rnn build CONFIG.toml --out DIR`: data -> train -> convert -> C -> validate."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "build",
        help="run the whole pipeline from one TOML config",
        description="Data -> training (or an existing model) -> every TFLite/ONNX conversion -> "
        "C arrays -> validation, into DIR with DIR/manifest.json and DIR/report.json.",
    )
    parser.add_argument("config", help="build configuration (TOML; see README)")
    parser.add_argument("--out", required=True, help="output directory (must not exist)")
    parser.add_argument("--force", action="store_true", help="replace an existing --out")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edge_rnn.api import build
    from edge_rnn.config import load_config

    result = build(load_config(args.config), args.out, overwrite=args.force)
    print(f"build written to {result.out_dir} ({len(result.manifest.artefacts)} artefacts)")
    return 0
