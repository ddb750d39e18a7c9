"""`edge-rnn train`: train a Keras RNN on built-in or user data and write DIR/model.keras etc."""

from __future__ import annotations

import argparse
from pathlib import Path

from edge_rnn.choices import (
    CELL_TYPES,
    CLASS_WEIGHTS,
    HEADS,
    LR_SCHEDULES,
    MERGE_MODES,
    SMALL_DATA_MODES,
    TASKS,
)
from edge_rnn.errors import EdgeRnnError


def parse_units(text: str) -> tuple[int, ...]:
    """ "16" -> (16,), "32,16" -> (32, 16)."""
    try:
        units = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise EdgeRnnError(
            f"--units '{text}': give layer sizes as integers, e.g. 16 or 32,16"
        ) from None
    if any(u < 1 for u in units):
        raise EdgeRnnError(f"--units '{text}': every layer needs at least 1 unit")
    return units


def list_data() -> str:
    from edge_rnn.data import builtin_datasets

    entries = builtin_datasets()
    width = max(len(name) for name in entries) + len("builtin:")
    return "\n".join(f"{'builtin:' + name:<{width}}  {text}" for name, text in entries.items())


def run(args: argparse.Namespace) -> int:
    if args.list_data:
        print(list_data())
        return 0
    if not args.data or not args.out:
        raise EdgeRnnError("--data and --out are required (or use --list-data)")
    from edge_rnn.data import load_dataset
    from edge_rnn.fsutil import atomic_output_dir, shown_as
    from edge_rnn.training import ModelSpec, head_for, train
    from edge_rnn.training.task import TaskChoice, label_task, task_line

    units = parse_units(args.units)
    dataset = load_dataset(
        args.data,
        seed=args.seed,
        test_fraction=args.test_fraction,
        timesteps=args.timesteps,
        task=args.task,
    )
    choice = TaskChoice(args.task, "--task") if args.task else label_task(dataset)
    print(task_line(choice, dataset, override=None if args.task else "--task {other}"))
    for note in dataset.notes:
        print(f"note: {note}")
    head = head_for(dataset.sequence_output, args.head)
    spec = ModelSpec(
        cell=args.cell,
        units=units,
        bidirectional=args.bidirectional,
        merge_mode=args.merge_mode,
        head=head,
        dropout=args.dropout,
        pool=args.pool,
    )
    with atomic_output_dir(args.out) as tmp:
        train(
            dataset,
            spec,
            tmp,
            log=shown_as(print, tmp, Path(args.out)),
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            patience=args.patience,
            min_epochs=args.min_epochs,
            learning_rate=args.learning_rate,
            lr_schedule=args.lr_schedule,
            validation_fraction=args.validation_fraction,
            class_weight=args.class_weight,
            small_data=args.small_data,
            fail_at_chance=args.fail_at_chance,
            folds=args.folds,
            verbose=not args.quiet,
            name=args.name,
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a Keras RNN on built-in or NPZ/CSV data",
        description="Train a Keras SimpleRNN/LSTM/GRU (optionally stacked, bidirectional, "
        "sequence output) and write DIR/model.keras, metadata.json, history.json, history.png.",
    )
    parser.add_argument("--data", help="builtin:<name>, a .npz or a .csv file")
    parser.add_argument("--list-data", action="store_true", help="list the built-in data sets")
    parser.add_argument("--out", help="output directory (must not exist)")
    parser.add_argument("--cell", choices=CELL_TYPES, default="lstm")
    parser.add_argument("--units", default="16", help="units per layer, e.g. 16 or 32,16")
    parser.add_argument("--bidirectional", action="store_true")
    parser.add_argument("--merge-mode", choices=MERGE_MODES, default="concat")
    parser.add_argument(
        "--head",
        choices=HEADS,
        help="Dense on the last state or on every time step (default: from the labels)",
    )
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument(
        "--pool",
        type=int,
        help="average every N input steps before the RNN (1: none; default: 1, or down to "
        "64 steps under the small-data recipe)",
    )
    parser.add_argument("--task", choices=TASKS)
    parser.add_argument("--timesteps", type=int, help="window length of built-in data")
    parser.add_argument("--test-fraction", type=float, default=0.2)
    auto = "(default: from the data size)"
    parser.add_argument("--epochs", type=int, help=f"most epochs {auto}")
    parser.add_argument("--batch-size", type=int, help=auto)
    parser.add_argument("--patience", type=int, help=f"early-stopping patience {auto}")
    parser.add_argument("--min-epochs", type=int, help=f"no early stop before {auto}")
    parser.add_argument("--learning-rate", type=float, help=auto)
    parser.add_argument(
        "--lr-schedule",
        choices=LR_SCHEDULES,
        default="auto",
        help="auto: cosine under the small-data recipe, else halve on a plateau",
    )
    parser.add_argument(
        "--validation-fraction",
        type=float,
        help="share of the training windows held out (stratified) for early stopping; 0: none "
        "(default: 0.2, 0 under the small-data recipe)",
    )
    parser.add_argument(
        "--class-weight",
        choices=CLASS_WEIGHTS,
        default="auto",
        help="balanced class weights; auto: when the largest class is 1.5x the smallest",
    )
    parser.add_argument(
        "--small-data",
        choices=SMALL_DATA_MODES,
        default="auto",
        help="small-data recipe: every training window fitted (no validation split), freshly "
        "augmented each epoch, cosine learning rate; auto: classification, < 200 windows",
    )
    parser.add_argument(
        "--fail-at-chance",
        action="store_true",
        help="error (exit 2) when the model is no better than the majority class / mean",
    )
    parser.add_argument(
        "--folds",
        type=int,
        default=0,
        help="also estimate the test metric by K-fold cross-validation (K more trainings)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", help="model name (a C identifier; default <data>_<cell>)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no per-epoch progress")
    parser.set_defaults(func=run)
