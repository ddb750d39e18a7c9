"""Per-stage validation metrics and TFLM arenas on the built-in data sets (prints the tables).

Usage: python3 benchmarks/validate_builtin.py [DATASET ...] [--cell lstm] [--epochs 20]
Builds each data set with every TFLite/ONNX quantization into a temporary directory through
`edge_rnn.api.build` (validation off there), then runs `validate_build` and prints its table,
the TFLM arena per artefact and the seconds each stage took.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from edge_rnn.api import build
from edge_rnn.config import parse_config
from edge_rnn.validate import validate_build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=["gesture", "vibration", "forecast"])
    parser.add_argument("--cell", default="lstm")
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    for name in args.datasets:
        config = parse_config(
            {
                "name": f"{name}_{args.cell}",
                "data": {"source": f"builtin:{name}"},
                "model": {"cell": args.cell, "units": [args.units]},
                "train": {"epochs": args.epochs},
                "validate": {"enabled": False},
            },
            "benchmarks/validate_builtin.py",
            Path.cwd(),
        )
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "build"
            start = time.perf_counter()
            build(config, out, log=lambda _line: None)
            built = time.perf_counter() - start
            print(f"\n== builtin:{name}, {args.cell}({args.units}), built in {built:.0f} s")
            report = validate_build(out, write=False)
            for artefact, arena in sorted(report.arena.items()):
                print(
                    f"arena {artefact}: min {arena['min_bytes']} B, interpreter reports "
                    f"{arena['interpreter_reported_bytes']} B, recommended "
                    f"{arena['recommended_bytes']} B"
                )
            print("seconds: " + ", ".join(f"{s.name} {s.seconds:.2f}" for s in report.stages))


if __name__ == "__main__":
    main()
