"""Stage results and the report object: what ran, against which thresholds, and the verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from edge_rnn.errors import ValidationFailed
from edge_rnn.training.chance import ChanceCheck

PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"  # should have run but could not (missing tool, timeout): fails unless allowed
NOT_APPLICABLE = "not applicable"  # inherent (TFLM on float16): never a failure
REFERENCE = "reference"


@dataclass
class StageResult:
    name: str  # "<artefact>/<runner>"
    artefact: str
    path: str  # relative to the build directory
    runtime: str
    format: str
    quantization: str
    status: str = FAILED
    reason: str = ""  # why it failed or was skipped
    metrics: dict[str, float] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    memory: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # per-step errors, confusion matrix
    seconds: float = 0.0

    def ok(self, allow_skip: bool) -> bool:
        if self.status == SKIPPED:
            return allow_skip
        return self.status != FAILED


@dataclass
class Report:
    model: str
    build_dir: str
    data: str
    samples: int
    allow_skip: bool
    stages: list[StageResult]
    environment: dict[str, str]
    arena: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployment: dict[str, Any] = field(default_factory=dict)  # validate.deployment_table
    notes: list[str] = field(default_factory=list)
    # The float model against the majority class / mean predictor on these windows
    # (edge_rnn.training.chance.ChanceCheck.to_dict); empty without labels.
    float_model: dict[str, Any] = field(default_factory=dict)
    class_names: list[str] = field(default_factory=list)

    @property
    def at_chance(self) -> bool:
        return bool(self.float_model.get("at_chance"))

    def chance_warning(self) -> str:
        """The banner for a float model at chance level ('' otherwise)."""
        if not self.at_chance:
            return ""
        summary = ChanceCheck(**self.float_model).summary()
        return (
            f"the float model is at chance level ({summary}); every artefact below faithfully "
            "reproduces a model that has not learned"
        )

    @property
    def passed(self) -> bool:
        return all(stage.ok(self.allow_skip) for stage in self.stages)

    def failed_stages(self) -> list[StageResult]:
        return [s for s in self.stages if not s.ok(self.allow_skip)]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        for stage, result in zip(data["stages"], self.stages, strict=True):
            stage["passed"] = result.ok(self.allow_skip)
        return data

    def raise_for_failure(self) -> None:
        """ValidationFailed (exit code 1) naming the failing stages, when any failed."""
        failed = self.failed_stages()
        if failed:
            names = ", ".join(f"{s.name} ({s.reason or '; '.join(s.failures)})" for s in failed)
            raise ValidationFailed(f"{len(failed)} stage(s) failed: {names}")
