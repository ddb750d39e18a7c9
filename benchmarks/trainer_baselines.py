"""Float accuracy of the default trainer against simple baselines (prints one table).

Usage: PYTHONPATH=. python3 benchmarks/trainer_baselines.py [NAME ...] [--units 32] [--seeds 0,1,2]

For the built-in data sets and the public-style ones of `benchmarks/public_style.py`, trains
the default `edge_rnn.training.train` (LSTM, only the data and the units given) and runs, in
numpy on the same normalized, flattened windows: majority class, 1-nearest neighbour
(Euclidean) and L2 logistic regression. Regression sets compare RMSE with the mean predictor
and ridge regression. Each seed draws the data (public-style sets, split of the built-ins) and
seeds the training; the closing table gives every score as mean +- standard deviation over the
seeds, with balanced accuracy (mean recall per class) beside accuracy.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from public_style import PUBLIC_STYLE, public_style  # noqa: E402

from edge_rnn.data import load_dataset  # noqa: E402
from edge_rnn.data.dataset import Dataset, fit_normalization  # noqa: E402
from edge_rnn.tf_env import apply_tf_env  # noqa: E402
from edge_rnn.training import ModelSpec, train  # noqa: E402

BUILTIN = ("gesture", "vibration", "forecast")


def _flat(dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    norm = fit_normalization(dataset.x_train)
    return (
        norm.apply(dataset.x_train).reshape(len(dataset.x_train), -1).astype(np.float64),
        norm.apply(dataset.x_test).reshape(len(dataset.x_test), -1).astype(np.float64),
    )


def nearest_neighbour(dataset: Dataset) -> np.ndarray:
    train_x, test_x = _flat(dataset)
    distances = (test_x**2).sum(1)[:, None] - 2 * test_x @ train_x.T + (train_x**2).sum(1)[None, :]
    return dataset.y_train[np.argmin(distances, axis=1)]


def logistic_regression(dataset: Dataset, l2: float = 1e-2, steps: int = 500) -> np.ndarray:
    """Multinomial logistic regression by full-batch gradient descent (Adam-free, fixed step)."""
    train_x, test_x = _flat(dataset)
    classes = len(dataset.class_names)
    onehot = np.eye(classes)[dataset.y_train]
    weights = np.zeros((train_x.shape[1], classes))
    bias = np.zeros(classes)
    rate = 1.0 / (np.linalg.norm(train_x, 2) ** 2 / len(train_x) + l2)
    for _ in range(steps):
        logits = train_x @ weights + bias
        probs = np.exp(logits - logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        grad = (probs - onehot) / len(train_x)
        weights -= rate * (train_x.T @ grad + l2 * weights)
        bias -= rate * grad.sum(0)
    return np.argmax(test_x @ weights + bias, axis=1)


def ridge_rmse(dataset: Dataset, l2: float = 1e-1) -> float:
    train_x, test_x = _flat(dataset)
    y = dataset.y_train.reshape(len(train_x), -1)
    a = np.hstack([train_x, np.ones((len(train_x), 1))])
    coef = np.linalg.solve(a.T @ a + l2 * np.eye(a.shape[1]), a.T @ y)
    pred = np.hstack([test_x, np.ones((len(test_x), 1))]) @ coef
    return float(np.sqrt(np.mean((pred - dataset.y_test.reshape(pred.shape)) ** 2)))


def balanced_accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean([np.mean(predicted[labels == c] == c) for c in np.unique(labels)]))


def _dataset(name: str, seed: int) -> Dataset:
    if name in PUBLIC_STYLE:
        return public_style(name, seed)
    return load_dataset(f"builtin:{name}", seed=seed)


def run(name: str, units: int, seed: int) -> dict[str, float]:
    """One training seed (also the data seed): the RNN's and the baselines' test scores."""
    dataset = _dataset(name, seed)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = train(dataset, ModelSpec("lstm", (units,)), tmp, seed=seed, verbose=False)
        seconds = time.perf_counter() - start
        predicted = np.argmax(
            result.model.predict(result.normalization.apply(dataset.x_test), verbose=0), -1
        )
    shape = (
        f"{len(dataset.x_train)}/{len(dataset.x_test)} x {dataset.timesteps} x {dataset.features}"
    )
    epochs = f"{result.best_epoch}/{result.epochs_run}"
    scores = _scores(dataset, result.test_metric, predicted)
    print(
        f"{name:17} seed {seed}: {shape}, epochs {epochs}, {seconds:.1f} s: "
        + "  ".join(f"{key} {value:.3f}" for key, value in scores.items()),
        flush=True,
    )
    return scores


def _scores(dataset: Dataset, rnn_metric: float, predicted: np.ndarray) -> dict[str, float]:
    if dataset.task == "regression":
        return {
            "rnn": rnn_metric,
            "mean": float(np.sqrt(np.mean((dataset.y_test - dataset.y_train.mean(0)) ** 2))),
            "ridge": ridge_rmse(dataset),
        }
    labels = dataset.y_test
    nn, logistic = nearest_neighbour(dataset), logistic_regression(dataset)
    majority = np.full_like(labels, np.bincount(dataset.y_train).argmax())
    scores = {}
    for key, guess in (
        ("rnn", predicted),
        ("majority", majority),
        ("1-NN", nn),
        ("logistic", logistic),
    ):
        scores[key] = float(np.mean(guess == labels))
        scores[f"{key} bal"] = balanced_accuracy(guess, labels)
    return scores


def _spread(values: list[float]) -> str:
    """mean +- sample standard deviation (the value alone for one seed)."""
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} +- {np.std(values, ddof=1):.3f}"


def table(results: dict[str, list[dict[str, float]]]) -> str:
    """One row per data set: every score as mean +- standard deviation over the seeds."""
    rows = []
    for name, runs in results.items():
        cells = [f"{key} {_spread([run[key] for run in runs])}" for key in runs[0]]
        rows.append(f"{name:17} " + "  ".join(cells))
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=[*BUILTIN, *PUBLIC_STYLE])
    parser.add_argument("--units", type=int, default=None, help="default: 16 built-in, 32 other")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    args = parser.parse_args()
    apply_tf_env()
    seeds = [int(s) for s in args.seeds.split(",")]
    results = {}
    for name in args.names:
        units = args.units or (16 if name in BUILTIN else 32)
        results[name] = [run(name, units, seed) for seed in seeds]
    print(
        f"\nmean +- standard deviation over seeds {args.seeds} (accuracy; bal: balanced "
        "accuracy, mean recall per class; regression: RMSE)"
    )
    print(table(results))


if __name__ == "__main__":
    main()
