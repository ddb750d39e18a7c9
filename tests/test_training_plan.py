"""Trainer defaults from the data: split, class weights, epochs, chance-level verdict."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from edge_rnn.data import load_dataset
from edge_rnn.errors import EdgeRnnError
from edge_rnn.frontends.keras import load_model_ir
from edge_rnn.training import ModelMetadata, ModelSpec, train
from edge_rnn.training.augment import Augmentation, augment_windows
from edge_rnn.training.chance import binomial_tail, check_chance
from edge_rnn.training.plan import (
    SMALL_DATA_WINDOWS,
    class_weights,
    plan_training,
    recipe_pool,
    small_data_recipe,
)
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


def test_small_data_recipe_rule_and_plan() -> None:
    assert small_data_recipe("auto", 36, per_window_classes=True)
    assert not small_data_recipe("auto", SMALL_DATA_WINDOWS, per_window_classes=True)
    assert not small_data_recipe("auto", 36, per_window_classes=False)  # regression, per step
    assert not small_data_recipe("off", 36, per_window_classes=True)
    assert small_data_recipe("on", 5000, per_window_classes=True)
    with pytest.raises(EdgeRnnError, match="small_data 'on' needs one class label per window"):
        small_data_recipe("on", 36, per_window_classes=False)
    with pytest.raises(EdgeRnnError, match="unknown small-data mode 'yes'"):
        small_data_recipe("yes", 36, per_window_classes=True)
    # 251 steps -> 62, 150 -> 50, 128 -> 64, 100 -> 50: at most 64 steps reach the RNN.
    assert [recipe_pool(t, small_data=True) for t in (251, 150, 128, 100, 64)] == [4, 3, 2, 2, 1]
    assert recipe_pool(251, small_data=False) == 1
    labels = np.arange(36) % 3
    small = plan_training(36, 251, 0, labels, 3, small_data=True)
    # 9 windows a batch, 4 batches an epoch: the 1500-step budget is 375 epochs, cosine.
    assert (small.batch_size, small.epochs, small.lr_schedule) == (9, 375, "cosine")
    assert small.augmentation == Augmentation()
    assert "no early stopping" in small.describe() and "augmented (scale +-0.2" in small.describe()
    plain = plan_training(29, 251, 7, labels[:29], 3)
    assert (plain.epochs, plain.lr_schedule, plain.augmentation) == (200, "plateau", None)
    assert (
        plan_training(36, 251, 0, labels, 3, small_data=True, lr_schedule="constant").lr_schedule
        == "constant"
    )


def test_augmentation_scales_shifts_and_jitters() -> None:
    x = np.tile(np.linspace(1, 2, 40, dtype=np.float32)[None, :, None], (300, 1, 2))
    scaled = augment_windows(x, np.random.default_rng(0), Augmentation(0.2, 0.0, 0.0))
    factors = (scaled / x)[:, :, 0]
    np.testing.assert_allclose(factors, factors[:, :1] * np.ones((1, 40)), rtol=1e-6)
    assert 0.8 <= factors.min() < 0.82 and 1.18 < factors.max() <= 1.2
    shifted = augment_windows(x, np.random.default_rng(0), Augmentation(0.0, 0.1, 0.0))
    # Each window is the ramp moved by -4..4 steps, the edge value repeated into the gap.
    moves = set()
    for window in shifted[:, :, 0]:
        offset = int(round((x[0, 20, 0] - window[20]) * 39))
        expected = x[0, np.clip(np.arange(40) - offset, 0, 39), 0]
        np.testing.assert_allclose(window, expected, rtol=1e-6)
        moves.add(offset)
    assert moves == set(range(-4, 5))
    noisy = augment_windows(x, np.random.default_rng(0), Augmentation(0.0, 0.0, 0.05))
    assert noisy.dtype == np.float32 and noisy.shape == x.shape
    assert np.std(noisy - x) == pytest.approx(0.05, rel=0.05)
    again = augment_windows(x, np.random.default_rng(0), Augmentation())
    np.testing.assert_array_equal(
        again, augment_windows(x, np.random.default_rng(0), Augmentation())
    )


def test_small_sets_fit_every_window_augmented(tmp_path: Path) -> None:
    full = load_dataset("builtin:gesture")
    ds = dataclasses.replace(full, x_train=full.x_train[:60], y_train=full.y_train[:60])
    spec = ModelSpec("lstm", (2,))
    lines: list[str] = []
    small = train(ds, spec, tmp_path / "a", epochs=2, log=lines.append)
    history = json.loads(small.history_path.read_text())
    assert history["plan"]["validation_windows"] == 0 and history["plan"]["lr_schedule"] == "cosine"
    assert history["plan"]["augmentation"] == {"scale": 0.2, "shift": 0.05, "jitter": 0.05}
    assert "val_loss" not in history["history"] and "augmented" in lines[1]
    off = train(ds, spec, tmp_path / "b", epochs=2, small_data="off", verbose=False)
    plan = json.loads(off.history_path.read_text())["plan"]
    assert (plan["validation_windows"], plan["lr_schedule"], plan["augmentation"]) == (
        12,
        "plateau",
        None,
    )
    # Augmented batches change what is learned: not the same weights as without.
    assert not np.array_equal(small.model.get_weights()[0], off.model.get_weights()[0])
    pooled = ModelSpec("lstm", (2,), pool=2)  # what the recipe gives long windows
    held = train(ds, pooled, tmp_path / "c", epochs=1, validation_fraction=0.25, verbose=False)
    assert json.loads(held.history_path.read_text())["plan"]["validation_windows"] == 15
    assert [layer.name for layer in held.model.layers[1:]] == ["pool", "lstm_1", "head"]
    layers = load_model_ir(held.model_path).layers  # the native backend reads the front
    assert [type(layer).__name__ for layer in layers][:2] == ["PoolingLayer", "RecurrentLayer"]


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
        small_data="off",  # 96 windows: the small-data recipe would not stop early at all
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
        small_data="off",
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
