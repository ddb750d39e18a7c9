"""Estimated cycles and milliseconds per inference from the counted instructions: an ESTIMATE.

QEMU counts instructions, not cycles. Each core gets the cycles of its instruction classes at zero
wait states (ALU, MUL/MAC, load/store, taken and not-taken branch, FPU). The project's QEMU plugin
counts the instructions of each class on Cortex-M and RISC-V (InstructionCount.classes): cycles
= sum over the classes of count x cost. Without counts per class (other cores, older reports) one
average cycles-per-instruction (CPI) of an assumed mix stands in (55 % ALU/MAC, 30 % load/store,
15 % taken branches, counted by hand on the native int8 LSTM loop). Sources, docs/ontarget.md
"Latency":
Arm's Technical Reference Manuals' instruction set summaries (Cortex-M0+, M3, M4 with its FPU;
the M33 and M55 TRMs publish no per-instruction table: taken as the 3-stage M4 and a 1-cycle
load respectively), LLVM's scheduling models for the dual-issue Cortex-M7 (ARMScheduleM7.td) and
the Cortex-A cores. Flash wait states, caches and stalls are not modelled: real boards can be
slower (a 133 MHz RP2040 running from XIP flash without cache hits is).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from edge_rnn.targets import Target


@dataclass(frozen=True)
class CoreCost:
    """Cycles per instruction class (zero wait states) and the CPI used for the estimate."""

    alu: float
    mul_mac: float
    load_store: float
    branch_taken: float
    fpu: float | None  # None: no FPU (soft float runs as integer instructions)
    source: str
    branch_not_taken: float = 1  # every table above: a branch that falls through is 1 cycle

    @property
    def cpi(self) -> float:
        """The CPI of the assumed kernel mix (55 % ALU/MAC, 30 % load/store, 15 % branches):
        the fallback without counts per class."""
        return round(0.55 * self.alu + 0.30 * self.load_store + 0.15 * self.branch_taken, 3)

    def cycles(self, mix: Mapping[str, int]) -> float:
        """Cycles of a counted mix (the plugin's classes: run.CLASSES)."""
        per_class = {
            "alu": self.alu,
            "mul": self.mul_mac,
            "load_store": self.load_store,
            "branch_taken": self.branch_taken,
            "branch_not_taken": self.branch_not_taken,
            "fpu": self.alu if self.fpu is None else self.fpu,  # none counted without an FPU
        }
        return sum(mix[name] * cost for name, cost in per_class.items())


COSTS: dict[str, CoreCost] = {
    "cortex-m0plus": CoreCost(
        1,
        1,
        2,
        2,
        None,
        "Cortex-M0 timings; M0+ taken branch 2",
    ),
    "cortex-m3": CoreCost(1, 2, 2, 3, None, "Cortex-M3 TRM table 3-1 (MLA 2, B 1+P)"),
    "cortex-m4": CoreCost(1, 1, 2, 3, 1, "Cortex-M4 TRM table 3-1, FPU table 7-1"),
    "cortex-m33": CoreCost(1, 1, 2, 3, 1, "as Cortex-M4 (M33 TRM gives no table)"),
    "cortex-m55": CoreCost(1, 1, 1, 2, 1, "scalar: 1-cycle loads, 2-cycle branches"),
    "cortex-m7": CoreCost(0.5, 1, 1, 1, 1, "LLVM ARMScheduleM7.td: dual issue"),
    "cortex-a53": CoreCost(0.5, 1, 1, 1, 1, "LLVM Cortex-A53 model: in-order dual issue"),
    "cortex-a72": CoreCost(0.34, 1, 1, 1, 1, "LLVM Cortex-A57/A72 model: 3-wide OoO"),
    # RISC-V profiles are keyed by ISA; their vendors publish no instruction timing table:
    # assumed in-order 2-4 stage cores with 2-cycle loads and 3-cycle taken branches (the QingKe
    # V4F of the CH32V307 predicts branches: 2).
    "rv32ec": CoreCost(1, 1, 2, 3, None, "assumed (CH32V003 QingKe V2A; no M: soft multiply)"),
    "rv32imc": CoreCost(1, 1, 2, 3, None, "assumed (ESP32-C3 class in-order core)"),
    "rv32imac": CoreCost(1, 1, 2, 3, None, "assumed (ESP32-C6, GD32VF103 Bumblebee)"),
    "rv32imafc": CoreCost(1, 1, 2, 2, 1, "assumed (CH32V307 QingKe V4F, branch prediction)"),
}


def core_cost(target: Target) -> CoreCost | None:
    return COSTS.get(target.core)


@dataclass(frozen=True)
class Estimate:
    """Estimated cycles and ms per inference (None where the count, the core's cost or the
    board clock is unknown) and the CPI they come from."""

    cycles: int | None
    ms: float | None
    cpi: float | None
    counted: bool  # the CPI is that of the counted instruction mix, not the assumed one


def estimate(
    instructions: int | None, target: Target, mix: Mapping[str, int] | None = None
) -> Estimate:
    """Cycles from the counted mix when given (classes summing to about `instructions`), else
    from the core's CPI of the assumed mix."""
    cost = core_cost(target)
    if not instructions or cost is None:
        return Estimate(None, None, None, counted=False)
    counted = mix is not None and sum(mix.values()) > 0
    cycles = round(cost.cycles(mix) if mix is not None and counted else instructions * cost.cpi)
    cpi = round(cycles / instructions, 3) if counted else cost.cpi
    ms = round(cycles / (target.clock_mhz * 1e3), 4) if target.clock_mhz else None
    return Estimate(cycles, ms, cpi, counted)


# The instruction classes the QEMU plugin counts, in the order of its "classes=" line.
MIX_NAMES = {
    "alu": "ALU",
    "mul": "MUL/MAC",
    "load_store": "load/store",
    "branch_taken": "taken branch",
    "branch_not_taken": "not-taken branch",
    "fpu": "FPU",
}

MIX_PREFIX = "instructions_"  # a stage's memory: instructions_<class> per inference


def mix_memory(mix: Mapping[str, int]) -> dict[str, int]:
    """A counted mix as a stage's memory fields (instructions_alu, ...)."""
    return {MIX_PREFIX + name: count for name, count in mix.items()}


def mix_from_memory(memory: Mapping[str, int]) -> dict[str, int] | None:
    """The counted mix stored by mix_memory, None when the stage has none."""
    if not all(MIX_PREFIX + name in memory for name in MIX_NAMES):
        return None
    return {name: int(memory[MIX_PREFIX + name]) for name in MIX_NAMES}


def describe_mix(mix: Mapping[str, int]) -> str:
    """ "48 % ALU, 12 % MUL/MAC, ..." for notes and tables."""
    total = sum(mix.values()) or 1
    return ", ".join(f"{100 * n / total:.0f} % {MIX_NAMES[name]}" for name, n in mix.items())
