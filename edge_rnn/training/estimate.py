"""k-fold estimate of the float metric, for data sets too small for one test split to be trusted.

The training and test windows are pooled and cut into k stratified folds; each fold is the test
set of one model trained (same settings) on the others. The spread of the k scores says whether
"78 %" on a 150-window test set is a property of the model or of the split.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_rnn.data.dataset import Dataset
from edge_rnn.training.model import ModelSpec
from edge_rnn.training.split import stratified_folds


@dataclass(frozen=True)
class CrossValidation:
    metric: str  # "accuracy" or "rmse"
    scores: tuple[float, ...]  # one per fold
    baselines: tuple[float, ...]  # majority class accuracy / mean-predictor RMSE per fold
    at_chance: tuple[bool, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        return float(np.std(self.scores, ddof=1)) if len(self.scores) > 1 else 0.0

    def summary(self) -> str:
        baseline = "majority class" if self.metric == "accuracy" else "mean predictor"
        chance = sum(self.at_chance)
        return (
            f"{len(self.scores)}-fold {self.metric} {self.mean:.4f} +- {self.std:.4f} "
            f"(min {min(self.scores):.4f}, max {max(self.scores):.4f}; {baseline} "
            f"{np.mean(self.baselines):.4f}"
            + (f"; {chance} fold(s) at chance level)" if chance else ")")
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "mean": self.mean,
            "std": self.std,
            "scores": list(self.scores),
            "baselines": list(self.baselines),
            "at_chance": list(self.at_chance),
        }


def cross_validate(
    dataset: Dataset,
    spec: ModelSpec,
    folds: int,
    *,
    seed: int = 0,
    log: Callable[[str], None] = print,
    **options: Any,
) -> CrossValidation:
    """Train one model per fold with `options` (train()'s keywords) and collect test scores."""
    from edge_rnn.training.loop import train

    x = np.concatenate([dataset.x_train, dataset.x_test])
    y = np.concatenate([dataset.y_train, dataset.y_test])
    per_window = dataset.task == "classification" and not dataset.sequence_output
    parts = stratified_folds(y if per_window else None, len(x), folds, seed)
    scores, baselines, chance = [], [], []
    for i, test_idx in enumerate(parts, start=1):
        train_idx = np.setdiff1d(np.arange(len(x)), test_idx)
        fold = dataclasses.replace(
            dataset,
            x_train=x[train_idx],
            y_train=y[train_idx],
            x_test=x[test_idx],
            y_test=y[test_idx],
        )
        with tempfile.TemporaryDirectory(prefix="edge-rnn-fold-") as tmp:
            result = train(fold, spec, tmp, seed=seed + i, verbose=False, log=log, **options)
        scores.append(result.test_metric)
        baselines.append(result.chance.baseline)
        chance.append(result.chance.at_chance)
        log(f"  fold {i}/{folds}: test {result.metric} {result.test_metric:.4f}")
    return CrossValidation(
        metric="accuracy" if dataset.task == "classification" else "rmse",
        scores=tuple(scores),
        baselines=tuple(baselines),
        at_chance=tuple(chance),
    )
