"""`edge-rnn sweep` configuration: a build config (the base every trial starts from) plus a
`[sweep]` table (search space, targets, objectives, constraints, engine settings).

```toml
[sweep]
trials = 20                    # trials in the study; run again with more to extend it
sampler = "nsga2"              # nsga2 | tpe (both multi-objective, constraint-aware)
targets = ["cortex-m4f"]       # Cortex-M profiles; the first one is the objectives' target
objectives = ["accuracy", "flash", "instructions"]
trial_timeout = 1800.0         # seconds; a trial running longer is killed and failed
[sweep.constraints]            # every target must meet them
max_flash_bytes = 32768        # also max_ram_bytes, max_latency_ms, min_accuracy, max_rmse
[sweep.space]                  # see edge_rnn/sweep/space.py
units = [8, 16, 32]
artefact = ["native:int8"]
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_rnn.config import BuildConfig, parse_config
from edge_rnn.errors import EdgeRnnError
from edge_rnn.sweep.space import Choice, Dimension, parse_space
from edge_rnn.targets import load_target

# objective name -> (metric key in a trial's results, Optuna direction)
OBJECTIVES = {
    "accuracy": ("accuracy", "maximize"),
    "rmse": ("rmse", "minimize"),
    "flash": ("flash_bytes", "minimize"),
    "ram": ("ram_bytes", "minimize"),
    "instructions": ("instructions", "minimize"),
    "latency": ("latency_ms", "minimize"),
}
# constraint name -> (metric key, True when the metric is an upper bound)
CONSTRAINTS = {
    "max_flash_bytes": ("flash_bytes", True),
    "max_ram_bytes": ("ram_bytes", True),
    "max_latency_ms": ("latency_ms", True),
    "max_rmse": ("rmse", True),
    "min_accuracy": ("accuracy", False),
}
SAMPLERS = ("nsga2", "tpe")
_NATIVE_ONLY = ("instructions", "latency")  # TFLite Micro cannot be compiled here


@dataclass(frozen=True)
class SweepConfig:
    build: dict[str, Any]  # the base build config as TOML data, paths made absolute
    space: dict[str, Dimension]
    source: str
    trials: int = 20
    workers: int = 2
    sampler: str = "nsga2"
    storage: str = ""  # "" -> sqlite:///DIR/study.db
    study: str = "edge-rnn-sweep"
    trial_timeout: float = 1800.0
    targets: tuple[str, ...] = ("cortex-m4f",)
    objectives: tuple[str, ...] = ("accuracy", "flash", "instructions")
    constraints: dict[str, float] = field(default_factory=dict)
    require_validation: bool = True  # a trial whose artefact misses its thresholds is infeasible
    seed: int = 0

    @property
    def directions(self) -> list[str]:
        return [OBJECTIVES[name][1] for name in self.objectives]

    @property
    def metrics(self) -> list[str]:
        return [OBJECTIVES[name][0] for name in self.objectives]


_SCALARS: dict[str, type | tuple[type, ...]] = {
    "trials": int,
    "workers": int,
    "sampler": str,
    "storage": str,
    "study": str,
    "trial_timeout": (int, float),
    "require_validation": bool,
}


def _check_scalars(table: dict[str, Any], source: str) -> dict[str, Any]:
    values = {}
    for key, kind in _SCALARS.items():
        if key not in table:
            continue
        value = table[key]
        bad_bool = isinstance(value, bool) and kind is not bool
        if bad_bool or not isinstance(value, kind):
            raise EdgeRnnError(f"{source}: sweep.{key} has the wrong type: {value!r}")
        values[key] = value
    if values.get("sampler", "nsga2") not in SAMPLERS:
        raise EdgeRnnError(f"{source}: sweep.sampler must be one of {', '.join(SAMPLERS)}")
    for key in ("trials", "workers", "trial_timeout"):
        value = values.get(key)
        if isinstance(value, (int, float)) and value <= 0:
            raise EdgeRnnError(f"{source}: sweep.{key} must be positive")
    return values


def _names(table: dict[str, Any], key: str, known: Any, source: str, default: Any) -> tuple:
    value = table.get(key, list(default))
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise EdgeRnnError(f"{source}: sweep.{key} must be a non-empty list of names")
    unknown = [v for v in value if known is not None and v not in known]
    if unknown:
        raise EdgeRnnError(
            f"{source}: sweep.{key}: unknown {', '.join(unknown)}; use {', '.join(known)}"
        )
    return tuple(value)


def _constraints(table: Any, source: str) -> dict[str, float]:
    if not isinstance(table, dict):
        raise EdgeRnnError(f"{source}: [sweep.constraints] must be a table")
    for key, value in table.items():
        if key not in CONSTRAINTS:
            raise EdgeRnnError(
                f"{source}: unknown constraint '{key}'; use {', '.join(CONSTRAINTS)}"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise EdgeRnnError(f"{source}: sweep.constraints.{key} must be a number")
    return {k: float(v) for k, v in table.items()}


def _check_consistent(config: SweepConfig, base: BuildConfig) -> None:
    source = config.source
    for name in config.targets:
        target = load_target(name)
        if not target.bare_metal:
            raise EdgeRnnError(
                f"{source}: sweep target '{name}' is not a Cortex-M or RISC-V profile (flash/RAM "
                "budgets and instruction counts are measured on microcontroller targets)"
            )
        wants_latency = "latency" in config.objectives or "max_latency_ms" in config.constraints
        if wants_latency and not target.clock_mhz:
            raise EdgeRnnError(f"{source}: target '{name}' states no clock_mhz for latency")
    artefacts = config.space["artefact"]
    assert isinstance(artefacts, Choice)
    tflite = [a for a in artefacts.values if a.startswith("tflite:")]
    needs_native = [o for o in config.objectives if o in _NATIVE_ONLY]
    if tflite and (needs_native or "max_latency_ms" in config.constraints):
        raise EdgeRnnError(
            f"{source}: {', '.join(tflite)} cannot be measured for instructions/latency (TFLite "
            "Micro cannot be compiled here): use native artefacts or drop those objectives"
        )
    if "timesteps" in config.space and not base.data.source.startswith("builtin:"):
        raise EdgeRnnError(f"{source}: sweep.space.timesteps needs a builtin: data source")
    if base.model.path:
        raise EdgeRnnError(f"{source}: a sweep trains its models: remove model.path")


def parse_sweep(data: dict[str, Any], source: str, base_dir: Path) -> SweepConfig:
    data = dict(data)
    table = data.pop("sweep", None)
    if not isinstance(table, dict):
        raise EdgeRnnError(f"{source}: a sweep config needs a [sweep] table")
    base = parse_config(data, source, base_dir)  # checks every build key
    build = dict(data)
    if not base.data.source.startswith("builtin:"):
        build["data"] = {**build.get("data", {}), "source": base.data.source}  # absolute
    known = {"targets", "objectives", "constraints", "space", *_SCALARS}
    unknown = sorted(set(table) - known)
    if unknown:
        raise EdgeRnnError(
            f"{source}: unknown key(s) {', '.join(unknown)} in [sweep]; known: "
            f"{', '.join(sorted(known))}"
        )
    space = parse_space(table.get("space", {}), source)
    space.setdefault("artefact", Choice(("native:int8",)))
    config = SweepConfig(
        build=build,
        space=space,
        source=source,
        targets=_names(table, "targets", None, source, ("cortex-m4f",)),
        objectives=_names(
            table, "objectives", OBJECTIVES, source, ("accuracy", "flash", "instructions")
        ),
        constraints=_constraints(table.get("constraints", {}), source),
        seed=base.seed,
        **_check_scalars(table, source),
    )
    _check_consistent(config, base)
    return config


def load_sweep_config(path: str | Path) -> SweepConfig:
    path = Path(path)
    if not path.is_file():
        raise EdgeRnnError(f"sweep config '{path}' not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise EdgeRnnError(f"sweep config '{path}' is not valid TOML: {err}") from None
    return parse_sweep(data, str(path), path.parent.resolve())
