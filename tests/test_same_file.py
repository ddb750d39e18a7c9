"""TFLM vs LiteRT on the same file: an lsb_max failure names the interpreter that is off, and
the one that matches the float model is not failed for differing from the one that does not."""

from __future__ import annotations

from edge_rnn.validate.report import stage_remark
from edge_rnn.validate.same_file import judge_disagreement
from edge_rnn.validate.stages import FAILED, PASSED, StageResult

LSB = "lsb_max 234 > 64"


def _stage(runtime: str, max_abs: float, failures: list[str]) -> StageResult:
    stage = StageResult(
        f"tflite_int8/{runtime}", "tflite_int8", "q.tflite", runtime, "tflite", "int8"
    )
    stage.metrics, stage.failures = {"max_abs": max_abs}, failures
    stage.status = FAILED if failures else PASSED
    return stage


def test_litert_off_tflm_right_does_not_fail_tflm() -> None:
    litert = _stage("litert", 0.912, ["cosine 0.62 < 0.99", "rel_l2 0.91 > 0.1"])
    tflm = _stage("tflm", 0.0651, [LSB])
    judge_disagreement(tflm, litert)
    assert tflm.failures == []
    assert "litert is the interpreter that deviates" in tflm.notes[0]
    said = litert.details["same_file"]
    assert "litert max_abs 0.912 (fails: cosine 0.62 < 0.99)" in said
    assert "tflm max_abs 0.0651 (passes)" in said and said in litert.notes
    assert stage_remark(litert).endswith(said)  # terminal and HTML show it with the failures


def test_tflm_off_keeps_the_failure_and_says_so() -> None:
    litert = _stage("litert", 0.03, [])
    tflm = _stage("tflm", 0.5, ["rel_l2 0.4 > 0.1", LSB])
    judge_disagreement(tflm, litert)
    assert tflm.failures[0] == "rel_l2 0.4 > 0.1"
    assert tflm.failures[1].startswith(f"{LSB} against litert on the same file")
    assert (
        "litert max_abs 0.03 (passes), tflm max_abs 0.5 (fails: rel_l2 0.4 > 0.1)"
        in (tflm.failures[1])
    )
    assert "same_file" not in litert.details


def test_both_close_to_float_still_fail_on_lsb() -> None:
    litert, tflm = _stage("litert", 0.03, []), _stage("tflm", 0.04, [LSB])
    judge_disagreement(tflm, litert)
    assert len(tflm.failures) == 1 and "(passes), tflm max_abs 0.04 (passes)" in tflm.failures[0]


def test_no_lsb_failure_changes_nothing() -> None:
    litert, tflm = _stage("litert", 0.9, ["rel_l2 0.9 > 0.1"]), _stage("tflm", 0.04, [])
    judge_disagreement(tflm, litert)
    assert tflm.failures == [] and tflm.notes == [] and litert.notes == []
