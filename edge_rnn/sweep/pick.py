"""`edge-rnn sweep --best DIR --pick "flash<32k,acc>=0.95"`: choose a trial from DIR/sweep.json
and rebuild it (same parameters, same seed) as a normal, validated build directory.

Conditions: `<metric><op><number>[k|M]`, comma-separated; metrics `acc`/`accuracy`, `rmse`,
`flash`, `ram` (bytes: `k` = 1024, `M` = 1024*1024), `instr`/`instructions`, `latency` (ms;
`k` = 1000). Among the feasible trials meeting every condition the choice is a Pareto-front
trial when one qualifies, then the best by the objectives in their order. The rebuild uses the
trial's trained model (a retrain with the same seed outside the sweep is not guaranteed to be
bit-identical) and produces every artefact the sweep's build config lists, plus the trial's.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_rnn.errors import EdgeRnnError
from edge_rnn.fsutil import read_json

METRICS = {
    "acc": "accuracy",
    "accuracy": "accuracy",
    "rmse": "rmse",
    "flash": "flash_bytes",
    "ram": "ram_bytes",
    "instr": "instructions",
    "instructions": "instructions",
    "latency": "latency_ms",
}
_BYTES = ("flash_bytes", "ram_bytes")
_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "=": operator.eq}
_CONDITION = re.compile(r"^\s*([a-z_]+)\s*(<=|>=|<|>|=)\s*([0-9]*\.?[0-9]+)\s*([kKmM]?)\s*$")


@dataclass(frozen=True)
class Condition:
    text: str
    metric: str
    op: Callable[[Any, Any], bool]
    value: float

    def holds(self, record: dict[str, Any]) -> bool:
        value = record["metrics"].get(self.metric)
        return value is not None and self.op(value, self.value)


def parse_pick(text: str) -> list[Condition]:
    conditions = []
    for part in filter(str.strip, text.split(",")):
        found = _CONDITION.match(part)
        if not found or found.group(1) not in METRICS:
            raise EdgeRnnError(
                f"--pick: cannot read '{part.strip()}': write e.g. flash<32k,acc>=0.95 "
                f"(metrics {', '.join(METRICS)}; operators < <= > >= =)"
            )
        name, op, number, suffix = found.groups()
        metric = METRICS[name]
        base = 1024 if metric in _BYTES else 1000
        value = float(number) * {"": 1, "k": base, "m": base * base}[suffix.lower()]
        conditions.append(Condition(part.strip(), metric, _OPS[op], value))
    return conditions


def choose(summary: dict[str, Any], conditions: list[Condition]) -> dict[str, Any]:
    feasible = [r for r in summary["trials"] if r["status"] == "complete" and r.get("feasible")]
    matching = [r for r in feasible if all(c.holds(r) for c in conditions)]
    if not matching:
        wanted = ", ".join(c.text for c in conditions) or "(no condition)"
        raise EdgeRnnError(
            f"no feasible trial meets {wanted} ({len(feasible)} feasible of "
            f"{len(summary['trials'])}): relax --pick or run more trials"
        )
    front = set(summary["pareto"])
    signs = [1 if o["direction"] == "minimize" else -1 for o in summary["objectives"]]
    metrics = [o["metric"] for o in summary["objectives"]]

    def rank(record: dict[str, Any]) -> tuple:
        values = [s * record["metrics"][m] for s, m in zip(signs, metrics, strict=True)]
        return (record["number"] not in front, *values, record["number"])

    return min(matching, key=rank)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise EdgeRnnError(f"cannot write {value!r} to TOML")


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    """A build config dict (scalars, lists, nested tables) as TOML text."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for key, table in ((k, v) for k, v in data.items() if isinstance(v, dict)):
        name = f"{prefix}{key}"
        lines += ["", f"[{name}]", to_toml(table, f"{name}.").strip()]
    return "\n".join(lines).strip() + "\n"


def rebuild(sweep_dir: str | Path, conditions: list[Condition], out: str | Path, **kw: Any) -> Any:
    """Choose a trial and build it into `out` (every artefact the sweep's build config asks for
    plus the trial's, validated); returns (record, config path, BuildResult)."""
    from edge_rnn.api import build
    from edge_rnn.config import load_config
    from edge_rnn.sweep.space import rebuild_build

    sweep_dir = Path(sweep_dir)
    summary = read_json(sweep_dir / "sweep.json", "sweep results")
    record = choose(summary, conditions)
    trial_dir = sweep_dir / record["trial_dir"]
    model = trial_dir / "build" / "model" / "model.keras"
    data = rebuild_build(
        summary["base_build"],
        record["params"],
        record["seed"],
        str(model.resolve()) if model.is_file() else None,  # else: retrain with the seed
    )
    config_path = trial_dir / "rebuild.toml"
    config_path.write_text(
        f"# trial {record['number']} of sweep '{summary['study']}' ({summary['config']})\n"
        + to_toml(data),
        encoding="utf-8",
    )
    return record, config_path, build(load_config(config_path), out, **kw)
