"""`edge-rnn sweep CONFIG.toml --out DIR`: hardware-aware search (Optuna on Dask), and
`edge-rnn sweep --best DIR --pick "flash<32k,acc>=0.95"`: rebuild the chosen trial."""

from __future__ import annotations

import argparse

from edge_rnn.errors import EdgeRnnError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="search RNN configurations for the smallest that meets the accuracy (Optuna, Dask)",
        description="Each trial trains, builds, validates and measures one configuration "
        "(flash/RAM on the target, instructions on the emulated core); Optuna picks the next "
        "(NSGA-II or TPE, constraint-aware); trials run on Dask workers. The study is stored "
        "in DIR, so running the same command again resumes or (with more --trials) extends it. "
        "Writes DIR/sweep.json and DIR/sweep.html.",
    )
    parser.add_argument("config", nargs="?", help="build config with a [sweep] table (TOML)")
    parser.add_argument("--out", help="sweep directory (created, or resumed when it exists)")
    parser.add_argument("--trials", type=int, help="trials the study should hold (default: config)")
    parser.add_argument(
        "--workers", type=int, help="parallel trials (LocalCluster processes; default: config)"
    )
    parser.add_argument(
        "--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786"
    )
    parser.add_argument("--best", metavar="DIR", help="rebuild a trial of the sweep in DIR")
    parser.add_argument(
        "--pick", default="", help='with --best: conditions, e.g. "flash<32k,acc>=0.95"'
    )
    parser.add_argument("--force", action="store_true", help="with --best: replace --out")
    parser.set_defaults(func=run)


def _best(args: argparse.Namespace) -> int:
    from pathlib import Path

    from edge_rnn.sweep.pick import parse_pick, rebuild

    out = Path(args.out or Path(args.best) / "best")
    record, config_path, result = rebuild(
        args.best, parse_pick(args.pick), out, overwrite=args.force
    )
    metrics = record["metrics"]
    print(
        f"trial {record['number']} rebuilt into {result.out_dir} (config {config_path}); "
        f"in the sweep: accuracy {metrics.get('accuracy')}, flash {metrics.get('flash_bytes')} B, "
        f"instructions {metrics.get('instructions')}"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    if args.best:
        if args.config:
            raise EdgeRnnError("give either CONFIG.toml (run a sweep) or --best DIR, not both")
        return _best(args)
    if not args.config or not args.out:
        raise EdgeRnnError("usage: edge-rnn sweep CONFIG.toml --out DIR (or --best DIR)")
    for name in ("trials", "workers"):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            raise EdgeRnnError(f"--{name} must be positive")
    from edge_rnn.sweep.config import load_sweep_config
    from edge_rnn.sweep.engine import run_sweep

    outcome = run_sweep(
        load_sweep_config(args.config),
        args.out,
        trials=args.trials,
        workers=args.workers,
        scheduler=args.scheduler,
    )
    counts = outcome.summary["counts"]
    print(
        f"sweep: {counts['complete']} complete ({counts['feasible']} feasible), "
        f"{counts['failed']} failed; Pareto front: trials {outcome.summary['pareto']}"
    )
    return 0
