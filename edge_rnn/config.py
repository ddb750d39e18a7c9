"""`edge-rnn build` configuration: a TOML file -> frozen dataclasses, every field checked.

Paths in the file are relative to the file. An unknown section or key is an error (a typo
would otherwise silently fall back to a default). See README.md for the full reference.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from edge_rnn.choices import (
    LR_SCHEDULES,
    NATIVE_LAYOUTS,
    NATIVE_QUANTIZATIONS,
    ONNX_QUANTIZATIONS,
    ROUTE_CHOICES,
    SMALL_DATA_MODES,
    TFLITE_QUANTIZATIONS,
    TFLM_ECOSYSTEMS,
    TFLM_QUANTIZATIONS,
)
from edge_rnn.codegen.names import checked_identifier
from edge_rnn.errors import EdgeRnnError

NORMALIZATION_CHOICES = ("auto", "none", "fit")  # [model] normalization, for a brought model


@dataclass(frozen=True)
class DataConfig:
    source: str = "builtin:gesture"
    timesteps: int | None = None
    test_fraction: float = 0.2
    task: str | None = None


@dataclass(frozen=True)
class ModelConfig:
    path: str | None = None  # an existing .keras/.h5 model: skip training
    # For a model at `path`: what its input expects. "auto": the metadata.json beside the
    # model if there is one, else raw input; "none": raw input; "fit": (x - mean) / std
    # fitted on the training windows (only if the model was trained that way).
    normalization: str = "auto"
    cell: str = "lstm"
    units: tuple[int, ...] = (16,)
    bidirectional: bool = False
    merge_mode: str = "concat"
    head: str | None = None  # "last" | "sequence"; default: what the labels need
    dropout: float = 0.0
    pool: int | None = None  # AveragePooling1D front (1: none); unset: the trainer's choice


@dataclass(frozen=True)
class TrainConfig:
    """The keyword arguments of `edge_rnn.training.train`; None: chosen from the data size."""

    epochs: int | None = None
    batch_size: int | None = None
    patience: int | None = None
    min_epochs: int | None = None
    learning_rate: float | None = None
    lr_schedule: str = "auto"
    validation_fraction: float | None = None  # None: 0.2, or 0 under the small-data recipe
    class_weight: str = "auto"
    small_data: str = "auto"  # the small-data recipe; auto: classification, < 200 windows
    fail_at_chance: bool = False
    folds: int = 0  # >= 2: also a k-fold estimate of the float metric (k more trainings)


@dataclass(frozen=True)
class ConvertConfig:
    tflite: tuple[str, ...] = TFLITE_QUANTIZATIONS
    onnx: tuple[str, ...] = ONNX_QUANTIZATIONS
    route: str = "auto"
    timeout: float = 600.0


@dataclass(frozen=True)
class NativeConfig:
    quant: tuple[str, ...] = NATIVE_QUANTIZATIONS
    layout: str = "auto"  # int8 cell weights: speed, size, or auto (per target)
    target: str = ""  # target profile the auto layout is chosen for (none: speed)


@dataclass(frozen=True)
class TflmConfig:
    projects: tuple[str, ...] = ("cmake",)  # TFLite Micro project layouts to generate
    quantizations: tuple[str, ...] = ("int8",)  # for these TFLite artefacts


@dataclass(frozen=True)
class ValidateConfig:
    enabled: bool = True
    allow_skip: bool = False
    # Emulated targets the native C runs on (names from `edge-rnn targets`, or "all");
    # empty: the default per numeric mode (edge_rnn.runtimes.qemu).
    targets: tuple[str, ...] = ()
    thresholds: dict[str, Any] = field(default_factory=dict)  # [validate.thresholds.*]


@dataclass(frozen=True)
class BuildConfig:
    name: str | None = None
    seed: int = 0
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    convert: ConvertConfig = ConvertConfig()
    native: NativeConfig = NativeConfig()
    tflm: TflmConfig = TflmConfig()
    validate: ValidateConfig = ValidateConfig()
    source: str = "<defaults>"  # where the config came from, for messages


_SECTIONS = {
    "data": DataConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "convert": ConvertConfig,
    "native": NativeConfig,
    "tflm": TflmConfig,
    "validate": ValidateConfig,
}
_CHOICES = {
    ("convert", "tflite"): TFLITE_QUANTIZATIONS,
    ("convert", "onnx"): ONNX_QUANTIZATIONS,
    ("convert", "route"): ROUTE_CHOICES,
    ("native", "quant"): NATIVE_QUANTIZATIONS,
    ("native", "layout"): NATIVE_LAYOUTS,
    ("model", "head"): ("last", "sequence"),
    ("model", "normalization"): NORMALIZATION_CHOICES,
    ("train", "lr_schedule"): LR_SCHEDULES,
    ("train", "class_weight"): ("auto", "balanced", "none"),
    ("train", "small_data"): SMALL_DATA_MODES,
    ("tflm", "projects"): TFLM_ECOSYSTEMS,
    ("tflm", "quantizations"): TFLM_QUANTIZATIONS,
}


def _target_names() -> tuple[str, ...]:
    """The profiles in targets/*.toml."""
    from edge_rnn.targets import list_targets

    return tuple(target.name for target in list_targets())


def _choices(section: str, key: str) -> tuple[str, ...] | None:
    """The allowed values of one field, if it has a fixed set."""
    if (section, key) == ("validate", "targets"):
        return ("all", *_target_names())
    return _CHOICES.get((section, key))


def _unknown(where: str, bad: list[str], choices: tuple[str, ...]) -> EdgeRnnError:
    return EdgeRnnError(
        f"{where}: unknown value(s) {', '.join(bad)}; choose from {', '.join(choices)}"
    )


def _typed(value: Any, default: Any, annotation: str, where: str) -> Any:
    """Check one TOML value against the dataclass field's type."""
    if "tuple" in annotation:
        items = value if isinstance(value, list) else None
        item_type = int if "int" in annotation else str
        if items is None or not all(type(v) is item_type for v in items):
            raise EdgeRnnError(f"{where} must be a list of {item_type.__name__}s, got {value!r}")
        return tuple(items)
    if "dict" in annotation:
        if not isinstance(value, dict):
            raise EdgeRnnError(f"{where} must be a table, got {value!r}")
        return value
    expected: tuple[type, ...]
    if "bool" in annotation:
        expected = (bool,)
    elif "float" in annotation:
        expected = (int, float)
    elif "int" in annotation:
        expected = (int,)
    else:
        expected = (str,)
    if isinstance(value, bool) and bool not in expected:
        expected = ()
    if not isinstance(value, expected):
        kind = " or ".join(t.__name__ for t in expected) or "a number"
        raise EdgeRnnError(f"{where} must be {kind}, got {value!r}")
    return value


def _section(cls: type, table: Any, name: str, source: str) -> Any:
    if not isinstance(table, dict):
        raise EdgeRnnError(f"{source}: [{name}] must be a table")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise EdgeRnnError(
            f"{source}: unknown key(s) {', '.join(unknown)} in [{name}]; "
            f"known keys: {', '.join(known)}"
        )
    values = {}
    for key, value in table.items():
        where = f"{source}: {name}.{key}"
        values[key] = _typed(value, known[key].default, str(known[key].type), where)
        choices = _choices(name, key)
        chosen = values[key] if isinstance(values[key], tuple) else (values[key],)
        bad = [str(v) for v in chosen if choices and v not in choices]
        if bad:
            raise _unknown(where, bad, choices or ())
    return cls(**values)


def parse_config(data: dict[str, Any], source: str, base_dir: Path) -> BuildConfig:
    top = {k: v for k, v in data.items() if k not in _SECTIONS}
    unknown = sorted(set(top) - {"name", "seed"})
    if unknown:
        raise EdgeRnnError(
            f"{source}: unknown key(s) {', '.join(unknown)}; top-level keys are name, seed "
            f"and the sections {', '.join(f'[{s}]' for s in _SECTIONS)}"
        )
    sections = {
        name: _section(cls, data.get(name, {}), name, source) for name, cls in _SECTIONS.items()
    }
    data_cfg, model_cfg = sections["data"], sections["model"]
    # Paths are relative to the config file.
    if not data_cfg.source.startswith("builtin:"):
        sections["data"] = DataConfig(
            **{**data_cfg.__dict__, "source": str(base_dir / data_cfg.source)}
        )
    if model_cfg.path:
        sections["model"] = ModelConfig(
            **{**model_cfg.__dict__, "path": str(base_dir / model_cfg.path)}
        )
    target = sections["native"].target
    if target.endswith(".toml"):  # a profile file of the user's
        sections["native"] = NativeConfig(
            **{**sections["native"].__dict__, "target": str(base_dir / target)}
        )
    elif target and target not in (names := _target_names()):  # else artefacts are skipped
        raise _unknown(f"{source}: native.target", [target], (*names, "a .toml file"))
    return BuildConfig(
        name=_model_name(top["name"], f"{source}: name") if "name" in top else None,
        seed=_typed(top.get("seed", 0), 0, "int", f"{source}: seed"),
        source=source,
        **sections,
    )


def _model_name(value: Any, where: str) -> str:
    """The build's model name, used as it is in C symbols and file names: a name the build
    would have to change is refused with the name to use instead (as `generate --name`)."""
    return checked_identifier(_typed(value, None, "str", where), where)


def load_config(path: str | Path) -> BuildConfig:
    path = Path(path)
    if not path.is_file():
        raise EdgeRnnError(f"config file '{path}' not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise EdgeRnnError(f"config file '{path}' is not valid TOML: {err}") from None
    return parse_config(data, str(path), path.parent)
