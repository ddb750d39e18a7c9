"""Comparison metrics between a stage's outputs and the float reference (pure numpy).

All error metrics are over every output value of every window. SQNR is capped at
SQNR_CAP_DB when the outputs are identical, so the report never holds an infinity.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_rnn.training.chance import class_scores

SQNR_CAP_DB = 200.0


def error_metrics(ref: np.ndarray, out: np.ndarray) -> dict[str, float]:
    """max_abs, rmse, rel_l2, cosine, sqnr_db of `out` against `ref` (same shape)."""
    if ref.shape != out.shape:
        raise ValueError(f"shapes differ: reference {ref.shape}, stage {out.shape}")
    r = ref.astype(np.float64).ravel()
    o = out.astype(np.float64).ravel()
    diff = o - r
    signal = float(np.dot(r, r))
    noise = float(np.dot(diff, diff))
    norms = float(np.linalg.norm(r) * np.linalg.norm(o))
    if noise == 0.0:
        sqnr = SQNR_CAP_DB
    elif signal == 0.0:
        sqnr = -SQNR_CAP_DB
    else:
        sqnr = min(10.0 * np.log10(signal / noise), SQNR_CAP_DB)
    return {
        "max_abs": float(np.max(np.abs(diff))) if diff.size else 0.0,
        "rmse": float(np.sqrt(noise / diff.size)) if diff.size else 0.0,
        "rel_l2": float(np.sqrt(noise / signal)) if signal else (0.0 if noise == 0 else np.inf),
        "cosine": float(np.dot(r, o) / norms) if norms else float(noise == 0.0),
        "sqnr_db": float(sqnr),
    }


def per_step_error(ref: np.ndarray, out: np.ndarray) -> dict[str, list[float]]:
    """For sequence outputs (N, T, K): max abs error and RMSE at each time step."""
    diff = out.astype(np.float64) - ref.astype(np.float64)
    return {
        "max_abs": np.max(np.abs(diff), axis=(0, 2)).tolist(),
        "rmse": np.sqrt(np.mean(diff**2, axis=(0, 2))).tolist(),
    }


def top1_agreement(ref: np.ndarray, out: np.ndarray) -> float:
    return float(np.mean(np.argmax(ref, axis=-1) == np.argmax(out, axis=-1)))


def top2_margin(ref: np.ndarray) -> np.ndarray:
    """Per prediction: the float model's top output minus its second (how close the call was)."""
    ordered = np.sort(ref.astype(np.float64), axis=-1)
    return ordered[..., -1] - ordered[..., -2]


def flips(ref: np.ndarray, out: np.ndarray, near_tie_margin: float) -> dict[str, float]:
    """Predictions whose top-1 class differs from the float model's, split by the float margin:
    a flip where the float model's top two outputs were closer than `near_tie_margin` is a
    near tie (any rounding may decide it); the others are real flips."""
    flipped = np.argmax(ref, axis=-1) != np.argmax(out, axis=-1)
    near = flipped & (top2_margin(ref) < near_tie_margin)
    real = int(flipped.sum() - near.sum())
    low, high = wilson_interval(flipped.size - real, flipped.size)
    return {
        "top1_predictions": float(flipped.size),
        "top1_near_tie_flips": float(near.sum()),
        "top1_real_flips": float(real),
        "top1_ci_low": low,  # 95 % Wilson interval of the agreement without near-tie flips
        "top1_ci_high": high,
    }


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion (95 % for z = 1.96); sound for 0 or all successes."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def per_class(ref: np.ndarray, out: np.ndarray, labels: np.ndarray) -> dict[str, list[float]]:
    """Per true class: agreement with float and accuracy (NaN for a class without labels)."""
    truth = labels.ravel().astype(np.int64)
    predicted = np.argmax(out, -1).ravel()
    agrees = predicted == np.argmax(ref, -1).ravel()
    result: dict[str, list[float]] = {"agreement": [], "accuracy": []}
    for c in range(out.shape[-1]):
        members = truth == c
        if not members.any():
            result["agreement"].append(float("nan"))
            result["accuracy"].append(float("nan"))
            continue
        result["agreement"].append(float(agrees[members].mean()))
        result["accuracy"].append(float((predicted[members] == c).mean()))
    return result


def accuracy(out: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(out, axis=-1) == labels))


def confusion_matrix(out: np.ndarray, labels: np.ndarray, classes: int) -> list[list[int]]:
    """Rows: true class, columns: predicted class."""
    matrix = np.zeros((classes, classes), np.int64)
    np.add.at(matrix, (labels.ravel().astype(np.int64), np.argmax(out, -1).ravel()), 1)
    return matrix.tolist()


def lsb_difference(raw: np.ndarray, raw_ref: np.ndarray) -> dict[str, float]:
    """Integer outputs of two runtimes for the same artefact, compared in quantization steps."""
    diff = np.abs(raw.astype(np.int64) - raw_ref.astype(np.int64))
    return {
        "lsb_max": float(diff.max()) if diff.size else 0.0,
        "lsb_mean": float(diff.mean()) if diff.size else 0.0,
    }


def compare(
    ref: np.ndarray,
    out: np.ndarray,
    *,
    classifier: bool,
    sequence: bool,
    labels: np.ndarray | None = None,
    near_tie_margin: float = 0.0,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Scalar metrics of a stage against the float reference, and the detail arrays for plots.

    Flips of the top-1 class are split into near ties (float top-2 margin below
    `near_tie_margin`) and real flips. Classifier labels are class indices shaped like the
    outputs without their last axis; regression labels are targets shaped like the outputs.
    """
    metrics = error_metrics(ref, out)
    details: dict[str, Any] = {}
    if sequence:
        details["per_step"] = per_step_error(ref, out)
    if classifier:
        ref, out = class_scores(ref), class_scores(out)
        metrics["top1_agreement"] = top1_agreement(ref, out)
        metrics.update(flips(ref, out, near_tie_margin))
        if labels is not None:
            metrics["accuracy"] = accuracy(out, labels)
            details["confusion"] = confusion_matrix(out, labels, out.shape[-1])
            details["per_class"] = per_class(ref, out, labels)
    elif labels is not None:
        metrics["label_rmse"] = float(
            np.sqrt(np.mean((out.astype(np.float64) - labels.reshape(out.shape)) ** 2))
        )
    return metrics, details
