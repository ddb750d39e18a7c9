"""Calibration windows for full-integer quantization: real, normalized training inputs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge_rnn import ir
from edge_rnn.errors import EdgeRnnError

MAX_CALIBRATION_WINDOWS = 256


def load_calibration(path: str | Path, model: ir.Model) -> np.ndarray:
    """Raw windows from an NPZ (`x`), normalized like the model's training data."""
    path = Path(path)
    try:
        with np.load(path) as data:
            x = np.asarray(data["x"], dtype=np.float32)
    except (OSError, KeyError, ValueError) as err:
        raise EdgeRnnError(
            f"calibration file '{path}' must be an .npz with an 'x' array ({err})"
        ) from None
    if x.ndim != 3 or x.shape[1:] != model.input_shape:
        raise EdgeRnnError(
            f"calibration file '{path}': x has shape {x.shape[1:]} per window but model "
            f"'{model.name}' takes {model.input_shape} (timesteps, features)"
        )
    x = x[:MAX_CALIBRATION_WINDOWS]
    return model.normalization.apply(x) if model.normalization else x


def representative_windows(x: np.ndarray) -> Iterator[list[np.ndarray]]:
    """The TFLite converter's representative dataset: one (1, T, F) window at a time."""
    for window in x:
        yield [window[np.newaxis].astype(np.float32)]
