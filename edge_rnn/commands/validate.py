"""`edge-rnn validate DIR`: run every artefact of a build on the same windows vs the float model."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from edge_rnn.validate import thresholds as th
    from edge_rnn.validate import validate_build

    overrides = th.load_toml(args.config) if args.config else []
    overrides += th.parse_cli(args.threshold)
    stages = [s.strip() for item in args.stages for s in item.split(",") if s.strip()]
    report = validate_build(
        args.build_dir,
        data=args.data,
        thresholds=overrides,
        allow_skip=args.allow_skip,
        stages=stages or None,
        timeout_s=args.timeout,
        device_logs=args.device_log,
        device_artefact=args.device_artefact,
        targets=[t.strip() for item in args.targets for t in item.split(",") if t.strip()],
    )
    print(f"report: {args.build_dir}/report.json, {args.build_dir}/report.html")
    report.raise_for_failure()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="compare every artefact of a build with the float Keras model",
        description="Run every artefact listed in DIR/manifest.json (LiteRT, TFLite Micro, ONNX "
        "Runtime, ...) on the same test windows, compare each with the float Keras model, and "
        "write DIR/report.json and DIR/report.html. Exit code 1 when any stage fails.",
    )
    parser.add_argument("build_dir", metavar="DIR", help="a directory made by `edge-rnn build`")
    parser.add_argument(
        "--data",
        metavar="SPEC",
        help="test windows: a .npz with raw x (N,T,F) and optional labels y, or a data spec "
        "such as builtin:gesture (default: DIR/data/test.npz)",
    )
    parser.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="SELECTOR.METRIC=VALUE",
        help="override a threshold (repeatable); SELECTOR is a stage (tflite_int8/tflm), "
        "artefact, runner, quantization or '*'; VALUE 'none' removes it. Example: "
        "--threshold int8.rel_l2=0.05",
    )
    parser.add_argument(
        "--config",
        metavar="TOML",
        help="read threshold overrides from its [validate.thresholds.<selector>] tables",
    )
    parser.add_argument(
        "--allow-skip",
        action="store_true",
        help="do not fail when a stage could not run (missing tool, timeout); stages that "
        "never apply (TFLite Micro on float16) never fail",
    )
    parser.add_argument(
        "--stages",
        action="append",
        default=[],
        metavar="SELECTORS",
        help="only these stages (comma-separated selectors, like --threshold's); the float "
        "reference always runs",
    )
    parser.add_argument(
        "--device-log",
        action="append",
        default=[],
        metavar="LOG",
        help="a line-protocol log captured from a board (edge-rnn capture) that ran the test "
        "windows; compared like any other stage (repeatable)",
    )
    parser.add_argument(
        "--device-artefact",
        metavar="NAME",
        help="the manifest artefact the board ran (e.g. native_int8): its quantization picks "
        "the thresholds and its output scale dequantizes integer logs",
    )
    parser.add_argument(
        "--targets",
        action="append",
        default=[],
        metavar="NAMES",
        help="emulated targets for native C stages (comma-separated names from `edge-rnn "
        "targets`, or 'all'); default: cortex-m4f, plus cortex-m0plus for int8",
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds per stage for subprocess runners"
    )
    parser.set_defaults(func=run)
