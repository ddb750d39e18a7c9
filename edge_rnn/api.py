"""The Python API: every stage callable alone, and `build` chaining them from one config.

`build` writes the directory layout of docs/architecture.md into a temporary directory that
replaces `out` only when every stage has run (validation failures still produce the directory,
with its report, and then raise `ValidationFailed`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_rnn import __version__
from edge_rnn.config import BuildConfig
from edge_rnn.errors import EdgeRnnError
from edge_rnn.fsutil import atomic_output_dir, read_json, shown_as
from edge_rnn.manifest import Manifest


@dataclass(frozen=True)
class BuildResult:
    out_dir: Path
    manifest: Manifest
    report: Any  # edge_rnn.validate.stages.Report, or None when validation is disabled


def convert(
    model_path: str | Path,
    fmt: str,
    quantization: str,
    out_path: str | Path,
    *,
    calibration: str | Path | None = None,
    route: str = "auto",
    timesteps: int | None = None,
    timeout: float = 600.0,
) -> Any:
    """One conversion (`fmt` "tflite" or "onnx"); returns a ConversionResult. `calibration`
    is a data spec (builtin:NAME, .npz, .csv) whose training windows calibrate int8/int16x8."""
    import tempfile

    from edge_rnn.export.onnx import convert_onnx
    from edge_rnn.export.tflite import convert_tflite
    from edge_rnn.frontends.keras import read_metadata_beside

    metadata = read_metadata_beside(model_path)
    if fmt == "onnx":
        return convert_onnx(
            model_path,
            quantization,
            out_path,
            metadata=metadata,
            timesteps=timesteps,
            timeout=timeout,
        )
    if fmt != "tflite":
        raise EdgeRnnError(f"unknown format '{fmt}': use tflite or onnx")
    with tempfile.TemporaryDirectory(prefix="edge-rnn-") as tmp:
        calibration_path = None
        if calibration is not None:
            calibration_path = Path(str(calibration))
            if not (calibration_path.suffix.lower() == ".npz" and calibration_path.is_file()):
                calibration_path = Path(tmp, "calibration.npz")
                x = calibration_windows(str(calibration), timesteps=timesteps)
                np.savez(calibration_path, x=x)
        return convert_tflite(
            model_path,
            quantization,
            out_path,
            metadata=metadata,
            calibration=calibration_path,
            calibration_source=str(calibration) if calibration is not None else None,
            route=route,
            timesteps=timesteps,
            timeout=timeout,
        )


def calibration_windows(spec: str, *, seed: int = 0, timesteps: int | None = None) -> np.ndarray:
    """Raw training windows from a data spec: an .npz (`x_train`, or `x` as in a calibration
    file), builtin:NAME or a .csv (its training split)."""
    from edge_rnn.data import load_dataset
    from edge_rnn.data.npz import read_windows
    from edge_rnn.export.calibration import CALIBRATION_KEYS

    if spec.lower().endswith(".npz"):
        x, _, _ = read_windows(Path(spec), CALIBRATION_KEYS, source=f"calibration data '{spec}'")
        return x
    return load_dataset(spec, seed=seed, timesteps=timesteps).x_train


class _Builder:
    """Prepares the data and the model in `root`, then runs every backend (edge_rnn.backends)."""

    def __init__(self, config: BuildConfig, root: Path, log: Callable[[str], None]) -> None:
        self.config, self.root, self.log = config, root, log
        self.user_paths: dict[str, str] = {}  # copies in the build -> the user's files

    def model(self) -> tuple[Path, dict[str, Any]]:
        from edge_rnn.data.dataset import offset_features
        from edge_rnn.frontends.keras import normalizes_input
        from edge_rnn.training import ModelSpec, head_for, train
        from edge_rnn.training.metadata import metadata_for

        cfg = self.config
        dataset, user_model = self._dataset()
        for note in dataset.notes:
            self.log(f"note: {note}")
        data_dir = self.root / "data"
        data_dir.mkdir()
        np.savez(data_dir / "test.npz", x=dataset.x_test, y=dataset.y_test)
        np.savez(data_dir / "calibration.npz", x=dataset.x_train)
        model_dir = self.root / "model"
        if cfg.model.path:
            source = Path(cfg.model.path)
            model_dir.mkdir()
            model_path = model_dir / f"model{source.suffix}"
            shutil.copyfile(source, model_path)
            self.user_paths[str(model_path)] = str(source)
            normalization, how = _brought_normalization(source, dataset, cfg.model.normalization)
            normalized = normalization is not None or normalizes_input(user_model)
            offsets = [] if normalized else offset_features(dataset.x_train, dataset.feature_names)
            if offsets and dataset.input_dtype == "float32":
                self.log(
                    f"note: raw input feature(s) {', '.join(offsets)} sit far from zero: int8 "
                    "and float16 artefacts multiply that offset by rounded weights and may miss "
                    "their thresholds; a Normalization or Rescaling first layer (folded out in "
                    "float32) in the model you train avoids it"
                )
            meta = metadata_for(
                user_model, dataset, normalization, name=cfg.name, source=str(source)
            )
            meta.write(model_dir / "metadata.json")
            self.log(f"model: using {source} as is ({how})")
        else:
            spec = ModelSpec(
                cell=cfg.model.cell,
                units=cfg.model.units,
                bidirectional=cfg.model.bidirectional,
                merge_mode=cfg.model.merge_mode,
                head=head_for(dataset.sequence_output, cfg.model.head),
                dropout=cfg.model.dropout,
                pool=cfg.model.pool,
            )
            result = train(
                dataset,
                spec,
                model_dir,
                seed=cfg.seed,
                name=cfg.name,
                log=self.log,
                **asdict(cfg.train),
            )
            model_path = result.model_path
            self.log(
                f"model: {result.name}, test {result.metric} {result.test_metric:.4f} "
                f"after {result.epochs_run} epochs"
            )
        return model_path, read_json(model_dir / "metadata.json", "model metadata")

    def _dataset(self) -> tuple[Any, Any]:
        """(the data set, the user's Keras model or None); logs the task and why.

        A brought model's output layer decides what its labels are (edge_rnn.training.task):
        Dense(1, "sigmoid") on float labels 0.0/1.0 is a binary classifier, not a regressor.
        """
        from edge_rnn.data import load_dataset
        from edge_rnn.frontends.keras import load_keras_model
        from edge_rnn.training.task import (
            TaskChoice,
            brought_model_task,
            label_task,
            per_step_targets,
            task_line,
        )

        cfg = self.config
        if cfg.model.path and not Path(cfg.model.path).is_file():
            raise EdgeRnnError(f"{cfg.source}: model.path '{cfg.model.path}' not found")

        def load(task: str | None) -> Any:
            return load_dataset(
                cfg.data.source,
                seed=cfg.seed,
                test_fraction=cfg.data.test_fraction,
                timesteps=cfg.data.timesteps,
                task=task,
            )

        dataset = load(cfg.data.task)  # data errors before TensorFlow loads
        user_model = load_keras_model(cfg.model.path) if cfg.model.path else None
        if cfg.data.task is not None:
            choice = TaskChoice(cfg.data.task, "[data] task in the config")
        elif user_model is not None:
            choice = brought_model_task(user_model, dataset)
            if choice.task != dataset.task:
                dataset = load(choice.task)
        else:
            choice = label_task(dataset)
        override = None if cfg.data.task else 'set [data] task = "{other}"'
        self.log(task_line(choice, dataset, override=override))
        if user_model is not None:
            dataset, note = per_step_targets(user_model, dataset)
            if note:
                self.log(f"note: {note}")
        return dataset, user_model

    def manifest(
        self, metadata: dict[str, Any], model_path: Path, shown: dict[str, str]
    ) -> Manifest:
        """Run every backend; `shown` maps internal paths to the user's for skip reasons."""
        from edge_rnn.backends.base import BuildContext, run_backends

        shown = {**shown, **self.user_paths}
        ctx = BuildContext(self.root, self.config, model_path, metadata, self.log, shown=shown)
        # The model itself must be readable (every backend starts from its IR): a refused
        # layer fails the build here, naming every such layer, instead of every artefact
        # being "not applicable" and an empty build passing.
        ctx.model  # noqa: B018
        produced = run_backends(ctx)
        manifest = Manifest(
            name=metadata["name"],
            edge_rnn_version=__version__,
            model_keras=model_path.relative_to(self.root).as_posix(),
            config=self.config.source,
            artefacts=produced.artefacts,
            projects=produced.projects,
            skipped=produced.skipped,
        )
        manifest.write(self.root)
        return manifest


def _brought_normalization(model_path: Path, dataset: Any, choice: str) -> tuple[Any, str]:
    """What a model trained outside this build expects of its raw input windows, and why.

    A model is used exactly as it was trained: raw input unless the user says otherwise
    (`normalization = "fit"`, or a metadata.json beside the model, e.g. from `edge-rnn train`).
    """
    from edge_rnn.data import fit_normalization
    from edge_rnn.frontends.keras import read_metadata_beside
    from edge_rnn.ir import Normalization

    if choice == "fit":
        return fit_normalization(
            dataset.x_train
        ), "input normalized with mean/std fitted on the data"
    beside = read_metadata_beside(model_path) if choice == "auto" else None
    norm = (beside or {}).get("normalization")
    if norm:
        where = model_path.with_name("metadata.json")
        try:
            return Normalization(
                tuple(norm["mean"]), tuple(norm["scale"])
            ), f"normalization of {where}"
        except (KeyError, TypeError) as err:
            raise EdgeRnnError(f"{where}: malformed normalization ({err})") from None
    return None, "raw input, no normalization"


def build(
    config: BuildConfig,
    out: str | Path,
    *,
    overwrite: bool = False,
    log: Callable[[str], None] = print,
) -> BuildResult:
    """data -> train (or the given model) -> every conversion + C arrays -> validation.

    Validation runs on the finished directory (its report names the real paths); a failing
    stage leaves the directory and its report in place and raises `ValidationFailed`.
    """
    out = Path(out)
    with atomic_output_dir(out, overwrite=overwrite) as root:
        builder = _Builder(config, root, shown_as(log, root, out))
        try:
            model_path, metadata = builder.model()
            manifest = builder.manifest(metadata, model_path, {str(root): str(out)})
        except EdgeRnnError as err:  # name the user's model file, not our copy of it
            raise err.with_paths(builder.user_paths) from None
    report = _validate(out, config, log) if config.validate.enabled else None
    if report is not None:
        report.raise_for_failure()  # exit code 1
    return BuildResult(out, manifest, report)


def _validate(root: Path, config: BuildConfig, log: Callable[[str], None]) -> Any:
    from edge_rnn.validate import thresholds as th
    from edge_rnn.validate.run import validate_build

    overrides = th.from_table(config.validate.thresholds, config.source)
    log("validating every artefact against the float Keras model ...")
    return validate_build(
        root,
        thresholds=overrides,
        allow_skip=config.validate.allow_skip,
        targets=config.validate.targets,
    )
