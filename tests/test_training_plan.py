"""Trainer defaults from the data: split, class weights, epochs, chance-level verdict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge_rnn.data import load_dataset
from edge_rnn.errors import EdgeRnnError
from edge_rnn.training import ModelMetadata, ModelSpec, train
from edge_rnn.training.chance import binomial_tail, check_chance
from edge_rnn.training.plan import class_weights, plan_training
from edge_rnn.training.split import stratified_folds, stratified_split


def test_class_weights_balance_the_classes() -> None:
    labels = np.array([0] * 8 + [1] * 2)
    assert class_weights(labels, 2) == (0.625, 2.5)  # 10 / (2 * 8), 10 / (2 * 2)
    weights = np.array(class_weights(labels, 2))[labels]
    assert weights[labels == 0].sum() == weights[labels == 1].sum()  # equal total per class
    assert class_weights(labels, 2, "none") == ()
    even = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    assert class_weights(even, 3) == ()  # auto: 4 vs 3 windows is not imbalanced enough ...
    assert class_weights(np.array([0] * 6 + [1] * 4), 2) == (0.833333, 1.25)  # ... 6 vs 4 is
    assert class_weights(even, 4, "balanced") == (1.111111, 1.111111, 0.833333, 0.0)


def test_plan_scales_with_the_data() -> None:
    big = plan_training(640, 20, 160, None, 1)
    assert (big.batch_size, big.min_epochs, big.patience, big.learning_rate) == (32, 20, 5, 0.01)
    assert big.epochs == 75  # 1500 steps at 20 steps per epoch
    small = plan_training(40, 150, 10, np.array([0, 1] * 20), 2)
    assert (small.batch_size, small.min_epochs, small.patience) == (10, 100, 25)
    assert small.epochs == 200
    assert small.learning_rate == pytest.approx(0.01 * (20 / 150) ** 0.5, rel=1e-3)
    assert small.class_weights == ()
    fixed = plan_training(40, 150, 10, None, 1, epochs=7, min_epochs=20, learning_rate=0.1)
    assert (fixed.epochs, fixed.min_epochs, fixed.learning_rate) == (7, 7, 0.1)
    with pytest.raises(EdgeRnnError, match="unknown learning-rate schedule 'step'"):
        plan_training(40, 20, 10, None, 1, lr_schedule="step")


def test_stratified_split_keeps_every_class() -> None:
    labels = np.array([0] * 10 + [1] * 5 + [2] * 2)
    fit, val = stratified_split(labels, len(labels), 0.2, seed=3)
    assert sorted([*fit, *val]) == list(range(17))
    assert np.bincount(labels[val]).tolist() == [2, 1, 1]
    fit, val = stratified_split(None, 17, 0.2, seed=3)
    assert len(val) == 3 and not set(fit) & set(val)
    assert len(stratified_split(labels, 17, 0.0, seed=3)[1]) == 0
    folds = stratified_folds(labels, 17, 3, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(17))
    assert [np.bincount(labels[f], minlength=3)[0] for f in folds] == [4, 3, 3]
    assert [len(f) for f in folds] == [6, 6, 5]


def test_chance_level_verdicts() -> None:
    assert binomial_tail(0, 10, 0.5) == 1.0
    assert binomial_tail(10, 10, 0.5) == pytest.approx(0.5**10)
    assert binomial_tail(8, 10, 0.5) == pytest.approx(56 / 1024)
    labels = np.array([0] * 76 + [1] * 74)
    constant = np.tile([0.1, 0.9], (150, 1))  # always the minority class: 49.3 %
    check = check_chance(constant, labels, "classification", ("gun", "point"))
    assert check.at_chance and check.summary() == "49.3 %, majority class 'gun' 50.7 %"
    learned = np.eye(2)[np.where(np.arange(150) < 118, labels, 1 - labels)]  # 78.7 %
    assert not check_chance(learned, labels, "classification").at_chance
    targets = np.linspace(-1, 1, 50).reshape(50, 1)
    assert check_chance(np.zeros_like(targets), targets, "regression").at_chance
    assert not check_chance(targets * 0.9, targets, "regression").at_chance


def _noise_npz(tmp_path: Path) -> str:
    """Labels independent of the windows: nothing to learn."""
    rng = np.random.default_rng(0)
    path = tmp_path / "noise.npz"
    np.savez(path, x=rng.normal(size=(120, 6, 1)).astype(np.float32), y=rng.integers(0, 2, 120))
    return str(path)


def test_early_stopping_waits_for_min_epochs_and_chance_is_flagged(tmp_path: Path) -> None:
    ds = load_dataset(_noise_npz(tmp_path))
    lines: list[str] = []
    result = train(
        ds,
        ModelSpec("lstm", (2,)),
        tmp_path / "a",
        epochs=12,
        patience=1,
        min_epochs=8,
        learning_rate=0.05,
        log=lines.append,
    )
    assert result.epochs_run >= 8  # validation loss on noise stops improving at once
    assert result.chance.at_chance
    assert any(line.startswith("WARNING: the float model is at chance level (") for line in lines)
    meta = ModelMetadata.read(result.metadata_path)
    assert meta.evaluation is not None and meta.evaluation["at_chance"] is True
    free = train(
        ds,
        ModelSpec("lstm", (2,)),
        tmp_path / "b",
        epochs=12,
        patience=1,
        min_epochs=0,
        learning_rate=0.05,
        verbose=False,
    )
    assert free.epochs_run < 12  # the same run without the minimum stops early
    with pytest.raises(EdgeRnnError, match="at chance level .*fail_at_chance is set"):
        train(
            ds,
            ModelSpec("lstm", (2,)),
            tmp_path / "c",
            epochs=2,
            fail_at_chance=True,
            verbose=False,
        )
    assert not (tmp_path / "c").exists()


def test_old_metadata_without_evaluation_reads(tmp_path: Path) -> None:
    ds = load_dataset(_noise_npz(tmp_path))
    result = train(ds, ModelSpec("lstm", (2,)), tmp_path / "m", epochs=1, verbose=False)
    data = json.loads(result.metadata_path.read_text())
    del data["evaluation"]
    (tmp_path / "old.json").write_text(json.dumps(data))
    assert ModelMetadata.read(tmp_path / "old.json").evaluation is None


def test_train_config_keys() -> None:
    from edge_rnn.config import parse_config

    config = parse_config(
        {"train": {"validation_fraction": 0.3, "lr_schedule": "cosine", "fail_at_chance": True}},
        "t.toml",
        Path("."),
    )
    assert config.train.validation_fraction == 0.3 and config.train.fail_at_chance
    assert config.train.epochs is None and config.train.class_weight == "auto"
    with pytest.raises(EdgeRnnError, match="train.lr_schedule: unknown value"):
        parse_config({"train": {"lr_schedule": "step"}}, "t.toml", Path("."))
    with pytest.raises(EdgeRnnError, match="train.epochs must be int"):
        parse_config({"train": {"epochs": "many"}}, "t.toml", Path("."))


@pytest.mark.slow  # four trainings
def test_k_fold_estimate(tmp_path: Path) -> None:
    ds = load_dataset(_noise_npz(tmp_path))
    lines: list[str] = []
    result = train(
        ds, ModelSpec("lstm", (2,)), tmp_path / "cv", epochs=2, folds=3, log=lines.append
    )
    estimate = json.loads((result.out_dir / "cross_validation.json").read_text())
    assert estimate["metric"] == "accuracy" and len(estimate["scores"]) == 3
    assert estimate["mean"] == pytest.approx(np.mean(estimate["scores"]))
    assert 0.4 < np.mean(estimate["baselines"]) < 0.7  # majority class of 40-window folds
    assert any(line.startswith("estimate: 3-fold accuracy ") for line in lines)
    with pytest.raises(EdgeRnnError, match="folds must be 0 .* or at least 2, got 1"):
        train(ds, ModelSpec("lstm", (2,)), tmp_path / "x", epochs=1, folds=1, verbose=False)
