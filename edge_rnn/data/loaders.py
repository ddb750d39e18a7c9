"""`load_dataset(spec)`: one entry point for built-in, NPZ and CSV data."""

from __future__ import annotations

from pathlib import Path

from edge_rnn.data.builtin import load_builtin
from edge_rnn.data.csvfile import load_csv
from edge_rnn.data.dataset import Dataset
from edge_rnn.data.npz import load_npz
from edge_rnn.errors import EdgeRnnError

BUILTIN_PREFIX = "builtin:"


def load_dataset(
    spec: str,
    *,
    seed: int = 0,
    test_fraction: float = 0.2,
    timesteps: int | None = None,
    task: str | None = None,
) -> Dataset:
    """Load `builtin:<name>`, a `.npz` file or a `.csv` file (see `edge_rnn.data.csvfile`).

    `seed` drives generation of built-ins and every train/test split; `timesteps` sets the
    window length of built-ins and, for files, must match the data; `task` forces
    "classification" or "regression" (default: inferred from the labels).
    """
    if spec.startswith(BUILTIN_PREFIX):
        return load_builtin(
            spec[len(BUILTIN_PREFIX) :],
            seed=seed,
            test_fraction=test_fraction,
            timesteps=timesteps,
            task=task,
        )
    path = Path(spec)
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".csv"):
        raise EdgeRnnError(
            f"data '{spec}': use builtin:<name>, a .npz file or a .csv file "
            "(edge-rnn train --list-data shows the built-ins)"
        )
    if not path.is_file():
        raise EdgeRnnError(f"data file '{spec}' not found")
    loader = load_npz if suffix == ".npz" else load_csv
    dataset = loader(path, seed=seed, test_fraction=test_fraction, task=task)
    if timesteps is not None and timesteps != dataset.timesteps:
        raise EdgeRnnError(
            f"{spec}: the data has {dataset.timesteps} time steps but {timesteps} were asked "
            "for; omit timesteps for file data or re-window the file"
        )
    return dataset
