"""DIR/sweep.html: self-contained (inline SVG, no scripts) Pareto plots and the front's table.

Plots: the quality metric (accuracy, or RMSE for regression sweeps) against flash and against
instructions per inference on the primary target. Every point links to its trial's build
directory report; the front is drawn larger and red, infeasible trials hollow.
"""

from __future__ import annotations

import html
import math
from typing import Any

WIDTH, HEIGHT, PAD = 460, 300, 48
_LABELS = {
    "accuracy": "accuracy",
    "rmse": "RMSE",
    "flash_bytes": "flash bytes",
    "ram_bytes": "RAM bytes",
    "instructions": "instructions / inference",
    "latency_ms": "est. ms at board clock",
    "cpi": "est. cycles / instruction",
}


def _scale(values: list[float], size: int, flip: bool) -> Any:
    """value -> pixel, with 5 % room at both ends; and the data's range for the axis label."""
    low, high = min(values), max(values)
    span = (high - low) or abs(high) or 1.0
    start, stop = low - 0.05 * span, high + 0.05 * span

    def place(v: float) -> float:
        t = (v - start) / (stop - start)
        return PAD + (1 - t if flip else t) * (size - 2 * PAD)

    return place, low, high


def _link(record: dict[str, Any]) -> str:
    return f"{record['trial_dir']}/build/report.html"


def scatter(records: list[dict[str, Any]], x_key: str, y_key: str, front: set[int]) -> str:
    points = [
        r
        for r in records
        if r["status"] == "complete"
        and r["metrics"].get(x_key) is not None
        and r["metrics"].get(y_key) is not None
    ]
    if not points:
        return f"<p>no trial measured {_LABELS[x_key]} and {_LABELS[y_key]}</p>"
    fx, xlo, xhi = _scale([r["metrics"][x_key] for r in points], WIDTH, False)
    fy, ylo, yhi = _scale([r["metrics"][y_key] for r in points], HEIGHT, True)
    parts = [
        f'<svg width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
        f'<rect x="{PAD}" y="{PAD}" width="{WIDTH - 2 * PAD}" height="{HEIGHT - 2 * PAD}" '
        'fill="none" stroke="#999"/>',
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 10}" text-anchor="middle">{_LABELS[x_key]} '
        f"({xlo:,.4g} .. {xhi:,.4g})</text>",
        f'<text x="12" y="{HEIGHT / 2}" transform="rotate(-90 12 {HEIGHT / 2})" '
        f'text-anchor="middle">{_LABELS[y_key]} ({ylo:.4g} .. {yhi:.4g})</text>',
    ]
    for r in points:
        on_front, feasible = r["number"] in front, r.get("feasible", False)
        x, y = fx(r["metrics"][x_key]), fy(r["metrics"][y_key])
        fill = "#c33" if on_front else ("#36c" if feasible else "none")
        title = f"trial {r['number']}: {_LABELS[x_key]} {r['metrics'][x_key]:,}, " + (
            f"{_LABELS[y_key]} {r['metrics'][y_key]:.4g}"
            + ("" if feasible else f" - {'; '.join(r.get('violations', []))}")
        )
        parts.append(
            f'<a href="{html.escape(_link(r))}"><circle cx="{x:.1f}" cy="{y:.1f}" '
            f'r="{6 if on_front else 4}" fill="{fill}" stroke="#36c">'
            f"<title>{html.escape(title)}</title></circle></a>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return html.escape(str(value))


def _table(records: list[dict[str, Any]], numbers: list[int], metrics: list[str]) -> str:
    chosen = [r for r in records if r["number"] in numbers]
    if not chosen:
        return "<p>no feasible trial yet</p>"
    params = sorted({k for r in chosen for k in r.get("params", {})})
    head = ["trial", *params, *(_LABELS[m] for m in metrics), "build"]
    rows = ["<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for r in chosen:
        cells = [str(r["number"])]
        cells += [_cell(r["params"].get(p, "")) for p in params]
        cells += [_cell(r["metrics"].get(m)) for m in metrics]
        cells.append(f'<a href="{html.escape(r["trial_dir"])}/build/">{r["trial_dir"]}</a>')
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return "<table>" + "".join(rows) + "</table>"


def render_html(summary: dict[str, Any]) -> str:
    records, front = summary["trials"], summary["pareto"]
    metrics = [o["metric"] for o in summary["objectives"]]
    quality = "accuracy" if "accuracy" in metrics else ("rmse" if "rmse" in metrics else None)
    counts = summary["counts"]
    plots = (
        [scatter(records, x, quality, set(front)) for x in ("flash_bytes", "instructions")]
        if quality
        else []
    )
    failed = "".join(
        f"<li>trial {r['number']}: {html.escape(str(r.get('error')))}</li>"
        for r in records
        if r["status"] != "complete"
    )
    standard = ["accuracy", "flash_bytes", "ram_bytes", "instructions", "latency_ms", "cpi"]
    shown = list(dict.fromkeys([*metrics, *standard]))
    shown = [m for m in shown if m in _LABELS]
    sources = "; ".join(summary["instructions_source"]) or "none measured"
    limits = ", ".join(f"{k} {v:g}" for k, v in summary["constraints"].items()) or "none"
    if summary["require_validation"]:
        limits += " (and validation passed)"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>edge-rnn sweep {html.escape(summary["study"])}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}</style></head><body>
<h1>edge-rnn sweep: {html.escape(summary["study"])}</h1>
<p>{counts["trials"]} trials: {counts["complete"]} complete ({counts["feasible"]} feasible),
{counts["failed"]} failed, {counts["interrupted"]} interrupted. Sampler {summary["sampler"]};
objectives {", ".join(f"{o['direction']} {o['name']}" for o in summary["objectives"])};
constraints {html.escape(limits)} on
{", ".join(summary["targets"])} (plots: {summary["targets"][0]}). Instructions: {sources}.
Milliseconds are an estimate: instructions x cycles per instruction (from the instruction mix
QEMU counted by class, else an assumed mix) / board clock (docs/ontarget.md, "Latency").</p>
{"".join(plots)}
<h2>Pareto front ({len(front)} trials)</h2>
{_table(records, front, shown)}
<h2>Every trial</h2>
{_table(records, [r["number"] for r in records if r["status"] == "complete"], shown)}
<h2>Failed trials</h2>
<ul>{failed}</ul>
</body></html>
"""
