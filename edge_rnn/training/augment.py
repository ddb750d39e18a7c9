"""Training-only data augmentation, part of the small-data recipe (see README "Training").

With a few dozen training windows an RNN memorizes them within a few epochs. Each epoch
therefore sees freshly perturbed copies of the (normalized) training windows: every window
is scaled by a random factor, shifted in time by a few steps (edges repeated) and given a
little Gaussian jitter. Nothing of it reaches the model: deployment is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Augmentation:
    scale: float = 0.2  # each window x uniform(1 - scale, 1 + scale)
    shift: float = 0.05  # each window moved by up to this share of its steps
    jitter: float = 0.05  # Gaussian noise, in units of the feature's standard deviation


def augment_windows(x: np.ndarray, rng: np.random.Generator, aug: Augmentation) -> np.ndarray:
    """Perturbed copies of normalized windows x (windows, steps, features)."""
    windows, steps, _ = x.shape
    out = x * rng.uniform(1 - aug.scale, 1 + aug.scale, (windows, 1, 1))
    reach = int(round(aug.shift * steps))
    # Shift by gathering along time with clipped indices: the edge value fills the gap.
    offsets = rng.integers(-reach, reach + 1, size=(windows, 1))
    index = np.clip(np.arange(steps)[None, :] - offsets, 0, steps - 1)
    out = np.take_along_axis(out, index[:, :, None], axis=1)
    out += rng.normal(0.0, aug.jitter, out.shape)
    return out.astype(np.float32)


def augmented_batches(
    keras: Any,
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None,
    batch_size: int,
    aug: Augmentation,
    seed: int,
) -> Any:
    """A keras PyDataset of shuffled batches, re-augmented at every epoch (seeded)."""

    class Batches(keras.utils.PyDataset):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.on_epoch_end()

        def __len__(self) -> int:
            return -(-len(x) // batch_size)

        def on_epoch_end(self) -> None:
            self.order = self.rng.permutation(len(x))
            self.x = augment_windows(x[self.order], self.rng, aug)

        def __getitem__(self, i: int) -> tuple[np.ndarray, ...]:
            part = slice(i * batch_size, (i + 1) * batch_size)
            picked = self.order[part]
            if weights is None:
                return self.x[part], y[picked]
            return self.x[part], y[picked], weights[picked]

    return Batches()
