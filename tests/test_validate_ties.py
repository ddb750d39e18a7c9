"""Validator statistics: near-tie flips, the real-flip allowance, Wilson intervals, chance level."""

from __future__ import annotations

import numpy as np
import pytest

from edge_rnn.training.chance import check_chance
from edge_rnn.validate import metrics as m
from edge_rnn.validate import thresholds as th
from edge_rnn.validate.html import confusion_groups, render_html
from edge_rnn.validate.report import format_table
from edge_rnn.validate.stages import FAILED, PASSED, REFERENCE, Report, StageResult

INT16X8 = th.thresholds_for(th.StageKey("a/litert", "a", "litert", "tflite", "int16x8"))


def _confident(n: int, classes: int = 3, seed: int = 0) -> np.ndarray:
    """Softmax-like outputs with a clear winner (top-2 margin >= 0.4)."""
    rng = np.random.default_rng(seed)
    out = np.full((n, classes), 0.1)
    out[np.arange(n), rng.integers(0, classes, n)] = 0.8
    return out / out.sum(axis=1, keepdims=True)


def _judge(ref: np.ndarray, out: np.ndarray, limits: dict[str, float]) -> list[str]:
    metrics, _ = m.compare(
        ref, out, classifier=True, sequence=False, near_tie_margin=limits["near_tie_margin"]
    )
    return th.check(metrics, limits)


def test_wilson_interval_known_values() -> None:
    assert m.wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert m.wilson_interval(40, 40) == pytest.approx((0.9124, 1.0), abs=1e-4)
    assert m.wilson_interval(39, 40) == pytest.approx((0.8712, 0.9956), abs=1e-4)


def test_a_near_tie_flip_passes_a_confident_flip_is_judged() -> None:
    ref = _confident(40)
    ref[0] = [0.3992, 0.3956, 0.2052]  # the near tie
    out = ref.copy()
    out[0] = [0.3960, 0.3990, 0.2050]  # flipped by 0.003
    metrics, _ = m.compare(ref, out, classifier=True, sequence=False, near_tie_margin=0.02)
    assert metrics["top1_agreement"] == pytest.approx(39 / 40)  # below int16x8's 0.98
    assert (metrics["top1_near_tie_flips"], metrics["top1_real_flips"]) == (1, 0)
    assert th.check(metrics, INT16X8) == []
    assert "1 near tie(s) (float top-2 margin < 0.02" in th.flip_note(metrics, INT16X8)

    # One real flip among 40 windows, error metrics inside their thresholds: tolerated.
    one = ref.copy()
    one[5] = ref[5][[1, 2, 0]]
    limits = {**INT16X8, "rel_l2": 1.0, "cosine": 0.0, "sqnr_db": 0.0}
    assert _judge(ref, one, limits) == []
    # ... but not when an error metric fails too: then no flip is tolerated.
    failures = _judge(ref, one, {**limits, "rel_l2": 1e-3})
    assert (
        failures[0].startswith("rel_l2")
        and "1 real flip(s) in 40 predictions, 0 allowed" in (failures[1])
    )


def test_a_systematic_flip_on_confident_windows_fails() -> None:
    ref = _confident(40)
    out = ref.copy()
    out[:4] = ref[:4][:, [1, 2, 0]]  # 4 confident windows change class
    limits = {**INT16X8, "rel_l2": 1.0, "cosine": 0.0, "sqnr_db": 0.0}
    assert _judge(ref, out, limits) == [
        "top1_agreement 0.9 < 0.98: 4 real flip(s) in 40 predictions, 1 allowed"
    ]
    small = _confident(16, seed=1)  # 16 windows: 2 confident flips fail top1 >= 0.95
    flipped = small.copy()
    flipped[:2] = small[:2][:, [1, 2, 0]]
    assert _judge(small, flipped, {"top1_agreement": 0.95, "near_tie_margin": 0.05}) != []


def test_allowance_follows_the_threshold_on_large_sets() -> None:
    assert th.allowed_flips(0.95, 1000, errors_pass=True) == 50
    assert th.allowed_flips(0.98, 40, errors_pass=True) == 1
    assert th.allowed_flips(0.98, 40, errors_pass=False) == 0
    assert th.allowed_flips(0.999, 200, errors_pass=False) == 0


def _report(stages: list[StageResult], outputs: np.ndarray, labels: np.ndarray) -> Report:
    chance = check_chance(outputs, labels, "classification", ("gun", "point"))
    return Report(
        model="m",
        build_dir="b",
        data="d",
        samples=len(labels),
        allow_skip=False,
        stages=stages,
        environment={},
        float_model=chance.to_dict(),
        class_names=["gun", "point"],
    )


def test_report_names_chance_level_failures_and_distinct_confusions() -> None:
    labels = np.array([0] * 76 + [1] * 74)
    outputs = np.tile([0.4, 0.6], (150, 1))  # always 'point': 49.3 %
    matrix = [[0, 76], [0, 74]]
    stages = [
        StageResult("keras/keras", "keras", "model", "keras", "keras", "float32", REFERENCE),
        StageResult("a/litert", "a", "a", "litert", "tflite", "int8", PASSED),
        StageResult("b/litert", "b", "b", "litert", "tflite", "int8", FAILED),
    ]
    for stage in stages:
        stage.details["confusion"] = matrix
    stages[2].details["confusion"] = [[1, 75], [0, 74]]
    stages[2].failures = ["top1_agreement 0.9 < 0.98: " + "x" * 80]
    report = _report(stages, outputs, labels)
    assert report.at_chance
    table = format_table(report)
    assert (
        "WARNING: the float model is at chance level (49.3 %, majority class 'gun' 50.7 %); "
        "every artefact below faithfully reproduces a model that has not learned" in table
    )
    assert "validation FAILED: 1 of 3 stage(s) failed" in table
    assert "x" * 80 in table  # the full reason under the table
    assert [stages for _, stages in confusion_groups(report)] == [
        ["keras/keras", "a/litert"],
        ["b/litert"],
    ]
    html = render_html(report)
    assert "FAILED: 1 of 3 stage(s)" in html
    assert "The float model is at chance level (49.3 %" in html
    learned = _report(stages[:2], np.eye(2)[labels], labels)
    assert not learned.at_chance and "WARNING" not in format_table(learned)
