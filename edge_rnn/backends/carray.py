"""Every converted .tflite/.onnx as a C array pair (`carray/<file>.h/.c`), noted in the
conversion's manifest entry; int8/int16x8/float32 TFLite files get the measured TFLM arena."""

from __future__ import annotations

from dataclasses import replace

from edge_rnn.backends.base import Backend, BuildContext, Job, register
from edge_rnn.errors import EdgeRnnError
from edge_rnn.manifest import ManifestEntry


@register
class CArrayBackend(Backend):
    name = "carray"
    order = 30

    def jobs(self, ctx: BuildContext) -> list[Job]:
        found = []
        for entry in ctx.artefacts:
            if entry.format in ("tflite", "onnx"):
                stem = entry.resolve(ctx.root).stem
                outputs = (f"carray/{stem}.h", f"carray/{stem}.c")
                found.append(
                    Job(
                        f"carray_{entry.name}", "carray", entry.quantization, outputs, {"of": entry}
                    )
                )
        return found

    def produce(self, job: Job, ctx: BuildContext) -> list[ManifestEntry]:
        from edge_rnn.codegen.carray import write_carray
        from edge_rnn.runtimes.tflm import NOT_RUNNABLE, find_min_arena
        from edge_rnn.tflm.ops import tflm_refusal

        entry: ManifestEntry = job.options["of"]
        path = entry.resolve(ctx.root)
        details = dict(entry.details)
        arena = None
        if entry.format == "tflite" and entry.quantization not in NOT_RUNNABLE:
            refusal = tflm_refusal(path)
            if refusal is None:
                try:
                    arena = find_min_arena(path)
                    details["tflm_arena"] = arena.as_dict()
                except EdgeRnnError as err:  # the array is still useful without an arena
                    refusal = f"no TFLite Micro arena: {err}"
            if refusal:  # the artefact's tflm stage says so too
                details["notes"] = [*details.get("notes", []), refusal]
        carray = write_carray(
            path,
            ctx.root / "carray",
            quantization=entry.quantization,
            metadata=entry.input_metadata(ctx.metadata),
            arena=arena,
        )
        details["carray"] = {"header": ctx.rel(carray.header), "source": ctx.rel(carray.source)}
        return [replace(entry, details=details)]
