"""A trial's numbers from its build directory and validation report, and its constraint check.

Per target: flash and static RAM (native C: what the model adds to a firmware, linked with the
target's compiler; TFLite: the flatbuffer and the measured TFLite Micro arena, interpreter code
not included), instructions per inference (counted on the emulated core by the validator's
QEMU stage; the x86-64 callgrind count of the same C when QEMU is absent, stated in
`instructions_source`), latency = estimated cycles / board clock (instructions x the core's
average cycles per instruction, `edge_rnn.ontarget.latency`: an estimate). Accuracy is the
worst over the artefact's validation stages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge_rnn.errors import EdgeRnnError
from edge_rnn.manifest import Manifest, ManifestEntry
from edge_rnn.ontarget.latency import estimate, mix_from_memory
from edge_rnn.sweep.config import CONSTRAINTS, SweepConfig
from edge_rnn.targets import load_target

HOST_PROXY = "host x86-64 instructions (valgrind callgrind; QEMU absent)"


def _artefact_entry(manifest: Manifest, name: str) -> ManifestEntry:
    for entry in manifest.artefacts:
        if entry.name == name:
            return entry
    for skipped in manifest.skipped:
        if skipped.name == name:
            raise EdgeRnnError(f"{name} could not be built: {skipped.reason}")
    raise EdgeRnnError(f"the build produced no artefact {name}")


def _instructions(
    build_dir: Path, entry: ManifestEntry, report: Any, target: str, proxy: dict[str, int]
) -> tuple[int | None, str, dict[str, int] | None]:
    """Instructions per inference, where they come from, and their counted mix by class."""
    for stage in report.stages:
        if stage.name == f"{entry.name}/qemu-{target}":
            count = stage.memory.get("instructions_per_inference")
            if count:
                mix = mix_from_memory(stage.memory)
                return int(count), f"QEMU {target} (icount plugin)", mix
    if entry.format != "native-c":
        return None, "not measured (TFLite Micro cannot be compiled here)", None
    if "count" not in proxy:  # one count serves every target
        from edge_rnn.native.host import host_instructions

        with np.load(build_dir / "data" / "test.npz") as data:
            proxy["count"] = host_instructions(entry.resolve(build_dir), data["x"][:1])
    return proxy["count"], HOST_PROXY, None


def _footprint(build_dir: Path, entry: ManifestEntry, target: Any) -> tuple[int, int | None]:
    if entry.format == "native-c":
        from edge_rnn.ontarget.footprint import model_footprint

        use = model_footprint(target, entry.resolve(build_dir))
        return use.flash_bytes, use.ram_bytes
    arena = entry.details.get("tflm_arena", {}).get("recommended_bytes")
    return int(entry.size_bytes or 0), int(arena) if arena else None


def measure(build_dir: Path, report: Any, artefact: str, targets: tuple[str, ...]) -> dict:
    """The metrics of one trial (primary target = first of `targets`)."""
    entry = _artefact_entry(Manifest.read(build_dir), artefact)
    stages = [s for s in report.stages if s.artefact == artefact]
    reference = next(s for s in report.stages if s.status == "reference")
    accuracies = [s.metrics["accuracy"] for s in stages if "accuracy" in s.metrics]
    rmses = [s.metrics["label_rmse"] for s in stages if "label_rmse" in s.metrics]
    per_target: dict[str, dict[str, Any]] = {}
    proxy: dict[str, int] = {}
    for name in targets:
        target = load_target(name)
        flash, ram = _footprint(build_dir, entry, target)
        count, source, mix = _instructions(build_dir, entry, report, name, proxy)
        latency = estimate(count, target, mix)
        per_target[name] = {
            "flash_bytes": flash,
            "ram_bytes": ram,
            "instructions": count,
            "instructions_source": source,
            "estimated_cycles": latency.cycles,
            "latency_ms": latency.ms,
            "cpi": latency.cpi,
            "instruction_mix": mix if latency.counted else None,
            "clock_mhz": target.clock_mhz,
        }
    primary = per_target[targets[0]]
    return {
        "accuracy": min(accuracies) if accuracies else None,
        "float_accuracy": reference.metrics.get("accuracy"),
        "rmse": max(rmses) if rmses else None,
        "weights_bytes": int(entry.size_bytes or 0),
        **{k: v for k, v in primary.items() if k != "clock_mhz"},
        "targets": per_target,
    }


def validation_summary(report: Any, artefact: str) -> dict[str, Any]:
    stages = [s for s in report.stages if s.artefact == artefact]
    return {
        "passed": all(s.status != "failed" for s in stages),
        "stages": {s.name: s.status for s in stages},
        "failures": [
            f"{s.name}: {s.reason or '; '.join(s.failures)}" for s in stages if s.status == "failed"
        ],
    }


def check_constraints(
    result: dict[str, Any], config: SweepConfig
) -> tuple[list[str], dict[str, float]]:
    """(violations in words, Optuna constraint values: <= 0 satisfied) over every target."""
    metrics, words, values = result["metrics"], [], {}
    for name, limit in config.constraints.items():
        key, upper = CONSTRAINTS[name]
        scopes = metrics["targets"].items() if key in metrics["targets"][config.targets[0]] else []
        measured = [(t, m.get(key)) for t, m in scopes] or [("", metrics.get(key))]
        worst = 0.0
        for target, value in measured:
            where = f" on {target}" if target else ""
            if value is None:
                words.append(f"{name}: {key} not measured{where}")
                worst = max(worst, 1.0)
                continue
            excess = (value - limit) if upper else (limit - value)
            if excess > 0:
                words.append(f"{key} {value:g}{where} {'>' if upper else '<'} {limit:g}")
            worst = max(worst, excess / max(abs(limit), 1e-9))
        values[name] = worst
    if config.require_validation:
        passed = result["validation"]["passed"]
        if not passed:
            words.append("validation failed: " + "; ".join(result["validation"]["failures"]))
        values["validation"] = 0.0 if passed else 1.0
    return words, values
