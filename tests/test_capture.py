"""`edge-rnn capture` over a real pseudo-terminal pair, written by a thread like a board would."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from edge_rnn.cli import main
from edge_rnn.commands.capture import capture
from edge_rnn.errors import EdgeRnnError
from edge_rnn.protocol import read_protocol, write_protocol

pytest.importorskip("serial")

OUTPUTS = np.array([[0.25, -1.5, 3.0], [1e-3, 2.0, -7.75]], np.float32)


def _board(text: str, hold_s: float = 1.0) -> str:
    """Open a pty pair; a thread writes `text` (CRLF, in small chunks) to it; return the port."""
    controller, device = os.openpty()
    port = os.ttyname(device)
    data = text.replace("\n", "\r\n").encode()

    def write() -> None:
        time.sleep(0.5)  # pyserial flushes input on open: let the reader open first
        for start in range(0, len(data), 7):
            os.write(controller, data[start : start + 7])
        time.sleep(hold_s)  # keep the pair open while the reader drains it
        os.close(controller)
        os.close(device)

    threading.Thread(target=write, daemon=True).start()
    return port


def test_capture_reads_a_stream_from_a_pty(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    text = "boot v2\n" + write_protocol("gesture", OUTPUTS, "f32", {"instructions": 512})
    out = tmp_path / "device.log"
    assert main(["capture", "--port", _board(text), "--out", str(out), "--timeout", "10"]) == 0
    assert "captured 2 samples of model gesture (f32)" in capsys.readouterr().out
    log = read_protocol(out)
    assert np.array_equal(log.outputs, OUTPUTS) and log.costs == {"instructions": 512}


def test_corrupted_line_is_reported_with_its_line_number(tmp_path: Path) -> None:
    text = "noise\n" + write_protocol("gesture", OUTPUTS, "f32")
    corrupted = text.replace("S 1 0.001", "S 1 0.0#1")  # a bit flip on the wire
    out = tmp_path / "device.log"
    with pytest.raises(EdgeRnnError, match=r":4: sample 1: bad f32 value"):
        capture(_board(corrupted), out, timeout_s=10)
    assert not out.exists()


def test_checksum_catches_a_plausible_corruption(tmp_path: Path) -> None:
    corrupted = write_protocol("gesture", OUTPUTS, "f32").replace("-1.5", "-1.4")
    with pytest.raises(EdgeRnnError, match=r":4: checksum mismatch"):
        capture(_board(corrupted), tmp_path / "d.log", timeout_s=10)


def test_timeout_without_end(tmp_path: Path) -> None:
    truncated = "\n".join(write_protocol("g", OUTPUTS, "f32").splitlines()[:2]) + "\n"
    with pytest.raises(EdgeRnnError, match=r"no complete protocol stream within 1 s \(received 2"):
        capture(_board(truncated, hold_s=2.0), tmp_path / "d.log", timeout_s=1)


def test_unplugged_board(tmp_path: Path) -> None:
    truncated = "\n".join(write_protocol("g", OUTPUTS, "f32").splitlines()[:2]) + "\n"
    with pytest.raises(EdgeRnnError, match=r"reading failed after 2 lines .* disconnected"):
        capture(_board(truncated, hold_s=0.1), tmp_path / "d.log", timeout_s=10)


def test_bad_port_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(EdgeRnnError, match="cannot open serial port '/nonexistent/tty'"):
        capture("/nonexistent/tty", tmp_path / "d.log", timeout_s=1)
