"""A model trained outside edge-rnn: its output layer and the labels decide the task, the build
says which and why, and `[data] task` overrides it."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from edge_rnn.api import build
from edge_rnn.config import load_config
from edge_rnn.data import load_dataset
from edge_rnn.errors import EdgeRnnError
from edge_rnn.training.metadata import metadata_for
from edge_rnn.training.task import brought_model_task, head_activation, per_step_targets

STEPS, FEATURES = 6, 2


def _model(units: int, activation: str | None, *, sequence: bool = False) -> keras.Model:
    keras.utils.set_random_seed(0)
    head: keras.layers.Layer = keras.layers.Dense(units, activation)
    return keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            keras.layers.GRU(3, return_sequences=sequence),
            keras.layers.TimeDistributed(head) if sequence else head,
        ]
    )


def _data(tmp_path: Path, y: np.ndarray, offset: float = 0.0) -> str:
    x = np.random.default_rng(0).normal(offset, size=(len(y), STEPS, FEATURES)).astype(np.float32)
    path = tmp_path / "data.npz"
    np.savez(path, x=x, y=y)
    return str(path)


def _choice(tmp_path: Path, model: keras.Model, y: np.ndarray) -> tuple[str, str]:
    choice = brought_model_task(model, load_dataset(_data(tmp_path, y)))
    return choice.task, choice.why


def _binary(n: int = 40) -> np.ndarray:
    return (np.arange(n) % 2).astype(np.float32)  # 0.0/1.0 as Keras tutorials save them


def test_one_sigmoid_output_on_float_zero_one_labels_is_binary_classification(
    tmp_path: Path,
) -> None:
    task, why = _choice(tmp_path, _model(1, "sigmoid"), _binary())
    assert task == "classification" and "one sigmoid output and labels 0/1" in why
    # Per-step 0/1 labels of a TimeDistributed sigmoid: per-step binary classification.
    per_step = np.tile(_binary(40)[:, None], (1, STEPS))
    assert _choice(tmp_path, _model(1, "sigmoid", sequence=True), per_step)[0] == "classification"


def test_sigmoid_output_on_fractional_targets_stays_regression(tmp_path: Path) -> None:
    y = np.linspace(0.0, 1.0, 40, dtype=np.float32)  # 0 and 1 among them, not only
    task, why = _choice(tmp_path, _model(1, "sigmoid"), y)
    assert task == "regression" and "not all 0 or 1" in why
    # Several sigmoid outputs (multi-label) on 0/1 rows that are not one-hot: regression.
    rows = np.stack([_binary(), _binary(), 1 - _binary()], axis=1)
    rows[0] = 0.0
    assert _choice(tmp_path, _model(3, "sigmoid"), rows)[0] == "regression"


def test_one_linear_output_on_integer_counts_is_regression(tmp_path: Path) -> None:
    counts = np.arange(40) % 7  # int64: read as 7 classes from the labels alone
    task, why = _choice(tmp_path, _model(1, None), counts)
    assert task == "regression" and "integer targets" in why
    # Two integer values and one linear output: no guess; the refusal names both ways out.
    y = (np.arange(40) % 2).astype(np.int64)
    dataset = load_dataset(_data(tmp_path, y))
    assert brought_model_task(_model(1, None), dataset).task == "classification"
    with pytest.raises(EdgeRnnError, match='needs a sigmoid.*task = "regression"'):
        metadata_for(_model(1, None), dataset, None)


def test_softmax_output_on_whole_float_labels_is_classification(tmp_path: Path) -> None:
    y = (np.arange(40) % 3).astype(np.float32)  # e.g. a pandas column saved as float
    task, why = _choice(tmp_path, _model(3, "softmax"), y)
    assert task == "classification" and "3-way softmax" in why
    # Labels beyond the softmax's classes cannot be its classes.
    assert _choice(tmp_path, _model(2, "softmax"), y)[0] == "regression"
    softmax_layer = keras.Sequential([keras.Input((4,)), keras.layers.Softmax()])
    assert head_activation(softmax_layer) == "softmax"


def _build(
    tmp_path: Path, task_line: str, offset: float = 0.0, model: keras.Model | None = None
) -> tuple[dict[str, object], list[str]]:
    tmp_path.mkdir()
    _data(tmp_path, _binary(), offset)
    (model or _model(1, "sigmoid")).save(tmp_path / "user.keras")
    config = tmp_path / "build.toml"
    config.write_text(
        f'name = "user"\n[data]\nsource = "data.npz"\n{task_line}[model]\npath = "user.keras"\n'
        "[convert]\ntflite = []\nonnx = []\n[native]\nquant = []\n[tflm]\nprojects = []\n"
        "[validate]\nenabled = false\n"
    )
    lines: list[str] = []
    out = tmp_path / "build"
    build(load_config(config), out, log=lines.append)
    return json.loads((out / "model" / "metadata.json").read_text()), lines


def test_build_says_which_task_it_inferred_and_how_to_override(tmp_path: Path) -> None:
    meta, lines = _build(tmp_path / "inferred", "")
    assert meta["task"] == "classification" and meta["class_names"] == ["0", "1"]
    assert meta["output_shape"] == [1]
    said = [line for line in lines if line.startswith("task: ")]
    assert said == [
        "task: classification, 2 classes (one sigmoid output and labels 0/1: a binary "
        'classifier whose output is p(class 1); set [data] task = "regression" to override)'
    ]
    assert not any("far from zero" in line for line in lines)
    meta, lines = _build(tmp_path / "forced", 'task = "regression"\n', offset=20.0)
    assert meta["task"] == "regression"
    assert "task: regression ([data] task in the config)" in lines
    # Raw input 20 standard deviations from zero: the build warns before int8 stages fail.
    (note,) = [line for line in lines if "far from zero" in line]
    assert "x1 (mean 20.04, std 1.03)" in note and "Normalization or Rescaling first layer" in note
    # The same raw input into a model that normalizes it first: nothing to warn about.
    rescaled = keras.Sequential(
        [keras.Input((STEPS, FEATURES)), keras.layers.Rescaling(1.0, -20.0)]
    )
    for layer in _model(1, "sigmoid").layers:
        rescaled.add(layer)
    lines = _build(tmp_path / "rescaled", 'task = "regression"\n', 20.0, rescaled)[1]
    assert not any("far from zero" in line for line in lines)


def test_per_step_regression_labels_without_a_feature_axis_fit_a_sequence_model(
    tmp_path: Path,
) -> None:
    """y (N, T) for LSTM(return_sequences) + Dense(1): one target per step, not T per window."""
    y = np.random.default_rng(1).normal(size=(30, STEPS)).astype(np.float32)
    dataset = load_dataset(_data(tmp_path, y))
    model = _model(1, None, sequence=True)
    with pytest.raises(EdgeRnnError, match=r"output shape \(6, 1\) does not match"):
        metadata_for(model, dataset, None)
    shaped, note = per_step_targets(model, dataset)
    assert shaped.y_train.shape == (24, STEPS, 1) and shaped.sequence_output
    assert note is not None and "one target per time step" in note
    assert metadata_for(model, shaped, None).output_shape == (STEPS, 1)
    # A model with one output per window keeps T targets per window.
    assert per_step_targets(_model(STEPS, None), dataset) == (dataset, None)


def test_train_says_the_task_and_asks_about_float_zero_one_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`edge-rnn train` has no model head to look at: float 0/1 labels stay regression, and the
    output says so with the way to classification."""
    from edge_rnn.cli import main

    data = _data(tmp_path, _binary())
    args = ["train", "--data", data, "--epochs", "1", "--units", "2", "-q"]
    assert main([*args, "--out", str(tmp_path / "t1")]) == 0
    assert (
        "task: regression (floating-point labels, all 0 or 1: classes?; --task classification "
        "to override)"
    ) in capsys.readouterr().out
    assert main([*args, "--task", "classification", "--out", str(tmp_path / "t2")]) == 0
    assert "task: classification, 2 classes (--task)" in capsys.readouterr().out
