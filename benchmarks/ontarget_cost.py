"""Per microcontroller target (Cortex-M and RISC-V): instructions per inference, instructions per
MAC, flash and RAM of the native backend in each numeric mode, for LSTM(16) / GRU(16) /
SimpleRNN(16) on 20x3 inputs + Dense(4); for each core with a recorded TFLite Micro figure
(TFLM_RECORDED: the same models, plugin and emulated machine, counted outside this repository)
also TFLM's instructions per Invoke and the ratio TFLM / native (docs/ontarget.md, "TFLite
Micro reference").

    python3 benchmarks/ontarget_cost.py [--targets cortex-m4f,cortex-m0plus] [--windows 4]
        [--quant int8] [--cells lstm,gru] [--units 64] [--layout speed,size] [--no-zones]
        [--keep DIR]

`--layout` (int8): the cell weight layouts to measure, speed (int16, the default) and/or size
(int8, half the weight flash); the mode column shows e.g. int8/size.

As a quick profiling loop: `--targets cortex-m4f --quant int8 --keep DIR` (DIR keeps each
app.elf for `arm-none-eabi-objdump -d`).

For int8, a second build with the kernel zone markers (-DERN_PROFILE) splits the count by
kernel: matrix (the dot products), act (requantization + activations), update (the gate
arithmetic of the cell state), dense (the head) and other (input loading, copies, calls). Its
total exceeds the plain build's by the marker calls (printed as `markers`).

Under each row (Cortex-M, RISC-V): the instruction mix the plugin counted by class and the
estimated cycles per instruction it gives with the core's cost table, next to the CPI of the
assumed mix used without counts (edge_rnn.ontarget.latency: an estimate).

Models have seeded random weights (instruction counts do not depend on training); each run
is also checked against the host build of the same C (max abs difference printed).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_rnn import ir  # noqa: E402
from edge_rnn.cells import CELLS  # noqa: E402
from edge_rnn.ontarget import build_firmware, missing_tools, run_firmware  # noqa: E402
from edge_rnn.ontarget.latency import core_cost, describe_mix, estimate  # noqa: E402
from edge_rnn.ontarget.run import ZONES, InstructionCount  # noqa: E402
from edge_rnn.targets import list_targets  # noqa: E402

T, F, UNITS, CLASSES = 20, 3, 16, 4

# TFLite Micro cannot be built here (no package ships its sources), so its side is recorded:
# one Invoke of these models (make_model's weights in Keras, full int8 with int8 I/O, GRU and
# SimpleRNN unrolled) counted by the same QEMU plugin on the target's emulated machine.
# Measured 2026-11-30: TFLM 90b983c, CMSIS-NN 4ab83cc (M4F/M33: DSP, M55: MVE; M0+: TFLM's
# reference kernels), arm-none-eabi-gcc 12.2.1 -O2 with the target's cflags, smallest arena
# by bisection; flash and RAM of the whole app as the native firmware's (static RAM: .data +
# .bss with the arena, no stack or heap reserve).
TFLM_SOURCE = "recorded 2026-11-30, TFLM 90b983c + CMSIS-NN 4ab83cc, gcc 12.2.1 -O2"


class TflmFigure(NamedTuple):
    instructions: int  # per Invoke
    flash_bytes: int
    ram_bytes: int
    arena_bytes: int


TFLM_RECORDED: dict[tuple[str, str, int], TflmFigure] = {  # (target, cell, units)
    ("cortex-m0plus", "lstm", 16): TflmFigure(1_070_447, 134_208, 6_168, 2_992),
    ("cortex-m0plus", "gru", 16): TflmFigure(2_576_136, 258_224, 73_208, 69_776),
    ("cortex-m0plus", "simple_rnn", 16): TflmFigure(745_742, 153_872, 23_608, 20_368),
    ("cortex-m0plus", "lstm", 64): TflmFigure(8_255_164, 151_248, 6_968, 3_792),
    ("cortex-m4f", "lstm", 16): TflmFigure(261_292, 135_624, 6_840, 3_664),
    ("cortex-m4f", "gru", 16): TflmFigure(844_986, 260_184, 74_488, 71_056),
    ("cortex-m4f", "simple_rnn", 16): TflmFigure(234_461, 156_224, 24_888, 21_648),
    ("cortex-m4f", "lstm", 64): TflmFigure(1_351_396, 152_664, 9_144, 5_968),
    ("cortex-m33", "lstm", 16): TflmFigure(262_894, 135_416, 6_840, 3_664),
    ("cortex-m33", "gru", 16): TflmFigure(845_048, 259_416, 74_488, 71_056),
    ("cortex-m33", "simple_rnn", 16): TflmFigure(235_165, 155_888, 24_888, 21_648),
    ("cortex-m33", "lstm", 64): TflmFigure(1_357_702, 152_456, 9_144, 5_968),
    ("cortex-m55", "lstm", 16): TflmFigure(136_504, 128_584, 6_928, 3_760),
    ("cortex-m55", "gru", 16): TflmFigure(686_121, 250_736, 77_680, 74_256),
    ("cortex-m55", "simple_rnn", 16): TflmFigure(197_025, 146_560, 28_080, 24_848),
    ("cortex-m55", "lstm", 64): TflmFigure(537_726, 145_624, 9_136, 5_968),
}
# Printed under the row: where a figure was not counted as the native side was, or why none.
TFLM_NOTES: dict[tuple[str, str, int], str] = {
    ("cortex-m0plus", "gru", 16): "M0+ code counted on mps2-an385: its RAM does not fit the "
    "micro:bit's 16 KiB",
    ("cortex-m0plus", "simple_rnn", 16): "M0+ code counted on mps2-an385: its RAM does not fit "
    "the micro:bit's 16 KiB",
}


def macs(cell: str, units: int) -> int:
    """Multiply-accumulates per inference as docs/ontarget.md counts them (LSTM 16: 24,384)."""
    return T * CELLS[cell].gate_count * units * (F + units) + units * CLASSES


def make_model(cell: str, seed: int = 0, units: int = UNITS) -> ir.Model:
    rng = np.random.default_rng(seed)
    gates = CELLS[cell].gate_count
    reset_after = cell == "gru"
    bias_shape = (2, gates * units) if reset_after else (gates * units,)
    recurrent = ir.RecurrentLayer(
        name=cell,
        cell=cell,
        units=units,
        input_size=F,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        return_sequences=False,
        go_backwards=False,
        reset_after=reset_after,
        kernel=rng.normal(0, 0.4, (F, gates * units)).astype(np.float32),
        recurrent_kernel=rng.normal(0, 0.25, (units, gates * units)).astype(np.float32),
        bias=rng.normal(0, 0.1, bias_shape).astype(np.float32),
    )
    dense = ir.DenseLayer(
        name="head",
        units=CLASSES,
        input_size=units,
        activation="softmax",
        use_bias=True,
        per_timestep=False,
        kernel=rng.normal(0, 0.5, (units, CLASSES)).astype(np.float32),
        bias=np.zeros(CLASSES, np.float32),
    )
    return ir.Model(name=f"bench_{cell}", timesteps=T, features=F, layers=(recurrent, dense))


def main() -> int:
    from edge_rnn.native.generate import GeneratedModel, generate, has_mve
    from edge_rnn.native.host import run_host

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="", help="comma-separated target names")
    parser.add_argument("--windows", type=int, default=4, help="test windows per run")
    parser.add_argument("--quant", default="float32,int8w,int8", help="comma-separated modes")
    parser.add_argument("--cells", default="lstm,gru,simple_rnn", help="comma-separated cells")
    parser.add_argument("--units", type=int, default=UNITS, help="recurrent units")
    parser.add_argument("--layout", default="speed", help="int8: comma-separated speed,size")
    parser.add_argument("--no-zones", action="store_true", help="int8: skip the zone builds")
    parser.add_argument("--keep", default="", help="keep the build directories here")
    args = parser.parse_args()
    wanted = set(filter(None, args.targets.split(",")))
    targets = [t for t in list_targets() if t.bare_metal and (not wanted or t.name in wanted)]
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (args.windows, T, F)).astype(np.float32)
    calibration = rng.normal(0, 1, (64, T, F)).astype(np.float32)
    header = (
        f"{'target':14} {'model':10} {'mode':10} {'instr/inf':>10} {'instr/MAC':>9} "
        f"{'flash B':>8} {'model B':>8} {'RAM B':>6} {'stack B':>7} {'TFLM':>8} {'TFLM/nat':>8} "
        f"{'max|d|':>8}"
    )
    print(f"TFLM: instructions per Invoke {TFLM_SOURCE} (docs/ontarget.md)")
    print(header)
    with tempfile.TemporaryDirectory(prefix="edge-rnn-bench-") as tmp:
        work = Path(args.keep or tmp)
        for cell in args.cells.split(","):
            model = make_model(cell, units=args.units)
            modes = [
                (quant, layout)
                for quant in args.quant.split(",")
                for layout in (args.layout.split(",") if quant == "int8" else ["speed"])
            ]
            for quant, layout in modes:
                mode = quant if layout == "speed" else f"{quant}/{layout}"
                generated: dict[bool, tuple[GeneratedModel, np.ndarray]] = {}
                for target in targets:
                    if missing_tools(target):
                        print(f"{target.name:14} skipped: needs {', '.join(missing_tools(target))}")
                        continue
                    mve = has_mve(target.name)  # int8 weights arranged for Helium
                    if mve not in generated:
                        gen = generate(
                            model,
                            work / f"{cell}-{mode.replace('/', '-')}{'-mve' if mve else ''}",
                            quant=quant,
                            calibration_x=calibration,
                            overwrite=True,
                            layout=layout,
                            target=target.name if mve else None,
                        )
                        generated[mve] = gen, run_host(gen, x).reshape(len(x), -1)
                    gen, host = generated[mve]
                    build = gen.out_dir.with_name(f"{gen.out_dir.name}-{target.name}")
                    firmware = build_firmware(target, gen.out_dir, x, build)
                    result = run_firmware(firmware)
                    log = result.log
                    outputs = log.outputs.astype(np.float32)
                    if log.dtype != "f32":
                        outputs = outputs * np.float32(gen.output_scale)
                    diff = float(np.max(np.abs(outputs - host)))
                    count = result.instructions.per_inference if result.instructions else 0
                    tflm, ratio = tflm_columns(target.name, cell, args.units, quant, count)
                    memory = firmware.memory
                    mac_count = macs(cell, args.units)
                    print(
                        f"{target.name:14} {cell:10} {mode:10} {count:>10} "
                        f"{count / mac_count:>9.2f} {memory.flash_bytes:>8} {gen.const_bytes:>8} "
                        f"{memory.ram_bytes:>6} {result.stack_bytes or 0:>7} {tflm:>8} "
                        f"{ratio:>8} {diff:>8.2g}",
                        flush=True,
                    )
                    if result.instructions and result.instructions.classes:
                        print_mix(target, result.instructions.per_inference, result.instructions)
                    if quant == "int8":
                        print_tflm_facts((target.name, cell, args.units))
                    if quant == "int8" and not args.no_zones:
                        print_zones(
                            target, gen.out_dir, x, build.with_name(build.name + "-zones"), count
                        )
    return 0


def print_mix(target, count: int, counts: InstructionCount) -> None:
    """The counted instruction mix and the CPI and latency estimated from it."""
    latency = estimate(count, target, counts.classes)
    assumed = core_cost(target)
    print(
        f"{'':14} mix: {describe_mix(counts.classes or {})}; est. CPI {latency.cpi} "
        f"(assumed mix {assumed.cpi if assumed else '-'}), {latency.cycles} cycles, "
        f"{latency.ms} ms at {target.clock_mhz} MHz"
    )


def tflm_columns(target: str, cell: str, units: int, quant: str, count: int) -> tuple[str, str]:
    """TFLM's recorded instructions per Invoke and TFLM / native for an int8 row."""
    key = (target, cell, units)
    if quant != "int8" or key not in TFLM_RECORDED:
        return ("n/a" if quant == "int8" and key in TFLM_NOTES else "", "")
    instructions = TFLM_RECORDED[key].instructions
    return str(instructions), f"{instructions / count:.2f}x"


def print_tflm_facts(key: tuple[str, str, int]) -> None:
    """The recorded TFLM app's flash, RAM and arena, and the note on how it was counted."""
    facts = []
    if key in TFLM_RECORDED:
        figure = TFLM_RECORDED[key]
        facts.append(
            f"flash {figure.flash_bytes} B, RAM {figure.ram_bytes} B (arena {figure.arena_bytes} B)"
        )
    if key in TFLM_NOTES:
        facts.append(TFLM_NOTES[key])
    if facts:
        print(f"{'':14} TFLM: {'; '.join(facts)}")


def print_zones(target, model_dir: Path, x: np.ndarray, build: Path, plain: int) -> None:
    """Instructions per inference by kernel zone, from a profile build of the same model."""
    firmware = build_firmware(target, model_dir, x, build, defines=("ERN_PROFILE",))
    counts = run_firmware(firmware, zones=True).instructions
    assert counts is not None and counts.zones is not None
    parts = [f"{z} {counts.zones[z]} ({counts.zones[z] / counts.per_inference:.0%})" for z in ZONES]
    print(f"{'':14} kernels: {', '.join(parts)}; markers {counts.per_inference - plain}")


if __name__ == "__main__":
    sys.exit(main())
