"""Estimated cycles and milliseconds per inference from the counted instructions: an ESTIMATE.

QEMU counts instructions, not cycles. Each core gets the cycles of its instruction classes at zero
wait states (ALU, MUL/MAC, load/store, taken branch, FPU) and one average cycles-per-instruction
(CPI) for the mix of the generated kernels (about 55 % ALU/MAC, 30 % load/store, 15 % taken
branches, counted by hand on the native int8 LSTM loop). Sources, docs/ontarget.md "Latency":
Arm's Technical Reference Manuals' instruction set summaries (Cortex-M0+, M3, M4 with its FPU;
the M33 and M55 TRMs publish no per-instruction table: taken as the 3-stage M4 and a 1-cycle
load respectively), LLVM's scheduling models for the dual-issue Cortex-M7 (ARMScheduleM7.td) and
the Cortex-A cores. Flash wait states, caches and stalls are not modelled: real boards can be
slower (a 133 MHz RP2040 running from XIP flash without cache hits is).
"""

from __future__ import annotations

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

    @property
    def cpi(self) -> float:
        """The CPI of the assumed kernel mix (55 % ALU/MAC, 30 % load/store, 15 % branches)."""
        return round(0.55 * self.alu + 0.30 * self.load_store + 0.15 * self.branch_taken, 3)


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


def estimate(instructions: int | None, target: Target) -> dict[str, float | None]:
    """{"estimated_cycles", "estimated_ms", "cpi"}: None where the count, the core's cost or
    the board clock is unknown."""
    cost = core_cost(target)
    if not instructions or cost is None:
        return {"estimated_cycles": None, "estimated_ms": None, "cpi": None}
    cycles = round(instructions * cost.cpi)
    ms = round(cycles / (target.clock_mhz * 1e3), 4) if target.clock_mhz else None
    return {"estimated_cycles": cycles, "estimated_ms": ms, "cpi": cost.cpi}
