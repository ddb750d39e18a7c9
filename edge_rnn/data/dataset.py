"""The `Dataset` every stage trains and validates on, with the checks all loaders share.

x is float32 shaped (samples, timesteps, features). Classification labels are int64 class
indices shaped (N,) or, for one label per time step, (N, T); regression targets are float32
shaped (N, K) or (N, T, K).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_rnn.errors import EdgeRnnError
from edge_rnn.ir import TASKS, Normalization

MAX_CLASSES = 1024
_MIN_STD = 1e-6  # below this a feature is constant: scale 1.0 instead of dividing by ~0


@dataclass(frozen=True, eq=False)
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task: str  # one of ir.TASKS
    class_names: tuple[str, ...]
    feature_names: tuple[str, ...]
    source: str = ""  # the spec it was loaded from, e.g. "builtin:gesture" or a file path
    notes: tuple[str, ...] = ()  # what the loader renamed or ignored, for the user to see
    # "int32": x holds integer token ids (for an Embedding model) as (N, T, 1), never normalized
    input_dtype: str = "float32"

    @property
    def sequence_output(self) -> bool:
        """True when y has a time axis (one label/target per time step)."""
        return self.y_train.ndim == (2 if self.task == "classification" else 3)

    @property
    def timesteps(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def features(self) -> int:
        return int(self.x_train.shape[2])

    @property
    def num_outputs(self) -> int:
        """Classes for classification, target size K for regression."""
        if self.task == "classification":
            return len(self.class_names)
        return int(self.y_train.shape[-1])


def fit_normalization(x_train: np.ndarray) -> Normalization:
    """Per-feature mean and std over samples and time (values exact in float32)."""
    flat = np.asarray(x_train, np.float64).reshape(-1, x_train.shape[-1])
    mean = flat.mean(axis=0)
    std = flat.std(axis=0)
    std = np.where(std < _MIN_STD, 1.0, std)
    return Normalization(
        mean=tuple(float(v) for v in mean.astype(np.float32)),
        scale=tuple(float(v) for v in std.astype(np.float32)),
    )


def offset_features(x: np.ndarray, names: tuple[str, ...], ratio: float = 4.0) -> list[str]:
    """Features whose mean lies more than `ratio` standard deviations from zero, as
    "name (mean M, std S)": raw values that quantized weights multiply with their offset."""
    flat = np.asarray(x, np.float64).reshape(-1, x.shape[-1])
    mean, std = flat.mean(axis=0), flat.std(axis=0)
    return [
        f"{name} (mean {m:.4g}, std {s:.3g})"
        for name, m, s in zip(names, mean, std, strict=True)
        if s > _MIN_STD and abs(m) > ratio * s
    ]


def first_non_finite(values: np.ndarray) -> tuple[int, tuple[int, ...]] | None:
    """(count, index of the first) NaN/inf entries, or None when all are finite."""
    bad = ~np.isfinite(values)
    count = int(bad.sum())
    if not count:
        return None
    first = np.unravel_index(int(np.argmax(bad.ravel())), values.shape)
    return count, tuple(int(i) for i in first)


def split_indices(n: int, test_fraction: float, seed: int, source: str) -> tuple[np.ndarray, ...]:
    """Seeded shuffle of range(n) cut into (train, test) index arrays."""
    if not 0.0 < test_fraction < 1.0:
        raise EdgeRnnError(
            f"test fraction must be between 0 and 1 (exclusive), got {test_fraction}"
        )
    if n < 2:
        raise EdgeRnnError(f"{source}: {n} sample(s) cannot be split into train and test data")
    n_test = min(n - 1, max(1, round(n * test_fraction)))
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def encode_labels(
    values: np.ndarray, task: str | None, source: str, field: str
) -> tuple[np.ndarray, str, tuple[str, ...]]:
    """Turn raw labels (numbers or strings) into (y, task, class_names).

    Strings become class indices in sorted order; integers are class indices unless the task
    is regression; floats are regression targets unless the task is classification (then they
    must be whole numbers).
    """
    if task is not None and task not in TASKS:
        raise EdgeRnnError(f"unknown task '{task}': use one of {', '.join(TASKS)}")
    if values.dtype.kind in "USO":
        if task == "regression":
            raise EdgeRnnError(f"{source}: {field} holds text labels; regression needs numbers")
        text = values.astype(str)
        names = tuple(sorted(set(text.ravel().tolist())))
        lookup = {name: i for i, name in enumerate(names)}
        encoded = np.vectorize(lookup.__getitem__, otypes=[np.int64])(text)
        return encoded.reshape(values.shape), "classification", names
    if values.dtype.kind not in "biuf":
        raise EdgeRnnError(f"{source}: {field} has unsupported dtype {values.dtype}; use numbers")
    check_finite(values, source, field)
    if task is None:
        task = "classification" if values.dtype.kind in "biu" else "regression"
    if task == "regression":
        return values.astype(np.float32), task, ()
    if not np.all(values == np.round(values)):
        bad = np.argmax((values != np.round(values)).ravel())
        raise EdgeRnnError(
            f"{source}: {field} has non-integer class label {float(values.ravel()[bad]):g}; "
            "classification needs class indices 0..C-1 (or pass task regression)"
        )
    if values.size and values.min() < 0:
        raise EdgeRnnError(
            f"{source}: {field} has negative class label {int(values.min())}; "
            "classification needs class indices 0..C-1"
        )
    if values.size and values.max() >= MAX_CLASSES:
        raise EdgeRnnError(
            f"{source}: {field} has class label {values.max():g}; classification needs class "
            f"indices 0..C-1 with C <= {MAX_CLASSES} (or pass task regression)"
        )
    return values.astype(np.int64), task, ()


def one_hot_indices(values: np.ndarray) -> np.ndarray | None:
    """Class indices of one-hot labels (keras.utils.to_categorical: float rows holding a single
    1 along the last axis), or None when `values` are not one-hot."""
    if values.ndim < 2 or values.shape[-1] < 2 or values.dtype.kind not in "fb" or not values.size:
        return None
    if not (np.isin(values, (0, 1)).all() and (values.sum(axis=-1) == 1).all()):
        return None
    return np.argmax(values, axis=-1).astype(np.int64)


def check_finite(values: np.ndarray, source: str, field: str) -> None:
    found = first_non_finite(values)
    if found:
        count, index = found
        raise EdgeRnnError(
            f"{source}: {field} has {count} NaN/inf value(s), first at index {index}; "
            "clean or drop those samples"
        )


def check_windows(x: np.ndarray, source: str, field: str) -> None:
    """x must be a non-empty, finite (samples, timesteps, features) array."""
    if x.ndim != 3:
        raise EdgeRnnError(
            f"{source}: {field} must be 3-D (samples, timesteps, features), got shape {x.shape}"
        )
    if 0 in x.shape:
        raise EdgeRnnError(f"{source}: {field} is empty (shape {x.shape})")
    check_finite(x, source, field)


def make_dataset(
    *,
    name: str,
    source: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    task: str,
    class_names: tuple[str, ...] = (),
    feature_names: tuple[str, ...] = (),
    notes: tuple[str, ...] = (),
    input_dtype: str = "float32",
) -> Dataset:
    """Check shapes, values and labels of both splits and build the `Dataset`.

    Class names default to "0".."C-1"; feature names to "x0".."x{F-1}".
    """
    check_windows(x_train, source, "x_train")
    check_windows(x_test, source, "x_test")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise EdgeRnnError(
            f"{source}: x_train has (timesteps, features) {x_train.shape[1:]} but x_test has "
            f"{x_test.shape[1:]}; both splits need the same window shape"
        )
    y_train, y_test = (
        _standard_shape(y, x, task) for y, x in ((y_train, x_train), (y_test, x_test))
    )
    for field, x, y in (("y_train", x_train, y_train), ("y_test", x_test, y_test)):
        _check_labels(source, field, x, y, task)
    if task == "classification":
        class_names = _class_names(source, y_train, y_test, class_names)
    feature_names = feature_names or tuple(f"x{i}" for i in range(x_train.shape[2]))
    if len(feature_names) != x_train.shape[2]:
        raise EdgeRnnError(
            f"{source}: {len(feature_names)} feature names for {x_train.shape[2]} features"
        )
    return Dataset(
        name=name,
        x_train=np.ascontiguousarray(x_train, np.float32),
        y_train=np.ascontiguousarray(y_train),
        x_test=np.ascontiguousarray(x_test, np.float32),
        y_test=np.ascontiguousarray(y_test),
        task=task,
        class_names=tuple(class_names),
        feature_names=tuple(feature_names),
        source=source,
        notes=notes,
        input_dtype=input_dtype,
    )


def _standard_shape(y: np.ndarray, x: np.ndarray, task: str) -> np.ndarray:
    """Regression (N,) -> (N, 1); classification (N, 1) -> (N,) unless it is per-step (T == 1)."""
    if task == "regression" and y.ndim == 1:
        return y.reshape(-1, 1)
    if task == "classification" and y.ndim == 2 and y.shape[1] == 1 and x.shape[1] != 1:
        return y.reshape(-1)
    return y


def _check_labels(source: str, field: str, x: np.ndarray, y: np.ndarray, task: str) -> None:
    if y.shape[:1] != x.shape[:1]:
        raise EdgeRnnError(
            f"{source}: {field} has {y.shape[0] if y.ndim else 0} labels but x has "
            f"{x.shape[0]} samples; they must match"
        )
    seq_ndim = 2 if task == "classification" else 3
    expected = "(N,) or (N, T)" if task == "classification" else "(N, K) or (N, T, K)"
    if y.ndim not in (seq_ndim - 1, seq_ndim):
        raise EdgeRnnError(f"{source}: {field} must be shaped {expected}, got {y.shape}")
    # Fewer labels than steps fit a model that shortens the sequence (strides, pooling).
    if y.ndim == seq_ndim and y.shape[1] > x.shape[1]:
        raise EdgeRnnError(
            f"{source}: {field} has {y.shape[1]} per-time-step labels but x has only "
            f"{x.shape[1]} time steps"
        )


def _class_names(
    source: str, y_train: np.ndarray, y_test: np.ndarray, names: tuple[str, ...]
) -> tuple[str, ...]:
    top = int(max(y_train.max(), y_test.max()))
    if names and top >= len(names):
        raise EdgeRnnError(
            f"{source}: class label {top} but only {len(names)} class names are given"
        )
    count = max(len(names), top + 1)
    if len(np.unique(y_train)) < 2:
        raise EdgeRnnError(
            f"{source}: y_train holds fewer than 2 classes; a classifier needs at least 2"
        )
    return names or tuple(str(i) for i in range(count))
