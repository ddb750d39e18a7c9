"""The device line protocol (v1): writer and parser (see docs/architecture.md).

```
EDGE-RNN v1 model=<name> samples=<N> outputs=<K> dtype=<f32|i8|i16>
S <index> <v_0> ... <v_{K-1}>
END samples=<N> fnv1a=<8 hex digits>
```
Firmware on an emulator, a real board over UART and the ARM Linux runner all print this, so
every device result goes through `ProtocolParser`. The parser takes one line at a time so a
serial capture can check the stream while it arrives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_rnn.errors import EdgeRnnError

MAGIC = "EDGE-RNN"
VERSION = "v1"
DTYPES = {"f32": np.float32, "i8": np.int8, "i16": np.int16}
_INT_RANGE = {"i8": (-128, 127), "i16": (-32768, 32767)}
FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193
_KEY_VALUE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(\S+)$")


def fnv1a32(data: bytes, state: int = FNV_OFFSET) -> int:
    """FNV-1a 32-bit; pass the previous result as `state` to continue a running hash."""
    for byte in data:
        state = ((state ^ byte) * FNV_PRIME) & 0xFFFFFFFF
    return state


def format_value(value: float | int, dtype: str) -> str:
    """One value as the firmware prints it: `%.9g` of the float32 (exact round trip) or int."""
    if dtype == "f32":
        return f"{float(np.float32(value)):.9g}"
    return str(int(value))


def write_protocol(
    model: str,
    outputs: np.ndarray,
    dtype: str,
    costs: dict[str, int | float | str] | None = None,
) -> str:
    """The complete protocol text for `outputs` (N, K) - what a device would print."""
    if dtype not in DTYPES:
        raise EdgeRnnError(f"protocol dtype '{dtype}' unknown: use one of {', '.join(DTYPES)}")
    outputs = np.asarray(outputs).reshape(len(outputs), -1)
    samples, width = outputs.shape
    lines = [f"{MAGIC} {VERSION} model={model} samples={samples} outputs={width} dtype={dtype}"]
    digest = FNV_OFFSET
    for index, row in enumerate(outputs):
        line = f"S {index} " + " ".join(format_value(v, dtype) for v in row)
        digest = fnv1a32((line + "\n").encode("ascii"), digest)
        lines.append(line)
    if costs:
        lines.append("COST " + " ".join(f"{key}={value}" for key, value in costs.items()))
    lines.append(f"END samples={samples} fnv1a={digest:08x}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, eq=False)
class ProtocolLog:
    """A parsed, checked protocol stream."""

    model: str
    dtype: str  # one of DTYPES
    outputs: np.ndarray  # (samples, outputs), float32 / int8 / int16
    costs: dict[str, int | float | str] = field(default_factory=dict)
    comments: tuple[str, ...] = ()
    source: str = "<protocol>"

    @property
    def samples(self) -> int:
        return int(self.outputs.shape[0])


def _cost_value(text: str) -> int | float | str:
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            continue
    return text


class ProtocolParser:
    """Feed lines one by one (`feed`), then `finish()`; errors name the line number."""

    def __init__(self, source: str = "<protocol>") -> None:
        self.source = source
        self.lineno = 0
        self.done = False
        self._header: dict[str, str] | None = None
        self._rows: list[list[int | float]] = []
        self._costs: dict[str, int | float | str] = {}
        self._comments: list[str] = []
        self._digest = FNV_OFFSET

    def _fail(self, what: str) -> EdgeRnnError:
        return EdgeRnnError(f"{self.source}:{self.lineno}: {what}")

    def _fields(self, words: list[str], expected: tuple[str, ...], what: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for word in words:
            match = _KEY_VALUE.match(word)
            if not match:
                raise self._fail(f"{what}: '{word}' is not key=value")
            found[match.group(1)] = match.group(2)
        missing = [key for key in expected if key not in found]
        if missing:
            raise self._fail(f"{what}: missing {', '.join(missing)}")
        return found

    def _count(self, value: str, key: str) -> int:
        if not value.isdigit():
            raise self._fail(f"{key}={value} is not a non-negative integer")
        return int(value)

    def feed(self, raw: str) -> None:
        """Take one line (with or without its line ending)."""
        self.lineno += 1
        line = raw.rstrip("\r\n")
        if self.done:
            return  # semihosting/UART noise after END is not ours
        if self._header is None:
            start = line.find(MAGIC + " ")
            if start >= 0:  # boot noise may precede the header on the same line
                self._read_header(line[start:])
            return
        if line.startswith("#"):
            self._comments.append(line[1:].strip())
        elif line.startswith("S "):
            self._read_sample(line)
        elif line.startswith("COST ") or line == "COST":
            for key, value in self._fields(line.split()[1:], (), "COST line").items():
                self._costs[key] = _cost_value(value)
        elif line.startswith("END"):
            self._read_end(line)
        elif line.strip():
            shown = line if len(line) <= 60 else line[:57] + "..."
            raise self._fail(f"unexpected line '{shown}' (expected S, COST, # or END)")

    def _read_header(self, line: str) -> None:
        words = line.split()
        if len(words) < 2 or words[1] != VERSION:
            version = words[1] if len(words) > 1 else "none"
            raise self._fail(f"protocol version '{version}' unsupported: this reads {VERSION}")
        header = self._fields(words[2:], ("model", "samples", "outputs", "dtype"), "header")
        self._count(header["samples"], "samples")
        if self._count(header["outputs"], "outputs") < 1:
            raise self._fail("header: outputs must be at least 1")
        if header["dtype"] not in DTYPES:
            raise self._fail(f"header: dtype '{header['dtype']}' unknown (use f32, i8 or i16)")
        self._header = header

    def _read_sample(self, line: str) -> None:
        assert self._header is not None
        words = line.split()
        index = len(self._rows)
        if len(words) < 2 or words[1] != str(index):
            got = words[1] if len(words) > 1 else "none"
            raise self._fail(f"sample index '{got}' out of order: expected {index}")
        width = int(self._header["outputs"])
        if len(words) - 2 != width:
            raise self._fail(f"sample {index} has {len(words) - 2} values, header says {width}")
        dtype = self._header["dtype"]
        try:
            values: list[int | float] = [
                float(word) if dtype == "f32" else int(word) for word in words[2:]
            ]
        except ValueError as err:
            raise self._fail(f"sample {index}: bad {dtype} value ({err})") from None
        if dtype in _INT_RANGE:
            low, high = _INT_RANGE[dtype]
            bad = [v for v in values if not low <= v <= high]
            if bad:
                raise self._fail(f"sample {index}: value {bad[0]} out of {dtype} range")
        self._digest = fnv1a32((line + "\n").encode("ascii", "replace"), self._digest)
        self._rows.append(values)

    def _read_end(self, line: str) -> None:
        assert self._header is not None
        end = self._fields(line.split()[1:], ("samples", "fnv1a"), "END line")
        declared = int(self._header["samples"])
        if self._count(end["samples"], "samples") != declared or len(self._rows) != declared:
            raise self._fail(
                f"sample count mismatch: header says {declared}, END says {end['samples']}, "
                f"received {len(self._rows)}"
            )
        if end["fnv1a"].lower() != f"{self._digest:08x}":
            raise self._fail(
                f"checksum mismatch: END says fnv1a={end['fnv1a']}, received lines hash to "
                f"{self._digest:08x} (a line was corrupted in transit)"
            )
        self.done = True

    def finish(self) -> ProtocolLog:
        """The parsed log; raises if the header or END never came."""
        if self._header is None:
            raise EdgeRnnError(f"{self.source}: no '{MAGIC} {VERSION}' header line found")
        if not self.done:
            raise EdgeRnnError(
                f"{self.source}:{self.lineno}: stream ended before the END line "
                f"({len(self._rows)} of {self._header['samples']} samples received)"
            )
        dtype = self._header["dtype"]
        width = int(self._header["outputs"])
        outputs = np.asarray(self._rows, dtype=DTYPES[dtype]).reshape(len(self._rows), width)
        return ProtocolLog(
            model=self._header["model"],
            dtype=dtype,
            outputs=outputs,
            costs=dict(self._costs),
            comments=tuple(self._comments),
            source=self.source,
        )


def parse_protocol(lines: str | Iterable[str], source: str = "<protocol>") -> ProtocolLog:
    """Parse a whole stream (text or lines)."""
    parser = ProtocolParser(source)
    for line in lines.splitlines() if isinstance(lines, str) else lines:
        parser.feed(line)
        if parser.done:
            break
    return parser.finish()


def read_protocol(path: str | Path) -> ProtocolLog:
    """Parse a captured log file (UART capture, semihosting output, board runner stdout)."""
    path = Path(path)
    if not path.is_file():
        raise EdgeRnnError(f"device log '{path}' not found")
    text = path.read_bytes().decode("utf-8", errors="replace")
    return parse_protocol(text, source=str(path))
