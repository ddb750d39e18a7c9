"""DIR/sweep.json from the study: every trial (parameters, metrics, sizes, status), the Pareto
front of the feasible trials, and DIR/sweep.html."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edge_rnn.fsutil import write_json
from edge_rnn.sweep.config import OBJECTIVES, SweepConfig
from edge_rnn.validate.report import json_safe


def trial_records(study: Any) -> list[dict[str, Any]]:
    """One record per finished trial, in trial order."""
    records = []
    for trial in study.get_trials(deepcopy=False):
        result = trial.user_attrs.get("result")
        if result is None:
            continue  # still running in another sweep process
        records.append({**trial.user_attrs.get("spec", {}), **result, "number": trial.number})
    return records


def dominates(a: list[float], b: list[float], directions: list[str]) -> bool:
    signs = [1 if d == "minimize" else -1 for d in directions]
    no_worse = all(s * x <= s * y for s, x, y in zip(signs, a, b, strict=True))
    return no_worse and any(s * x < s * y for s, x, y in zip(signs, a, b, strict=True))


def pareto_front(records: list[dict[str, Any]], config: SweepConfig) -> list[int]:
    """Numbers of the feasible complete trials no other feasible trial dominates."""
    points = {
        r["number"]: [r["metrics"][m] for m in config.metrics]
        for r in records
        if r["status"] == "complete" and r.get("feasible")
    }
    return sorted(
        n
        for n, p in points.items()
        if not any(dominates(q, p, config.directions) for m, q in points.items() if m != n)
    )


def summarize(records: list[dict[str, Any]], config: SweepConfig) -> dict[str, Any]:
    complete = [r for r in records if r["status"] == "complete"]
    sources = sorted({r["metrics"].get("instructions_source", "") for r in complete} - {""})
    return {
        "study": config.study,
        "config": config.source,
        "sampler": config.sampler,
        "objectives": [
            {"name": n, "metric": OBJECTIVES[n][0], "direction": OBJECTIVES[n][1]}
            for n in config.objectives
        ],
        "constraints": config.constraints,
        "require_validation": config.require_validation,
        "targets": list(config.targets),
        "base_build": config.build,
        "instructions_source": sources,
        "counts": {
            "trials": len(records),
            "complete": len(complete),
            "feasible": sum(1 for r in complete if r.get("feasible")),
            "failed": sum(1 for r in records if r["status"] == "failed"),
            "interrupted": sum(1 for r in records if r["status"] == "interrupted"),
        },
        "pareto": pareto_front(records, config),
        "trials": records,
    }


def write_outputs(study: Any, config: SweepConfig, out_dir: Path) -> tuple[Path, Path, dict]:
    from edge_rnn.sweep.report import render_html

    summary = summarize(trial_records(study), config)
    json_path, html_path = out_dir / "sweep.json", out_dir / "sweep.html"
    partial = out_dir / ".sweep.json.partial"
    write_json(partial, json_safe(summary))
    os.replace(partial, json_path)
    partial = out_dir / ".sweep.html.partial"
    partial.write_text(render_html(summary), encoding="utf-8")
    os.replace(partial, html_path)
    return json_path, html_path, summary
