"""Run a built firmware under QEMU, parse its line protocol, count instructions.

Cortex-M: `qemu-system-arm -M <machine> -cpu <core> ... -semihosting-config
enable=on,target=native -icount shift=0 -kernel app.elf`; RISC-V the same with
`qemu-system-riscv32 -M virt -cpu rv32,<ISA options> -bios none`. The program's stdout is the
protocol and QEMU's exit status is the firmware's (faults exit with known codes).
ARM Linux: `qemu-aarch64 -L <sysroot> app` (or qemu-arm). Both run in the firmware's
directory, where the firmware reads its test windows file.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge_rnn.children import run_child
from edge_rnn.errors import EdgeRnnError
from edge_rnn.ontarget.build import Firmware
from edge_rnn.ontarget.elf import symbol_address
from edge_rnn.ontarget.fault import describe_fault
from edge_rnn.ontarget.latency import MIX_NAMES
from edge_rnn.ontarget.plugin import build_plugin
from edge_rnn.ontarget.toolchain import ToolMissing, require_tools
from edge_rnn.protocol import ProtocolLog, parse_protocol

# Keep in sync with firmware_templates/cortexm/edge_rnn_firmware.h.
EXIT_CODES = {
    120: "HardFault (RISC-V: a trap, e.g. an illegal instruction or access fault)",
    121: "MemManage fault",
    122: "BusFault",
    123: "UsageFault (e.g. FPU not enabled or an undefined instruction)",
    124: "unexpected interrupt",
    125: "no whole test windows read from test_x.bin (semihosting or file I/O failed)",
}


@dataclass(frozen=True)
class InstructionCount:
    per_inference: int  # mean over the inferences (one per test window)
    first: int  # first, lowest, highest: per marker pair (one step when run step by step)
    lowest: int
    highest: int
    inferences: int
    # Profile builds (-DERN_PROFILE): instructions per inference by kernel zone (ZONES), the
    # instructions before the first zone switch counted as "other".
    zones: dict[str, int] | None = None
    # Instructions per inference by class (CLASSES; Cortex-M and RISC-V), summing to the count.
    classes: dict[str, int] | None = None


# The kernel zones of a profile build (ERN_ZONE in firmware_templates/native/ern.h): entering
# ern_zone_<name> switches the plugin's current zone.
ZONES = ("matrix", "act", "update", "dense", "other")

# The plugin's instruction classes, in the order of its "classes=" line; `isa=` by target kind.
CLASSES = tuple(MIX_NAMES)
_PLUGIN_ISA = {"cortex-m": "arm", "riscv": "riscv"}
START_UP_S = 20.0  # a bare-metal firmware that has printed nothing by then hangs in start-up


@dataclass(frozen=True)
class OnTargetResult:
    log: ProtocolLog
    instructions: InstructionCount | None
    firmware: Firmware

    @property
    def stack_bytes(self) -> int | None:
        value = self.log.costs.get("stack_bytes")
        return int(value) if isinstance(value, int) else None


def qemu_command(firmware: Firmware) -> list[str]:
    target, emulator = firmware.target, firmware.target.emulator
    if target.kind == "linux":
        return [emulator.qemu, "-L", emulator.sysroot]
    semihosting = "enable=on,target=native"
    riscv: list[str] = []
    if target.kind == "riscv":
        # No OpenSBI: the reset vector jumps to the firmware at the start of DRAM. picolibc
        # writes stdout with SYS_WRITEC, which QEMU sends to stderr unless given a chardev.
        riscv = ["-bios", "none", "-chardev", "stdio,id=semihosting"]
        semihosting += ",chardev=semihosting"
    return [
        emulator.qemu,
        "-M",
        emulator.machine,
        "-cpu",
        emulator.cpu,
        *riscv,
        "-nographic",
        "-monitor",
        "none",
        "-serial",
        "none",
        "-semihosting-config",
        semihosting,
        "-icount",
        "shift=0",
    ]


def _where(firmware: Firmware) -> str:
    """The target and what emulates it, e.g. "esp32-c3 (qemu-system-riscv32 -cpu rv32,...)"."""
    emulator = firmware.target.emulator
    cpu = f" -cpu {emulator.cpu}" if emulator.cpu else ""
    return f"{firmware.target.name} ({emulator.qemu}{cpu})"


def _built_for(firmware: Firmware) -> str:
    """The ISA a bare-metal firmware was built for, as a clause ("" when not stated)."""
    march = [flag for flag in firmware.target.cflags if flag.startswith(("-march=", "-mcpu="))]
    return f"; built with {march[0]}" if march and firmware.target.bare_metal else ""


def plugin_arguments(firmware: Firmware, counts_file: Path, *, zones: bool = False) -> list[str]:
    """QEMU's -plugin option counting between the firmware's markers into `counts_file`:
    by class too on Cortex-M and RISC-V, by kernel zone with `zones`."""
    start = symbol_address(firmware.elf, "edge_rnn_marker_start")
    end = symbol_address(firmware.elf, "edge_rnn_marker_end")
    option = f"{build_plugin()},start={start:#x},end={end:#x},out={counts_file}"
    if firmware.target.kind in _PLUGIN_ISA:
        option += f",isa={_PLUGIN_ISA[firmware.target.kind]}"
    if zones:
        addresses = (symbol_address(firmware.elf, f"ern_zone_{z}") for z in ZONES)
        option += ",zones=" + ":".join(f"{a:#x}" for a in addresses)
    return ["-plugin", option]


def _progress(output: Path, firmware: Firmware) -> str:
    """How far a run got, from the protocol lines it printed."""
    lines = output.read_bytes().decode("utf-8", errors="replace").splitlines()
    samples = sum(line.startswith("S ") for line in lines)
    if not lines:
        return "it printed nothing"
    return f"it printed {samples} of {firmware.samples} windows' outputs"


def _start_up_watch(output: Path, firmware: Firmware) -> Callable[[], EdgeRnnError | None]:
    """A check for run_child: the firmware has printed nothing START_UP_S after QEMU started
    (its header comes within a fraction of a second), so it hangs in start-up."""
    started = time.monotonic()

    def check() -> EdgeRnnError | None:
        if time.monotonic() - started < START_UP_S or output.stat().st_size > 0:
            return None
        return EdgeRnnError(
            f"firmware on {_where(firmware)} printed nothing within {START_UP_S:.0f} s of "
            f"starting: it hangs in start-up, before its first line{_built_for(firmware)}"
        )

    return check


def read_counts(path: Path, pairs_per_window: int = 1) -> InstructionCount:
    """The plugin's totals per inference (a window run step by step brackets each step)."""
    if not path.is_file():
        raise EdgeRnnError("the QEMU icount plugin wrote no result (did QEMU load it?)")
    fields = dict(word.split("=", 1) for word in path.read_text().split())
    pairs = int(fields["pairs"]) // pairs_per_window
    if pairs == 0:
        raise EdgeRnnError("the instruction-count markers were never reached")
    zones = None
    if "zones" in fields:
        before, *counts = (int(n) for n in fields["zones"].split(","))
        zones = {name: round(n / pairs) for name, n in zip(ZONES, counts, strict=True)}
        zones["other"] += round(before / pairs)
    classes = None
    if "classes" in fields:
        totals = (int(n) for n in fields["classes"].split(","))
        classes = {name: round(n / pairs) for name, n in zip(CLASSES, totals, strict=True)}
    return InstructionCount(
        per_inference=round(int(fields["total"]) / pairs),
        first=int(fields["first"]),
        lowest=int(fields["min"]),
        highest=int(fields["max"]),
        inferences=pairs,
        zones=zones,
        classes=classes,
    )


def run_firmware(
    firmware: Firmware,
    *,
    count_instructions: bool = True,
    timeout_s: float = 120.0,
    zones: bool = False,
) -> OnTargetResult:
    """Run the firmware once; outputs from its protocol, instructions from the plugin.
    zones: split the count by kernel (a firmware built with defines=("ERN_PROFILE",))."""
    require_tools(firmware.target)
    with tempfile.TemporaryDirectory(prefix="edge-rnn-qemu-") as scratch:
        counts_file = Path(scratch) / "icount.txt"
        command = qemu_command(firmware)
        if count_instructions:
            command += plugin_arguments(firmware, counts_file, zones=zones)
        command += (
            ["-kernel", str(firmware.elf)] if firmware.target.bare_metal else [str(firmware.elf)]
        )
        where = _where(firmware)
        output = Path(scratch) / "stdout.txt"
        try:
            with open(output, "wb") as stdout_file:
                done = run_child(
                    command,
                    timeout_s=timeout_s,
                    stdout=stdout_file,
                    text=False,
                    cwd=firmware.windows.parent,
                    on_timeout=lambda: EdgeRnnError(
                        f"firmware on {where} did not finish within {timeout_s:.0f} s "
                        f"({_progress(output, firmware)}: a hang in the model, or too many "
                        f"test windows){_built_for(firmware)}"
                    ),
                    stalled=_start_up_watch(output, firmware)
                    if firmware.target.bare_metal
                    else None,
                )
        except FileNotFoundError:
            raise ToolMissing(f"{command[0]} not found") from None
        stdout = output.read_bytes().decode("utf-8", errors="replace")
        if done.returncode != 0:
            what = EXIT_CODES.get(done.returncode, f"exit status {done.returncode}")
            if firmware.target.kind == "riscv":
                what = describe_fault(stdout, firmware.target, firmware.elf) or what
            detail = done.stderr.decode("utf-8", errors="replace").strip().splitlines()[-1:]
            raise EdgeRnnError(
                f"firmware on {where} stopped with {what}" + (f": {detail[0]}" if detail else "")
            )
        log = parse_protocol(stdout, source=f"{where} output")
        counts = read_counts(counts_file, firmware.pairs_per_window) if count_instructions else None
    return OnTargetResult(log=log, instructions=counts, firmware=firmware)
