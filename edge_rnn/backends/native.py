"""Interpreter-free C per numeric mode (`native/<quant>/`, edge_rnn.native); a mode the model
cannot use is refused with the reason (e.g. int8 needs bounded recurrent activations)."""

from __future__ import annotations

import numpy as np

from edge_rnn.backends.base import Backend, BuildContext, Job, register
from edge_rnn.fsutil import sha256_file
from edge_rnn.manifest import ManifestEntry


@register
class NativeBackend(Backend):
    name = "native"
    order = 40

    def jobs(self, ctx: BuildContext) -> list[Job]:
        return [
            Job(f"native_{q}", "native-c", q, (f"native/{q}",)) for q in ctx.config.native.quant
        ]

    def produce(self, job: Job, ctx: BuildContext) -> list[ManifestEntry]:
        from edge_rnn.native import generate

        model = ctx.model
        with np.load(ctx.calibration) as data:
            calibration_x = data["x"]
        out = ctx.root / job.outputs[0]
        native = ctx.config.native
        generated = generate(
            model,
            out,
            quant=job.quantization,
            calibration_x=calibration_x,
            layout=native.layout,
            target=native.target or None,
        )
        integer = generated.output_scale is not None
        ctx.log(
            f"{job.name}: {generated.const_bytes:,} bytes of weights, "
            f"{generated.ram_bytes:,} bytes of RAM"
        )
        return [
            ManifestEntry(
                job.name,
                ctx.rel(out),
                job.format,
                job.quantization,
                size_bytes=generated.const_bytes,
                files={
                    ctx.rel(f).removeprefix(ctx.rel(out) + "/"): sha256_file(f)
                    for f in generated.files
                },
                output_scale=generated.output_scale,
                output_zero_point=0 if integer else None,
                streaming=generated.streaming,
                details={
                    "ram_bytes": generated.ram_bytes,
                    "output_dtype": generated.output_dtype,
                    "layout": generated.layout,
                    "no_streaming": generated.no_streaming,
                },
            )
        ]
