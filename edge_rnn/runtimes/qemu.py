"""QEMU runners: the native C model cross-compiled for each target of targets/*.toml and run
under qemu-system-arm (Cortex-M) or qemu user mode (ARM Linux). One runner per target, named
`qemu-<target>`; `ctx.options["targets"]` (a list of target names) narrows which run.

Results carry flash/RAM (Cortex-M) and instructions per inference in `memory`/`notes`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

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


class QemuRunner(Runner):
    formats = ("native-c",)
    order = 700
    target_name: ClassVar[str]

    def run(self, artefact: Artefact, x: np.ndarray, meta: ModelMeta, ctx: RunContext) -> RunResult:
        selected = ctx.options.get("targets")
        if selected and self.target_name not in selected:
            raise RunnerSkipped(f"target {self.target_name} not selected", not_applicable=True)
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
