"""Is the float model better than guessing? Majority class (classification) or mean (regression).

Both the trainer (on the test split, into metadata.json) and the validator (on the windows it
validates, into the report) ask this, with the same test so their verdicts agree.

Classification: the model is "at chance level" unless its accuracy beats always predicting the
most frequent class of these labels by more than luck explains: the one-sided exact binomial
test of `correct` successes against the majority rate must give p < ALPHA. Regression: unless
its RMSE is below (1 - MIN_SKILL) times that of predicting the targets' mean.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

ALPHA = 0.05
MIN_SKILL = 0.05


@dataclass(frozen=True)
class ChanceCheck:
    metric: str  # "accuracy" or "rmse"
    value: float  # the model's
    baseline: float  # the majority-class accuracy or the mean predictor's RMSE
    baseline_name: str  # e.g. "majority class 'idle'" or "mean predictor"
    labels: int  # how many labels were scored (windows, or windows x steps)
    p_value: float | None  # classification only
    at_chance: bool

    def summary(self) -> str:
        """'49.3 %, majority class 50.7 %' or 'RMSE 0.92, mean predictor 0.90'."""
        if self.metric == "accuracy":
            return f"{100 * self.value:.1f} %, {self.baseline_name} {100 * self.baseline:.1f} %"
        return f"RMSE {self.value:.4g}, {self.baseline_name} {self.baseline:.4g}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def class_scores(outputs: np.ndarray) -> np.ndarray:
    """One score per class. A classifier with one output is a binary one whose output is
    p(class 1) (a sigmoid): its scores are [1 - p, p], so argmax is p > 0.5 and the top-2
    margin is |2p - 1|."""
    if outputs.shape[-1] == 1:
        return np.concatenate([1.0 - outputs, outputs], axis=-1)
    return outputs


def binomial_tail(successes: int, trials: int, p: float) -> float:
    """P(X >= successes) for X ~ Binomial(trials, p), exactly (log space)."""
    if successes <= 0:
        return 1.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(trials + 1)
        - math.lgamma(k + 1)
        - math.lgamma(trials - k + 1)
        + k * log_p
        + (trials - k) * log_q
        for k in range(successes, trials + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def check_chance(
    outputs: np.ndarray, labels: np.ndarray, task: str, class_names: tuple[str, ...] = ()
) -> ChanceCheck:
    """Chance-level verdict of `outputs` (probabilities or targets) on `labels`."""
    if task == "classification":
        truth = np.asarray(labels).ravel().astype(np.int64)
        predicted = np.argmax(class_scores(outputs), axis=-1).ravel()
        counts = np.bincount(truth)
        majority = int(np.argmax(counts))
        rate = float(counts[majority] / truth.size)
        correct = int(np.sum(predicted == truth))
        p_value = binomial_tail(correct, truth.size, rate)
        name = class_names[majority] if majority < len(class_names) else str(majority)
        return ChanceCheck(
            metric="accuracy",
            value=correct / truth.size,
            baseline=rate,
            baseline_name=f"majority class '{name}'",
            labels=int(truth.size),
            p_value=p_value,
            at_chance=p_value >= ALPHA,
        )
    targets = np.asarray(labels, np.float64).reshape(outputs.shape)
    rmse = float(np.sqrt(np.mean((outputs.astype(np.float64) - targets) ** 2)))
    baseline = float(np.sqrt(np.mean((targets - targets.mean(axis=0)) ** 2)))
    return ChanceCheck(
        metric="rmse",
        value=rmse,
        baseline=baseline,
        baseline_name="mean predictor",
        labels=len(targets),
        p_value=None,
        at_chance=rmse >= (1.0 - MIN_SKILL) * baseline,
    )
