"""What grading returns: plain dataclasses that turn into JSON for storage."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# How far a criterion got. Only "ok" results can pass; the others always count as not passed.
OK = "ok"
UNAVAILABLE = "unavailable"  # the tool it needs is missing (no judge, no embedding model)
NEEDS_REVIEW = "needs_review"  # the judge answered badly or not at all: a person must look
ERROR = "error"  # the test case lacks what the criterion refers to
STATUSES = (OK, UNAVAILABLE, NEEDS_REVIEW, ERROR)

# Per test case visibility of feedback, as in Moodle CodeRunner.
VISIBILITY = ("show", "hide", "hide_if_fail", "hide_if_pass")


def feedback_visible(visibility: str, passed: bool) -> bool:
    """Return whether a learner may see a test case's feedback.

    >>> feedback_visible("hide_if_pass", passed=False)
    True
    """
    if visibility not in VISIBILITY:
        raise ValueError(f"visibility must be one of {', '.join(VISIBILITY)}, not {visibility!r}")
    return (
        visibility == "show"
        or (visibility == "hide_if_fail" and passed)
        or (visibility == "hide_if_pass" and not passed)
    )


@dataclass(slots=True)
class Check:
    """What one criterion function found: pass or fail, a score in [0, 1], and why."""

    passed: bool
    detail: str
    score: float | None = None
    status: str = OK
    suspected_injection: bool = False

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
    status: str = OK
    suspected_injection: bool = False
    # For a criterion that calls a model: what its verdict was computed from (see
    # graders.reuse), so a later grading of the same output may reuse it. "" otherwise.
    fingerprint: str = ""
    # The detail as graded, when `detail` hides the case's reference answer in it: learners
    # read `detail`, instructors this. "" when nothing was hidden.
    rationale: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CriterionResult:
        """Return the result that to_dict() stored; fields it lacks (older data) get their
        defaults, keys it does not know are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def build(
        cls,
        id: str,
        kind: str,
        passed: bool,
        score: float,
        weight: float,
        feedback: str,
        detail: str,
        visible: bool,
        status: str,
        suspected_injection: bool,
        fingerprint: str = "",
        rationale: str = "",
    ) -> CriterionResult:
        """Return the same result as the constructor, five times faster.

        A frozen dataclass's __init__ sets each field through object.__setattr__; grading
        builds one result per criterion per output, so this fills the instance dict at once.
        Every field but the fingerprint and rationale must be passed, in declaration order.
        """
        result = object.__new__(cls)
        result.__dict__.update(
            id=id,
            kind=kind,
            passed=passed,
            score=score,
            weight=weight,
            feedback=feedback,
            detail=detail,
            visible=visible,
            status=status,
            suspected_injection=suspected_injection,
            fingerprint=fingerprint,
            rationale=rationale,
        )
        return result


@dataclass(frozen=True)
class Decision:
    """A person's verdict on one criterion for one output (an instructor reviewing it): it
    stands for what the criterion would have found, in every grading of that output. (Their
    note stays with the instructors, in the review's audit trail.)"""

    met: bool

    @property
    def detail(self) -> str:
        return f"An instructor reviewed this: {'met' if self.met else 'not met'}."


def worst_status(statuses: Iterable[str]) -> str:
    """Return the status that needs the most attention: needs_review, error, unavailable, ok."""
    present = set(statuses)
    for status in (NEEDS_REVIEW, ERROR, UNAVAILABLE):
        if status in present:
            return status
    return OK


@dataclass(frozen=True)
class CaseGrade:
    """The grade of one model output against a rubric, or of one test case's samples.

    A case graded on several samples (scoring.score_case) keeps the criteria of its worst
    sample, and every sample's own grade, in order, in `samples`.
    """

    score: float
    passed: bool
    criteria: tuple[CriterionResult, ...] = field(default_factory=tuple)
    status: str = OK
    suspected_injection: bool = False
    samples: tuple[CaseGrade, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "score": self.score,
            "passed": self.passed,
            "status": self.status,
            "suspected_injection": self.suspected_injection,
            "criteria": [c.to_dict() for c in self.criteria],
        }
        if self.samples:
            data["samples"] = [s.to_dict() for s in self.samples]
        return data


@dataclass(frozen=True)
class Grade:
    """The grade of a whole attempt: every test case, aggregated."""

    score: float
    passed: bool
    cases: tuple[CaseGrade, ...] = field(default_factory=tuple)
    status: str = OK
    suspected_injection: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "passed": self.passed,
            "status": self.status,
            "suspected_injection": self.suspected_injection,
            "cases": [c.to_dict() for c in self.cases],
        }
