"""TFLite Micro firmware projects (`tflm/<quant>_<ecosystem>/`, edge_rnn.tflm) for the TFLite
artefacts of the quantizations in [tflm]. They embed a few test windows of their own, so they
are listed under `projects`, not validated as stages."""

from __future__ import annotations

import numpy as np

from edge_rnn.backends.base import Backend, BuildContext, Job, register
from edge_rnn.manifest import ManifestEntry


@register
class TflmBackend(Backend):
    name = "tflm"
    order = 50
    section = "projects"

    def jobs(self, ctx: BuildContext) -> list[Job]:
        cfg = ctx.config
        return [
            Job(
                f"tflm_{q}_{ecosystem}",
                "tflm-project",
                q,
                (f"tflm/{q}_{ecosystem}",),
                {"ecosystem": ecosystem, "tflite": f"tflite_{q}"},
            )
            for q in cfg.tflm.quantizations
            if q in cfg.convert.tflite
            for ecosystem in cfg.tflm.projects
        ]

    def _source(self, job: Job, ctx: BuildContext) -> ManifestEntry | None:
        return next((a for a in ctx.artefacts if a.name == job.options["tflite"]), None)

    def supports(self, job: Job, ctx: BuildContext) -> str:
        from edge_rnn.tflm.ops import tflm_refusal

        source = self._source(job, ctx)
        if source is None:
            return f"needs {job.options['tflite']}, which this build could not produce"
        return tflm_refusal(source.resolve(ctx.root)) or ""

    def produce(self, job: Job, ctx: BuildContext) -> list[ManifestEntry]:
        from edge_rnn.tflm import generate_project

        source = self._source(job, ctx)
        assert source is not None  # supports() said so
        ecosystem = job.options["ecosystem"]
        out = ctx.root / job.outputs[0]
        with np.load(ctx.test_data) as data:
            test_x = data["x"]
        project = generate_project(
            source.resolve(ctx.root),
            out,
            ecosystem=ecosystem,
            metadata=source.input_metadata(ctx.metadata),
            test_x=test_x,
        )
        fit = project.fit_summary()
        ctx.log(f"tflm project {ecosystem} for {source.name}: {len(project.ops)} ops; {fit}")
        return [
            ManifestEntry(
                job.name,
                ctx.rel(out),
                job.format,
                job.quantization,
                output_scale=project.output_scale,
                output_zero_point=project.output_zero_point,
                details={
                    "ecosystem": ecosystem,
                    "artefact": source.name,
                    "ops": [op for op, _ in project.ops],
                    "arena_bytes": project.arena.recommended_bytes,
                    "fits_targets": list(project.fits_targets),
                },
            )
        ]
