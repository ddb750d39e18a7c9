"""validate_build(): every artefact of a build directory on the same windows vs the float model."""

from __future__ import annotations

import platform
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np

from edge_rnn.data.dataset import one_hot_indices
from edge_rnn.errors import EdgeRnnError
from edge_rnn.manifest import Manifest, SkippedEntry
from edge_rnn.runtimes.base import (
    Artefact,
    ModelMeta,
    RunContext,
    Runner,
    RunnerSkipped,
    RunResult,
    check_input,
    runners_for,
)
from edge_rnn.training.chance import ChanceCheck, check_chance
from edge_rnn.validate import metrics as m
from edge_rnn.validate import thresholds as th
from edge_rnn.validate.deployment import deployment_table, fit_failure
from edge_rnn.validate.device import device_artefacts
from edge_rnn.validate.diagnose import Localizer, wants_localization
from edge_rnn.validate.same_file import judge_disagreement
from edge_rnn.validate.stages import (
    FAILED,
    NOT_APPLICABLE,
    PASSED,
    REFERENCE,
    SKIPPED,
    Report,
    StageResult,
)

PACKAGES = (
    "tensorflow-cpu",
    "tensorflow",
    "keras",
    "tf-keras",
    "ai-edge-litert",
    "tflite-micro",
    "onnxruntime",
    "onnx",
    "numpy",
)


def environment() -> dict[str, str]:
    """Versions of what produced the numbers (without importing any of it)."""
    env = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            env[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return env


# Test windows of a build (x), of a data NPZ (x_test, else x), or its training part (x_train).
TEST_WINDOW_KEYS = ("x_test", "x", "x_train")


def load_windows(build_dir: Path, data: str | None, meta: ModelMeta) -> tuple[np.ndarray, Any, str]:
    """(raw x, labels or None, source) from DIR/data/test.npz, an .npz with x[, y], or a spec."""
    if data is None or data.lower().endswith(".npz"):
        from edge_rnn.data.npz import read_windows

        path = Path(data) if data else build_dir / "data" / "test.npz"
        if not path.is_file():
            raise EdgeRnnError(
                f"test data '{path}' not found: pass --data (a .npz or builtin:NAME)"
            )
        source = f"test data '{path}'"
        x, y, _ = read_windows(path, TEST_WINDOW_KEYS, source=source)
    else:
        from edge_rnn.data import load_dataset

        dataset = load_dataset(data, timesteps=meta.input_shape[0])
        x, y, source = dataset.x_test, dataset.y_test, data
    x = check_input(x, meta, source)
    return x, _labels(y, x, meta, source), source


def _labels(y: Any, x: np.ndarray, meta: ModelMeta, source: str) -> np.ndarray | None:
    if y is None:
        return None
    y = np.asarray(y)
    if meta.task == "classification":
        want = (len(x), *meta.output_shape[:-1])
        hot = one_hot_indices(y) if y.ndim == len(want) + 1 else None
        y = y if hot is None else hot
        y = y.reshape(want) if y.size == int(np.prod(want)) else y
    else:
        want = (len(x), *meta.output_shape)
    if tuple(y.shape) != want:
        raise EdgeRnnError(
            f"{source}: labels y have shape {tuple(y.shape)} but model '{meta.name}' needs {want}"
        )
    classes = meta.output_shape[-1] if meta.output_shape[-1] > 1 else 2  # one: sigmoid
    if meta.task == "classification" and (y.min() < 0 or y.max() >= classes):
        raise EdgeRnnError(f"{source}: class labels outside 0..{classes - 1}")
    return y


def _not_built(skipped: SkippedEntry) -> tuple[StageResult, th.StageKey]:
    """A stage for an artefact the build could not produce (the manifest says why)."""
    name, fmt, quant = skipped.name, skipped.format, skipped.quantization
    stage = StageResult(f"{name}/build", name, "", "build", fmt, quant)
    stage.status, stage.reason = skipped.status, skipped.reason
    return stage, th.StageKey(stage.name, name, "build", fmt, quant)


def _selected(key: th.StageKey, stages: Sequence[str] | None) -> bool:
    return not stages or any(key.specificity(s) is not None for s in stages)


class _Validation:
    def __init__(
        self,
        meta: ModelMeta,
        x: np.ndarray,
        labels: np.ndarray | None,
        work_dir: Path,
        timeout_s: float,
        options: dict[str, Any],
        localizer: Localizer,
    ) -> None:
        self.meta, self.x, self.labels = meta, x, labels
        self.ctx = RunContext(work_dir=work_dir, timeout_s=timeout_s, options=options)
        self.localizer = localizer
        self.reference: RunResult | None = None
        self.reference_metrics: dict[str, float] = {}
        self.chance: ChanceCheck | None = None  # the float model vs guessing, on these labels
        self.results: dict[tuple[str, str], RunResult] = {}  # (artefact, runner) -> result
        self.stages: dict[tuple[str, str], StageResult] = {}  # the same keys -> their stage

    def compare(self, stage: StageResult, result: RunResult, runner: Runner) -> None:
        assert self.reference is not None
        meta = self.meta
        stage.metrics, stage.details = m.compare(
            self.reference.outputs,
            result.outputs,
            classifier=meta.task == "classification",
            sequence=meta.sequence_output,
            labels=self.labels,
            near_tie_margin=stage.thresholds.get("near_tie_margin", 0.0),
        )
        ref_accuracy = self.reference_metrics.get("accuracy")
        if "accuracy" in stage.metrics and ref_accuracy is not None:
            stage.metrics["accuracy_drop"] = ref_accuracy - stage.metrics["accuracy"]
        ref_key = (stage.artefact, runner.integer_reference or "")
        integer_ref = self.results.get(ref_key)
        if (
            integer_ref is not None
            and integer_ref.raw_outputs is not None
            and result.raw_outputs is not None
        ):
            stage.metrics.update(m.lsb_difference(result.raw_outputs, integer_ref.raw_outputs))
            stage.notes.append(f"LSB compared with {runner.integer_reference} on the same file")
        stage.failures = th.check(stage.metrics, stage.thresholds)
        if ref_key in self.stages:
            judge_disagreement(stage, self.stages[ref_key])
        too_big = fit_failure(stage.memory, stage.notes)
        if too_big:
            stage.failures.append(too_big)
        stage.status = FAILED if stage.failures else PASSED
        note = th.flip_note(stage.metrics, stage.thresholds)
        if note:
            stage.notes.append(note)

    def run_stage(self, stage: StageResult, artefact: Artefact, runner: Runner) -> None:
        start = time.perf_counter()
        try:
            meta = self.meta.for_artefact(artefact.manifest_entry)
            result = runner.run(artefact, self.x, meta, self.ctx)
        except RunnerSkipped as skip:
            stage.status = NOT_APPLICABLE if skip.not_applicable else SKIPPED
            stage.reason = skip.reason
            return
        except EdgeRnnError as err:
            stage.reason = str(err)
            return
        except Exception as err:  # a runtime bug must not hide the other stages' results
            stage.reason = f"{runner.name} raised {type(err).__name__}: {err}"
            return
        finally:
            stage.seconds = round(time.perf_counter() - start, 3)
        stage.memory, stage.notes = dict(result.memory), list(result.notes)
        self.results[(artefact.name, runner.name)] = result
        self.stages[(artefact.name, runner.name)] = stage
        if self.reference is None:  # this is the reference stage
            self.reference = result
            stage.status = REFERENCE
            stage.metrics, stage.details = m.compare(
                result.outputs,
                result.outputs,
                classifier=self.meta.task == "classification",
                sequence=self.meta.sequence_output,
                labels=self.labels,
            )
            stage.metrics = {
                k: v for k, v in stage.metrics.items() if k in ("accuracy", "label_rmse")
            }
            self.reference_metrics = dict(stage.metrics)
            if self.labels is not None:
                self.chance = check_chance(
                    result.outputs, self.labels, self.meta.task, self.meta.class_names
                )
            return
        self.compare(stage, result, runner)
        if wants_localization(stage):
            self.localize(stage, artefact, result)

    def localize(self, stage: StageResult, artefact: Artefact, result: RunResult) -> None:
        """Name the layer, step and tensor where a failing quantized stage's error appears."""
        assert self.reference is not None
        found = self.localizer.localize(
            stage,
            artefact,
            self.x,
            self.meta.for_artefact(artefact.manifest_entry),
            self.reference.outputs,
            result.outputs,
        )
        stage.details["localization"] = found
        stage.notes.append(f"error localization: {found['summary']}")


def _stage(artefact: Artefact, runner: Runner, build_dir: Path) -> tuple[StageResult, th.StageKey]:
    name = f"{artefact.name}/{runner.name}"
    key = th.StageKey(name, artefact.name, runner.name, artefact.format, artefact.quantization)
    try:
        rel = str(artefact.path.relative_to(build_dir))
    except ValueError:
        rel = str(artefact.path)
    stage = StageResult(
        name, artefact.name, rel, runner.name, artefact.format, artefact.quantization
    )
    return stage, key


def validate_build(
    build_dir: str | Path,
    *,
    data: str | None = None,
    thresholds: Iterable[th.Override] | None = None,
    allow_skip: bool = False,
    stages: Sequence[str] | None = None,
    timeout_s: float = 300.0,
    write: bool = True,
    echo: bool = True,
    device_logs: Sequence[str | Path] = (),
    device_artefact: str | None = None,
    targets: Sequence[str] = (),
) -> Report:
    """Validate every artefact listed in DIR/manifest.json against the float Keras model.

    `thresholds`: overrides (`thresholds.parse_cli`, `thresholds.load_toml`); `stages`:
    selectors (stage, artefact, runner or quantization names) limiting what runs (the float
    reference always runs); `device_logs`: captured line-protocol logs of the board running
    `device_artefact` (see `edge_rnn.validate.device`); `targets`: the emulated targets native C
    runs on (default: chosen per numeric mode, see `edge_rnn.runtimes.qemu`). Writes
    DIR/report.json and DIR/report.html when `write`, prints the table when `echo`; returns the
    Report (call `raise_for_failure()` for exit code 1).
    """
    from edge_rnn.training.metadata import ModelMetadata

    build_dir = Path(build_dir)
    manifest = Manifest.read(build_dir)
    keras_path = build_dir / manifest.model_keras
    meta = ModelMeta.from_metadata(ModelMetadata.read(build_dir / manifest.model_metadata))
    x, labels, source = load_windows(build_dir, data, meta)
    overrides = list(thresholds or ())
    reference = Artefact("keras", keras_path, "keras", "float32")
    plan = [(reference, runners_for(reference)[0])]
    notes = []
    artefacts = [Artefact.from_entry(entry, build_dir) for entry in manifest.artefacts]
    artefacts += device_artefacts(device_logs, device_artefact, artefacts)
    options = {"targets": list(targets)} if targets else {}
    for artefact in artefacts:
        runners = runners_for(artefact, options)
        if not runners:
            notes.append(f"no runner takes format '{artefact.format}' ({artefact.name})")
        plan.extend((artefact, runner) for runner in runners)

    results: list[StageResult] = []
    keys: list[th.StageKey] = []
    with tempfile.TemporaryDirectory(prefix="edge-rnn-validate-") as work:
        localizer = Localizer(build_dir, manifest, Path(work))
        validation = _Validation(meta, x, labels, Path(work), timeout_s, options, localizer)
        for artefact, runner in plan:
            stage, key = _stage(artefact, runner, build_dir)
            is_reference = artefact is reference
            if not is_reference and not _selected(key, stages):
                continue
            keys.append(key)
            if not is_reference:
                stage.thresholds = th.thresholds_for(key, overrides)
            problem = (
                "" if is_reference else artefact.manifest_entry.integrity_problem(artefact.path)
            )
            if problem:
                stage.reason = problem
            elif not is_reference and validation.reference is None:
                stage.reason = "the float reference did not run"
            else:
                validation.run_stage(stage, artefact, runner)
            results.append(stage)
    for skipped in manifest.skipped:
        stage, key = _not_built(skipped)
        if _selected(key, stages):
            results.append(stage)
    notes.extend(
        f"threshold override {o.source} matched no stage" for o in th.unused(overrides, keys)
    )
    arena = {
        s.artefact: {
            k.removeprefix("arena_"): v for k, v in s.memory.items() if k.startswith("arena_")
        }
        for s in results
        if any(k.startswith("arena_") for k in s.memory)
    }
    report = Report(
        model=meta.name,
        build_dir=str(build_dir),
        data=source,
        samples=len(x),
        allow_skip=allow_skip,
        stages=results,
        environment=environment(),
        arena=arena,
        deployment=deployment_table(results, allow_skip),
        notes=notes,
        float_model=validation.chance.to_dict() if validation.chance else {},
        class_names=list(meta.class_names),
    )
    if write:
        from edge_rnn.validate.report import write_reports

        write_reports(report, build_dir)
    if echo:
        from edge_rnn.validate.report import format_table

        print(format_table(report), file=sys.stdout)
    return report
