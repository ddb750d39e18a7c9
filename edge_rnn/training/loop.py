"""Training loop: seeded, normalized, early-stopped Keras training that writes model/ files.

out_dir receives model.keras, metadata.json, history.json and history.png. Options left as
None are resolved from the data by `edge_rnn.training.plan` (see README "Training").
"""

from __future__ import annotations

import dataclasses
import json
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_rnn.data.dataset import Dataset, fit_normalization
from edge_rnn.errors import EdgeRnnError
from edge_rnn.fsutil import write_json
from edge_rnn.ir import Normalization
from edge_rnn.training.augment import augmented_batches
from edge_rnn.training.chance import ChanceCheck, check_chance
from edge_rnn.training.metadata import metadata_for
from edge_rnn.training.model import ModelSpec, build_model, model_name
from edge_rnn.training.plan import TrainPlan, plan_training, recipe_pool, small_data_recipe
from edge_rnn.training.plot import plot_history
from edge_rnn.training.split import stratified_split

VALIDATION_FRACTION = 0.2  # of the training split, held out for early stopping (not small)
MIN_DELTA = {"classification": 1e-3, "regression": 1e-4}  # val_loss gain that counts


@dataclass(frozen=True)
class TrainResult:
    name: str
    out_dir: Path
    model_path: Path
    metadata_path: Path
    history_path: Path
    plot_path: Path
    metric: str  # "accuracy" (classification) or "rmse" (regression), on the test split
    test_metric: float
    epochs_run: int
    best_epoch: int  # 1-based; its weights are the saved ones
    seconds: float
    normalization: Normalization
    model: Any  # the trained keras.Model (best weights), as saved in model_path
    plan: TrainPlan
    chance: ChanceCheck  # the test split against the majority class / mean predictor


def train(
    dataset: Dataset,
    spec: ModelSpec,
    out_dir: str | Path,
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    patience: int | None = None,
    min_epochs: int | None = None,
    learning_rate: float | None = None,
    lr_schedule: str = "auto",
    validation_fraction: float | None = None,
    class_weight: str = "auto",
    small_data: str = "auto",
    fail_at_chance: bool = False,
    folds: int = 0,
    verbose: bool = True,
    name: str | None = None,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train `spec` on `dataset` and write the model files into `out_dir` (created if needed).

    None for epochs, batch_size, patience, min_epochs, learning_rate: chosen from the data
    size; validation_fraction None and small_data "auto": see `plan.small_data_recipe`
    (small classification sets fit every window, augmented). A model no better than the
    majority class (mean predictor) on the test split is reported, or raises EdgeRnnError
    with `fail_at_chance`. `folds` >= 2 also estimates the metric by k-fold cross-validation
    (edge_rnn.training.estimate) into cross_validation.json.
    """
    import keras

    _check(dataset, spec)
    if folds < 0 or folds == 1:
        raise EdgeRnnError(f"folds must be 0 (no estimate) or at least 2, got {folds}")
    started = time.monotonic()
    keras.utils.set_random_seed(seed)
    norm = fit_normalization(dataset.x_train)
    classification = dataset.task == "classification"
    per_window = classification and not dataset.sequence_output
    small = small_data_recipe(small_data, len(dataset.x_train), per_window)
    if spec.pool is None:
        spec = dataclasses.replace(spec, pool=recipe_pool(dataset.timesteps, small))
    pool = spec.pool or 1
    if validation_fraction is None:
        validation_fraction = 0.0 if small else VALIDATION_FRACTION
    fit_idx, val_idx = stratified_split(
        dataset.y_train if per_window else None,
        len(dataset.x_train),
        validation_fraction,
        seed + 1,
    )
    plan = plan_training(
        len(fit_idx),
        dataset.timesteps // pool,  # what the RNN reads
        len(val_idx),
        dataset.y_train[fit_idx] if classification else None,
        dataset.num_outputs,
        epochs=epochs,
        min_epochs=min_epochs,
        patience=patience,
        batch_size=batch_size,
        learning_rate=learning_rate,
        lr_schedule=lr_schedule,
        class_weight=class_weight,
        small_data=small,
    )
    x_train = norm.apply(dataset.x_train)
    name = name or model_name(dataset.name, spec.cell)
    model = build_model(
        spec, dataset.timesteps, dataset.features, dataset.num_outputs, dataset.task, name=name
    )
    metric = "accuracy" if classification else "rmse"
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=plan.learning_rate, clipnorm=1.0),
        loss="sparse_categorical_crossentropy" if classification else "mse",
        metrics=["accuracy" if classification else keras.metrics.RootMeanSquaredError("rmse")],
    )
    monitor = "val_loss" if len(val_idx) else "loss"
    stopper = keras.callbacks.EarlyStopping(
        monitor=monitor,
        patience=plan.patience if len(val_idx) else plan.epochs,
        restore_best_weights=True,
        # Smaller val_loss gains do not reset the patience: a 100 % model creeping from loss
        # 0.002 to 0.0004 would otherwise run to the epoch limit.
        min_delta=MIN_DELTA[dataset.task],
        # Tracking starts here, so the earliest stop is after epoch min_epochs.
        start_from_epoch=min(max(0, plan.min_epochs - plan.patience), plan.epochs - 1),
    )
    callbacks: list[Any] = [stopper, keras.callbacks.TerminateOnNaN()]
    callbacks += _schedule(keras, plan, monitor)
    if verbose:
        front = f"input averaged over {pool} steps, " if pool > 1 else ""
        log(
            f"training {name}: {front}{spec.cell} {list(spec.units)}"
            f"{' bidirectional' if spec.bidirectional else ''}, head {spec.head}, "
            f"{len(fit_idx)} train / {len(val_idx)} validation / {len(dataset.x_test)} test windows"
        )
        log(f"  {plan.describe()}")
        callbacks.append(_progress(keras, plan.epochs, metric, log))
    y_fit = dataset.y_train[fit_idx]
    fit_weights = _sample_weights(y_fit, plan.class_weights)
    # Augmented: a keras PyDataset of fresh perturbed batches each epoch (it does the shuffling).
    inputs: dict[str, Any] = {
        "x": x_train[fit_idx],
        "y": y_fit,
        "sample_weight": fit_weights,
        "batch_size": plan.batch_size,
        "shuffle": True,
    }
    if plan.augmentation:
        x_fit, batch = x_train[fit_idx], plan.batch_size
        inputs = {
            "x": augmented_batches(keras, x_fit, y_fit, fit_weights, batch, plan.augmentation, seed)
        }
    fitted = model.fit(
        **inputs,
        validation_data=(x_train[val_idx], dataset.y_train[val_idx]) if len(val_idx) else None,
        epochs=plan.epochs,
        callbacks=callbacks,
        verbose=0,
    )
    history = {k: [float(v) for v in values] for k, values in fitted.history.items()}
    epochs_run = len(history["loss"])
    best_epoch = stopper.best_epoch + 1  # its weights were restored at the end
    predictions = model.predict(norm.apply(dataset.x_test), verbose=0, batch_size=256)
    score = _score(predictions, dataset)
    if not (np.isfinite(stopper.best) and np.isfinite(score)):
        raise EdgeRnnError(
            f"training {name} diverged (loss became NaN/inf): lower the learning rate "
            f"(was {plan.learning_rate:g}) or scale the regression targets to around 1"
        )
    chance = check_chance(predictions, dataset.y_test, dataset.task, dataset.class_names)
    if chance.at_chance:
        message = chance_message(chance)
        if fail_at_chance:
            raise EdgeRnnError(f"training {name}: {message} (fail_at_chance is set)")
        log(f"WARNING: {message}")

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = TrainResult(
        name=model.name,
        out_dir=out,
        model_path=out / "model.keras",
        metadata_path=out / "metadata.json",
        history_path=out / "history.json",
        plot_path=out / "history.png",
        metric=metric,
        test_metric=score,
        epochs_run=epochs_run,
        best_epoch=best_epoch,
        seconds=time.monotonic() - started,
        normalization=norm,
        model=model,
        plan=plan,
        chance=chance,
    )
    _save(model, spec, dataset, result.model_path)
    metadata_for(model, dataset, norm, name=model.name, evaluation=chance.to_dict()).write(
        result.metadata_path
    )
    write_json(
        result.history_path,
        {
            "epochs_run": epochs_run,
            "best_epoch": best_epoch,
            "metric": metric,
            f"test_{metric}": score,
            "plan": plan.to_dict(),
            "chance": chance.to_dict(),
            "history": history,
        },
    )
    plot_history(history, metric, result.plot_path, best_epoch=best_epoch)
    if folds:
        from edge_rnn.training.estimate import cross_validate

        log(
            f"{folds}-fold cross-validation on the {len(dataset.x_train) + len(dataset.x_test)} "
            "pooled train and test windows ..."
        )
        estimate = cross_validate(
            dataset,
            spec,
            folds,
            seed=seed,
            log=log,
            epochs=epochs,
            batch_size=batch_size,
            patience=patience,
            min_epochs=min_epochs,
            learning_rate=learning_rate,
            lr_schedule=lr_schedule,
            validation_fraction=validation_fraction,
            class_weight=class_weight,
            small_data=small_data,
        )
        write_json(out / "cross_validation.json", estimate.to_dict())
        log(f"estimate: {estimate.summary()}")
    if verbose:
        log(
            f"best epoch {best_epoch}/{epochs_run}: test {metric} {score:.4f} "
            f"({result.seconds:.1f} s) -> {out}"
        )
    return result


def chance_message(chance: ChanceCheck) -> str:
    return (
        f"the float model is at chance level ({chance.summary()}, {chance.labels} test labels): "
        "it has not learned; try more epochs, a lower learning rate or more data"
    )


def evaluate(model: Any, dataset: Dataset, norm: Normalization) -> float:
    """Test accuracy (per time step for sequence labels) or RMSE, on the raw test split."""
    return _score(model.predict(norm.apply(dataset.x_test), verbose=0, batch_size=256), dataset)


def _score(predictions: np.ndarray, dataset: Dataset) -> float:
    if dataset.task == "classification":
        return float(np.mean(np.argmax(predictions, axis=-1) == dataset.y_test))
    return float(np.sqrt(np.mean((predictions.astype(np.float64) - dataset.y_test) ** 2)))


def _sample_weights(labels: np.ndarray, class_weights: tuple[float, ...]) -> np.ndarray | None:
    """Per window (or per step, for per-step labels) the weight of its class."""
    if not class_weights:
        return None
    return np.asarray(class_weights, np.float32)[labels.astype(np.int64)]


def _schedule(keras: Any, plan: TrainPlan, monitor: str) -> list[Any]:
    """The learning-rate callback: halve on a plateau of `monitor`, or a cosine decay."""
    if plan.lr_schedule == "plateau":
        return [
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor,
                factor=0.5,
                patience=max(3, plan.patience // 2),
                min_lr=plan.learning_rate / 32,
            )
        ]
    if plan.lr_schedule == "cosine":
        floor = plan.learning_rate / 32

        def cosine(epoch: int, _lr: float) -> float:
            progress = epoch / max(1, plan.epochs - 1)
            swing = 0.5 * (plan.learning_rate - floor) * (1 + np.cos(np.pi * progress))
            return float(floor + swing)

        return [keras.callbacks.LearningRateScheduler(cosine)]
    return []


def _check(dataset: Dataset, spec: ModelSpec) -> None:
    if dataset.sequence_output and spec.head != "sequence":
        raise EdgeRnnError(
            f"{dataset.source or dataset.name} has one label per time step: use head 'sequence'"
        )
    label_steps = dataset.y_train.shape[1] if dataset.sequence_output else dataset.timesteps
    if label_steps != dataset.timesteps:
        raise EdgeRnnError(
            f"{dataset.source or dataset.name} has {label_steps} per-step labels for "
            f"{dataset.timesteps} time steps: edge-rnn trains models that keep every step; "
            "give a model that shortens the sequence as [model] path (or --model)"
        )
    if not dataset.sequence_output and spec.head == "sequence":
        raise EdgeRnnError(
            f"{dataset.source or dataset.name} has one label per sample: use head 'last'"
        )


def _progress(keras: Any, epochs: int, metric: str, log: Callable[[str], None]) -> Any:
    """One line per epoch: losses, metrics and seconds."""

    class Progress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.started = time.monotonic()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            logs = logs or {}
            parts = [
                f"{key} {logs[key]:.4g}"
                for key in ("loss", metric, "val_loss", f"val_{metric}")
                if key in logs
            ]
            width = len(str(epochs))
            log(
                f"  epoch {epoch + 1:>{width}}/{epochs}  {'  '.join(parts)}  "
                f"({time.monotonic() - self.started:.1f} s)"
            )

    return Progress()


def _save(model: Any, spec: ModelSpec, dataset: Dataset, path: Path) -> None:
    """Save the trained weights in a fresh, uncompiled twin so that equal weights give equal
    bytes: the compiled model's file would carry the optimizer, whose name has a per-process
    counter ("adam_1")."""
    twin = build_model(
        spec,
        dataset.timesteps,
        dataset.features,
        dataset.num_outputs,
        dataset.task,
        name=model.name,
    )
    twin.set_weights(model.get_weights())
    twin.save(path)
    _pin_archive(path)


def _pin_archive(path: Path) -> None:
    """Rewrite a .keras zip without what varies between equal saves.

    Keras stamps the save time into metadata.json and the zip entries, and numbers shared
    objects in config.json by their Python id(); none of it matters when loading.
    """
    with zipfile.ZipFile(path) as archive:
        entries = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w") as archive:
        for info, data in entries:
            if info.filename == "metadata.json":
                fields = json.loads(data)
                fields.pop("date_saved", None)
                data = json.dumps(fields).encode()
            elif info.filename == "config.json":
                data = json.dumps(_renumber_shared(json.loads(data), {})).encode()
            pinned = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            pinned.compress_type = info.compress_type
            pinned.external_attr = info.external_attr
            archive.writestr(pinned, data)


def _renumber_shared(node: Any, numbers: dict[int, int]) -> Any:
    """Replace each distinct `shared_object_id` by its order of first appearance."""
    if isinstance(node, dict):
        return {
            key: numbers.setdefault(value, len(numbers) + 1)
            if key == "shared_object_id"
            else _renumber_shared(value, numbers)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_renumber_shared(value, numbers) for value in node]
    return node
