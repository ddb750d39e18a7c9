"""Device log runner: a captured line-protocol log (UART capture, board runner output) as a
validation stage, compared like any other.

The validator adds the log as an artefact of format `device-log` (its path is the log file).
Integer logs (`i8`/`i16`) are dequantized with the manifest entry's `output_scale` and
`output_zero_point`.
"""

from __future__ import annotations

import numpy as np

from edge_rnn.errors import EdgeRnnError
from edge_rnn.manifest import ManifestEntry
from edge_rnn.protocol import ProtocolLog, read_protocol
from edge_rnn.runtimes.base import (
    Artefact,
    ModelMeta,
    RunContext,
    Runner,
    RunResult,
    dequantize,
    register,
    shape_outputs,
)


def result_from_log(
    log: ProtocolLog, meta: ModelMeta, windows: int, entry: ManifestEntry
) -> RunResult:
    """Turn a checked protocol log into a RunResult for `windows` input windows."""
    if log.samples != windows:
        raise EdgeRnnError(
            f"{log.source}: has {log.samples} samples but validation uses {windows} windows: "
            "run the device on the same test windows"
        )
    notes = [f"{key}={value}" for key, value in log.costs.items()]
    if log.model != meta.name:
        notes.append(f"the log names model '{log.model}' (validating '{meta.name}')")
    if log.dtype == "f32":
        outputs = shape_outputs(log.outputs.astype(np.float32), meta, log.source)
        return RunResult(outputs=outputs, notes=notes)
    if entry.output_scale is None:
        raise EdgeRnnError(
            f"{log.source}: integer ({log.dtype}) outputs need the artefact's output_scale and "
            "output_zero_point in the manifest"
        )
    scale, zero_point = entry.output_scale, entry.output_zero_point or 0
    raw = shape_outputs(log.outputs, meta, log.source)
    return RunResult(
        outputs=dequantize(raw, scale, zero_point),
        raw_outputs=raw,
        raw_scale=scale,
        raw_zero_point=zero_point,
        notes=notes,
    )


@register
class DeviceLogRunner(Runner):
    name = "device-log"
    formats = ("device-log",)
    order = 900

    def run(self, artefact: Artefact, x: np.ndarray, meta: ModelMeta, ctx: RunContext) -> RunResult:
        return result_from_log(read_protocol(artefact.path), meta, len(x), artefact.manifest_entry)
