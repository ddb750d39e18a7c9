"""Quick profiling loop for the native backend on the emulated Cortex-M4F: generate the
LSTM(16)/GRU(16)/SimpleRNN(16) 20x3 + Dense(4) models (benchmarks/ontarget_cost.py shapes),
build each for `cortex-m4f`, and print instructions per inference (QEMU icount plugin),
instructions per MAC, flash bytes, model const bytes, and whether the firmware output is
bit-exact with the host build (int8) or close (float modes).

    python3 benchmarks/native_m4.py [--quant int8] [--cells lstm,gru] [--keep DIR]

--keep leaves the build directories (app.elf for `arm-none-eabi-objdump -d`) in DIR.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ontarget_cost import MACS, F, T, make_model  # noqa: E402

from edge_rnn.ontarget import build_firmware, run_firmware  # noqa: E402
from edge_rnn.targets import load_target  # noqa: E402


def main() -> int:
    from edge_rnn.native.generate import generate
    from edge_rnn.native.host import run_host

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quant", default="int8", help="comma-separated numeric modes")
    parser.add_argument("--cells", default="lstm,gru,simple_rnn")
    parser.add_argument("--target", default="cortex-m4f")
    parser.add_argument("--keep", default="", help="keep build directories here")
    args = parser.parse_args()
    target = load_target(args.target)
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (2, T, F)).astype(np.float32)
    calibration = rng.normal(0, 1, (64, T, F)).astype(np.float32)
    print(
        f"{'model':10} {'mode':8} {'instr/inf':>10} {'instr/MAC':>9} {'flash B':>8} "
        f"{'model B':>8} {'max|d|':>8}"
    )
    with tempfile.TemporaryDirectory(prefix="edge-rnn-m4-") as tmp:
        work = Path(args.keep or tmp)
        for cell in args.cells.split(","):
            model = make_model(cell)
            for quant in args.quant.split(","):
                gen = generate(
                    model,
                    work / f"{cell}-{quant}",
                    quant=quant,
                    calibration_x=calibration,
                    overwrite=True,
                )
                host = run_host(gen, x).reshape(len(x), -1)
                firmware = build_firmware(target, gen.out_dir, x, work / f"{cell}-{quant}-fw")
                result = run_firmware(firmware)
                outputs = result.log.outputs.astype(np.float32)
                if result.log.dtype != "f32":
                    outputs = outputs * np.float32(gen.output_scale)
                diff = float(np.max(np.abs(outputs - host)))
                count = result.instructions.per_inference if result.instructions else 0
                print(
                    f"{cell:10} {quant:8} {count:>10} {count / MACS[cell]:>9.2f} "
                    f"{firmware.memory.flash_bytes:>8} {gen.const_bytes:>8} {diff:>8.2g}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
