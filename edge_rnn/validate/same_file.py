"""Two interpreters on the same file (TFLite Micro vs LiteRT): which one is off.

lsb_max compares a stage's integer outputs with another interpreter's on the same file, to
catch a runtime that computes the file differently. When they differ, each one's distance to
the float model says which is wrong: a stage that matches the float model is not failed for
differing from an interpreter that does not (that one fails on its own metrics, and is told
that the other interpreter ran the file correctly).
"""

from __future__ import annotations

from edge_rnn.validate.diagnose import ERROR_METRICS
from edge_rnn.validate.stages import FAILED, StageResult


def _against_float(stage: StageResult) -> str:
    errors = [f for f in stage.failures if f.startswith(ERROR_METRICS)]
    max_abs = stage.metrics.get("max_abs", float("nan"))
    verdict = f"fails: {errors[0]}" if errors else "passes"
    return f"{stage.runtime} max_abs {max_abs:.3g} ({verdict})"


def judge_disagreement(stage: StageResult, reference: StageResult) -> None:
    """Reword or drop `stage`'s lsb_max failure against `reference` (the same file in another
    interpreter) by how far each is from the float model; notes on both stages say which."""
    lsb = [f for f in stage.failures if f.startswith("lsb_max")]
    if not lsb:
        return
    own = [f for f in stage.failures if not f.startswith("lsb_max")]
    reference_off = reference.status == FAILED and any(
        f.startswith(ERROR_METRICS) for f in reference.failures
    )
    both = f"against the float model: {_against_float(reference)}, {_against_float(stage)}"
    if reference_off and not own:
        stage.failures = own
        stage.notes.append(
            f"{lsb[0]} against {reference.runtime} on the same file, not counted: "
            f"{reference.runtime} is the interpreter that deviates ({both})"
        )
        reference.notes.append(
            f"{stage.runtime} runs the same file within the thresholds ({both}): the deviation "
            f"is in how {reference.runtime} computes this file"
        )
        reference.details["same_file"] = reference.notes[-1]
        return
    stage.failures = [*own, f"{lsb[0]} against {reference.runtime} on the same file ({both})"]
