"""What to ship: one row per artefact x target it ran on, and a recommendation per target.

A row comes from every on-target stage that judged the model against a board (memory key
`fits`, written by the qemu-<target> runners from the fit probe): flash and RAM of the model
+ runtime, the board's, instructions per inference and the estimated cycles and ms at the
board clock (`edge_rnn.ontarget.latency`, an estimate), error vs float, accuracy and agreement,
fits, passed. The recommendation for a target is the artefact with the least flash (then RAM)
among those that fit its board and passed their thresholds; None when none did.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edge_rnn.errors import EdgeRnnError
from edge_rnn.ontarget.latency import Estimate, estimate, mix_from_memory
from edge_rnn.targets import load_target
from edge_rnn.validate.stages import StageResult

QEMU_PREFIX = "qemu-"
_MEMORY = ("flash_bytes", "ram_bytes", "board_flash_bytes", "board_ram_bytes")
_METRICS = ("max_abs", "accuracy", "top1_agreement")


def fit_failure(memory: dict[str, int], notes: Sequence[str] = ()) -> str | None:
    """The threshold-style failure of a stage whose model does not fit its board, with the
    runner's advice (its "... does NOT fit ...: use X" note) so the summary line has the way out."""
    if memory.get("fits", 1):
        return None
    advice = [note.partition(": use ")[2] for note in notes if "does NOT fit" in note]
    return (
        f"does not fit the board: flash {memory['flash_bytes']:,} of "
        f"{memory['board_flash_bytes']:,} B, RAM {memory['ram_bytes']:,} of "
        f"{memory['board_ram_bytes']:,} B (model + runtime, RAM incl. stack)"
        + (f"; use {advice[0]}" if advice and advice[0] else "")
    )


def _latency(instructions: int | None, target: str, memory: dict[str, int]) -> dict[str, Any]:
    """estimated_cycles, estimated_ms, cpi and the counted instruction_mix (None: not counted,
    the CPI is that of the assumed mix)."""
    mix = mix_from_memory(memory)
    try:
        latency = estimate(instructions, load_target(target), mix)
    except EdgeRnnError:  # a stage of a target profile that is gone: no estimate
        latency = Estimate(None, None, None, counted=False)
    return {
        "estimated_cycles": latency.cycles,
        "estimated_ms": latency.ms,
        "cpi": latency.cpi,
        "instruction_mix": mix if latency.counted else None,
    }


def deployment_table(stages: list[StageResult], allow_skip: bool) -> dict[str, Any]:
    """{"rows": [...], "recommendation": {target: artefact | None}} for report.json/html."""
    rows = []
    for stage in stages:
        if "fits" not in stage.memory:
            continue
        target = stage.runtime.removeprefix(QEMU_PREFIX)
        instructions = stage.memory.get("instructions_per_inference")
        row: dict[str, Any] = {
            "artefact": stage.artefact,
            "quantization": stage.quantization,
            "target": target,
            **{key: stage.memory[key] for key in _MEMORY},
            "instructions": instructions,
            **_latency(instructions, target, stage.memory),
            **{metric: stage.metrics.get(metric) for metric in _METRICS},
            "fits": bool(stage.memory["fits"]),
            "passed": stage.ok(allow_skip),
        }
        rows.append(row)
    recommendation: dict[str, str | None] = {}
    for target in sorted({row["target"] for row in rows}):
        shippable = [r for r in rows if r["target"] == target and r["fits"] and r["passed"]]
        best = min(shippable, key=lambda r: (r["flash_bytes"], r["ram_bytes"]), default=None)
        recommendation[target] = best["artefact"] if best else None
    return {"rows": rows, "recommendation": recommendation}
