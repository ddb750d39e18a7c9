"""`edge-rnn` command line: parse, call the API, print. Heavy imports stay inside commands.

Each subcommand lives in `edge_rnn/commands/<name>.py` and exposes
`register(subparsers) -> None`, which adds its parser and sets `func` (args -> exit code).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator

from edge_rnn import __version__
from edge_rnn.errors import EdgeRnnError, Terminated
from edge_rnn.tf_env import apply_tf_env

# Order is the order shown in --help.
COMMAND_MODULES = (
    "demo",
    "build",
    "train",
    "convert",
    "carray",
    "generate",
    "inspect",
    "validate",
    "targets",
    "capture",
    "bundle",
    "sweep",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-rnn",
        description="Train, quantize, convert, generate C for and validate recurrent networks "
        "for microcontrollers and ARM boards.",
    )
    parser.add_argument("--version", action="version", version=f"edge-rnn {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"edge_rnn.commands.{name}").register(subparsers)
    return parser


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    apply_tf_env()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    with _sigterm_unwinds():
        return _run(args)


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """While a command runs, SIGTERM unwinds like Ctrl-C: temporary directories and child
    processes are removed on the way out (a plain SIGTERM would leave them behind)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.func(args) or 0)
    except Terminated:
        print(f"edge-rnn {args.command}: terminated", file=sys.stderr)
        return 143
    except EdgeRnnError as err:
        print(f"edge-rnn {args.command}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"edge-rnn {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `edge-rnn targets | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
