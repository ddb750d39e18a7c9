"""Report outputs: report.json (machine-readable), report.html (self-contained), terminal table."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from edge_rnn.fsutil import write_json
from edge_rnn.validate.stages import Report, StageResult

# (metric, column title, format) shown on the terminal, in this order.
COLUMNS = (
    ("max_abs", "max_abs", "{:.2e}"),
    ("rel_l2", "rel_l2", "{:.2e}"),
    ("sqnr_db", "SQNR dB", "{:.1f}"),
    ("top1_agreement", "top1", "{:.3f}"),
    ("top1_real_flips", "flips", "{:.0f}"),
    ("top1_near_tie_flips", "ties", "{:.0f}"),
    ("accuracy", "acc", "{:.3f}"),
    ("lsb_max", "LSB", "{:.0f}"),
)


def json_safe(value: Any) -> Any:
    """Infinities and NaN as strings: strict JSON has no literal for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _replace_atomically(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    write(tmp)
    os.replace(tmp, path)


def write_reports(report: Report, out_dir: str | Path) -> tuple[Path, Path]:
    """Write report.json and report.html into `out_dir`; return their paths."""
    from edge_rnn.validate.html import render_html

    out_dir = Path(out_dir)
    json_path, html_path = out_dir / "report.json", out_dir / "report.html"
    _replace_atomically(json_path, lambda p: write_json(p, json_safe(report.to_dict())))
    html = render_html(report)
    _replace_atomically(html_path, lambda p: p.write_text(html, encoding="utf-8"))
    return json_path, html_path


def verdict(stage: StageResult, allow_skip: bool) -> str:
    if stage.status == "skipped":
        return "skipped (allowed)" if allow_skip else "SKIPPED"
    return "FAILED" if stage.status == "failed" else stage.status


def stage_remark(stage: StageResult) -> str:
    """Why a stage failed or was skipped, or its memory figure."""
    if stage.reason:
        return stage.reason
    if stage.failures:
        same_file = stage.details.get("same_file")  # the other interpreter got it right
        return "; ".join([*stage.failures, *([same_file] if same_file else [])])
    flips = [note for note in stage.notes if note.startswith("top-1 flips:")]
    if flips:
        return flips[0]
    if "fits" in stage.memory:
        memory = stage.memory
        return (
            f"{'fits' if memory['fits'] else 'does NOT fit'} board: flash "
            f"{memory['flash_bytes']:,}/{memory['board_flash_bytes']:,} B, RAM "
            f"{memory['ram_bytes']:,}/{memory['board_ram_bytes']:,} B"
        )
    if "arena_recommended_bytes" in stage.memory:
        return (
            f"arena min {stage.memory['arena_min_bytes']} B, "
            f"use {stage.memory['arena_recommended_bytes']} B"
        )
    return ""


def format_table(report: Report, width: int = 60) -> str:
    """The compact table printed at the end of validate/build/demo."""
    header = ["stage", "result", *(title for _, title, _ in COLUMNS), "notes"]
    rows = [header]
    for stage in report.stages:
        cells = [stage.name, verdict(stage, report.allow_skip)]
        for metric, _, fmt in COLUMNS:
            value = stage.metrics.get(metric)
            cells.append("-" if value is None else fmt.format(value))
        remark = stage_remark(stage)
        cells.append(remark if len(remark) <= width else remark[: width - 3] + "...")
        rows.append(cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    failed = report.failed_stages()
    summary = (
        f"validation PASSED: {len(report.stages)} stage(s) on {report.samples} windows"
        if not failed
        else f"validation FAILED: {len(failed)} of {len(report.stages)} stage(s) failed"
    )
    # Cut in the table, so in full here: why each failing stage failed.
    reasons = [f"  {s.name}: {stage_remark(s)}" for s in failed if len(stage_remark(s)) > width]
    reasons += [
        f"  {s.name}: where the error appears: {s.details['localization']['summary']}"
        for s in failed
        if "localization" in s.details
    ]
    warning = [f"WARNING: {report.chance_warning()}"] if report.at_chance else []
    return "\n".join(
        [f"model {report.model}, data {report.data}", *warning, *lines, summary, *reasons]
    )
