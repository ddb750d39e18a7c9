"""`edge-rnn sweep` figures: wall time of the same sweep on 1 and 2 LocalCluster workers (ratio),
and the Pareto fronts (accuracy vs flash vs instructions) found on builtin:gesture and
builtin:vibration, per target (cortex-m4f, cortex-m0plus: every trial is measured on both).

    python3 benchmarks/sweep.py [--trials 20] [--scaling-trials 20] [--epochs 10]
        [--datasets gesture,vibration] [--keep DIR]

Trials are real: train (seeded), generate native C, validate (host C, streaming, QEMU on each
target), measure flash/RAM (model linked for the target) and instructions (QEMU icount).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_rnn.sweep.config import parse_sweep  # noqa: E402
from edge_rnn.sweep.engine import run_sweep  # noqa: E402
from edge_rnn.sweep.results import dominates  # noqa: E402

TARGETS = ["cortex-m4f", "cortex-m0plus"]


def sweep_config(dataset: str, epochs: int, trials: int, where: Path) -> object:
    data = {
        "name": dataset,
        "data": {"source": f"builtin:{dataset}"},
        "train": {"epochs": epochs, "patience": 3},
        "sweep": {
            "trials": trials,
            "targets": TARGETS,
            "objectives": ["accuracy", "flash", "instructions"],
            "space": {
                "cell": ["lstm", "gru", "simple_rnn"],
                "units": [4, 8, 16, 32],
                "layers": [1, 2],
                "learning_rate": {"low": 0.003, "high": 0.03, "log": True},
                "artefact": ["native:int8", "native:int8w"],
            },
        },
    }
    return parse_sweep(data, f"benchmarks/sweep.py ({dataset})", where)


def quiet(_: str) -> None:
    pass


def scaling(args: argparse.Namespace, work: Path) -> None:
    seconds = {}
    for workers in (1, 2):
        config = sweep_config("gesture", args.epochs, args.scaling_trials, work)
        start = time.perf_counter()
        run_sweep(config, work / f"scaling-{workers}", workers=workers, log=quiet)
        seconds[workers] = time.perf_counter() - start
        print(f"{args.scaling_trials} trials on {workers} worker(s): {seconds[workers]:.0f} s")
    print(f"speed-up 2 workers vs 1: {seconds[1] / seconds[2]:.2f}x", flush=True)


def fronts(dataset: str, args: argparse.Namespace, work: Path) -> None:
    config = sweep_config(dataset, args.epochs, args.trials, work)
    start = time.perf_counter()
    outcome = run_sweep(config, work / f"front-{dataset}", workers=2, log=quiet)
    summary = outcome.summary
    print(
        f"\nbuiltin:{dataset}: {summary['counts']} in {time.perf_counter() - start:.0f} s "
        f"(2 workers); sweep.html: {outcome.html_path}"
    )
    good = [r for r in summary["trials"] if r["status"] == "complete" and r["feasible"]]
    print(
        f"{'target':14} {'trial':>5} {'cell':10} {'units':8} {'mode':6} {'acc':>6} "
        f"{'flash B':>8} {'RAM B':>6} {'instr':>9} {'ms@clock':>8}"
    )
    for target in TARGETS:

        def point(record: dict, target: str = target) -> list[float]:
            on = record["metrics"]["targets"][target]
            return [record["metrics"]["accuracy"], on["flash_bytes"], on["instructions"]]

        directions = ["maximize", "minimize", "minimize"]
        front = [
            r for r in good if not any(dominates(point(o), point(r), directions) for o in good)
        ]
        for r in sorted(front, key=lambda r: r["metrics"]["targets"][target]["flash_bytes"]):
            on, params = r["metrics"]["targets"][target], r["params"]
            print(
                f"{target:14} {r['number']:>5} {params.get('cell', ''):10} "
                f"{','.join(map(str, params['units'])):8} {params['artefact'][7:]:6} "
                f"{r['metrics']['accuracy']:>6.3f} {on['flash_bytes']:>8,} {on['ram_bytes']:>6,} "
                f"{on['instructions']:>9,} {on['latency_ms']:>8.3f}",
                flush=True,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="trials per data set (fronts)")
    parser.add_argument("--scaling-trials", type=int, default=20, help="trials per wall time")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--datasets", default="gesture,vibration")
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--keep", default="", help="keep the sweep directories here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edge-rnn-bench-sweep-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        if not args.skip_scaling:
            scaling(args, work)
        for dataset in filter(None, args.datasets.split(",")):
            fronts(dataset, args, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
