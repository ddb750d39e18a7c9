"""The build directory's artefact contract: `manifest.json` as typed, versioned dataclasses.

Every stage that writes or reads a manifest goes through `Manifest.read` / `Manifest.write`
and `ManifestEntry` (docs/architecture.md lists the keys). The JSON layout is the one builds
have always written; `manifest_version` says which contract a file follows (a file without it
is version 1, written before the field existed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from edge_rnn.errors import EdgeRnnError
from edge_rnn.fsutil import read_json, sha256_file, write_json

MANIFEST_VERSION = 1
MANIFEST_FILE = "manifest.json"
# Why an artefact is missing (also the validator's stage statuses of the same meaning).
SKIPPED = "skipped"  # it should exist but its producer failed (crash, timeout): a failure
NOT_APPLICABLE = "not applicable"  # the backend refused this model, with the reason


@dataclass(frozen=True)
class ManifestEntry:
    """One artefact (or TFLM project). `path` is relative to the build directory; a file
    carries `sha256`, a generated directory carries `files` (relative path -> sha256)."""

    name: str
    path: str
    format: str  # tflite | onnx | native-c | tflm-project | device-log
    quantization: str = ""
    size_bytes: int | None = None
    sha256: str | None = None
    files: Mapping[str, str] = field(default_factory=dict)
    output_scale: float | None = None  # integer outputs: what dequantizes them
    output_zero_point: int | None = None
    streaming: bool | None = None  # native C: whether `<name>_step` exists
    target: tuple[str, ...] = ()  # emulated targets it was built for (qemu runners)
    details: Mapping[str, Any] = field(default_factory=dict)  # format-specific keys, as written

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "path": self.path,
            "format": self.format,
            "quantization": self.quantization,
        }
        for key in ("size_bytes", "sha256", "output_scale", "output_zero_point", "streaming"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.files:
            data["files"] = dict(self.files)
        if self.target:
            data["target"] = list(self.target)
        return {**self.details, **data}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> ManifestEntry:
        """From one JSON object; `where` names it in the one-line error."""
        if not isinstance(data, dict) or not all(
            isinstance(data.get(key), str) for key in ("name", "path", "format")
        ):
            raise EdgeRnnError(f"{where} needs name, path and format (strings)")
        known = {f.name for f in fields(cls)} - {"details"}
        values = {k: v for k, v in data.items() if k in known}
        target = values.get("target", ())
        values["target"] = (target,) if isinstance(target, str) else tuple(target)
        values["quantization"] = str(values.get("quantization") or "")
        details = {k: v for k, v in data.items() if k not in known}
        return cls(**values, details=details)

    def resolve(self, build_dir: Path) -> Path:
        return build_dir / self.path

    def input_metadata(self, metadata: Mapping[str, Any]) -> dict[str, Any]:
        """The model metadata as this artefact takes its input: one converted with the model's
        input Normalization/Rescaling layers folded out carries its own `input_normalization`."""
        norm = self.details.get("input_normalization")
        return {**metadata, "normalization": norm} if norm else dict(metadata)

    def integrity_problem(self, path: Path) -> str:
        """'' when the artefact at `path` (resolved) exists and its recorded hashes match,
        else why not: a generated C file edited by hand is caught like a changed .tflite."""
        if not path.exists():
            return f"artefact '{path}' is missing: rebuild"
        if self.sha256 and path.is_file() and sha256_file(path) != self.sha256:
            return f"artefact '{path}' changed since the build (sha256 mismatch): rebuild"
        for rel, digest in sorted(self.files.items()):
            file = path / rel
            if not file.is_file():
                return f"artefact file '{file}' is missing: rebuild"
            if sha256_file(file) != digest:
                return f"artefact file '{file}' changed since the build (sha256 mismatch): rebuild"
        return ""


@dataclass(frozen=True)
class SkippedEntry:
    """An artefact the build did not produce, and why (`status` SKIPPED or NOT_APPLICABLE)."""

    name: str
    reason: str
    status: str = NOT_APPLICABLE
    format: str = ""
    quantization: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = {"name": self.name, "reason": self.reason, "status": self.status}
        data.update(
            (k, v) for k, v in (("format", self.format), ("quantization", self.quantization)) if v
        )
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str) -> SkippedEntry:
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise EdgeRnnError(f"{where} needs a name and a reason")
        status = data.get("status", NOT_APPLICABLE)
        if status not in (SKIPPED, NOT_APPLICABLE):
            raise EdgeRnnError(f"{where}: status '{status}' is not {SKIPPED} or {NOT_APPLICABLE}")
        return cls(
            data["name"],
            str(data.get("reason", "")),
            status,
            str(data.get("format", "")),
            str(data.get("quantization", "")),
        )


@dataclass
class Manifest:
    """DIR/manifest.json: the model, the data, and every artefact of a build."""

    name: str
    edge_rnn_version: str
    model_keras: str = "model/model.keras"
    model_metadata: str = "model/metadata.json"
    data_test: str = "data/test.npz"
    data_calibration: str = "data/calibration.npz"
    config: str | None = None
    artefacts: list[ManifestEntry] = field(default_factory=list)
    projects: list[ManifestEntry] = field(default_factory=list)
    skipped: list[SkippedEntry] = field(default_factory=list)
    version: int = MANIFEST_VERSION

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "manifest_version": self.version,
            "edge_rnn_version": self.edge_rnn_version,
            "name": self.name,
            "model": {"keras": self.model_keras, "metadata": self.model_metadata},
            "data": {"test": self.data_test, "calibration": self.data_calibration},
            "artefacts": [entry.to_dict() for entry in self.artefacts],
            "projects": [entry.to_dict() for entry in self.projects],
            "skipped": [entry.to_dict() for entry in self.skipped],
        }
        if self.config is not None:
            data["config"] = self.config
        return data

    def write(self, build_dir: Path) -> None:
        write_json(Path(build_dir) / MANIFEST_FILE, self.to_dict())

    @classmethod
    def read(cls, build_dir: str | Path) -> Manifest:
        path = Path(build_dir) / MANIFEST_FILE
        data = read_json(path, "build manifest")
        if not isinstance(data, dict):
            raise EdgeRnnError(f"{path}: not a JSON object: rebuild")
        version = data.get("manifest_version", 1)
        if not isinstance(version, int) or version > MANIFEST_VERSION:
            raise EdgeRnnError(
                f"{path}: manifest_version {version!r} is newer than this edge-rnn reads "
                f"({MANIFEST_VERSION}): upgrade edge-rnn or rebuild"
            )
        model, files = data.get("model"), data.get("data") or {}
        if not isinstance(model, dict) or not all(
            isinstance(model.get(key), str) for key in ("keras", "metadata")
        ):
            raise EdgeRnnError(f"{path}: needs model.keras and model.metadata paths")

        def entries(key: str) -> list[Any]:
            items = data.get(key) or []
            if not isinstance(items, list):
                raise EdgeRnnError(f"{path}: '{key}' must be a list")
            return items

        return cls(
            name=str(data.get("name", "")),
            edge_rnn_version=str(data.get("edge_rnn_version", "")),
            model_keras=model["keras"],
            model_metadata=model["metadata"],
            data_test=str(files.get("test", "data/test.npz")),
            data_calibration=str(files.get("calibration", "data/calibration.npz")),
            config=data.get("config"),
            artefacts=[
                ManifestEntry.from_dict(e, f"{path}: artefacts[{i}]")
                for i, e in enumerate(entries("artefacts"))
            ],
            projects=[
                ManifestEntry.from_dict(e, f"{path}: projects[{i}]")
                for i, e in enumerate(entries("projects"))
            ],
            skipped=[
                SkippedEntry.from_dict(e, f"{path}: skipped[{i}]")
                for i, e in enumerate(entries("skipped"))
            ],
            version=version,
        )
