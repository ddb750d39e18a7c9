"""LiteRT (ai-edge-litert) runner for every TFLite artefact, falling back to tflite_runtime."""

from __future__ import annotations

import numpy as np

from edge_rnn.errors import EdgeRnnError
from edge_rnn.runtimes._tflite_io import run_windows
from edge_rnn.runtimes.base import (
    Artefact,
    ModelMeta,
    RunContext,
    Runner,
    RunnerSkipped,
    RunResult,
    register,
    shape_outputs,
)


def _interpreter_class() -> type:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter  # older boards
        except ImportError:
            raise RunnerSkipped("neither ai-edge-litert nor tflite-runtime is installed") from None
    return Interpreter


def load_interpreter(artefact: Artefact):  # -> Interpreter
    """A LiteRT interpreter with tensors allocated, or a one-line error naming the file."""
    interpreter_class = _interpreter_class()
    try:
        interpreter = interpreter_class(model_content=artefact.path.read_bytes())
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise EdgeRnnError(
            f"{artefact.path}: LiteRT cannot load this .tflite ({first}): re-export it"
        ) from None
    return interpreter


@register
class LiteRTRunner(Runner):
    name = "litert"
    formats = ("tflite",)
    order = 20

    def run(self, artefact: Artefact, x: np.ndarray, meta: ModelMeta, ctx: RunContext) -> RunResult:
        interpreter = load_interpreter(artefact)
        inp = interpreter.get_input_details()[0]
        out = interpreter.get_output_details()[0]
        done = run_windows(
            meta.normalize(x),
            input_details=inp,
            output_details=out,
            set_input=lambda v: interpreter.set_tensor(inp["index"], v),
            invoke=interpreter.invoke,
            get_output=lambda: interpreter.get_tensor(out["index"]),
            reset=interpreter.reset_all_variables,
            source=str(artefact.path),
        )
        raw = done["raw"]
        return RunResult(
            outputs=shape_outputs(done["outputs"], meta, str(artefact.path)),
            raw_outputs=None if raw is None else shape_outputs(raw, meta, str(artefact.path)),
            raw_scale=done["scale"],
            raw_zero_point=done["zero_point"],
        )
