"""Calibration: how far one judge criterion's verdicts agree with instructors' labels.

A label is an output with what an instructor says of it: `met`, the criterion should pass
on it. The judge's outcome on it is "passed", "failed" or "needs_review"; a needs-review
is not a pass (the learner waits for a person), so on a labelled-met output it counts as a
miss, and on a not-met one as right. Measured over a set of labels:

- accuracy: the share of outputs on which the judge's pass agrees with the label;
- Cohen's kappa: that agreement beyond what chance gives (a judge that fails everything is
  right on every not-met label, and its kappa is 0);
- false-pass rate: the share of not-met labels the judge passed, the error that gives a
  learner a grade they did not earn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from graders.context import Case, Submission
from graders.engine import grade_case
from graders.judge import Judge
from graders.results import NEEDS_REVIEW, OK, CriterionResult
from graders.rubric import Criterion, Rubric, load_rubric

PASSED, FAILED = "passed", "failed"
OUTCOMES = (PASSED, FAILED, NEEDS_REVIEW)


def rate(part: int, whole: int) -> float | None:
    """Return part / whole, None when whole is 0 (a rate of nothing is no rate)."""
    return part / whole if whole else None


def accuracy(pairs: Iterable[tuple[bool, bool]]) -> float | None:
    """Return the share of pairs of verdicts that agree, None when there are none."""
    pairs = list(pairs)
    return rate(sum(a == b for a, b in pairs), len(pairs))


def cohen_kappa(pairs: Iterable[tuple[bool, bool]]) -> float | None:
    """Return Cohen's kappa of two raters' yes/no verdicts on the same items: agreement
    beyond what chance gives, (observed - chance) / (1 - chance).

    None when it is undefined: no pairs, or both raters put every item in the same class
    (chance agreement is then 1, and so is the observed one: a set of labels of one class
    cannot tell a judge from a constant answer).

    Two raters on 50 items, 20 yes/yes, 5 yes/no, 10 no/yes and 15 no/no: observed
    35/50 = 0.7, chance 0.5 × 0.6 + 0.5 × 0.4 = 0.5, kappa (0.7 - 0.5) / 0.5 = 0.4.

    >>> pairs = [(1, 1)] * 20 + [(1, 0)] * 5 + [(0, 1)] * 10 + [(0, 0)] * 15
    >>> round(cohen_kappa([(bool(a), bool(b)) for a, b in pairs]), 6)
    0.4
    >>> cohen_kappa([(True, True)] * 3) is None
    True
    >>> cohen_kappa([(True, False)] * 3)
    0.0
    """
    pairs = list(pairs)
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    first_yes = sum(a for a, _ in pairs) / n
    second_yes = sum(b for _, b in pairs) / n
    chance = first_yes * second_yes + (1 - first_yes) * (1 - second_yes)
    if chance >= 1:
        return None
    return (observed - chance) / (1 - chance)


@dataclass(frozen=True)
class Calibration:
    """The figures of one judge criterion on a set of labels (None: undefined, see above)."""

    n: int
    met: int  # labels that say the criterion should pass
    accuracy: float | None
    kappa: float | None
    false_passes: int  # not-met labels the judge passed
    needs_review: int  # outputs the judge sent to a person, of either label

    @property
    def false_pass_rate(self) -> float | None:
        return rate(self.false_passes, self.n - self.met)


def measure(pairs: Iterable[tuple[bool, str]]) -> Calibration:
    """Return the figures of (label met, judge outcome) pairs.

    Ten labels, five met: the judge passes four of those and sends one to review, and
    passes one of the five not met. Accuracy 8/10; kappa: chance is 0.5 × 0.5 + 0.5 × 0.5,
    so (0.8 - 0.5) / 0.5 = 0.6; false-pass rate 1/5.

    >>> pairs = [(True, PASSED)] * 4 + [(True, NEEDS_REVIEW)]
    >>> pairs += [(False, PASSED)] + [(False, FAILED)] * 4
    >>> c = measure(pairs)
    >>> c.n, c.accuracy, round(c.kappa, 6), c.false_pass_rate, c.needs_review
    (10, 0.8, 0.6, 0.2, 1)
    """
    pairs = list(pairs)
    for _, outcome in pairs:
        if outcome not in OUTCOMES:
            raise ValueError(f"an outcome is one of {', '.join(OUTCOMES)}, not {outcome!r}")
    verdicts = [(met, outcome == PASSED) for met, outcome in pairs]
    return Calibration(
        n=len(pairs),
        met=sum(met for met, _ in pairs),
        accuracy=accuracy(verdicts),
        kappa=cohen_kappa(verdicts),
        false_passes=sum(passed and not met for met, passed in verdicts),
        needs_review=sum(outcome == NEEDS_REVIEW for _, outcome in pairs),
    )


@dataclass(frozen=True)
class Thresholds:
    """What a judge must reach for `calibrate_judge --check` (docs/calibration.md)."""

    min_accuracy: float = 0.9
    max_false_pass_rate: float = 0.02
    min_kappa: float = 0.8


class Figures(Protocol):
    """What shortfalls reads: a Calibration, or what keeps its figures (a calibration row)."""

    @property
    def n(self) -> int: ...
    @property
    def accuracy(self) -> float | None: ...
    @property
    def kappa(self) -> float | None: ...
    @property
    def false_pass_rate(self) -> float | None: ...


def shortfalls(calibration: Figures, thresholds: Thresholds = Thresholds()) -> list[str]:
    """Return what the figures fall short of, one sentence each; [] when they pass.

    An undefined figure falls short: no labels at all, no not-met labels (a false-pass rate
    needs some), or labels of one class only (kappa needs both).

    >>> shortfalls(measure([(True, PASSED), (False, PASSED)]))
    ['accuracy 50% is below 90%', 'false-pass rate 100% is above 2%', 'kappa 0.00 is below 0.80']
    """
    c, t = calibration, thresholds
    if not c.n:
        return ["there are no labelled outputs"]
    found = []
    if c.accuracy is not None and c.accuracy < t.min_accuracy:
        found.append(f"accuracy {c.accuracy:.0%} is below {t.min_accuracy:.0%}")
    false_pass = c.false_pass_rate
    if false_pass is None:
        found.append("no output is labelled not met, so no false-pass rate can be measured")
    elif false_pass > t.max_false_pass_rate:
        found.append(f"false-pass rate {false_pass:.0%} is above {t.max_false_pass_rate:.0%}")
    if c.kappa is None:
        found.append("every label is of one class, so kappa is undefined: label both kinds")
    elif c.kappa < t.min_kappa:
        found.append(f"kappa {c.kappa:.2f} is below {t.min_kappa:.2f}")
    return found


@dataclass(frozen=True)
class Label:
    """An output labelled for one judge criterion, with the test case values it needs;
    `prefill` as the model received it (a with_prefill criterion grades it before the
    output). `source` says where the label comes from, for the report."""

    output: str
    met: bool
    expected: Mapping[str, Any] = field(default_factory=dict)
    reference: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)
    prefill: str = ""
    note: str = ""
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "met": self.met,
            "expected": dict(self.expected),
            "reference": self.reference,
            "variables": dict(self.variables),
            "prefill": self.prefill,
            "note": self.note,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "") -> Label:
        """Return the label of a `labelled` entry of an llm_judge, or of to_dict()."""
        return cls(
            output=data["output"],
            met=data["met"],
            expected=data.get("expected", {}),
            reference=data.get("reference", ""),
            variables=data.get("variables", {}),
            prefill=data.get("prefill", ""),
            note=data.get("note", ""),
            source=data.get("source", source),
        )


def labelled(criterion: Criterion) -> list[Label]:
    """Return the labels a judge criterion carries in its `labelled` param."""
    return [
        Label.from_dict(entry, source=f"labelled[{i}]")
        for i, entry in enumerate(criterion.params.get("labelled", ()))
    ]


def alone(definition: Mapping[str, Any]) -> Rubric:
    """Return a rubric of one criterion (Criterion.to_dict()) alone, without its `requires`:
    calibration measures the judge, so it is asked of every label, whatever cheaper criteria
    would say of it."""
    data = {**definition, "params": dict(definition["params"]), "weight": 1}
    data["params"].pop("requires", None)
    return load_rubric({"pass_threshold": 1.0, "criteria": [data]})


def outcome(result: CriterionResult) -> str:
    """Return how a criterion result counts in calibration: only an "ok" pass is a pass."""
    if result.status == NEEDS_REVIEW:
        return NEEDS_REVIEW
    return PASSED if result.passed and result.status == OK else FAILED


def judge_label(rubric: Rubric, label: Label, judge: Judge | None) -> CriterionResult:
    """Return what the rubric's one criterion (alone()) finds of a labelled output."""
    case = Case(
        name="label", variables=label.variables, reference=label.reference, expected=label.expected
    )
    prefill = {"prefill": label.prefill} if label.prefill else {}
    submission = Submission(fields=prefill, rendered_fields=prefill)
    return grade_case(rubric, label.output, case, submission, judge=judge).criteria[0]
