"""QEMU runners: the native C model cross-compiled for each target of targets/*.toml and run
under qemu-system-arm (Cortex-M) or qemu user mode (ARM Linux). One runner per target, named
`qemu-<target>`.

Which targets run a native-c artefact (the others skip as not applicable), first rule that
applies:
1. `ctx.options["targets"]`: the listed target names (`["all"]`: every target);
2. the manifest entry's `target` (a name or a list of names), e.g. the board it was built for;
3. by numeric mode: float32 and int8w on `cortex-m4f` (the FPU core the TFLite Micro figures
   were measured on); int8 on `cortex-m4f` (DSP/SMLAD kernels) and `cortex-m0plus` (no FPU,
   no DSP: the portable integer path, and the smallest memory).

Results carry flash/RAM (Cortex-M) and instructions per inference in `memory`/`notes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from edge_rnn.errors import EdgeRnnError
from edge_rnn.ontarget import ToolMissing, build_firmware, missing_tools, run_firmware
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
from edge_rnn.targets import list_targets, load_target

NATIVE_KERNELS = FIRMWARE_DIR / "native"  # headers of the native kernel library
DEFAULT_TARGETS = {
    "float32": ("cortex-m4f",),
    "int8w": ("cortex-m4f",),
    "int8": ("cortex-m4f", "cortex-m0plus"),
}


def selected_targets(artefact: Artefact, options: Mapping[str, Any]) -> tuple[str, ...]:
    """The target names that run this artefact (rules in the module docstring)."""
    known = tuple(target.name for target in list_targets())
    chosen = options.get("targets") or artefact.entry.get("target")
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
        x = check_input(x, meta, self.name)
        model_dir = artefact.path if artefact.path.is_dir() else artefact.path.parent
        build_dir = ctx.work_dir / f"{artefact.name}-{self.name}"
        try:
            firmware = build_firmware(
                target, model_dir, x, build_dir, include_dirs=(NATIVE_KERNELS,)
            )
            outcome = run_firmware(firmware, timeout_s=ctx.timeout_s)
        except ToolMissing as err:
            raise RunnerSkipped(str(err)) from None
        result = result_from_log(outcome.log, meta, len(x), artefact.entry)
        if firmware.memory is not None:
            result.memory.update(
                flash_bytes=firmware.memory.flash_bytes, ram_bytes=firmware.memory.ram_bytes
            )
        if outcome.stack_bytes is not None:
            result.memory["stack_bytes"] = outcome.stack_bytes
        if outcome.instructions is not None:
            result.memory["instructions_per_inference"] = outcome.instructions.per_inference
        result.notes.append(f"{target.title} on {target.emulator.qemu}: {target.board}")
        return result


def _register_targets() -> None:
    for target in list_targets():
        name = f"qemu-{target.name}"
        register(type(name, (QemuRunner,), {"name": name, "target_name": target.name}))


_register_targets()
