"""Which task a model trained outside edge-rnn solves, from its output layer and the labels.

The labels alone mislead for the commonest Keras binary classifier: `Dense(1, "sigmoid")`
trained on float labels 0.0/1.0 reads as regression from the labels, and a regressor with one
linear output trained on integer targets reads as classification. The model's head settles
both; what it cannot settle stays with the labels, and `[data] task` always wins.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from edge_rnn.data.dataset import Dataset
from edge_rnn.frontends.keras import flat_layers

if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class TaskChoice:
    task: str
    why: str  # for the build output, e.g. "one sigmoid output and labels 0/1"


def head_activation(model: keras.Model) -> str:
    """The last layer's activation (inside TimeDistributed, a Softmax layer included);
    "linear" if it has none."""
    last = flat_layers(model)[-1]
    last = getattr(last, "layer", last)
    if type(last).__name__ == "Softmax":
        return "softmax"
    activation = last.get_config().get("activation", "linear")
    return activation if isinstance(activation, str) else "linear"


def _labels(dataset: Dataset) -> tuple[np.ndarray, bool]:
    """Every label (training and test) in one flat array, and whether all are 0 or 1."""
    labels = np.concatenate([dataset.y_train.ravel(), dataset.y_test.ravel()])
    return labels, bool(np.isin(labels, (0, 1)).all())


def label_task(dataset: Dataset) -> TaskChoice:
    """The task the loader read from the labels alone, and why."""
    if dataset.task == "classification":
        return TaskChoice(dataset.task, "class labels (text, integers or one-hot rows)")
    _, zero_one = _labels(dataset)
    if zero_one:
        return TaskChoice(dataset.task, "floating-point labels, all 0 or 1: classes?")
    return TaskChoice(dataset.task, "numeric targets (floating-point labels)")


def brought_model_task(model: keras.Model, dataset: Dataset) -> TaskChoice:
    """The task of `model` on `dataset` (loaded with the task inferred from its labels)."""
    units = int(model.output_shape[-1] or 0)
    activation = head_activation(model)
    labels, zero_one = _labels(dataset)
    numeric_classes = dataset.class_names == tuple(str(i) for i in range(len(dataset.class_names)))
    if units == 1 and activation == "sigmoid":
        if zero_one:
            return TaskChoice(
                "classification",
                "one sigmoid output and labels 0/1: a binary classifier whose output is p(class 1)",
            )
        if dataset.task == "regression":
            return TaskChoice("regression", "one sigmoid output and labels that are not all 0 or 1")
    elif units == 1 and dataset.task == "classification" and numeric_classes:
        if len(dataset.class_names) > 2:
            return TaskChoice(
                "regression",
                f"one {activation} output and integer labels with "
                f"{len(dataset.class_names)} values: integer targets",
            )
    elif (
        units >= 2
        and activation == "softmax"
        and dataset.task == "regression"
        and labels.size
        and np.all(labels == np.round(labels))
        and labels.min() >= 0
        and labels.max() < units
    ):
        return TaskChoice(
            "classification",
            f"a {units}-way softmax output and whole-number labels 0..{units - 1}",
        )
    return label_task(dataset)


def task_line(choice: TaskChoice, dataset: Dataset, *, override: str | None) -> str:
    """One line for the output: the task, why, and (`override`, a template with {other}, e.g.
    '--task {other}') how to choose the other one; None when the user chose it."""
    classes = f", {len(dataset.class_names)} classes" if choice.task == "classification" else ""
    other = "regression" if choice.task == "classification" else "classification"
    how = f"; {override.format(other=other)} to override" if override else ""
    return f"task: {choice.task}{classes} ({choice.why}{how})"


def per_step_targets(model: keras.Model, dataset: Dataset) -> tuple[Dataset, str | None]:
    """Regression labels (N, T) for a model that outputs (T, 1), one value per step, read as
    (N, T, 1) - the shape such labels usually have - instead of T targets per window; with a
    note saying so (None when nothing changed)."""
    steps = dataset.y_train.shape[1] if dataset.y_train.ndim == 2 else None
    output = tuple(model.output_shape[1:])
    if dataset.task != "regression" or steps is None or output not in ((steps, 1), (None, 1)):
        return dataset, None
    shaped = replace(dataset, y_train=dataset.y_train[..., None], y_test=dataset.y_test[..., None])
    return shaped, (
        f"labels {dataset.y_train.shape[1:]} per window read as one target per time step "
        f"({steps}, 1), as the model outputs one value per step"
    )
