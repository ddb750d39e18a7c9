"""What a DepthwiseConv1D front costs on a microcontroller next to a Conv1D of the same shape
(same input channels, outputs and kernel): instructions per inference and flash of the native
C, counted on an emulated target (QEMU instruction-count plugin, as benchmarks/ontarget_cost.py).

    python3 benchmarks/depthwise_cost.py [--targets cortex-m4f] [--quant float32,int8]

Each model is front + SimpleRNN(8) + Dense(4) on 32x8 windows; "none" has no front, so a
front's own cost is its row minus that one (printed). Seeded random weights (counts do not
depend on training); each run is checked against the host build of the same C (max|d|).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_rnn import ir  # noqa: E402
from edge_rnn.native import generate  # noqa: E402
from edge_rnn.native.host import compile_host, run_binary  # noqa: E402
from edge_rnn.ontarget import build_firmware, missing_tools, run_firmware  # noqa: E402
from edge_rnn.targets import list_targets  # noqa: E402

T, F, KERNEL, UNITS, CLASSES = 32, 8, 5, 8, 4


def _front(kind: str, rng: np.random.Generator) -> list[ir.Layer]:
    window = {
        "input_size": F,
        "kernel_size": KERNEL,
        "strides": 1,
        "dilation": 1,
        "padding": "valid",
        "activation": "relu",
        "use_bias": True,
        "bias": rng.normal(0, 0.1, F).astype(np.float32),
    }
    if kind == "depthwise":
        kernel = rng.normal(0, 0.4, (KERNEL, F, 1)).astype(np.float32)
        return [ir.DepthwiseConv1DLayer(name=kind, kernel=kernel, depth_multiplier=1, **window)]
    if kind == "conv1d":
        kernel = rng.normal(0, 0.2, (KERNEL, F, F)).astype(np.float32)
        return [ir.Conv1DLayer(name=kind, kernel=kernel, filters=F, **window)]
    return []


def make_model(kind: str) -> ir.Model:
    rng = np.random.default_rng(0)
    front = _front(kind, rng)
    rnn = ir.RecurrentLayer(
        "rnn", "simple_rnn", UNITS, F, "tanh", "linear", True, False, False, False,
        rng.normal(0, 0.4, (F, UNITS)).astype(np.float32),
        rng.normal(0, 0.3, (UNITS, UNITS)).astype(np.float32),
        rng.normal(0, 0.1, UNITS).astype(np.float32),
    )  # fmt: skip
    head = ir.DenseLayer(
        "head", CLASSES, UNITS, "linear", True, False,
        rng.normal(0, 0.5, (UNITS, CLASSES)).astype(np.float32), np.zeros(CLASSES, np.float32),
    )  # fmt: skip
    return ir.Model(f"dw_{kind}", T, F, (*front, rnn, head))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="cortex-m4f", help="comma-separated target names")
    parser.add_argument("--quant", default="float32,int8", help="comma-separated modes")
    args = parser.parse_args()
    targets = [t for t in list_targets() if t.name in args.targets.split(",")]
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (2, T, F)).astype(np.float32)
    calibration = rng.normal(0, 1, (64, T, F)).astype(np.float32)
    macs = {"none": 0, "depthwise": KERNEL * F, "conv1d": KERNEL * F * F}
    print(f"{'target':12} {'mode':8} {'front':10} {'MAC/step':>8} {'instr/inf':>10} "
          f"{'front instr':>11} {'flash B':>8} {'front B':>8} {'max|d|':>8}")  # fmt: skip
    # flash: the whole validation firmware as linked; front B: its growth over "none" (the
    # front's weights and the code of its kernels)
    with tempfile.TemporaryDirectory(prefix="edge-rnn-dw-") as tmp:
        work = Path(tmp)
        for target in targets:
            if missing_tools(target):
                print(f"{target.name}: skipped, needs {', '.join(missing_tools(target))}")
                continue
            for quant in args.quant.split(","):
                base: tuple[int, int] | None = None
                for kind in ("none", "depthwise", "conv1d"):
                    out = work / f"{target.name}-{quant}-{kind}"
                    gen = generate(make_model(kind), out, quant=quant, calibration_x=calibration)
                    host = run_binary(compile_host(gen, out.with_suffix(".bin")), x).values
                    firmware = build_firmware(target, gen.out_dir, x, work / "fw" / out.name)
                    result = run_firmware(firmware)
                    got = result.log.outputs.astype(np.float32)
                    if result.log.dtype != "f32":
                        got = got * np.float32(gen.output_scale)
                    diff = float(np.abs(got.reshape(host.shape) - host).max())
                    count = result.instructions.per_inference if result.instructions else 0
                    flash = firmware.memory.flash_bytes if firmware.memory else 0
                    base = base or (count, flash)
                    print(
                        f"{target.name:12} {quant:8} {kind:10} {macs[kind]:>8} {count:>10} "
                        f"{count - base[0]:>11} {flash:>8} {flash - base[1]:>8} {diff:>8.2g}",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
