"""CSV data files: one row per time step of one sample.

Format (comma separated, header row required, column order free):

    sample,t,ax,ay,az,label
    0,0,0.01,-0.02,0.98,wave
    0,1,0.11,-0.01,0.97,wave
    ...
    1,0,0.00,0.01,1.01,idle

- `sample`: any id (number or text) grouping the rows of one sequence (window).
- `t`: the time step (number); rows of a sample may come in any order and are sorted by `t`.
  Every sample must have the same number of time steps, and no `t` twice.
- `label`: a class name (text), a class index (integer, e.g. `3`) or a regression target
  (a number with a decimal point or exponent, e.g. `3.0`, `0.25`, `1e-3`).
  The same value on every row of a sample gives one label per sample; values that change
  along `t` give one label per time step (sequence-to-sequence output).
  Text labels become class indices in sorted order; integer labels are class indices unless
  the task is set to regression; other numbers are regression targets.
- optional `split`: `train` or `test` on every row; without it the samples are split into
  train and test with the seed and the test fraction.
- every other column is an input feature (a number), in the order of the header.
"""

from __future__ import annotations

import csv
import operator
from pathlib import Path

import numpy as np

from edge_rnn.data.dataset import Dataset, encode_labels, make_dataset, split_indices
from edge_rnn.errors import EdgeRnnError

REQUIRED_COLUMNS = ("sample", "t", "label")
_SPLIT = "split"


def load_csv(path: Path, *, seed: int, test_fraction: float, task: str | None) -> Dataset:
    source = str(path)
    header, rows = _read(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise EdgeRnnError(
            f"{source}: missing column(s) {', '.join(missing)} (header: {','.join(header)}); "
            "the header needs sample, t, feature columns and label: rename the columns that "
            "hold them (every other column is read as a feature)"
        )
    col = {name: i for i, name in enumerate(header)}
    features = [c for c in header if c not in (*REQUIRED_COLUMNS, _SPLIT)]
    if not features:
        raise EdgeRnnError(f"{source}: no feature columns besides sample, t and label")
    if not rows:
        raise EdgeRnnError(f"{source}: has a header but no data rows")

    groups = _group_by_sample(rows, col["sample"])
    order = _sorted_rows(groups, rows, col["t"], source)
    n, steps = len(order), len(order[0][1])
    row_of = [i for _, indices in order for i in indices]  # flat position -> row index
    flat = [rows[i] for i in row_of]
    x = _numbers(flat, [col[f] for f in features], features, source, row_of)
    labels = _labels(flat, col["label"], n, steps, source, row_of)
    y, task, class_names = encode_labels(labels, task, source, "label")
    if task == "regression":
        y = y[..., None]  # (N, 1) or (N, T, 1)

    if _SPLIT in col:
        is_test = _split_column(rows, order, col[_SPLIT], source)
        train, test = np.flatnonzero(~is_test), np.flatnonzero(is_test)
        if not len(train) or not len(test):
            raise EdgeRnnError(f"{source}: column split needs both train and test samples")
    else:
        train, test = split_indices(n, test_fraction, seed, source)
    x = x.reshape(n, steps, len(features))
    return make_dataset(
        name=path.stem,
        source=source,
        x_train=x[train],
        y_train=y[train],
        x_test=x[test],
        y_test=y[test],
        task=task,
        class_names=class_names,
        feature_names=tuple(features),
    )


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [h.strip() for h in next(reader, [])]
            rows = [row for row in reader if row]
    except (UnicodeDecodeError, csv.Error) as err:
        raise EdgeRnnError(f"{path}: not a readable CSV file ({err})") from None
    if not header:
        raise EdgeRnnError(f"{path}: is empty; expected a header row sample,t,<features>,label")
    if len(set(header)) != len(header):
        raise EdgeRnnError(f"{path}: header repeats a column name: {','.join(header)}")
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise EdgeRnnError(
                f"{path} line {number}: {len(row)} fields but the header has {len(header)}"
            )
    return header, rows


def _group_by_sample(rows: list[list[str]], column: int) -> dict[str, list[int]]:
    """Sample id -> row indices, in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(row[column].strip(), []).append(i)
    return groups


def _sorted_rows(
    groups: dict[str, list[int]], rows: list[list[str]], t_column: int, source: str
) -> list[tuple[str, list[int]]]:
    """Each sample's row indices sorted by t; every sample must have the same length."""
    first_id, first_rows = next(iter(groups.items()))
    steps = len(first_rows)
    order = []
    for sample, indices in groups.items():
        if len(indices) != steps:
            raise EdgeRnnError(
                f"{source}: sample '{sample}' has {len(indices)} time steps but sample "
                f"'{first_id}' has {steps}; every sample needs the same number of rows"
            )
        times = [_number(rows[i][t_column], source, i, "t") for i in indices]
        if len(set(times)) != len(times):
            raise EdgeRnnError(f"{source}: sample '{sample}' repeats a value of t")
        order.append((sample, [i for _, i in sorted(zip(times, indices, strict=True))]))
    return order


def _number(text: str, source: str, row: int, column: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise EdgeRnnError(
            f"{source} line {row + 2}: column {column} value '{text}' is not a number"
        ) from None


def _numbers(
    flat: list[list[str]],
    columns: list[int],
    names: list[str],
    source: str,
    row_of: list[int],
) -> np.ndarray:
    try:
        pick = operator.itemgetter(*columns)
        cells = np.array([pick(row) for row in flat]).reshape(len(flat), len(columns))
        values = cells.astype(np.float32)
    except ValueError:  # slow path, only to name the offending cell
        for row, i in zip(flat, row_of, strict=True):
            for c, name in zip(columns, names, strict=True):
                _number(row[c], source, i, name)
        raise
    bad = ~np.isfinite(values)
    if bad.any():
        k, c = np.argwhere(bad)[0]
        raise EdgeRnnError(
            f"{source}: {int(bad.sum())} NaN/inf feature value(s), first on line "
            f"{row_of[k] + 2} column {names[c]}; clean or drop those samples"
        )
    return values


def _labels(
    flat: list[list[str]], column: int, n: int, steps: int, source: str, row_of: list[int]
) -> np.ndarray:
    """(N,) when every sample has one label on all its rows, else (N, T)."""
    text = np.array([row[column].strip() for row in flat])
    if not all(text):
        raise EdgeRnnError(f"{source} line {row_of[int(np.argmin(text != ''))] + 2}: empty label")
    text = text.reshape(n, steps)
    values = text
    for dtype in (np.int64, np.float64):  # "3" is a class index, "3.0" a target, "cat" a name
        try:
            values = text.astype(dtype)
            break
        except ValueError:
            continue
    if np.all(values == values[:, :1]):
        return values[:, 0]
    return values


def _split_column(
    rows: list[list[str]], order: list[tuple[str, list[int]]], column: int, source: str
) -> np.ndarray:
    flags = []
    for sample, indices in order:
        values = {rows[i][column].strip().lower() for i in indices}
        if len(values) != 1 or not values <= {"train", "test"}:
            raise EdgeRnnError(
                f"{source}: sample '{sample}' column split must be 'train' or 'test' on every "
                f"row, found {', '.join(sorted(values))}"
            )
        flags.append(values == {"test"})
    return np.array(flags)
