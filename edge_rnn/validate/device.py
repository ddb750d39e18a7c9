"""Device logs as validation artefacts (`edge-rnn validate DIR --device-log LOG`).

A log is what a board printed in the line protocol while running one artefact of the build
(`--device-artefact NAME`, e.g. native_int8 or tflite_int8): that artefact's quantization picks
the thresholds, and its output scale/zero point dequantize integer logs. A float log needs no
artefact.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edge_rnn.errors import EdgeRnnError
from edge_rnn.runtimes.base import Artefact


def _output_quantization(artefact: Artefact) -> dict[str, Any]:
    if artefact.format != "tflite" or "output_scale" in artefact.entry:
        return {}
    from edge_rnn.export.inspect import inspect_file, output_quantization

    return output_quantization(inspect_file(artefact.path))


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
        entry: dict[str, Any] = {}
        quantization = "float32"
        if source is not None:
            entry = {**source.entry, **_output_quantization(source)}
            entry.pop("sha256", None)  # that hash is the artefact's, not the log's
            quantization = source.quantization
        suffix = f"_{index + 1}" if len(logs) > 1 else ""
        name = f"device_{source.name if source else 'log'}{suffix}"
        found.append(Artefact(name, path, "device-log", quantization, entry))
    return found
