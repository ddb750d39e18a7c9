"""QEMU runners: the native C model cross-compiled for each target of targets/*.toml and run
under qemu-system-arm (Cortex-M), qemu-system-riscv32 (RISC-V microcontrollers) or qemu user
mode (ARM Linux). One runner per target, named
`qemu-<target>`.

Which targets run a native-c artefact (the others skip as not applicable), first rule that
applies:
1. `ctx.options["targets"]`: the listed target names (`["all"]`: every target);
2. the manifest entry's `target` (a name or a list of names), e.g. the board it was built for;
3. by numeric mode: float32 and int8w on `cortex-m4f` (the FPU core the TFLite Micro figures
   were measured on); int8 on `cortex-m4f` (DSP/SMLAD kernels) and `cortex-m0plus` (no FPU,
   no DSP: the portable integer path, and the smallest memory).

Microcontroller (Cortex-M, RISC-V) results judge the model, not the validation firmware:
`memory` holds the flash and RAM of the model + runtime (the fit probe, edge_rnn.ontarget.fit;
RAM includes the measured stack), the board's flash and RAM, `fits` (1/0), the whole validation
firmware as `harness_flash_bytes`/`harness_ram_bytes`, and instructions per inference. A model
that does not fit the board still runs when the emulated machine has room (the validator then
fails the stage on `fits` = 0; the notes say what would fit), else the stage fails with that
advice. When the firmware does not fit the emulated machine but the model fits the board, a
model with `_step` is run one time step at a time (STEP_WINDOWS); any other is skipped with
both sizes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from edge_rnn.errors import EdgeRnnError
from edge_rnn.ontarget import ToolMissing, build_firmware, missing_tools, run_firmware
from edge_rnn.ontarget.build import DoesNotFit
from edge_rnn.ontarget.fit import ModelFit, boards_with_room, measure_fit
from edge_rnn.ontarget.latency import Estimate, describe_mix, estimate, mix_memory
from edge_rnn.ontarget.run import InstructionCount
from edge_rnn.ontarget.toolchain import FIRMWARE_DIR
from edge_rnn.runtimes.base import (
    Artefact,
    ModelMeta,
    RunContext,
    Runner,
    RunnerSkipped,
    RunResult,
    check_input,
    register,
)
from edge_rnn.runtimes.device_log import result_from_log
from edge_rnn.targets import Target, list_targets, load_target

NATIVE_KERNELS = FIRMWARE_DIR / "native"  # headers of the native kernel library
DEFAULT_TARGETS = {
    "float32": ("cortex-m4f",),
    "int8w": ("cortex-m4f",),
    "int8": ("cortex-m4f", "cortex-m0plus"),
}
# Native modes with less flash. int8w (int8 weights, float kernels) is the smallest on every
# core measured, in either int8 layout: the size layout stores int8's cell weights as int8w
# does (the speed layout widens them to int16), but int8's integer kernels and activation
# tables remain (LSTM 16 / 64 model + runtime on M4F: int8w 7,416 / 25,084 B, int8 size
# 28,296 / 47,116 B, speed 27,064 / 62,012 B).
SMALLER_MODES = {"float32": "int8w or int8", "int8": "int8w"}


def selected_targets(artefact: Artefact, options: Mapping[str, Any]) -> tuple[str, ...]:
    """The target names that run this artefact (rules in the module docstring)."""
    known = tuple(target.name for target in list_targets())
    chosen = options.get("targets") or artefact.manifest_entry.target
    if not chosen:
        return DEFAULT_TARGETS.get(artefact.quantization, ())
    names = (chosen,) if isinstance(chosen, str) else tuple(chosen)
    if "all" in names:
        return known
    unknown = [name for name in names if name not in known]
    if unknown:
        raise EdgeRnnError(
            f"artefact '{artefact.name}': unknown target {', '.join(unknown)}; "
            f"use one of {', '.join(known)} (edge-rnn targets)"
        )
    return names


class QemuRunner(Runner):
    formats = ("native-c",)
    order = 700
    target_name: ClassVar[str]

    def supports(
        self, artefact: Artefact, options: Mapping[str, Any] = MappingProxyType({})
    ) -> bool:
        return super().supports(artefact) and self.target_name in selected_targets(
            artefact, options
        )

    def run(self, artefact: Artefact, x: np.ndarray, meta: ModelMeta, ctx: RunContext) -> RunResult:
        target = load_target(self.target_name)
        missing = missing_tools(target)
        if missing:
            raise RunnerSkipped(f"needs {', '.join(missing)} (bash scripts/setup.sh --arm)")
        x = meta.raw_input(check_input(x, meta, self.name))
        model_dir = artefact.path if artefact.path.is_dir() else artefact.path.parent
        build_dir = ctx.work_dir / f"{artefact.name}-{self.name}"
        fit = None
        notes: list[str] = []
        try:
            if target.bare_metal:
                fit = measure_fit(
                    target, model_dir, build_dir / "fit", include_dirs=(NATIVE_KERNELS,)
                )
            # A window that overflows the emulated RAM of a model that fits the board: the
            # firmware reads and runs one time step at a time instead.
            may_step = fit is not None and fit.fits and _steps_through(artefact, meta)
            try:
                firmware = build_firmware(
                    target,
                    model_dir,
                    x,
                    build_dir,
                    include_dirs=(NATIVE_KERNELS,),
                    step_if_too_big=may_step,
                )
            except DoesNotFit as err:
                assert fit is not None  # only bare-metal firmware has a memory map
                if not fit.fits:
                    raise EdgeRnnError(fit_advice(fit, artefact, meta)) from None
                if not may_step:
                    raise RunnerSkipped(f"{fit.summary()}, but {err}") from None
                raise  # even one time step does not fit
            if firmware.pairs_per_window > 1:
                notes.append(
                    "a whole window does not fit the emulated RAM: the firmware reads and "
                    "runs one time step at a time (_step, equal to _run bit for bit)"
                )
            outcome = run_firmware(firmware, timeout_s=ctx.timeout_s)
        except ToolMissing as err:
            raise RunnerSkipped(str(err)) from None
        result = result_from_log(outcome.log, meta, len(x), artefact.manifest_entry)
        result.notes.extend(notes)
        if fit is not None and firmware.memory is not None:
            fit = replace(fit, stack_bytes=outcome.stack_bytes)
            result.memory.update(fit.as_memory())  # the validator fails the stage on fits=0
            result.memory.update(
                harness_flash_bytes=firmware.memory.flash_bytes,
                harness_ram_bytes=firmware.memory.ram_bytes,
            )
            result.notes.append(fit.summary() if fit.fits else fit_advice(fit, artefact, meta))
        if outcome.stack_bytes is not None:
            result.memory["stack_bytes"] = outcome.stack_bytes
        if outcome.instructions is not None:
            latency = estimate(
                outcome.instructions.per_inference, target, outcome.instructions.classes
            )
            result.memory.update(instruction_memory(outcome.instructions, latency))
            note = latency_note(outcome.instructions, latency, target)
            if note:
                result.notes.append(note)
        result.notes.append(f"{target.title} on {target.emulator.qemu}: {target.board}")
        return result


def instruction_memory(counts: InstructionCount, latency: Estimate) -> dict[str, int]:
    """The stage's memory fields: instructions per inference, their counted mix by class
    (instructions_alu, ...) and the estimated cycles."""
    memory = {"instructions_per_inference": counts.per_inference}
    if counts.classes:
        memory.update(mix_memory(counts.classes))
    if latency.cycles is not None:
        memory["estimated_cycles_per_inference"] = latency.cycles
    return memory


def latency_note(counts: InstructionCount, latency: Estimate, target: Target) -> str | None:
    """ "N instructions per inference, about X ms at F MHz (estimate: CPI ... )"."""
    if latency.ms is None:
        return None
    source = (
        f"the counted mix {describe_mix(counts.classes)}"
        if counts.classes and latency.counted
        else "an assumed mix"
    )
    return (
        f"{counts.per_inference:,} instructions per inference, about {latency.ms:g} ms at "
        f"{target.clock_mhz} MHz (estimate: {latency.cpi} cycles per instruction from {source}; "
        "docs/ontarget.md)"
    )


def _steps_through(artefact: Artefact, meta: ModelMeta) -> bool:
    """Whether the firmware can run windows step by step: the model has `_step` and one
    output per window or one per input step."""
    per_step = meta.sequence_output and meta.output_shape[0] == meta.input_shape[0]
    return bool(artefact.manifest_entry.streaming) and (not meta.sequence_output or per_step)


def fit_advice(fit: ModelFit, artefact: Artefact, meta: ModelMeta) -> str:
    """What does not fit, by how much, and only advice that can work."""
    advice = []
    if fit.flash_bytes > fit.board_flash_bytes and artefact.quantization in SMALLER_MODES:
        advice.append(f"the native {SMALLER_MODES[artefact.quantization]} mode (if it converts)")
    if fit.ram_bytes > fit.board_ram_bytes and _steps_through(artefact, meta):
        # The fit probe holds one whole input window (float or int32 token ids: 4 B a value);
        # a long window of few features costs more RAM than the model's state.
        window = 4 * meta.input_shape[0] * meta.input_shape[1]
        advice.append(
            f"{meta.name}_step on each time step as it arrives instead of {meta.name}_run on "
            f"a stored window (no {window:,} B window buffer: RAM about "
            f"{fit.ram_bytes - window:,} B)"
        )
    advice.append("fewer units or layers")
    roomy = boards_with_room(fit.flash_bytes, fit.ram_bytes)
    if roomy:
        advice.append(f"a target with more memory (these sizes fit {', '.join(roomy)})")
    return f"artefact '{artefact.name}' {fit.summary()}: use {', or '.join(advice)}"


def _register_targets() -> None:
    for target in list_targets():
        name = f"qemu-{target.name}"
        register(type(name, (QemuRunner,), {"name": name, "target_name": target.name}))


_register_targets()
