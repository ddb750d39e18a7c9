"""history.png: loss and metric curves, training and validation, side by side."""

from __future__ import annotations

from pathlib import Path


def plot_history(
    history: dict[str, list[float]], metric: str, path: str | Path, *, best_epoch: int = 0
) -> None:
    """Plot `loss` and `metric` (and their `val_` curves); mark `best_epoch` (1-based) if set."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(9, 3.5), dpi=100)
    epochs = range(1, len(history["loss"]) + 1)
    for axis, key in zip(figure.subplots(1, 2), ("loss", metric), strict=True):
        axis.plot(epochs, history[key], label="train", marker=".")
        if f"val_{key}" in history:
            axis.plot(epochs, history[f"val_{key}"], label="validation", marker=".")
        if best_epoch:
            axis.axvline(best_epoch, color="grey", linestyle="--", linewidth=1, label="best")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_xlabel("epoch")
        axis.set_title(key)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    # No timestamp in the PNG, so the same history gives the same bytes.
    figure.savefig(path, format="png", metadata={"Software": None})
