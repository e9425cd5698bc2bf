"""What grading returns: plain dataclasses that turn into JSON for storage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Check:
    """What one criterion function found: pass or fail, a score in [0, 1], and why."""

    passed: bool
    detail: str
    score: float | None = None

    @property
    def value(self) -> float:
        if self.score is not None:
            return self.score
        return 1.0 if self.passed else 0.0


@dataclass(frozen=True)
class CriterionResult:
    id: str
    kind: str
    passed: bool
    score: float
    weight: float
    feedback: str
    detail: str
    visible: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CaseGrade:
    """The grade of one model output (one test case) against a rubric."""

    score: float
    passed: bool
    criteria: tuple[CriterionResult, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {
            "score": self.score,
            "passed": self.passed,
            "criteria": [c.to_dict() for c in self.criteria],
        }


@dataclass(frozen=True)
class Grade:
    """The grade of a whole attempt: every test case, aggregated."""

    score: float
    passed: bool
    cases: tuple[CaseGrade, ...] = field(default_factory=tuple)
