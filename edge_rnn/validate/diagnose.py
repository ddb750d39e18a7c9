"""Error localization for failing quantized TFLite and native C stages, run by the validator.

Only a stage that failed on its error metrics gets it, once per artefact (the LiteRT and
TFLM stages of one file share it, as do the host and emulator stages of native C), on the
WINDOWS windows where the stage is furthest from the float model. TFLite: the float reference
is the build's float32 TFLite of the same route, or one converted for it (an int16x8 LSTM is
unrolled while the float32 one is fused). Native C: the numpy twins of the generated code,
rebuilt from the build's Keras model and calibration windows (see localize_native.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge_rnn.fsutil import read_json
from edge_rnn.manifest import Manifest
from edge_rnn.runtimes.base import Artefact, ModelMeta
from edge_rnn.validate.localize import TensorError
from edge_rnn.validate.stages import StageResult

# Failures that say the numbers are wrong (not memory fits or a missing tool).
ERROR_METRICS = ("max_abs", "rmse", "rel_l2", "cosine", "sqnr_db", "top1", "accuracy")
# The manifest route of a quantized file -> the route to request for its float32 twin.
FLOAT_ROUTE = {"unrolled": "unrolled", "fused-lstm": "fused"}


def wants_localization(stage: StageResult) -> bool:
    return (
        stage.format in ("tflite", "native-c")
        and stage.quantization != "float32"
        and any(failure.startswith(ERROR_METRICS) for failure in stage.failures)
    )


def worst_windows(reference: np.ndarray, outputs: np.ndarray, count: int) -> list[int]:
    """Indices of the `count` windows with the largest squared error, worst first."""
    error = ((outputs - reference).reshape(len(reference), -1).astype(np.float64) ** 2).sum(1)
    return [int(i) for i in np.argsort(-error, kind="stable")[:count]]


class Localizer:
    """Localizations of one validation run, cached per artefact."""

    def __init__(self, build_dir: Path, manifest: Manifest, work_dir: Path) -> None:
        self.build_dir, self.manifest, self.work_dir = build_dir, manifest, work_dir
        self.done: dict[str, dict[str, Any]] = {}

    def float_reference(self, artefact: Artefact) -> Path:
        """A float32 .tflite with the same graph as `artefact` (built, else converted now)."""
        from edge_rnn.export.tflite import convert_tflite

        route = artefact.manifest_entry.details.get("route")
        for entry in self.manifest.artefacts:
            path = entry.resolve(self.build_dir)
            same = entry.format == "tflite" and entry.quantization == "float32"
            if same and entry.details.get("route") == route and not entry.integrity_problem(path):
                return path
        out = self.work_dir / f"localize_{artefact.name}_float32.tflite"
        convert_tflite(
            self.build_dir / self.manifest.model_keras,
            "float32",
            out,
            metadata=read_json(self.build_dir / self.manifest.model_metadata, "model metadata"),
            route=FLOAT_ROUTE.get(str(route), "auto"),
        )
        return out

    def tflite_errors(
        self, artefact: Artefact, windows: np.ndarray, model_name: str
    ) -> tuple[list[TensorError], dict[str, str]]:
        """Every tensor of the TFLite file against its float32 twin, on normalized windows."""
        from edge_rnn.validate.localize import compare_tensors

        float_path = self.float_reference(artefact)
        errors = compare_tensors(artefact.path, float_path, windows, model_name)
        try:
            shown = str(float_path.relative_to(self.build_dir))
        except ValueError:
            shown = "float32 TFLite converted for the localization (same route)"
        return errors, {"float_reference": shown, "runtime": "litert"}

    def native_errors(
        self, artefact: Artefact, x_raw: np.ndarray, reference: np.ndarray, outputs: np.ndarray
    ) -> tuple[list[TensorError], dict[str, str]]:
        """Every quantity of the native code's twin against the float twin, on raw windows;
        how far each twin is from what it stands for (the C stage's and Keras' outputs)."""
        from edge_rnn.frontends.keras import load_model_ir
        from edge_rnn.native.generate import plan_native
        from edge_rnn.validate.localize_native import native_errors

        metadata = read_json(self.build_dir / self.manifest.model_metadata, "model metadata")
        model = load_model_ir(self.build_dir / self.manifest.model_keras, metadata)
        calibration = None
        if artefact.quantization == "int8":  # the windows the build chose the Q formats from
            with np.load(self.build_dir / self.manifest.data_calibration) as data:
                calibration = data["x"]
        planned = plan_native(model, artefact.quantization, calibration)
        errors, got, expected = native_errors(planned, artefact.quantization, x_raw)
        to_stage = float(np.abs(got.reshape(outputs.shape) - outputs).max())
        to_keras = float(np.abs(expected.reshape(reference.shape) - reference).max())
        twin = "integer twin (edge_rnn.native.twin_int)"
        if artefact.quantization != "int8":
            twin = "float twin with the int8 weights (edge_rnn.native.twin)"
        return errors, {
            "float_reference": (
                f"float twin of the native code (edge_rnn.native.twin), max |diff| "
                f"{to_keras:.2g} from the Keras outputs"
            ),
            "runtime": f"{twin}, max |diff| {to_stage:.2g} from the stage's outputs",
        }

    def localize(
        self,
        stage: StageResult,
        artefact: Artefact,
        x: np.ndarray,
        meta: ModelMeta,
        reference: np.ndarray,
        outputs: np.ndarray,
    ) -> dict[str, Any]:
        """report.json `details.localization` of `stage` (raw windows `x` with `meta` of the
        artefact, float and stage outputs of every window); a failure to localize is stated,
        never raised."""
        from edge_rnn.validate.localize import WINDOWS, find_origin

        if artefact.name in self.done:
            return self.done[artefact.name]
        limit = stage.thresholds.get("rel_l2") or 0.05
        chosen = worst_windows(reference, outputs, WINDOWS)
        try:
            if artefact.format == "native-c":
                errors, compared = self.native_errors(
                    artefact, meta.raw_input(x[chosen]), reference[chosen], outputs[chosen]
                )
            else:
                errors, compared = self.tflite_errors(
                    artefact, meta.normalize(x[chosen]), meta.name
                )
            found: dict[str, Any] = find_origin(errors, limit)
        except Exception as err:  # a diagnosis problem must not hide the stage's verdict
            found = {"summary": f"could not localize the error: {type(err).__name__}: {err}"}
        else:
            found.update(compared, windows=chosen, limit=limit)
        self.done[artefact.name] = found
        return found
