"""Foundation figures: CLI start-up, end-to-end demo wall time, artefact sizes.

    python3 benchmarks/foundation.py [--cell lstm|gru|simple_rnn] [--keep DIR]

Prints wall times (seconds, median of 5 for --help) and, from the demo's manifest, every
artefact's size with its ratio to the float32 TFLite model.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", default="lstm", choices=("lstm", "gru", "simple_rnn"))
    parser.add_argument("--keep", help="keep the demo directory here")
    args = parser.parse_args()
    cli = [sys.executable, "-m", "edge_rnn.cli"]
    help_times = [wall([*cli, "--help"]) for _ in range(5)]
    print(f"edge-rnn --help: {statistics.median(help_times):.3f} s (median of 5)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep) if args.keep else Path(tmp, "demo")
        seconds = wall([*cli, "demo", "--out", str(out), "--cell", args.cell, "--force"])
        print(
            f"edge-rnn demo --cell {args.cell}: {seconds:.1f} s wall "
            "(train, 7 conversions, C arrays, native C, validation of every stage)"
        )
        manifest = json.loads((out / "manifest.json").read_text())
        report = json.loads((out / "report.json").read_text())
        artefacts = manifest["artefacts"]
        reference = next(a["size_bytes"] for a in artefacts if a["name"] == "tflite_float32")
        print(f"\n{'artefact':<16} {'bytes':>9} {'vs tflite f32':>14}  route / arena")
        for a in artefacts:
            arena = a.get("tflm_arena", {}).get("recommended_bytes")
            extra = a.get("route", "") + (f", TFLM arena {arena:,} B" if arena else "")
            if a["format"] == "native-c":
                extra = f"weights only; RAM {a['ram_bytes']:,} B"
            print(
                f"{a['name']:<16} {a['size_bytes']:>9,} {a['size_bytes'] / reference:>13.2f}x"
                f"  {extra}"
            )
        passed = sum(1 for s in report["stages"] if s["passed"])
        print(f"\nvalidation: {passed}/{len(report['stages'])} stages passed")
        if args.keep is None:
            shutil.rmtree(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
