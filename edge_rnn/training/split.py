"""Seeded train/validation splits: stratified by class for per-window labels."""

from __future__ import annotations

import numpy as np

from edge_rnn.errors import EdgeRnnError


def stratified_split(
    labels: np.ndarray | None, n: int, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(fit, validation) index arrays, sorted; `fraction` of the windows go to validation.

    With per-window class `labels` every class keeps its share in both parts (each class with
    two or more windows gives at least one to validation); otherwise (None: regression or
    per-step labels) the windows are shuffled and cut. Fraction 0 gives no validation windows.
    """
    if not 0.0 <= fraction < 1.0:
        raise EdgeRnnError(f"validation fraction must be in [0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    if fraction == 0.0:
        return np.arange(n), np.arange(0)
    if n < 2:
        raise EdgeRnnError(f"{n} training window(s) cannot give a validation split")
    if labels is None:
        order = rng.permutation(n)
        cut = min(n - 1, max(1, round(n * fraction)))
        return np.sort(order[cut:]), np.sort(order[:cut])
    validation: list[np.ndarray] = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        if len(members) >= 2:
            validation.extend(members[: max(1, round(len(members) * fraction))])
    held = np.zeros(n, bool)
    held[validation] = True
    return np.flatnonzero(~held), np.flatnonzero(held)


def stratified_folds(labels: np.ndarray | None, n: int, folds: int, seed: int) -> list[np.ndarray]:
    """`folds` disjoint index arrays covering range(n), each class dealt round-robin."""
    if folds < 2 or folds > n:
        raise EdgeRnnError(f"folds must be between 2 and the number of windows ({n}), got {folds}")
    rng = np.random.default_rng(seed)
    groups = (
        [rng.permutation(n)]
        if labels is None
        else [rng.permutation(np.flatnonzero(labels == label)) for label in np.unique(labels)]
    )
    dealt: list[list[int]] = [[] for _ in range(folds)]
    position = 0
    for group in groups:
        for index in group:
            dealt[position % folds].append(int(index))
            position += 1
    return [np.sort(np.array(fold, np.int64)) for fold in dealt]
