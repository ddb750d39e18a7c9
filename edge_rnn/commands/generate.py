"""`edge-rnn generate MODEL --backend native --quant float32|int8w|int8 --out DIR` and
`edge-rnn generate MODEL.tflite --backend tflm --project cmake|arduino|zephyr|esp-idf --out DIR`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from edge_rnn.choices import NATIVE_LAYOUTS, NATIVE_QUANTIZATIONS, TFLM_ECOSYSTEMS


def _native(args: argparse.Namespace, calibration_x) -> list[str]:
    from edge_rnn.frontends.keras import load_model_ir
    from edge_rnn.native import generate

    model = load_model_ir(args.model, name=args.name, timesteps=args.timesteps)
    gen = generate(
        model,
        args.out,
        quant=args.quant,
        calibration_x=calibration_x,
        layout=args.layout,
        target=args.target,
    )
    lines = [
        f"wrote {gen.out_dir}: {', '.join(f.name for f in gen.files)}",
        f"const data {gen.const_bytes:,} bytes, state RAM {gen.ram_bytes:,} bytes, "
        f"outputs {gen.output_dtype}"
        + (f" (value = raw * {gen.output_scale:g})" if gen.output_dtype != "f32" else "")
        + (f", {gen.layout} layout" if gen.layout else ""),
    ]
    if not gen.streaming:
        lines.append(
            f"note: no {model.name}_step(): a backward/bidirectional layer needs the whole window"
        )
    return lines


def _tflm(args: argparse.Namespace, _calibration_x) -> list[str]:
    from edge_rnn.data.npz import read_windows
    from edge_rnn.errors import EdgeRnnError
    from edge_rnn.fsutil import read_json
    from edge_rnn.tflm import generate_project
    from edge_rnn.validate.run import TEST_WINDOW_KEYS

    if not str(args.model).endswith(".tflite"):
        raise EdgeRnnError(f"'{args.model}': the tflm backend takes a .tflite model")
    metadata = read_json(args.metadata, "model metadata") if args.metadata else None
    test_x = None
    if args.data:
        test_x, _, _ = read_windows(
            Path(args.data), TEST_WINDOW_KEYS, source=f"test data '{args.data}'"
        )
    project = generate_project(
        args.model,
        args.out,
        ecosystem=args.project,
        metadata=metadata,
        test_x=test_x,
        name=args.name,
    )
    arena = project.arena
    return [
        f"wrote {project.out_dir} ({project.ecosystem}, {len(project.files)} files)",
        "ops: " + ", ".join(f"{op} ({method})" for op, method in project.ops),
        f"model {project.model_bytes:,} bytes, arena {arena.recommended_bytes:,} bytes "
        f"(smallest working {arena.min_bytes:,} {arena.margin})",
        project.fit_summary(),
    ]


# backend name -> generator(args, calibration windows or None) -> lines to print
BACKENDS: dict[str, Callable[[argparse.Namespace, object], list[str]]] = {
    "native": _native,
    "tflm": _tflm,
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate C source (native backend) or a TFLite Micro project (tflm backend)",
        description="native: C99 kernels + weights, quantizations float32 (FPU), int8w "
        "(int8 weights, FPU), int8 (full integer, no FPU needed; needs --calibration). "
        "tflm: a TFLite Micro app for a .tflite in a cmake, arduino, zephyr or esp-idf layout "
        "(exact op resolver, measured arena, validation main printing the line protocol).",
    )
    parser.add_argument(
        "model",
        help="native: .keras or .h5 model (metadata.json beside it is used); tflm: .tflite model",
    )
    parser.add_argument("--backend", default="native", choices=sorted(BACKENDS))
    parser.add_argument("--quant", default="float32", help="native: float32, int8w or int8")
    parser.add_argument(
        "--layout",
        default="auto",
        choices=NATIVE_LAYOUTS,
        help="native int8: cell weights as int16 (speed: SMLAD straight from flash) or int8 "
        "(size: half the weight flash); auto: size for --target without DSP or small flash",
    )
    parser.add_argument("--target", help="native int8: target profile the auto layout is for")
    parser.add_argument("--out", required=True, help="output directory (must not exist)")
    parser.add_argument(
        "--name",
        help="C symbol prefix and file names (<NAME>.h, <NAME>_run, ...): a lowercase C "
        "identifier (default: the name in metadata.json, else the model's or file's name)",
    )
    parser.add_argument("--calibration", help="builtin:NAME, .npz or .csv training data")
    parser.add_argument("--timesteps", type=int, help="fix the sequence length of the model")
    parser.add_argument(
        "--project",
        default="cmake",
        choices=TFLM_ECOSYSTEMS,
        help="tflm: the project layout",
    )
    parser.add_argument("--metadata", help="tflm: model/metadata.json (normalization, classes)")
    parser.add_argument("--data", help="tflm: .npz with raw test windows x to embed")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edge_rnn.errors import EdgeRnnError

    # Argument checks first: loading the model imports TensorFlow (tens of seconds).
    if args.backend == "native" and args.quant not in NATIVE_QUANTIZATIONS:
        raise EdgeRnnError(
            f"--quant {args.quant}: the native backend supports {', '.join(NATIVE_QUANTIZATIONS)}"
        )
    if args.name is not None:
        from edge_rnn.codegen.names import checked_identifier

        checked_identifier(args.name, "--name")
    if args.backend == "native":
        from edge_rnn.native.generate import choose_layout

        choose_layout(args.layout, args.target)  # an unknown target fails before TensorFlow
    if Path(args.out).exists():
        raise EdgeRnnError(
            f"output directory '{args.out}' already exists: choose another --out or remove it"
        )
    if not Path(args.model).is_file():
        raise EdgeRnnError(f"model file '{args.model}' not found")
    calibration_x = None
    if args.calibration:
        from edge_rnn.api import calibration_windows

        calibration_x = calibration_windows(args.calibration, timesteps=args.timesteps)
    for line in BACKENDS[args.backend](args, calibration_x):
        print(line)
    return 0
