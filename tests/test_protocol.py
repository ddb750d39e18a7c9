"""The device line protocol: writer, parser, error messages, and the C header that prints it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edge_rnn.errors import EdgeRnnError
from edge_rnn.protocol import (
    ProtocolParser,
    fnv1a32,
    parse_protocol,
    read_protocol,
    write_protocol,
)

REPO = Path(__file__).resolve().parents[1]


def test_fnv1a_known_vectors() -> None:
    # Published FNV-1a 32-bit test vectors.
    assert fnv1a32(b"") == 0x811C9DC5
    assert fnv1a32(b"a") == 0xE40C292C
    assert fnv1a32(b"foobar") == 0xBF9CF968
    assert fnv1a32(b"bar", fnv1a32(b"foo")) == fnv1a32(b"foobar")


def test_float_round_trip_is_exact() -> None:
    rng = np.random.default_rng(0)
    outputs = (rng.standard_normal((5, 4)) * 10.0 ** rng.integers(-8, 8, (5, 4))).astype(np.float32)
    outputs[0, 0] = np.float32(1.0) / np.float32(3.0)
    log = parse_protocol(write_protocol("m", outputs, "f32", {"instructions": 1234}))
    assert log.model == "m" and log.dtype == "f32" and log.samples == 5
    assert log.outputs.dtype == np.float32
    assert np.array_equal(log.outputs, outputs)
    assert log.costs == {"instructions": 1234}


@pytest.mark.parametrize("dtype,low,high", [("i8", -128, 127), ("i16", -32768, 32767)])
def test_integer_round_trip(dtype: str, low: int, high: int) -> None:
    outputs = np.array([[low, 0, high], [1, -1, 7]])
    log = parse_protocol(write_protocol("q", outputs, dtype))
    assert np.array_equal(log.outputs, outputs) and log.outputs.dtype.kind == "i"


def test_noise_comments_crlf_and_trailing_noise() -> None:
    text = write_protocol("m", np.ones((2, 2), np.float32), "f32")
    lines = text.splitlines()
    noisy = ["boot rom v1.2", "\x00\x00garbage " + lines[0], "# warming up", *lines[1:], "bye"]
    log = parse_protocol("\r\n".join(noisy) + "\r\n")
    assert log.samples == 2 and log.comments == ("warming up",)


def _corrupt(text: str, line_index: int, old: str, new: str) -> str:
    lines = text.splitlines()
    lines[line_index] = lines[line_index].replace(old, new, 1)
    return "\n".join(lines) + "\n"


GOOD = write_protocol("m", np.array([[0.5, 1.5], [2.5, -3.25], [4.0, 5.0]], np.float32), "f32")


@pytest.mark.parametrize(
    "text,match",
    [
        (_corrupt(GOOD, 2, "-3.25", "-3.26"), r"<t>:5: checksum mismatch"),
        (_corrupt(GOOD, 2, "-3.25", "-3.25 9"), r"<t>:3: sample 1 has 3 values, header says 2"),
        (_corrupt(GOOD, 2, "S 1", "S 2"), r"<t>:3: sample index '2' out of order: expected 1"),
        (_corrupt(GOOD, 4, "samples=3", "samples=2"), r"<t>:5: sample count mismatch"),
        (_corrupt(GOOD, 0, "samples=3", "samples=4"), r"<t>:5: sample count mismatch"),
        (_corrupt(GOOD, 2, "S 1 2.5", "S 1 2.x5"), r"<t>:3: sample 1: bad f32 value"),
        (_corrupt(GOOD, 2, "S 1", "X 1"), r"<t>:3: unexpected line 'X 1"),
        (_corrupt(GOOD, 0, "dtype=f32", "dtype=f64"), r"<t>:1: header: dtype 'f64' unknown"),
        (_corrupt(GOOD, 0, "v1", "v9"), r"<t>:1: protocol version 'v9' unsupported"),
        (_corrupt(GOOD, 0, " outputs=2", ""), r"<t>:1: header: missing outputs"),
        ("\n".join(GOOD.splitlines()[:-1]), r"<t>:4: stream ended before the END line"),
        ("hello\nworld\n", r"<t>: no 'EDGE-RNN v1' header line found"),
    ],
)
def test_errors_name_line_and_problem(text: str, match: str) -> None:
    with pytest.raises(EdgeRnnError, match=match):
        parse_protocol(text, source="<t>")


def test_integer_out_of_range() -> None:
    text = write_protocol("q", np.array([[1, 2]]), "i8").replace("S 0 1 2", "S 0 1 200")
    with pytest.raises(EdgeRnnError, match=r":2: sample 0: value 200 out of i8 range"):
        parse_protocol(text)


def test_incremental_parser_stops_at_end(tmp_path: Path) -> None:
    parser = ProtocolParser("serial")
    for line in GOOD.splitlines(keepends=True):
        assert not parser.done
        parser.feed(line)
    assert parser.done and parser.finish().samples == 3
    log_file = tmp_path / "dev.log"
    log_file.write_text(GOOD)
    assert read_protocol(log_file).source == str(log_file)
    with pytest.raises(EdgeRnnError, match="device log .* not found"):
        read_protocol(tmp_path / "missing.log")


C_PRINTER = r"""
#include "edge_rnn_protocol.h"
int main(void)
{
    static const float values[2][3] = {{0.1f, -2.5e-7f, 3.0f}, {1e30f, -0.0f, 123456.789f}};
    edge_rnn_protocol_t p;
    unsigned i, k;
    printf("boot noise\n");
    edge_rnn_protocol_begin(&p, "cmodel", 2, 3, "f32");
    for (i = 0; i < 2; ++i) {
        edge_rnn_protocol_sample_begin(&p);
        for (k = 0; k < 3; ++k) edge_rnn_protocol_f32(&p, values[i][k]);
        edge_rnn_protocol_sample_end(&p);
    }
    edge_rnn_protocol_cost("instructions", 42ul);
    edge_rnn_protocol_end(&p);
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
def test_c_header_prints_what_the_parser_reads(tmp_path: Path) -> None:
    source = tmp_path / "printer.c"
    source.write_text(C_PRINTER)
    binary = tmp_path / "printer"
    subprocess.run(
        [
            "gcc",
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-I",
            str(REPO / "firmware_templates" / "protocol"),
            str(source),
            "-o",
            str(binary),
        ],
        check=True,
    )
    out = subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout
    expected = np.array([[0.1, -2.5e-7, 3.0], [1e30, -0.0, 123456.789]], np.float32)
    log = parse_protocol(out)
    assert np.array_equal(log.outputs, expected) and log.costs == {"instructions": 42}
    # The C writer and the Python writer agree byte for byte on the S lines and checksum.
    python_text = write_protocol("cmodel", expected, "f32", {"instructions": 42})
    assert out.split("\n", 1)[1] == python_text
