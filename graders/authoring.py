"""Help for rubric authors: grade a pasted output, and self-test a rubric on its samples."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from graders.context import Case, Submission
from graders.judge import Judge
from graders.results import CaseGrade
from graders.reuse import subtree
from graders.rubric import Rubric, load_rubric
from graders.scoring import CaseOutputs, grade_attempt


def grade_one_output(
    rubric: Rubric, output: str, case: Case, submission: Submission, judge: Judge | None
) -> CaseGrade:
    """Return the grade of an output as the runner would give it: the case of a one-case,
    one-sample attempt."""
    grade = grade_attempt(rubric, [CaseOutputs(case, (output,), submission)], judge=judge)
    return grade.cases[0]


def try_rubric(
    rubric: Rubric | Mapping[str, Any],
    output: str,
    case: Case | None = None,
    submission: Submission | None = None,
    *,
    judge: Judge | None = None,
) -> CaseGrade:
    """Return the grade of a pasted output, without calling any model ("try this rubric").

    The rubric may be a loaded Rubric or its dict form; a bad dict raises RubricError.
    Judge criteria report "unavailable" unless a judge callable is passed.
    """
    loaded = rubric if isinstance(rubric, Rubric) else load_rubric(rubric)
    return grade_one_output(loaded, output, case or Case(), submission or Submission(), judge)


def case_problems(rubric: Rubric, case: Case) -> list[str]:
    """Return what is wrong with the case's expected values for the criteria that read them
    (a pattern RE2 cannot compile, a list where text is wanted), each naming the case; a
    value the case lacks is not a problem here (the rubric may be edited next)."""
    from graders.engine import CRITERIA

    problems = []
    for node in (n for c in rubric.criteria for n in subtree(c)):
        present = tuple(
            name for name in node.case_params if node.params[name]["from_case"] in case.expected
        )
        if present:
            resolved = CRITERIA[node.kind].resolve(node.params, present, case)
            if isinstance(resolved, str):
                problems.append(f"criterion {node.id}: {resolved}")
    return problems


def missing_case_values(rubric: Rubric, case: Case) -> list[tuple[str, str]]:
    """Return (the case's field, what is missing) for each value the rubric reads from the
    case and the case lacks: an expected value a `from_case` names, or the reference a
    similarity kind compares with. Graded, such a criterion fails every attempt on the case
    ("test case 'Kenya' has no expected value 'label'"), or compares with "".

    For an exercise the course files give whole; the editor saves a rubric before its cases.
    """
    from graders.engine import CRITERIA, REFERENCE

    problems = []
    for node in (n for c in rubric.criteria for n in subtree(c)):
        for name in node.case_params:
            key = node.params[name]["from_case"]
            if key == "reference" and key not in case.expected:
                if not case.reference.strip():
                    problems.append(
                        ("reference", f"is empty, and criterion {node.id!r} reads it (from_case)")
                    )
            elif key not in case.expected:
                problems.append(
                    ("expected", f"has no {key!r}, which criterion {node.id!r} reads (from_case)")
                )
        reads_reference = REFERENCE in CRITERIA[node.kind].params
        if reads_reference and node.params["reference"] is None and not case.reference.strip():
            problems.append(
                (
                    "reference",
                    f"is empty, and criterion {node.id!r} ({node.kind}) compares each output "
                    "with it; give the case a reference, or the criterion params.reference",
                )
            )
    return problems


@dataclass(frozen=True)
class SampleResult:
    """How the rubric judged one known-good or known-bad sample."""

    expected: str  # "good" or "bad"
    index: int
    output: str
    grade: CaseGrade

    @property
    def misjudged(self) -> bool:
        return self.grade.passed != (self.expected == "good")

    @property
    def should(self) -> str:
        return "passed" if self.expected == "good" else "failed"

    def describe(self) -> str:
        found = "passed" if self.grade.passed else "failed"
        failing = [c.id for c in self.grade.criteria if not c.passed]
        why = f" (failing: {', '.join(failing)})" if failing and self.expected == "good" else ""
        first_line = self.output.strip().splitlines()[0] if self.output.strip() else ""
        preview = first_line[:50] + ("…" if len(first_line) > 50 else "")
        return (
            f"{self.expected} sample {self.index + 1} ({preview!r}) {found} with score "
            f"{self.grade.score:.2f}, but should have {self.should}{why}"
        )


@dataclass(frozen=True)
class SelfTestReport:
    results: tuple[SampleResult, ...] = field(default_factory=tuple)

    @property
    def misjudged(self) -> tuple[SampleResult, ...]:
        return tuple(r for r in self.results if r.misjudged)

    @property
    def ok(self) -> bool:
        return not self.misjudged

    def messages(self) -> list[str]:
        """Return one sentence per misjudged sample, naming it."""
        return [r.describe() for r in self.misjudged]


def sample_case(sample: str | Mapping[str, Any], case: Case | None) -> tuple[str, Case, str | None]:
    """Return (output, case, prefill) for a sample; mapping samples carry their own case values."""
    base = case or Case(name="sample")
    if isinstance(sample, str):
        return sample, base, None
    sample_case_ = Case(
        name=base.name,
        variables=sample.get("variables", base.variables),
        reference=sample.get("reference", base.reference),
        expected=sample.get("expected", base.expected),
        weight=base.weight,
        visibility=base.visibility,
    )
    return sample["output"], sample_case_, sample.get("prefill")


def self_test(
    rubric: Rubric,
    case: Case | None = None,
    submission: Submission | None = None,
    *,
    judge: Judge | None = None,
    render: Callable[[Case], Submission] | None = None,
) -> SelfTestReport:
    """Return how the rubric judges its samples: every good one must pass, every bad one fail.

    `render`, when given, builds the prompt as the model received it for a sample's own
    variables (a mapping sample with `variables`)."""
    results: list[SampleResult] = []
    submission = submission or Submission()
    for expected in ("good", "bad"):
        for index, sample in enumerate(rubric.samples.get(expected, ())):
            output, sample_case_value, prefill = sample_case(sample, case)
            sample_submission = submission
            if render is not None and isinstance(sample, Mapping) and "variables" in sample:
                sample_submission = render(sample_case_value)
            if prefill is not None:
                # The sample's prefill is the one the model received, as it received it.
                rendered_fields = {
                    **(sample_submission.rendered_fields or sample_submission.fields),
                    "prefill": prefill,
                }
                sample_submission = replace(
                    sample_submission,
                    fields={**sample_submission.fields, "prefill": prefill},
                    rendered_fields=rendered_fields,
                )
            grade = grade_one_output(rubric, output, sample_case_value, sample_submission, judge)
            results.append(SampleResult(expected, index, output, grade))
    return SelfTestReport(tuple(results))
