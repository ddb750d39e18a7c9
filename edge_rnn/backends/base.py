"""The backend interface: one build artefact kind (tflite, onnx, carray, native, tflm) per module.

How to add a backend (no other file changes needed):
  1. create `edge_rnn/backends/<name>.py`;
  2. subclass `Backend`, set `name` (unique), `order` (when it runs: later backends see the
     entries of earlier ones in `ctx.artefacts`, e.g. tflm needs the tflite entries) and
     `section` (the manifest list its entries go to: "artefacts" are validated, "projects" not);
  3. `jobs(ctx)`: one `Job` per artefact the build config asks for;
     `supports(job, ctx)`: "" or why this model can never have that artefact (recorded as not
     applicable); `produce(job, ctx)`: write the files under `ctx.root`, return manifest entries
     (an entry named like an existing one replaces it: how carray annotates a conversion);
  4. decorate the class with `@register`; keep heavy imports inside the methods.
A job that raises is recorded with its one-line reason and its files are removed; the build goes
on (one artefact never aborts a build): `EdgeRnnError` is a refusal (not applicable), while
`ToolCrashed` (a crash or timeout) or any other exception is skipped (a failure unless allowed).
"""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from edge_rnn import ir
from edge_rnn.config import BuildConfig
from edge_rnn.errors import EdgeRnnError, ToolCrashed
from edge_rnn.fsutil import sha256_file
from edge_rnn.manifest import NOT_APPLICABLE, SKIPPED, ManifestEntry, SkippedEntry
from edge_rnn.plugins import Registry


@dataclass(frozen=True)
class Job:
    """One artefact a backend is asked for."""

    name: str  # the manifest name, e.g. tflite_int8
    format: str
    quantization: str
    outputs: tuple[str, ...]  # paths under the build root it writes (removed if it fails)
    options: dict[str, Any] = field(default_factory=dict)  # backend-specific


@dataclass
class BuildContext:
    """What every backend may use: the build root, config, model and earlier entries."""

    root: Path
    config: BuildConfig
    model_path: Path
    metadata: dict[str, Any]
    log: Callable[[str], None] = print
    artefacts: list[ManifestEntry] = field(default_factory=list)
    shown: dict[str, str] = field(default_factory=dict)  # internal path -> the user's, in reasons

    @property
    def calibration(self) -> Path:
        return self.root / "data" / "calibration.npz"

    @property
    def test_data(self) -> Path:
        return self.root / "data" / "test.npz"

    @cached_property
    def model(self) -> ir.Model:
        from edge_rnn.frontends.keras import load_model_ir

        return load_model_ir(self.model_path, self.metadata)

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def file_entry(
        self, name: str, path: Path, fmt: str, quantization: str, **details: Any
    ) -> ManifestEntry:
        """The entry of one file artefact: its size and sha256, plus format-specific keys."""
        return ManifestEntry(
            name,
            self.rel(path),
            fmt,
            quantization,
            size_bytes=path.stat().st_size,
            sha256=sha256_file(path),
            details=details,
        )


class Backend(ABC):
    name: ClassVar[str]
    order: ClassVar[int] = 100
    section: ClassVar[str] = "artefacts"  # or "projects"

    @abstractmethod
    def jobs(self, ctx: BuildContext) -> list[Job]:
        """The artefacts the build config asks this backend for."""

    def supports(self, job: Job, ctx: BuildContext) -> str:
        """'' when `job` can be produced for `ctx.model`, else why it never can."""
        return ""

    @abstractmethod
    def produce(self, job: Job, ctx: BuildContext) -> list[ManifestEntry]:
        """Write the artefact's files under `ctx.root`; return its manifest entries."""


BACKENDS: Registry[type[Backend]] = Registry("edge_rnn.backends", "backend")
register = BACKENDS.register


def load_backends() -> dict[str, type[Backend]]:
    """Every backend, imported once, in run order."""
    return BACKENDS.load()


@dataclass
class Produced:
    """Every backend's entries, and what could not be produced with the reason."""

    artefacts: list[ManifestEntry] = field(default_factory=list)
    projects: list[ManifestEntry] = field(default_factory=list)
    skipped: list[SkippedEntry] = field(default_factory=list)


def _remove(root: Path, outputs: tuple[str, ...]) -> None:
    for rel in outputs:
        path = root / rel
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _store(produced: Produced, section: str, entries: list[ManifestEntry]) -> None:
    for entry in entries:
        for group in (produced.artefacts, produced.projects):
            same = [i for i, old in enumerate(group) if old.name == entry.name]
            if same:  # an annotation of an earlier entry (carray of a conversion)
                group[same[0]] = entry
                break
        else:
            getattr(produced, section).append(entry)


def run_backends(ctx: BuildContext) -> Produced:
    """Every registered backend's jobs in order. A job that fails is removed and recorded in
    `skipped` with its reason; the other jobs still run."""
    produced = Produced()
    ctx.artefacts = produced.artefacts
    for cls in load_backends().values():
        backend = cls()
        for job in backend.jobs(ctx):
            status, reason = NOT_APPLICABLE, ""
            try:
                reason = backend.supports(job, ctx)
                if not reason:
                    _store(produced, backend.section, backend.produce(job, ctx))
                    continue
            except ToolCrashed as err:  # a converter/interpreter crash or timeout
                status, reason = SKIPPED, str(err)
            except EdgeRnnError as err:  # the backend refused this model, saying why
                reason = str(err)
            except Exception as err:  # a backend bug must not cost the other artefacts
                status, reason = SKIPPED, f"{backend.name} raised {type(err).__name__}: {err}"
            _remove(ctx.root, job.outputs)
            reason = str(EdgeRnnError(reason).with_paths(ctx.shown))
            produced.skipped.append(
                SkippedEntry(job.name, reason, status, job.format, job.quantization)
            )
            ctx.log(f"{job.name}: {status}: {reason}")
    return produced
