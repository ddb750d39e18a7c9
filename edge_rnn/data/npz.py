"""NPZ data files: `x_train, y_train[, x_test, y_test]` or `x, y` (split here with the seed).

x is (samples, timesteps, features). y holds class indices (ints), class names (strings) or
regression targets (floats). Optional arrays `class_names` and `feature_names` (strings)
name the classes and the feature channels (common other names are read too, see ALIASES).
Arrays with other names are ignored, and the Dataset's notes say so.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edge_rnn.data.dataset import (
    Dataset,
    check_finite,
    check_windows,
    encode_labels,
    make_dataset,
    one_hot_indices,
    split_indices,
)
from edge_rnn.errors import EdgeRnnError

KNOWN_ARRAYS = ("x", "y", "x_train", "y_train", "x_test", "y_test", "class_names", "feature_names")
# Names other tools and tutorials use (scikit-learn's target_names, ...) -> ours.
ALIASES = {
    "classes": "class_names",
    "class_labels": "class_names",
    "label_names": "class_names",
    "target_names": "class_names",
    "labels_names": "class_names",
    "features": "feature_names",
    "channels": "feature_names",
    "channel_names": "feature_names",
}


def load_npz(path: Path, *, seed: int, test_fraction: float, task: str | None) -> Dataset:
    source = str(path)
    arrays, known = _canonical(_read(path), source)
    notes = list(known)
    for key in ("y", "y_train", "y_test"):
        if key in arrays and arrays[key].dtype.kind in "f":
            check_finite(arrays[key], source, key)  # before any split: indices as in the file
    if task != "regression":
        notes += _one_hot_labels(arrays, source)
    if "x_train" in arrays:
        missing = [k for k in ("y_train",) if k not in arrays]
        has_test = "x_test" in arrays or "y_test" in arrays
        if has_test:
            missing += [k for k in ("x_test", "y_test") if k not in arrays]
        if missing:
            raise EdgeRnnError(f"{source}: missing array(s) {', '.join(missing)}")
        x_train, y_train = _x(arrays, "x_train", source), arrays["y_train"]
        if has_test:
            x_test, y_test = _x(arrays, "x_test", source), arrays["y_test"]
        else:
            x_train, y_train, x_test, y_test = _split(
                x_train, y_train, seed, test_fraction, source, "y_train"
            )
    elif "x" in arrays and "y" in arrays:
        x_train, y_train, x_test, y_test = _split(
            _x(arrays, "x", source), arrays["y"], seed, test_fraction, source, "y"
        )
    else:
        raise EdgeRnnError(
            f"{source}: needs arrays x_train, y_train[, x_test, y_test] or x, y; "
            f"found {', '.join(sorted(arrays)) or 'none'}"
        )
    # Encode both splits together so string labels share one class list.
    labels = np.concatenate([y_train.ravel(), y_test.ravel()])
    encoded, task, names = encode_labels(labels, task, source, "y")
    y_train = encoded[: y_train.size].reshape(y_train.shape)
    y_test = encoded[y_train.size :].reshape(y_test.shape)
    if names and "class_names" in arrays:
        raise EdgeRnnError(f"{source}: labels are text, so drop the class_names array")
    class_names = tuple(_strings(arrays, "class_names", source)) or names
    return make_dataset(
        name=path.stem,
        source=source,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        task=task,
        class_names=class_names,
        feature_names=tuple(_strings(arrays, "feature_names", source)),
        notes=tuple(notes),
        input_dtype="int32" if is_token_ids(arrays.get("x_train", arrays.get("x"))) else "float32",
    )


def read_windows(
    path: Path, keys: Sequence[str], *, source: str | None = None
) -> tuple[np.ndarray, np.ndarray | None, str]:
    """(x, its labels or None, the key read) for the first of `keys` (e.g. "x_test", "x") in the
    NPZ: windows checked to be 3-D, non-empty, finite numbers. `source` names the file in
    messages (default: the path)."""
    source = source or str(path)
    arrays = _read(path, source)
    for key in keys:
        if key in arrays:
            return _x(arrays, key, source), arrays.get("y" + key[1:]), key
    raise EdgeRnnError(
        f"{source}: needs an array {' or '.join(keys)} of windows (samples, timesteps, "
        f"features); found {', '.join(sorted(arrays)) or 'no arrays'}"
    )


def _canonical(
    arrays: dict[str, np.ndarray], source: str
) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """Arrays under our names, and notes on what was renamed or ignored."""
    notes = []
    for alias in sorted(set(arrays) & set(ALIASES)):
        name = ALIASES[alias]
        if name in arrays:
            raise EdgeRnnError(f"{source}: has both '{alias}' and '{name}'; keep one")
        arrays[name] = arrays.pop(alias)
        notes.append(f"{source}: read array '{alias}' as {name}")
    ignored = sorted(set(arrays) - set(KNOWN_ARRAYS))
    if ignored:
        notes.append(
            f"{source}: ignored array(s) {', '.join(ignored)} "
            f"(edge-rnn reads {', '.join(KNOWN_ARRAYS)})"
        )
    return arrays, tuple(notes)


def _one_hot_labels(arrays: dict[str, np.ndarray], source: str) -> list[str]:
    """Replace one-hot label arrays by their class indices, in place; notes saying so. (N, K)
    labels as wide as the windows are long stay per-step labels."""
    x = arrays.get("x_train", arrays.get("x"))
    steps = x.shape[1] if x is not None and x.ndim == 3 else None
    notes = []
    for key in ("y", "y_train", "y_test"):
        labels = arrays.get(key)
        if labels is None or (labels.ndim == 2 and labels.shape[1] == steps):
            continue
        indices = one_hot_indices(labels)
        if indices is not None:
            arrays[key] = indices
            notes.append(
                f"{source}: {key} {labels.shape} is one-hot: read as class indices "
                f"0..{labels.shape[-1] - 1}"
            )
    return notes


def _read(path: Path, source: str | None = None) -> dict[str, np.ndarray]:
    source = source or str(path)
    if not path.is_file():
        raise EdgeRnnError(f"{source}: file not found")
    if not zipfile.is_zipfile(path):
        raise EdgeRnnError(
            f"{source}: not a readable NPZ file (empty, truncated or not a zip archive); "
            "save it with numpy.savez"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise EdgeRnnError(
                f"{source}: holds Python objects; save plain numeric or string arrays"
            ) from None
        raise EdgeRnnError(f"{source}: not a readable NPZ file ({err})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise EdgeRnnError(f"{source}: not a readable NPZ file ({err})") from None


def _x(arrays: dict[str, np.ndarray], key: str, source: str) -> np.ndarray:
    x = arrays[key]
    if x.dtype.kind not in "biuf":
        raise EdgeRnnError(f"{source}: {key} has dtype {x.dtype}; it must hold numbers")
    if is_token_ids(x):
        x = token_windows(x, source, key)
    check_windows(x, source, key)
    return x.astype(np.float32)


def is_token_ids(x: np.ndarray | None) -> bool:
    """(samples, timesteps) integers: one token id per time step, for an Embedding model."""
    return x is not None and x.ndim == 2 and x.dtype.kind in "iu"


def token_windows(x: np.ndarray, source: str, key: str) -> np.ndarray:
    """Token ids (N, T) as (N, T, 1) windows; ids are exact in float32 up to 2^24."""
    if x.size and (x.min() < 0 or x.max() >= 2**24):
        raise EdgeRnnError(f"{source}: {key} holds token ids outside 0..2^24-1")
    return x[..., np.newaxis]


def _split(
    x: np.ndarray, y: np.ndarray, seed: int, test_fraction: float, source: str, field: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if y.ndim == 0 or y.shape[0] != x.shape[0]:
        raise EdgeRnnError(
            f"{source}: {field} has {y.shape[0] if y.ndim else 0} labels but x has "
            f"{x.shape[0]} samples; they must match"
        )
    train, test = split_indices(x.shape[0], test_fraction, seed, source)
    return x[train], y[train], x[test], y[test]


def _strings(arrays: dict[str, np.ndarray], key: str, source: str) -> list[str]:
    if key not in arrays:
        return []
    values = arrays[key]
    if values.ndim != 1 or values.dtype.kind not in "US":
        raise EdgeRnnError(f"{source}: {key} must be a 1-D array of strings")
    return [str(v) for v in values]
