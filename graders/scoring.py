"""Score an attempt: every sample of every test case graded, then combined. The one place
where samples become a case grade and cases an attempt grade.

- sample -> case (score_case), by the exercise's SampleRule: the mean of the sample scores,
  passing at the rubric's threshold; or, when n of its k samples must pass (all: n = k,
  pass^k; any: n = 1, pass@k; at_least n), the score n samples reach (the n-th best),
  passing if n samples passed. The case's status is its samples' worst; it needs review if
  any does, and a case that needs review never passes.
- case -> attempt (engine.aggregate): the mean weighted by case weight, passing at the
  threshold (with require_all_cases, only if every case passed); never passed when a case
  needs review.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graders.context import Case, Submission
from graders.engine import aggregate, grade_case, weighted_mean
from graders.judge import Judge
from graders.results import NEEDS_REVIEW, OK, CaseGrade, Decision, Grade, worst_status
from graders.reuse import ModelCriterion, fingerprint, reusable, same_definition
from graders.rubric import Rubric

StoredCriteria = Mapping[str, Mapping[str, Any]]  # CriterionResult.to_dict() by criterion id


@dataclass(frozen=True)
class CaseOutputs:
    """One test case of an attempt: its model outputs, one per sample, and the prompt.

    `previous`, per sample (or empty), holds the stored criterion results of an earlier
    grading of that output, by criterion id, so verdicts that cannot have changed are
    reused rather than asked of the judge again (graders.reuse). `decisions`, per sample (or
    empty), holds instructors' verdicts by criterion id, which stand for the criterion.
    """

    case: Case
    outputs: tuple[str, ...]
    submission: Submission
    previous: tuple[StoredCriteria, ...] = ()
    decisions: tuple[Mapping[str, Decision], ...] = ()


SAMPLE_RULES = ("mean", "all", "at_least", "any")


class SampleRuleError(ValueError):
    """A sample rule that cannot apply. `field` is "sample_rule" or "samples_needed", the
    names an exercise (and its course file) gives the rule's kind and n."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message, self.field = message, field


@dataclass(frozen=True)
class SampleRule:
    """How the k samples of a test case make its grade: "mean", "all" (pass^k), "at_least"
    `needed` of k, or "any" (pass@k)."""

    kind: str = "mean"
    needed: int = 0  # at_least only

    def check(self, samples: int) -> None:
        """Raise SampleRuleError unless this rule applies to `samples` runs per test case."""
        if self.kind not in SAMPLE_RULES:
            message = f"must be one of {', '.join(SAMPLE_RULES)}, not {self.kind!r}"
            raise SampleRuleError(message, "sample_rule")
        if self.kind != "at_least" and self.needed:
            raise SampleRuleError("is for sample_rule at_least only", "samples_needed")
        if self.kind == "at_least" and not 1 <= self.needed <= samples:
            message = f"must be from 1 to {samples} (the samples per case), not {self.needed}"
            raise SampleRuleError(message, "samples_needed")

    def must_pass(self, samples: int) -> int | None:
        """Return how many of `samples` must pass (None: the mean score decides)."""
        return {"all": samples, "any": 1, "at_least": self.needed}.get(self.kind)

    def describe(self, samples: int) -> str:
        """Say what a case of `samples` needs, beside "passes 3 of 5": "needs 4 of 5"."""
        if self.kind == "mean":
            return "the mean score decides"
        if self.kind == "all":
            return f"all {samples} must pass"
        if self.kind == "any":
            return f"any 1 of {samples}"
        return f"needs {self.needed} of {samples}"


MEAN = SampleRule()

Sample = tuple[CaseOutputs, int]
Mapper = Callable[[Callable[[Sample], CaseGrade], Iterable[Sample]], Iterable[CaseGrade]]


def score_case(
    rubric: Rubric, samples: Sequence[CaseGrade], *, sample_rule: SampleRule = MEAN
) -> CaseGrade:
    """Return one test case's grade from the grades of its samples, in order, by the rule.
    A sample the rule needs and the case lacks (fewer runs than n) counts as failed, at 0."""
    if not samples:
        raise ValueError("a test case needs at least one sample")
    status = worst_status(s.status for s in samples)
    needed = sample_rule.must_pass(len(samples))
    if needed is None:
        score = weighted_mean((s.score, 1.0) for s in samples)
        passed = score >= rubric.pass_threshold
    else:
        ranked = sorted((s.score for s in samples), reverse=True)
        score = ranked[needed - 1] if needed <= len(ranked) else 0.0
        passed = sum(s.passed for s in samples) >= needed
    # The first sample that failed with the lowest score: its criteria say what went wrong.
    worst = min(samples, key=lambda s: (s.passed, s.score))
    return CaseGrade(
        score=score,
        passed=passed and status != NEEDS_REVIEW,
        criteria=worst.criteria,
        status=status,
        suspected_injection=any(s.suspected_injection for s in samples),
        samples=tuple(samples),
    )


def grade_attempt(
    rubric: Rubric,
    cases: Sequence[CaseOutputs],
    *,
    sample_rule: SampleRule = MEAN,
    judge: Judge | None = None,
    map: Mapper = builtins.map,
    keep_stored: bool = False,
) -> Grade:
    """Return the grade of an attempt: each output graded by grade_case, each case scored
    from its samples, the attempt from its cases (see the module's docstring).

    Every (case, sample) output is graded through one call of `map(grade, samples)`: pass a
    thread pool's map to run judge calls at once. The result's cases are in `cases` order.
    `keep_stored` goes to grade_case.
    """
    samples: list[Sample] = []
    for case_outputs in cases:
        if not case_outputs.outputs:
            raise ValueError(f"test case {case_outputs.case.name!r} has no output to grade")
        samples.extend((case_outputs, i) for i in range(len(case_outputs.outputs)))

    def grade(sample: Sample) -> CaseGrade:
        case_outputs, index = sample
        previous, decisions = case_outputs.previous, case_outputs.decisions
        return grade_case(
            rubric,
            case_outputs.outputs[index],
            case_outputs.case,
            case_outputs.submission,
            judge=judge,
            previous=previous[index] if index < len(previous) else None,
            decisions=decisions[index] if index < len(decisions) else None,
            keep_stored=keep_stored,
        )

    grades = list(map(grade, samples))
    pairs, at = [], 0
    for case_outputs in cases:
        count = len(case_outputs.outputs)
        case_grade = score_case(rubric, grades[at : at + count], sample_rule=sample_rule)
        pairs.append((case_grade, case_outputs.case.weight))
        at += count
    return aggregate(rubric, pairs)


def reusable_previous(rubric: Rubric, cases: Sequence[CaseOutputs]) -> list[StoredCriteria]:
    """Return, per sample of these cases, its stored results as grading it again would leave
    its model verdicts, for judge_calls_needed to count from: less those grade_case would
    not reuse (their fingerprint, of the definition and of the inputs it reads, has changed:
    an edited test case, prefill or prompt), and with those an instructor decided as the "ok"
    result the decision gives them, whatever was stored (a decision calls no model)."""
    models = rubric.model_criteria

    def holds(criterion_id: str, result: Mapping[str, Any], output: str, on: CaseOutputs) -> bool:
        model = models.get(criterion_id)
        return model is None or reusable(result, fingerprint(model, output, on.case, on.submission))

    def decided(ids: Iterable[str], output: str, on: CaseOutputs) -> dict[str, dict[str, str]]:
        return {
            cid: {
                "status": OK,
                "fingerprint": fingerprint(models[cid], output, on.case, on.submission),
            }
            for cid in ids
            if cid in models
        }

    return [
        {cid: result for cid, result in stored.items() if holds(cid, result, output, on)}
        | decided(on.decisions[sample] if on.decisions else (), output, on)
        for on in cases
        for sample, (output, stored) in enumerate(zip(on.outputs, on.previous, strict=False))
    ]


def judge_calls_needed(rubric: Rubric, previous: Sequence[StoredCriteria]) -> int:
    """Return how many model-calling criteria grading these stored samples again would ask
    a model: one per sample and criterion whose stored verdict cannot be reused (none
    stored, stored without a fingerprint, another definition, or not "ok").

    It assumes the outputs and test cases are those the results were stored for.
    """
    return sum(1 for _ in not_reusable(rubric, previous))


def judge_calls_at_most(rubric: Rubric, previous: Sequence[StoredCriteria]) -> int:
    """Return the most model calls grading these stored samples again can make (what a
    budget may be charged): judge_calls_needed, every judge retrying each bad answer."""
    return sum(model.most_calls for model in not_reusable(rubric, previous))


def not_reusable(rubric: Rubric, previous: Sequence[StoredCriteria]) -> Iterator[ModelCriterion]:
    """Yield, per stored sample, each model-calling criterion whose verdict must be asked."""
    models = rubric.model_criteria
    for stored in previous:
        for criterion_id, model in models.items():
            if not same_definition(stored.get(criterion_id), model):
                yield model
