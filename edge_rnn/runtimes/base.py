"""The runner interface: raw input windows in, float outputs (plus what is known of memory) out.

Every validation stage is one runner applied to one artefact on the same RAW windows
x (N, T, F) float32. The runner normalizes them itself (`ModelMeta.normalize`, i.e.
`edge_rnn.ir.Normalization.apply`), runs each window as an independent sequence starting from
reset state, and returns float outputs shaped (N, *meta.output_shape).

How to add a runner (no other file changes needed):
  1. create `edge_rnn/runtimes/<name>.py` (modules whose name starts with `_` are not scanned;
     use them for subprocess workers);
  2. subclass `Runner`, set `name` (unique, the stage suffix), `formats` (manifest `format`
     values it runs), `order` (where its stages appear in the report), optionally
     `integer_reference` (name of the runner whose raw integer outputs of the SAME artefact
     this one must match, in LSB) and override `supports()` to narrow further;
  3. decorate the class with `@register`; keep heavy imports inside `run()`;
  4. in `run()` raise `RunnerSkipped(reason, not_applicable=True)` when the artefact can by
     nature never run here (TFLM on float16: reported, never a failure), `RunnerSkipped(reason)`
     when something is missing from the environment (counted as a failure unless the user
     passes --allow-skip), and `EdgeRnnError` when the artefact is broken (stage fails with that
     one-line message; other stages still run).
`load_runners()` imports every module of this package once, so each registers itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from edge_rnn.errors import EdgeRnnError
from edge_rnn.ir import Normalization
from edge_rnn.manifest import ManifestEntry
from edge_rnn.plugins import Registry


@dataclass(frozen=True)
class ModelMeta:
    """What every runner needs to know of the model (a subset of `model/metadata.json`)."""

    name: str
    input_shape: tuple[int, int]  # (T, F)
    output_shape: tuple[int, ...]  # (K,) or (T, K) for sequence outputs
    task: str = "classification"
    sequence_output: bool = False
    class_names: tuple[str, ...] = ()
    normalization: Normalization | None = None
    input_dtype: str = "float32"  # "int32": token ids (x is (N, T, 1) holding integers)

    @classmethod
    def from_metadata(cls, md: Any) -> ModelMeta:
        """From a checked `edge_rnn.training.metadata.ModelMetadata` (model/metadata.json)."""
        return cls(
            name=md.name,
            input_shape=tuple(md.input_shape),  # type: ignore[arg-type]
            output_shape=tuple(md.output_shape),
            task=md.task,
            sequence_output=md.sequence_output,
            class_names=tuple(md.class_names),
            normalization=md.normalization,
            input_dtype=md.input_dtype,
        )

    def for_artefact(self, entry: ManifestEntry) -> ModelMeta:
        """What `entry` takes as input (see `ManifestEntry.input_metadata`)."""
        norm = entry.input_metadata({}).get("normalization")
        if not norm:
            return self
        return replace(self, normalization=Normalization(tuple(norm["mean"]), tuple(norm["scale"])))

    @property
    def token_input(self) -> bool:
        return self.input_dtype == "int32"

    def normalize(self, x: np.ndarray) -> np.ndarray:
        """What the model graph takes: normalized float windows, or token ids (N, T) int32."""
        if self.token_input:
            return np.asarray(x)[..., 0].astype(np.int32)
        x = np.asarray(x, np.float32)
        return self.normalization.apply(x) if self.normalization else x

    def raw_input(self, x: np.ndarray) -> np.ndarray:
        """What the generated C takes: raw float32 windows, or token ids (N, T, 1) int32."""
        return np.asarray(x, np.int32 if self.token_input else np.float32)


@dataclass(frozen=True)
class Artefact:
    """One manifest entry, with its path resolved against the build directory."""

    name: str
    path: Path
    format: str  # tflite | onnx | native-c | tflm-project | keras | device-log
    quantization: str
    entry: ManifestEntry | None = None  # None: a file given directly, not from a manifest

    @classmethod
    def from_entry(cls, entry: ManifestEntry, build_dir: Path) -> Artefact:
        return cls(entry.name, entry.resolve(build_dir), entry.format, entry.quantization, entry)

    @property
    def manifest_entry(self) -> ManifestEntry:
        """The manifest entry, or one describing just the file for a file given directly."""
        if self.entry is not None:
            return self.entry
        return ManifestEntry(self.name, self.path.as_posix(), self.format, self.quantization)


@dataclass
class RunContext:
    """Where a runner may write scratch files, how long it may take, free-form options."""

    work_dir: Path
    timeout_s: float = 300.0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    outputs: np.ndarray  # float32 (N, *output_shape), dequantized
    raw_outputs: np.ndarray | None = None  # integer outputs as produced, same shape
    raw_scale: float | None = None
    raw_zero_point: int | None = None
    memory: dict[str, int] = field(default_factory=dict)  # e.g. {"arena_bytes": 3536}
    notes: list[str] = field(default_factory=list)


class RunnerSkipped(Exception):
    """The runner cannot run this artefact; `reason` says why.

    not_applicable=True: inherent (the runtime never supports this kind of artefact), reported
    as "skipped (not applicable)" and never a failure. Otherwise the stage should have run
    but could not (missing tool): a failure unless skips are allowed.
    """

    def __init__(self, reason: str, *, not_applicable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.not_applicable = not_applicable


class Runner(ABC):
    name: ClassVar[str]
    formats: ClassVar[tuple[str, ...]]
    order: ClassVar[int] = 100
    integer_reference: ClassVar[str | None] = None

    def supports(
        self, artefact: Artefact, options: Mapping[str, Any] = MappingProxyType({})
    ) -> bool:
        """Whether this runner is a stage for `artefact` under the run's `options` (e.g. the
        emulated targets the user picked); unsupported pairs are not planned at all."""
        return artefact.format in self.formats

    @abstractmethod
    def run(self, artefact: Artefact, x: np.ndarray, meta: ModelMeta, ctx: RunContext) -> RunResult:
        """Run every window of RAW x (N, T, F) from reset state; see the module docstring."""


RUNNERS: Registry[type[Runner]] = Registry("edge_rnn.runtimes", "runner")
register = RUNNERS.register


def load_runners() -> dict[str, type[Runner]]:
    """Every runner, imported once, in report order."""
    return RUNNERS.load()


def get_runner(name: str) -> Runner:
    runners = load_runners()
    if name not in runners:
        raise EdgeRnnError(f"unknown runner '{name}': known runners are {', '.join(runners)}")
    return runners[name]()


def runners_for(
    artefact: Artefact, options: Mapping[str, Any] = MappingProxyType({})
) -> list[Runner]:
    """Every registered runner that takes this artefact, in report order."""
    return [cls() for cls in load_runners().values() if cls().supports(artefact, options)]


def check_input(x: np.ndarray, meta: ModelMeta, source: str) -> np.ndarray:
    """RAW windows as float32 (N, T, F) matching the model, or a one-line error."""
    x = np.asarray(x)
    if meta.token_input and x.ndim == 2 and x.dtype.kind in "iu":
        x = x[..., np.newaxis]  # token ids as saved by the user: (N, T)
    if meta.token_input and x.size and (np.any(x != np.round(x)) or x.min() < 0):
        raise EdgeRnnError(f"{source}: token ids must be integers >= 0")
    if x.ndim != 3 or tuple(x.shape[1:]) != tuple(meta.input_shape):
        raise EdgeRnnError(
            f"{source}: input windows have shape {tuple(x.shape)} but model '{meta.name}' "
            f"expects (N, {meta.input_shape[0]}, {meta.input_shape[1]}): use data windowed like "
            "the training data"
        )
    return x.astype(np.float32)


def dequantize(raw: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return ((raw.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)).astype(
        np.float32
    )


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: np.dtype) -> np.ndarray:
    info = np.iinfo(dtype)
    q = np.round(x / np.float32(scale)) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def shape_outputs(y: np.ndarray, meta: ModelMeta, source: str) -> np.ndarray:
    """Reshape per-window outputs (N, ...) to (N, *meta.output_shape), or a one-line error."""
    want = int(np.prod(meta.output_shape))
    if y.size != y.shape[0] * want:
        raise EdgeRnnError(
            f"{source}: output has {y.size // max(y.shape[0], 1)} values per window but the "
            f"metadata says output_shape {list(meta.output_shape)}"
        )
    return y.reshape((y.shape[0], *meta.output_shape))
