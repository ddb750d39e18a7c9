"""Backends as plug-ins: the registry, and a build that goes on when one artefact fails."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import pytest

from edge_rnn.backends import base
from edge_rnn.backends.base import (
    Backend,
    BuildContext,
    Job,
    load_backends,
    register,
    run_backends,
)
from edge_rnn.cli import main
from edge_rnn.config import BuildConfig, ConvertConfig, NativeConfig, TflmConfig
from edge_rnn.errors import EdgeRnnError, ToolCrashed
from edge_rnn.manifest import ManifestEntry


def test_every_backend_registers_in_build_order() -> None:
    assert list(load_backends()) == ["tflite", "onnx", "carray", "native", "tflm"]


class _Broken(Backend):
    """A backend that writes half a file and then fails, like a crashing converter."""

    name = "broken"
    order = 15

    def jobs(self, ctx: BuildContext) -> list[Job]:
        return [Job("broken_int8", "broken", "int8", ("broken",))]

    def produce(self, job: Job, ctx: BuildContext) -> list[ManifestEntry]:
        (ctx.root / "broken").mkdir()
        (ctx.root / "broken" / "half.bin").write_bytes(b"\0")
        raise ToolCrashed("the converter crashed (SIGSEGV)")


@pytest.fixture()
def broken_backend() -> Iterator[None]:
    load_backends()
    register(_Broken)
    yield
    base.BACKENDS.classes.pop(_Broken.name)


@pytest.mark.slow
def test_bidirectional_build_gets_its_tflm_project_and_survives_a_failing_backend(
    tmp_path: Path, broken_backend: None
) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 8, 2)).astype(np.float32)
    np.savez(tmp_path / "data.npz", x=x, y=(x[:, :, 0].mean(axis=1) > 0).astype(np.int64))
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 2)),
            keras.layers.Bidirectional(keras.layers.LSTM(4)),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, (x[:, :, 0].mean(axis=1) > 0).astype(np.int64), epochs=20, verbose=0)
    model.save(tmp_path / "user.keras")
    (tmp_path / "build.toml").write_text(
        'name = "bi"\n[data]\nsource = "data.npz"\n[model]\npath = "user.keras"\n'
        '[convert]\ntflite = ["int8"]\nonnx = []\n[native]\nquant = ["float32"]\n'
    )
    out = tmp_path / "build"
    # The broken artefact is a failure of its own stage (exit 1), not of the build.
    assert main(["build", str(tmp_path / "build.toml"), "--out", str(out)]) == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert {a["name"] for a in manifest["artefacts"]} == {"tflite_int8", "native_float32"}
    (project,) = manifest["projects"]
    assert project["name"] == "tflm_int8_cmake" and "REVERSE_V2" in project["ops"]
    assert (out / project["path"] / "src" / "model_ops.h").read_text().count("AddReverseV2") == 1
    assert manifest["skipped"] == [
        {
            "name": "broken_int8",
            "reason": "the converter crashed (SIGSEGV)",
            "status": "skipped",
            "format": "broken",
            "quantization": "int8",
        }
    ]
    assert not (out / "broken").exists()
    report = json.loads((out / "report.json").read_text())
    stages = {s["name"]: s for s in report["stages"]}
    assert stages["broken_int8/build"]["status"] == "skipped"
    # Every other stage ran (an int8 stage may miss a threshold on such a tiny model).
    assert "top1_agreement" in stages["tflite_int8/tflm"]["metrics"]
    assert stages["native_float32/host_c"]["status"] == "passed"
    assert [s["name"] for s in stages.values() if s["status"] == "skipped"] == ["broken_int8/build"]


class _Picky(Backend):
    """Three jobs: refused up front, refused while producing, and a backend bug."""

    name = "picky"
    order = 16

    def jobs(self, ctx: BuildContext) -> list[Job]:
        return [Job(f"picky_{q}", "picky", q, (f"picky_{q}.bin",)) for q in ("a", "b", "c")]

    def supports(self, job: Job, ctx: BuildContext) -> str:
        return "needs a bigger model" if job.quantization == "a" else ""

    def produce(self, job: Job, ctx: BuildContext) -> list[ManifestEntry]:
        (ctx.root / job.outputs[0]).write_bytes(b"x")
        if job.quantization == "b":
            raise EdgeRnnError("int8 needs bounded activations")
        raise KeyError("units")


def test_failures_are_classified_and_their_files_removed(tmp_path: Path) -> None:
    load_backends()
    register(_Picky)
    nothing = BuildConfig(
        convert=ConvertConfig(tflite=(), onnx=()),
        native=NativeConfig(quant=()),
        tflm=TflmConfig(quantizations=()),
    )
    try:
        produced = run_backends(
            BuildContext(tmp_path, nothing, tmp_path / "m.keras", {"name": "m"})
        )
    finally:
        base.BACKENDS.classes.pop(_Picky.name)
    assert produced.artefacts == [] and list(tmp_path.iterdir()) == []
    assert [(s.name, s.status, s.reason) for s in produced.skipped] == [
        ("picky_a", "not applicable", "needs a bigger model"),
        ("picky_b", "not applicable", "int8 needs bounded activations"),
        ("picky_c", "skipped", "picky raised KeyError: 'units'"),
    ]
