"""Metrics and thresholds: pure numpy / TOML, no runtimes."""

from __future__ import annotations

import numpy as np
import pytest

from edge_rnn.errors import EdgeRnnError
from edge_rnn.validate import metrics as m
from edge_rnn.validate import thresholds as th


def test_error_metrics_known_values() -> None:
    ref = np.array([[3.0, 4.0]], np.float32)
    out = np.array([[3.0, 4.5]], np.float32)
    got = m.error_metrics(ref, out)
    assert got["max_abs"] == pytest.approx(0.5)
    assert got["rmse"] == pytest.approx(np.sqrt(0.125))
    assert got["rel_l2"] == pytest.approx(0.1)
    assert got["sqnr_db"] == pytest.approx(20.0)
    assert got["cosine"] == pytest.approx((9 + 18) / (5 * np.hypot(3, 4.5)))


def test_identical_outputs_cap_sqnr() -> None:
    ref = np.ones((2, 3), np.float32)
    got = m.error_metrics(ref, ref.copy())
    assert got["max_abs"] == 0 and got["rel_l2"] == 0 and got["cosine"] == pytest.approx(1)
    assert got["sqnr_db"] == m.SQNR_CAP_DB


def test_classifier_sequence_and_integer_metrics() -> None:
    ref = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    out = np.array([[0.8, 0.2], [0.6, 0.4], [0.7, 0.3]])
    labels = np.array([0, 1, 1])
    metrics, details = m.compare(ref, out, classifier=True, sequence=False, labels=labels)
    assert metrics["top1_agreement"] == pytest.approx(2 / 3)
    assert metrics["accuracy"] == pytest.approx(1 / 3)
    assert details["confusion"] == [[1, 0], [2, 0]]
    seq_ref = np.zeros((2, 4, 1))
    seq_out = seq_ref.copy()
    seq_out[1, 3, 0] = 0.5
    assert m.per_step_error(seq_ref, seq_out)["max_abs"] == [0, 0, 0, 0.5]
    lsb = m.lsb_difference(np.array([-128, 5], np.int8), np.array([-126, 5], np.int8))
    assert lsb == {"lsb_max": 2.0, "lsb_mean": 1.0}


def test_overrides_by_specificity_cli_beats_toml(tmp_path) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(
        '[validate.thresholds."*"]\nrel_l2 = 0.5\n'
        "[validate.thresholds.int8]\nrel_l2 = 0.2\nsqnr_db = 'none'\n"
        "[validate.thresholds.tflite_int8]\ncosine = 0.9\n"
    )
    overrides = th.load_toml(config) + th.parse_cli(["tflite_int8/tflm.rel_l2=0.01"])
    tflm = th.StageKey("tflite_int8/tflm", "tflite_int8", "tflm", "tflite", "int8")
    litert = th.StageKey("tflite_int8/litert", "tflite_int8", "litert", "tflite", "int8")
    f16 = th.StageKey("tflite_float16/litert", "tflite_float16", "litert", "tflite", "float16")
    assert th.thresholds_for(tflm, overrides)["rel_l2"] == 0.01
    got = th.thresholds_for(litert, overrides)
    assert got["rel_l2"] == 0.2 and got["cosine"] == 0.9 and "sqnr_db" not in got
    assert th.thresholds_for(f16, overrides)["rel_l2"] == 0.5
    onnx = th.StageKey("onnx_int8/onnxruntime", "onnx_int8", "onnxruntime", "onnx", "int8")
    assert th.thresholds_for(onnx)["rel_l2"] == th.DEFAULTS["onnx:int8"]["rel_l2"]
    assert th.unused(th.parse_cli(["tflite_int9.rel_l2=1"]), [tflm, litert]) != []


def test_check_directions() -> None:
    limits = {"rel_l2": 0.1, "sqnr_db": 30.0, "accuracy": 0.5}
    assert th.check({"rel_l2": 0.05, "sqnr_db": 31.0}, limits) == []
    failures = th.check({"rel_l2": 0.2, "sqnr_db": 29.0, "cosine": 0.1}, limits)
    assert failures == ["rel_l2 0.2 > 0.1", "sqnr_db 29 < 30"]
    assert th.check({"rel_l2": float("nan")}, limits) == ["rel_l2 nan > 0.1"]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("rel_l2=0.1", "SELECTOR.METRIC=VALUE"),
        ("*.rel_l3=0.1", "unknown metric 'rel_l3'"),
        ("*.rel_l2=abc", "not a number"),
    ],
)
def test_bad_cli_thresholds(spec: str, message: str) -> None:
    with pytest.raises(EdgeRnnError, match=message):
        th.parse_cli([spec])


def test_bad_toml(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[validate.thresholds\n")
    with pytest.raises(EdgeRnnError, match="not valid TOML"):
        th.load_toml(bad)
    bad.write_text("[validate.thresholds]\nint8 = 3\n")
    with pytest.raises(EdgeRnnError, match="expected a table"):
        th.load_toml(bad)
