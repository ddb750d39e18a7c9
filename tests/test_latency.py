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
    assert (latency.cpi, latency.counted) == (cpi, False)
    cycles = round(100_000 * cpi)
    assert latency.cycles == cycles
    assert latency.ms == round(cycles / (target.clock_mhz * 1e3), 4)


def test_counted_mix_gives_cycles_by_class() -> None:
    """M4: ALU 1, MUL 1, load/store 2, taken branch 3, not-taken 1, FPU 1 cycle."""
    mix = {"alu": 500, "mul": 100, "load_store": 200, "branch_taken": 100}
    mix |= {"branch_not_taken": 50, "fpu": 50}
    latency = estimate(1000, load_target("cortex-m4f"), mix)
    cycles = 500 + 100 + 2 * 200 + 3 * 100 + 50 + 50
    assert (latency.cycles, latency.cpi, latency.counted) == (cycles, cycles / 1000, True)
    no_counts = dict.fromkeys(mix, 0)
    assert estimate(1000, load_target("cortex-m4f"), no_counts).cpi == 1.6  # assumed mix


def test_no_count_no_estimate() -> None:
    assert estimate(None, load_target("cortex-m4f")).ms is None
