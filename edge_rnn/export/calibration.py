"""Calibration windows for full-integer quantization: real, normalized training inputs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge_rnn import ir
from edge_rnn.data.npz import read_windows
from edge_rnn.errors import EdgeRnnError

MAX_CALIBRATION_WINDOWS = 256
CALIBRATION_KEYS = ("x_train", "x")  # training windows of a data NPZ, or a calibration file


def load_calibration(path: str | Path, model: ir.Model, *, source: str | None = None) -> np.ndarray:
    """Raw training windows from an NPZ, normalized like the model's training data. `source`
    names the user's data in messages when `path` is a temporary copy."""
    source = source or str(path)
    x, _, _ = read_windows(Path(path), CALIBRATION_KEYS, source=f"calibration data '{source}'")
    if x.shape[1:] != model.input_shape:
        raise EdgeRnnError(
            f"calibration data '{source}': windows have shape {x.shape[1:]} but model "
            f"'{model.name}' takes {model.input_shape} (timesteps, features)"
        )
    x = x[:MAX_CALIBRATION_WINDOWS]
    if model.token_input:
        return x[..., 0].astype(np.int32)
    return model.normalization.apply(x) if model.normalization else x


def representative_windows(x: np.ndarray) -> Iterator[list[np.ndarray]]:
    """The TFLite converter's representative dataset: one (1, T, F) window (token ids:
    (1, T) int32) at a time."""
    for window in x:
        yield [window[np.newaxis] if x.dtype == np.int32 else window[np.newaxis].astype(np.float32)]
