"""TFLite and ONNX conversions (each in a child process with a timeout, edge_rnn.export)."""

from __future__ import annotations

from typing import Any

from edge_rnn.backends.base import Backend, BuildContext, Job, register
from edge_rnn.manifest import ManifestEntry


class _Conversion(Backend):
    """One file per quantization listed in the config's [convert] section."""

    def jobs(self, ctx: BuildContext) -> list[Job]:
        stem = ctx.metadata["name"]
        return [
            Job(f"{self.name}_{q}", self.name, q, (f"{self.name}/{stem}_{q}.{self.name}",))
            for q in getattr(ctx.config.convert, self.name)
        ]

    def convert(self, job: Job, ctx: BuildContext) -> Any:
        """Write the converted file; return the ConversionResult."""
        raise NotImplementedError

    def produce(self, job: Job, ctx: BuildContext) -> list[ManifestEntry]:
        out = ctx.root / job.outputs[0]
        out.parent.mkdir(exist_ok=True)
        result = self.convert(job, ctx)
        folded = {"input_normalization": result.input_normalization}
        entry = ctx.file_entry(
            job.name,
            out,
            job.format,
            job.quantization,
            route=result.route,
            notes=list(result.notes),
            ops=list(result.ops),
            **(folded if result.input_normalization else {}),
        )
        ctx.log(f"{job.name}: {entry.size_bytes:,} bytes {result.route}")
        return [entry]


@register
class TfliteBackend(_Conversion):
    name = "tflite"
    order = 10

    def convert(self, job: Job, ctx: BuildContext) -> Any:
        from edge_rnn.export.tflite import convert_tflite

        cfg = ctx.config.convert
        return convert_tflite(
            ctx.model_path,
            job.quantization,
            ctx.root / job.outputs[0],
            metadata=ctx.metadata,
            calibration=ctx.calibration,
            route=cfg.route,
            timeout=cfg.timeout,
        )


@register
class OnnxBackend(_Conversion):
    name = "onnx"
    order = 20

    def convert(self, job: Job, ctx: BuildContext) -> Any:
        from edge_rnn.export.onnx import convert_onnx

        return convert_onnx(
            ctx.model_path,
            job.quantization,
            ctx.root / job.outputs[0],
            metadata=ctx.metadata,
            timeout=ctx.config.convert.timeout,
        )
