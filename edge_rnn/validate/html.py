"""Self-contained report.html: inline CSS, matplotlib (Agg) plots embedded as base64 PNG."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from edge_rnn.validate.report import COLUMNS, stage_remark, verdict
from edge_rnn.validate.stages import Report

TEMPLATE = "report.html.j2"


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _plots(report: Report) -> list[dict[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    compared = [s for s in report.stages if "rel_l2" in s.metrics]
    plots = []
    if compared:
        fig, axes = plt.subplots(1, 2, figsize=(10, 0.45 * len(compared) + 1.5))
        names = [s.name for s in compared]
        for ax, metric in zip(axes, ("max_abs", "rel_l2"), strict=True):
            values = [max(s.metrics[metric], 1e-12) for s in compared]
            ax.barh(names, values, color="#4c72b0")
            ax.set_xscale("log")
            ax.set_title(f"{metric} vs float (log scale)")
            ax.invert_yaxis()
        axes[1].set_yticklabels([])
        plots.append({"title": "Error per stage", "png": _png(fig)})
        plt.close(fig)
    shipped = [r for r in report.deployment.get("rows", []) if r["max_abs"] is not None]
    if shipped:
        fig, ax = plt.subplots(figsize=(7, 4))
        for target in sorted({r["target"] for r in shipped}):
            rows = [r for r in shipped if r["target"] == target]
            ax.scatter([r["flash_bytes"] for r in rows], [max(r["max_abs"], 1e-12) for r in rows])
            for row in rows:
                ax.annotate(f"{row['artefact']} @ {target}", (row["flash_bytes"], row["max_abs"]))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("flash of model + runtime (bytes)")
        ax.set_ylabel("max abs error vs float")
        plots.append({"title": "Error against flash (on-target stages)", "png": _png(fig)})
        plt.close(fig)
    stepped = [s for s in compared if "per_step" in s.details]
    if stepped:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        for stage in stepped:
            ax.plot(stage.details["per_step"]["max_abs"], label=stage.name)
        ax.set_yscale("log")
        ax.set_xlabel("time step")
        ax.set_ylabel("max abs error")
        ax.legend(fontsize="small")
        plots.append({"title": "Error against time step", "png": _png(fig)})
        plt.close(fig)
    for artefact, found in localized(report).items():
        curves = [c for c in found.get("layers", []) if len(c["steps"]) > 1]
        if not curves:
            continue
        fig, ax = plt.subplots(figsize=(8, 3.5))
        for curve in curves:
            ax.plot(curve["steps"], [max(v, 1e-9) for v in curve["rel_l2"]], label=curve["layer"])
        ax.axhline(found["limit"], color="#b42318", linestyle="--", linewidth=1, label="limit")
        ax.set_yscale("log")
        ax.set_xlabel("time step of the layer")
        ax.set_ylabel("rel_l2 of the layer output vs float")
        ax.legend(fontsize="small")
        plots.append({"title": f"Where the error appears: {artefact}", "png": _png(fig)})
        plt.close(fig)
    groups = confusion_groups(report)
    if groups:
        cols = min(len(groups), 4)
        grid_rows = -(-len(groups) // cols)
        fig, axes = plt.subplots(
            grid_rows, cols, figsize=(3.4 * cols, 3.4 * grid_rows), squeeze=False
        )
        for ax in axes.ravel():
            ax.axis("off")
        names = report.class_names
        for ax, (matrix, stages) in zip(axes.ravel(), groups, strict=False):
            ax.axis("on")
            ax.imshow(matrix, cmap="Blues")
            for i, row in enumerate(matrix):
                for j, count in enumerate(row):
                    ax.text(j, i, str(count), ha="center", va="center", fontsize=7)
            title = stages[0] if len(stages) == 1 else f"{stages[0]} and {len(stages) - 1} more"
            ax.set_title(title, fontsize=8)
            ax.set_xlabel("predicted", fontsize=7)
            ax.set_ylabel("true", fontsize=7)
            ticks = list(range(len(matrix)))
            labels = names if len(names) == len(matrix) else [str(t) for t in ticks]
            ax.set_xticks(ticks, labels, fontsize=6, rotation=45, ha="right")
            ax.set_yticks(ticks, labels, fontsize=6)
        plots.append(
            {"title": "Confusion matrices (test labels), one per distinct result", "png": _png(fig)}
        )
        plt.close(fig)
    return plots


def confusion_groups(report: Report) -> list[tuple[list[list[int]], list[str]]]:
    """Distinct confusion matrices, each with the stages (reference first) that produced it."""
    groups: dict[str, tuple[list[list[int]], list[str]]] = {}
    for stage in report.stages:
        matrix = stage.details.get("confusion")
        if matrix is not None:
            groups.setdefault(repr(matrix), (matrix, []))[1].append(stage.name)
    return list(groups.values())


def localized(report: Report) -> dict[str, dict[str, Any]]:
    """The error localization of each artefact that has one (its failing stages share it)."""
    return {
        stage.artefact: stage.details["localization"]
        for stage in report.stages
        if "localization" in stage.details
    }


def per_class_rows(report: Report) -> list[dict[str, Any]]:
    """Per-class accuracy and agreement of the stages that differ from the float model."""
    rows = []
    for stage in report.stages:
        per_class = stage.details.get("per_class")
        if per_class and stage.metrics.get("top1_agreement", 1.0) < 1.0:
            rows.append({"stage": stage.name, **per_class})
    return rows


def render_html(report: Report) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    rows = [
        {
            "stage": stage,
            "verdict": verdict(stage, report.allow_skip),
            "ok": stage.ok(report.allow_skip),
            "remark": stage_remark(stage),
            "cells": [
                "-" if stage.metrics.get(metric) is None else fmt.format(stage.metrics[metric])
                for metric, _, fmt in COLUMNS
            ],
        }
        for stage in report.stages
    ]
    return env.get_template(TEMPLATE).render(
        report=report,
        columns=[title for _, title, _ in COLUMNS],
        rows=rows,
        plots=_plots(report),
        failed=len(report.failed_stages()),
        per_class=per_class_rows(report),
        localized=localized(report),
    )
