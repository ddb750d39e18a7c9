"""Training settings resolved from the data: what "auto" means for each option, and why.

Small data sets have few batches per epoch, so epoch counts that suit 800 windows (30 epochs,
patience 5) stop a 50-window run after a few dozen weight updates, before it has learned
anything, on a validation curve measured on 8 windows. The automatic values below are
therefore set in gradient steps and converted to epochs for the data at hand.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edge_rnn.choices import CLASS_WEIGHTS, LR_SCHEDULES, SMALL_DATA_MODES
from edge_rnn.errors import EdgeRnnError
from edge_rnn.training.augment import Augmentation

MAX_BATCH = 32
MIN_BATCH = 8
BATCHES_PER_EPOCH = 4  # small sets: shrink the batch until an epoch has about this many
STEPS_BUDGET = 1500  # gradient steps the epoch limit allows (at least MIN_MAX_EPOCHS epochs)
MIN_MAX_EPOCHS, MAX_MAX_EPOCHS = 30, 200
MIN_EPOCHS_STEPS = 400  # no early stop before this many steps ...
PATIENCE_STEPS = 100  # ... nor before this many steps without improvement
MIN_PATIENCE, MAX_PATIENCE = 5, 25
BASE_LEARNING_RATE, BASE_TIMESTEPS = 1e-2, 20  # lr for windows up to 20 steps; less beyond
IMBALANCE_RATIO = 1.5  # "auto" class weights when the largest class is this much bigger
# The small-data recipe: classification sets with fewer training windows than this fit them
# all (no validation split), freshly augmented each epoch, for the whole step budget.
SMALL_DATA_WINDOWS = 200
SMALL_DATA_MAX_EPOCHS = 400  # 1500 steps is 375 epochs of 4 batches
SMALL_DATA_STEPS = 64  # ... and average-pool longer windows to at most this many steps


@dataclass(frozen=True)
class TrainPlan:
    """Every training setting, resolved; written to history.json and printed at the start."""

    epochs: int  # at most
    min_epochs: int  # early stopping cannot stop before
    patience: int  # epochs without val_loss improvement before stopping
    batch_size: int
    learning_rate: float
    lr_schedule: str
    validation_windows: int
    class_weights: tuple[float, ...]  # per class; () when unweighted
    augmentation: Augmentation | None = None  # training-only; None: the windows as they are

    def describe(self) -> str:
        weights = (
            "class weights " + ", ".join(f"{w:.2f}" for w in self.class_weights)
            if self.class_weights
            else "no class weights"
        )
        stopping = (
            f"early stop after epoch {self.min_epochs} with patience {self.patience}"
            if self.validation_windows
            else "no early stopping (no validation split)"
        )
        aug = self.augmentation
        augmented = (
            f", augmented (scale +-{aug.scale:g}, shift +-{aug.shift:g} of the steps, "
            f"jitter {aug.jitter:g})"
            if aug
            else ""
        )
        return (
            f"batch {self.batch_size}, up to {self.epochs} epochs, {stopping}, "
            f"lr {self.learning_rate:g} ({self.lr_schedule}), {weights}{augmented}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "class_weights": list(self.class_weights)}


def plan_training(
    fit_windows: int,
    timesteps: int,
    validation_windows: int,
    labels: np.ndarray | None,
    classes: int,
    *,
    epochs: int | None = None,
    min_epochs: int | None = None,
    patience: int | None = None,
    batch_size: int | None = None,
    learning_rate: float | None = None,
    lr_schedule: str = "auto",
    class_weight: str = "auto",
    small_data: bool = False,
) -> TrainPlan:
    """Resolve the options left as None ("auto") from the number of training windows.

    `labels` are the fitted windows' class labels (None for regression). `small_data` (see
    `small_data_recipe`) augments the windows, allows SMALL_DATA_MAX_EPOCHS and makes the
    "auto" schedule cosine (without a validation curve there is no plateau to detect).
    The learning rate falls as 1/sqrt(timesteps) beyond BASE_TIMESTEPS: gradients through
    long windows are larger and noisier, and 0.01 keeps a 150-step LSTM from learning at all.
    """
    _check(epochs, min_epochs, patience, batch_size, learning_rate, lr_schedule, class_weight)
    batch = batch_size or int(np.clip(fit_windows // BATCHES_PER_EPOCH, MIN_BATCH, MAX_BATCH))
    steps_per_epoch = math.ceil(fit_windows / batch)
    epoch_cap = SMALL_DATA_MAX_EPOCHS if small_data else MAX_MAX_EPOCHS
    max_epochs = epochs or int(
        np.clip(math.ceil(STEPS_BUDGET / steps_per_epoch), MIN_MAX_EPOCHS, epoch_cap)
    )
    wait = patience if patience is not None else _epochs_for(PATIENCE_STEPS, steps_per_epoch)
    if patience is None:
        wait = int(np.clip(wait, MIN_PATIENCE, MAX_PATIENCE))
    least = min_epochs if min_epochs is not None else _epochs_for(MIN_EPOCHS_STEPS, steps_per_epoch)
    return TrainPlan(
        epochs=max_epochs,
        min_epochs=min(least, max_epochs),
        patience=wait,
        batch_size=batch,
        learning_rate=learning_rate
        or round(BASE_LEARNING_RATE * min(1.0, math.sqrt(BASE_TIMESTEPS / timesteps)), 5),
        lr_schedule=lr_schedule
        if lr_schedule != "auto"
        else ("cosine" if small_data else "plateau"),
        validation_windows=validation_windows,
        class_weights=class_weights(labels, classes, class_weight) if labels is not None else (),
        augmentation=Augmentation() if small_data else None,
    )


def recipe_pool(timesteps: int, small_data: bool) -> int:
    """The pooling front `train` gives a model whose `pool` is unset: windows longer than
    SMALL_DATA_STEPS are averaged down to at most that many steps under the small-data recipe
    (an LSTM learns a 251-step outline from 36 windows only when it reads 62 averaged steps)."""
    return math.ceil(timesteps / SMALL_DATA_STEPS) if small_data else 1


def small_data_recipe(mode: str, windows: int, per_window_classes: bool) -> bool:
    """Whether to train with the small-data recipe: "on"/"off" as asked; "auto": per-window
    class labels and fewer than SMALL_DATA_WINDOWS training windows (before the split)."""
    if mode not in SMALL_DATA_MODES:
        raise EdgeRnnError(
            f"unknown small-data mode '{mode}': use one of {', '.join(SMALL_DATA_MODES)}"
        )
    if mode == "on" and not per_window_classes:
        raise EdgeRnnError(
            "small_data 'on' needs one class label per window (its time shifts would misalign "
            "per-step labels, its scaling would change regression targets): use auto or off"
        )
    if mode == "auto":
        return per_window_classes and windows < SMALL_DATA_WINDOWS
    return mode == "on"


def class_weights(labels: np.ndarray, classes: int, mode: str = "auto") -> tuple[float, ...]:
    """Balanced weights (windows / (classes * windows of the class)), mean 1 over the windows.

    "auto" weights only when the largest class has IMBALANCE_RATIO times the windows of the
    smallest present class; "none" never. A class absent from `labels` gets weight 0.
    """
    if mode == "none":
        return ()
    counts = np.bincount(labels.ravel().astype(np.int64), minlength=classes).astype(np.float64)
    present = counts[counts > 0]
    if mode == "auto" and present.max() < IMBALANCE_RATIO * present.min():
        return ()
    weights = np.divide(
        counts.sum(), len(present) * counts, out=np.zeros_like(counts), where=counts > 0
    )
    return tuple(round(float(w), 6) for w in weights)


def _epochs_for(steps: int, steps_per_epoch: int) -> int:
    return max(1, math.ceil(steps / steps_per_epoch))


def _check(
    epochs: int | None,
    min_epochs: int | None,
    patience: int | None,
    batch_size: int | None,
    learning_rate: float | None,
    lr_schedule: str,
    class_weight: str,
) -> None:
    for field, value in (("epochs", epochs), ("batch size", batch_size)):
        if value is not None and value < 1:
            raise EdgeRnnError(f"{field} must be at least 1, got {value}")
    for field, value in (("patience", patience), ("min epochs", min_epochs)):
        if value is not None and value < 0:
            raise EdgeRnnError(f"{field} must be 0 or more, got {value}")
    if learning_rate is not None and not learning_rate > 0:
        raise EdgeRnnError(f"learning rate must be positive, got {learning_rate}")
    if lr_schedule not in LR_SCHEDULES:
        raise EdgeRnnError(
            f"unknown learning-rate schedule '{lr_schedule}': use one of {', '.join(LR_SCHEDULES)}"
        )
    if class_weight not in CLASS_WEIGHTS:
        raise EdgeRnnError(
            f"unknown class weight mode '{class_weight}': use one of {', '.join(CLASS_WEIGHTS)}"
        )
