"""Device logs as validation artefacts (`edge-rnn validate DIR --device-log LOG`).

A log is what a board printed in the line protocol while running one artefact of the build
(`--device-artefact NAME`, e.g. native_int8 or tflite_int8): that artefact's quantization picks
the thresholds, and its output scale/zero point dequantize integer logs. A float log needs no
artefact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from edge_rnn.errors import EdgeRnnError
from edge_rnn.manifest import ManifestEntry
from edge_rnn.runtimes.base import Artefact


def _output_quantization(artefact: Artefact) -> tuple[float | None, int | None]:
    entry = artefact.manifest_entry
    if artefact.format != "tflite" or entry.output_scale is not None:
        return entry.output_scale, entry.output_zero_point
    from edge_rnn.export.inspect import inspect_file, output_quantization

    found = output_quantization(inspect_file(artefact.path))
    return found.get("output_scale"), found.get("output_zero_point")


def device_artefacts(
    logs: Sequence[str | Path], ran: str | None, artefacts: Sequence[Artefact]
) -> list[Artefact]:
    """One `device-log` artefact per log file."""
    source: Artefact | None = None
    if ran is not None:
        source = next((a for a in artefacts if a.name == ran), None)
        if source is None:
            names = ", ".join(a.name for a in artefacts) or "none"
            raise EdgeRnnError(
                f"--device-artefact '{ran}' is not in the manifest (artefacts: {names})"
            )
    found = []
    for index, log in enumerate(logs):
        path = Path(log)
        if not path.is_file():
            raise EdgeRnnError(f"device log '{path}' not found")
        suffix = f"_{index + 1}" if len(logs) > 1 else ""
        name = f"device_{source.name if source else 'log'}{suffix}"
        entry = ManifestEntry(name, path.as_posix(), "device-log", "float32")
        if source is not None:  # the artefact's quantization, not its hashes (those are its own)
            scale, zero_point = _output_quantization(source)
            entry = replace(
                entry,
                quantization=source.quantization,
                output_scale=scale,
                output_zero_point=zero_point,
            )
        found.append(Artefact(name, path, "device-log", entry.quantization, entry))
    return found
