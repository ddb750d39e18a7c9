"""`edge-rnn capture --port PORT --out LOG`: read the line protocol from a board's serial port.

Lines are checked as they arrive (a corrupted line is reported with its line number) and the
capture stops at END or after --timeout seconds without it. The log is written only when the
stream was complete and valid; validate it with `edge-rnn validate DIR --device-log LOG`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from edge_rnn.errors import EdgeRnnError

if TYPE_CHECKING:
    from edge_rnn.protocol import ProtocolLog


def capture(
    port: str, out: str | Path, *, baud: int = 115200, timeout_s: float = 60.0
) -> ProtocolLog:
    """Read PORT until the END line; write the raw lines to OUT; return the parsed log."""
    import serial  # pyserial

    from edge_rnn.protocol import ProtocolParser

    parser = ProtocolParser(source=port)
    lines: list[bytes] = []
    try:
        link = serial.Serial(port, baudrate=baud, timeout=0.2)
    except (serial.SerialException, OSError) as err:
        raise EdgeRnnError(f"cannot open serial port '{port}': {err}") from None
    deadline = time.monotonic() + timeout_s
    with link:
        pending = b""
        while not parser.done:
            if time.monotonic() > deadline:
                got = f"{len(lines)} lines" if lines else "nothing"
                raise EdgeRnnError(
                    f"{port}: no complete protocol stream within {timeout_s:.0f} s (received "
                    f"{got}): check --baud and that the board runs the validation firmware"
                )
            try:
                pending += link.read(link.in_waiting or 1)
            except (serial.SerialException, OSError) as err:
                raise EdgeRnnError(
                    f"{port}: reading failed after {len(lines)} lines ({err}): was the board "
                    "disconnected?"
                ) from None
            while b"\n" in pending and not parser.done:
                line, pending = pending.split(b"\n", 1)
                lines.append(line.rstrip(b"\r") + b"\n")
                parser.feed(line.decode("utf-8", errors="replace"))
    log = parser.finish()
    Path(out).write_bytes(b"".join(lines))
    return log


def run(args: argparse.Namespace) -> int:
    log = capture(args.port, args.out, baud=args.baud, timeout_s=args.timeout)
    costs = " ".join(f"{key}={value}" for key, value in log.costs.items())
    print(
        f"captured {log.samples} samples of model {log.model} ({log.dtype}) to {args.out}"
        + (f"; {costs}" if costs else "")
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "capture", help="read the validation line protocol from a board's serial port"
    )
    parser.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyACM0 or COM3")
    parser.add_argument("--baud", type=int, default=115200, help="baud rate (default 115200)")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for END (default 60)"
    )
    parser.add_argument("--out", required=True, help="log file to write")
    parser.set_defaults(func=run)
