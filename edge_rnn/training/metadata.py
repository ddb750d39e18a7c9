"""`model/metadata.json` (docs/architecture.md): what a Keras model expects and produces.

Written next to every trained model, and for user-supplied `.keras`/`.h5` models by
`write_metadata` from the data set they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_rnn.codegen.names import c_identifier
from edge_rnn.data.dataset import Dataset
from edge_rnn.errors import EdgeRnnError
from edge_rnn.frontends.keras import load_keras_model
from edge_rnn.fsutil import read_json, write_json
from edge_rnn.ir import TASKS, Normalization
from edge_rnn.training.task import head_activation

if TYPE_CHECKING:
    import keras

INPUT_DTYPES = ("float32", "int32")
KEYS = (
    "name",
    "task",
    "dataset",
    "input_shape",
    "output_shape",
    "sequence_output",
    "class_names",
    "feature_names",
    "normalization",
)
# Optional: "evaluation", the float model on the test split against the majority class or the
# mean predictor (edge_rnn.training.chance.ChanceCheck.to_dict), written by the trainer.


@dataclass(frozen=True)
class ModelMetadata:
    name: str  # a C identifier
    task: str
    dataset: str  # the data spec, e.g. "builtin:gesture"
    input_shape: tuple[int, int]  # (timesteps, features)
    output_shape: tuple[int, ...]  # (K,) or (T, K)
    sequence_output: bool
    class_names: tuple[str, ...]
    feature_names: tuple[str, ...]
    normalization: Normalization | None  # None: the model takes raw input
    evaluation: dict[str, Any] | None = None
    # "int32": token ids, one per time step (input_shape [T, 1]); optional key, else float32
    input_dtype: str = "float32"

    @property
    def token_input(self) -> bool:
        return self.input_dtype == "int32"

    def to_dict(self) -> dict[str, Any]:
        optional: dict[str, Any] = {}
        if self.evaluation is not None:
            optional["evaluation"] = self.evaluation
        if self.token_input:
            optional["input_dtype"] = self.input_dtype
        return {
            "name": self.name,
            "task": self.task,
            "dataset": self.dataset,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "sequence_output": self.sequence_output,
            "class_names": list(self.class_names),
            "feature_names": list(self.feature_names),
            "normalization": (
                {"mean": list(self.normalization.mean), "scale": list(self.normalization.scale)}
                if self.normalization
                else None
            ),
            **optional,
        }

    def write(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def read(cls, path: str | Path) -> ModelMetadata:
        """Load and check a metadata.json; any problem is one EdgeRnnError naming the field."""
        data = read_json(path, "model metadata")
        if not isinstance(data, dict):
            raise EdgeRnnError(f"model metadata '{path}' must be a JSON object")
        missing = [k for k in KEYS if k not in data]
        if missing:
            raise EdgeRnnError(f"model metadata '{path}' lacks key(s) {', '.join(missing)}")
        try:
            norm = data["normalization"]
            meta = cls(
                name=str(data["name"]),
                task=str(data["task"]),
                dataset=str(data["dataset"]),
                input_shape=tuple(int(v) for v in data["input_shape"]),  # type: ignore[arg-type]
                output_shape=tuple(int(v) for v in data["output_shape"]),
                sequence_output=bool(data["sequence_output"]),
                class_names=tuple(str(v) for v in data["class_names"]),
                feature_names=tuple(str(v) for v in data["feature_names"]),
                normalization=(
                    Normalization(
                        mean=tuple(float(v) for v in norm["mean"]),
                        scale=tuple(float(v) for v in norm["scale"]),
                    )
                    if norm is not None
                    else None
                ),
                evaluation=_evaluation(data.get("evaluation")),
                input_dtype=str(data.get("input_dtype", "float32")),
            )
        except (TypeError, ValueError, KeyError) as err:
            raise EdgeRnnError(f"model metadata '{path}': malformed field ({err})") from None
        meta.check(str(path))
        return meta

    def check(self, source: str) -> None:
        features = self.input_shape[1] if len(self.input_shape) == 2 else -1
        problems = []
        if self.task not in TASKS:
            problems.append(f"task '{self.task}' is not one of {', '.join(TASKS)}")
        if len(self.input_shape) != 2:
            problems.append(f"input_shape {list(self.input_shape)} is not [timesteps, features]")
        if len(self.output_shape) != (2 if self.sequence_output else 1):
            problems.append(
                f"output_shape {list(self.output_shape)} does not fit "
                f"sequence_output={self.sequence_output}"
            )
        if self.input_dtype not in INPUT_DTYPES:
            problems.append(f"input_dtype '{self.input_dtype}' is not one of {INPUT_DTYPES}")
        if self.token_input and (features != 1 or self.normalization):
            problems.append(
                "token ids (input_dtype int32) need input_shape [T, 1] and no normalization"
            )
        norm = self.normalization
        if norm and not len(norm.mean) == len(norm.scale) == features:
            problems.append(f"normalization mean/scale need {features} values each")
        if len(self.feature_names) != features:
            problems.append(f"feature_names needs {features} names")
        classes = self.output_shape[-1] if self.output_shape[-1] > 1 else 2  # one: sigmoid
        if self.task == "classification" and len(self.class_names) != classes:
            problems.append(f"class_names needs {classes} names")
        if problems:
            raise EdgeRnnError(f"model metadata '{source}': {'; '.join(problems)}")


def metadata_for(
    model: keras.Model,
    dataset: Dataset,
    normalization: Normalization | None,
    *,
    name: str | None = None,
    source: str = "model",
    evaluation: dict[str, Any] | None = None,
) -> ModelMetadata:
    """Metadata for `model` trained on `dataset`; checks the model's shapes fit the data."""
    input_shape = tuple(model.input_shape[1:])
    output_shape = tuple(model.output_shape[1:])
    expected_out: tuple[int, ...] = (dataset.num_outputs,)
    if dataset.sequence_output:  # a model may shorten the sequence: the labels say by how much
        expected_out = (int(dataset.y_train.shape[1]), dataset.num_outputs)
    if len(input_shape) == 1 and dataset.input_dtype == "int32":
        input_shape = (*input_shape, 1)  # token ids into an Embedding
    if input_shape[:1] == (None,):  # a variable-length model runs on the data's windows
        input_shape = (dataset.timesteps, *input_shape[1:])
        output_shape = _output_shape_at(model, dataset.timesteps)
    if input_shape != (dataset.timesteps, dataset.features):
        hint = " (an Embedding model takes x as (N, T) token ids)" if len(input_shape) == 1 else ""
        raise EdgeRnnError(
            f"{source}: input shape {_shape(input_shape)} does not match the data's windows "
            f"({dataset.timesteps}, {dataset.features}) from {dataset.source or dataset.name}"
            + hint
        )
    binary = dataset.task == "classification" and dataset.num_outputs == 2
    if binary and output_shape == (*expected_out[:-1], 1):
        # One output for two classes: p(class 1), which only a sigmoid gives.
        if head_activation(model) != "sigmoid":
            raise EdgeRnnError(
                f"{source}: one output for 2 classes needs a sigmoid last activation "
                f"(p of class 1), not '{head_activation(model)}'; add "
                "activation='sigmoid' (or use Dense(2, activation='softmax')), or set "
                '[data] task = "regression" if the output is a target value'
            )
        expected_out = output_shape
    if output_shape != expected_out:
        raise EdgeRnnError(
            f"{source}: output shape {_shape(output_shape)} does not match the data's "
            f"labels {_shape(expected_out)} from {dataset.source or dataset.name}"
        )
    meta = ModelMetadata(
        name=c_identifier(name or model.name),
        task=dataset.task,
        dataset=dataset.source or dataset.name,
        input_shape=(dataset.timesteps, dataset.features),
        output_shape=expected_out,
        sequence_output=dataset.sequence_output,
        class_names=dataset.class_names,
        feature_names=dataset.feature_names,
        normalization=normalization,
        evaluation=evaluation,
        input_dtype=dataset.input_dtype,
    )
    meta.check(source)
    return meta


def _output_shape_at(model: keras.Model, steps: int) -> tuple[Any, ...]:
    """The output shape of a variable-length model on windows of `steps` (strides and pooling
    shorten a sequence output)."""
    inputs = tuple(model.input_shape)
    try:
        return tuple(model.compute_output_shape((1, steps, *inputs[2:])))[1:]
    except Exception:  # a layer without compute_output_shape: assume it keeps the length
        return tuple(steps if s is None else s for s in model.output_shape[1:])


def write_metadata(
    path: str | Path,
    model: keras.Model | str | Path,
    dataset: Dataset,
    normalization: Normalization | None = None,
    *,
    name: str | None = None,
) -> ModelMetadata:
    """Write metadata.json for `model` (a Keras model or a `.keras`/`.h5` file) and its data.

    `normalization` is what the model expects to be applied to raw windows; None (the default)
    means the model takes raw input, as a model trained outside edge-rnn usually does.
    """
    source = "model"
    if isinstance(model, (str, Path)):
        source = str(model)
        model = load_keras_model(model)
    meta = metadata_for(model, dataset, normalization, name=name, source=source)
    meta.write(path)
    return meta


def _evaluation(value: Any) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise TypeError("evaluation must be an object")
    return value


def _shape(shape: tuple[Any, ...]) -> str:
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ")"
