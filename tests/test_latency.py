"""Estimated cycles and ms per inference: every core profile has a cost, the CPI follows from
the per-class cycles, and faster/dual-issue cores get fewer cycles for the same count."""

from __future__ import annotations

import pytest

from edge_rnn.ontarget.latency import COSTS, estimate
from edge_rnn.targets import list_targets, load_target


def test_every_target_core_has_a_cost_with_a_source() -> None:
    for target in list_targets():
        cost = COSTS[target.core]
        assert cost.source and (cost.fpu is None) == (not target.has_fpu), target.name


@pytest.mark.parametrize(
    ("name", "cpi"),
    [("cortex-m0plus", 1.45), ("cortex-m4f", 1.6), ("cortex-m7", 0.725), ("cortex-m55", 1.15)],
)
def test_estimate_is_instructions_times_cpi_at_the_board_clock(name: str, cpi: float) -> None:
    target = load_target(name)
    latency = estimate(100_000, target)
    assert latency["cpi"] == cpi
    cycles = round(100_000 * cpi)
    assert latency["estimated_cycles"] == cycles
    assert latency["estimated_ms"] == round(cycles / (target.clock_mhz * 1e3), 4)


def test_no_count_no_estimate() -> None:
    assert estimate(None, load_target("cortex-m4f"))["estimated_ms"] is None
