"""Shared by the bring-your-own-model layer tests: a Keras model trained outside edge-rnn,
saved with its data, built with `edge-rnn build` on every backend (Keras is the reference)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from edge_rnn.cli import main

BACKENDS = (
    '[convert]\ntflite = ["float32", "int8"]\nonnx = ["float32"]\n'
    '[native]\nquant = ["float32", "int8w", "int8"]\n'
)


def build_user_model(
    tmp_path: Path, model: Any, x: np.ndarray, y: np.ndarray, backends: str = BACKENDS
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(manifest, report) of a default build of `model` on (x, y); asserts the build passed."""
    np.savez(tmp_path / "data.npz", x=x, y=y)
    model.save(tmp_path / "user.keras")
    (tmp_path / "build.toml").write_text(
        f'name = "user"\n[data]\nsource = "data.npz"\n[model]\npath = "user.keras"\n{backends}'
    )
    out = tmp_path / "build"
    code = main(["build", str(tmp_path / "build.toml"), "--out", str(out)])
    assert (out / "report.json").is_file(), f"build stopped with exit code {code}"
    report = json.loads((out / "report.json").read_text())
    failed = [s for s in report["stages"] if s["status"] not in ("passed", "reference")]
    assert code == 0, failed
    return json.loads((out / "manifest.json").read_text()), report


def stage_status(report: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["status"] for s in report["stages"]}
