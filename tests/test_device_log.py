"""`edge-rnn validate DIR --device-log LOG`: a board's protocol log compared like any stage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_validate_fixtures import copy_build, tiny_build  # noqa: F401 (session fixture)

from edge_rnn.cli import main
from edge_rnn.errors import EdgeRnnError
from edge_rnn.protocol import write_protocol
from edge_rnn.runtimes.base import Artefact, ModelMeta, RunContext, get_runner
from edge_rnn.training.metadata import ModelMetadata
from edge_rnn.validate import validate_build


def _device_log(build: Path, path: Path) -> Path:
    """What a board running tflite_int8 prints: LiteRT's raw int8 outputs, same windows."""
    meta = ModelMeta.from_metadata(ModelMetadata.read(build / "model" / "metadata.json"))
    with np.load(build / "data" / "test.npz") as data:
        x = data["x"]
    artefact = Artefact("tflite_int8", build / "tflite" / "tiny_lstm_int8.tflite", "tflite", "int8")
    raw = get_runner("litert").run(artefact, x, meta, RunContext(path.parent)).raw_outputs
    path.write_text("boot noise\n" + write_protocol(meta.name, raw.reshape(len(x), -1), "i8"))
    return path


def test_device_log_stage_passes_and_is_reported(tiny_build: Path, tmp_path: Path) -> None:  # noqa: F811
    build = copy_build(tiny_build, tmp_path / "build")
    log = _device_log(build, tmp_path / "uart.log")
    code = main(
        [
            "validate",
            str(build),
            "--device-log",
            str(log),
            "--device-artefact",
            "tflite_int8",
            "--stages",
            "device_tflite_int8",
        ]
    )
    assert code == 0
    report = json.loads((build / "report.json").read_text())
    stage = next(s for s in report["stages"] if s["artefact"] == "device_tflite_int8")
    assert stage["passed"] and stage["quantization"] == "int8"
    assert stage["metrics"]["top1_agreement"] >= 0.95


def test_corrupted_device_log_fails_its_stage(tiny_build: Path, tmp_path: Path) -> None:  # noqa: F811
    build = copy_build(tiny_build, tmp_path / "build")
    log = _device_log(build, tmp_path / "uart.log")
    lines = log.read_text().splitlines(keepends=True)
    lines[3] = lines[3].replace(" ", " 1", 2)  # a garbled sample line (line 4 of the file)
    log.write_text("".join(lines))
    report = validate_build(
        build,
        device_logs=[log],
        device_artefact="tflite_int8",
        stages=["device_tflite_int8"],
        write=False,
        echo=False,
    )
    stage = next(s for s in report.stages if s.artefact == "device_tflite_int8")
    assert not stage.ok(False) and "uart.log:4:" in stage.reason  # file:line of the bad line


def test_unknown_device_artefact_is_a_clear_error(tiny_build: Path, tmp_path: Path) -> None:  # noqa: F811
    log = _device_log(tiny_build, tmp_path / "uart.log")
    with pytest.raises(EdgeRnnError, match="--device-artefact 'native_q' is not in the manifest"):
        validate_build(
            tiny_build, device_logs=[log], device_artefact="native_q", write=False, echo=False
        )
