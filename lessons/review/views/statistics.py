"""The exercise statistics page: how a cohort's learners do on one exercise, read from their
Progress rows (never their attempts), with the failure groups' sample outputs and how often
the judge agreed with instructors' decisions."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

from django.contrib.auth.decorators import login_required
from django.db.models.functions import Substr
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from lessons.models import Exercise
from lessons.review import access
from lessons.review import statistics as stats
from lessons.review.gradebook import ungraded
from lessons.review.models import Cohort, Decision, Membership, Progress
from sandbox.models import Run
from sandbox.views import LearnerRequest

SAMPLE_CHARS = 600
TOP_GROUPS = 10


@dataclass(frozen=True)
class CaseRow:
    name: str
    hidden: bool
    passed: int
    runs: int
    lowest: bool = False  # its pass rate is the lowest, and another case's is higher

    @property
    def rate(self) -> float | None:
        return stats.rate(self.passed, self.runs)

    @property
    def percent(self) -> int | None:
        return stats.as_percent(self.rate)


@dataclass(frozen=True)
class Sample:
    learner_id: int
    username: str
    case_name: str
    hidden: bool  # from the learner
    output: str
    truncated: bool


@dataclass(frozen=True)
class GroupRow:
    group: stats.FailureGroup
    sample: Sample | None


@dataclass(frozen=True)
class JudgeRow:
    criterion_id: str
    text: str
    versions: list[stats.Agreement]


def case_rows(exercise: Exercise, totals: dict[str, tuple[int, int]]) -> list[CaseRow]:
    """Return the exercise's test cases with their runs, the lowest pass rate first (cases
    without runs last), so the case that trips learners tops the table."""
    cases = list(exercise.cases.all())
    rows = [CaseRow(case.name, case.hidden, *totals.get(str(case.pk), (0, 0))) for case in cases]
    known = {str(case.pk) for case in cases}
    gone = [totals[key] for key in totals if key not in known]
    if gone:  # runs of deleted test cases
        passed, runs = map(sum, zip(*gone, strict=True))
        rows.append(CaseRow("Deleted test cases", False, passed, runs))
    rates = {row.rate for row in rows if row.rate is not None}
    if len(rates) > 1:
        rows = [replace(row, lowest=row.rate == min(rates)) for row in rows]
    return sorted(rows, key=lambda row: (row.rate is None, row.rate or 0))


def sample_outputs(attempt_ids: list[str]) -> dict[str, Sample]:
    """Return, by attempt id, each attempt's first failing output (else its first), cut to
    SAMPLE_CHARS; one query for them all."""
    runs = (
        Run.objects.filter(attempt_id__in=attempt_ids)
        .order_by("attempt_id", "position", "sample")
        .values_list(
            "attempt_id",
            "attempt__learner_id",
            "attempt__learner__username",
            "case_name",
            "hidden",
            "passed",
            Substr("output", 1, SAMPLE_CHARS + 1),
        )
    )
    samples: dict[str, Sample] = {}
    failing: set[str] = set()
    for attempt_id, learner_id, username, case_name, hidden, passed, output in runs:
        key = str(attempt_id)
        if key in failing or (key in samples and passed):
            continue
        samples[key] = Sample(
            learner_id,
            username,
            case_name,
            hidden,
            output[:SAMPLE_CHARS],
            len(output) > SAMPLE_CHARS,
        )
        if not passed:
            failing.add(key)
    return samples


def judge_rows(cohort: Cohort, exercise: Exercise, texts: dict[str, str]) -> list[JudgeRow]:
    """Return the judge's agreement with the decisions on this cohort's outputs, for each
    criterion of the rubric that calls a model (one query, none without such criteria)."""
    models = exercise.parsed_rubric.model_criteria
    if not models:
        return []
    labels = defaultdict(list)
    decisions = Decision.objects.filter(
        exercise=exercise,
        criterion_id__in=list(models),
        run__attempt__is_reference=False,
        run__attempt__learner__memberships__cohort=cohort,
    ).values_list("criterion_id", "judge_version", "judge_passed", "met")
    for criterion_id, version, judge_passed, met in decisions:
        labels[criterion_id].append((version, judge_passed, met))
    return [
        JudgeRow(
            criterion_id,
            texts.get(criterion_id, ""),
            stats.agreement(labels[criterion_id], current=model.definition[:12]),
        )
        for criterion_id, model in models.items()
    ]


def stuck_on_errors(cohort: Cohort, exercise: Exercise) -> int:
    """Return how many of the cohort's learners tried the exercise without a graded attempt:
    every attempt of theirs ended in error, none still queued or running (the gradebook's
    "errors only"); one query."""
    members = Membership.objects.filter(cohort=cohort).values("learner_id")
    work = ungraded(members, [exercise.pk]).values()
    return sum(1 for pending, errors in work if errors and not pending)


@login_required
@require_safe
def exercise_stats(request: LearnerRequest, cohort_id: int, exercise_id: int) -> HttpResponse:
    cohort = access.cohort_for_instructor(request.user, cohort_id)
    exercise = access.exercise_of(cohort, exercise_id)
    # The most recent learners first: a failure group's sample is from them on a tie.
    rows = (
        Progress.objects.filter(exercise=exercise, learner__memberships__cohort=cohort)
        .order_by("-last_attempt_at", "learner_id")
        .values_list(*stats.ProgressRow._fields)
    )
    summary = stats.summarize_progress([stats.ProgressRow(*row) for row in rows])
    texts = stats.criterion_texts(exercise.parsed_rubric)
    top = summary.failure_groups[:TOP_GROUPS]
    samples = sample_outputs([group.attempt for group in top]) if top else {}
    context = {
        "cohort": cohort,
        "course": cohort.course,
        "exercise": exercise,
        "members": Membership.objects.filter(cohort=cohort).count(),
        "summary": summary,
        "stuck": stuck_on_errors(cohort, exercise),
        "tokens_in": f"{summary.input_tokens:,}",
        "tokens_out": f"{summary.output_tokens:,}",
        "chart": stats.histogram_chart(summary.histogram),
        "cases": case_rows(exercise, summary.cases),
        "most_failed": [
            (criterion_id, texts.get(criterion_id, ""), count)
            for criterion_id, count in stats.criteria_most_failed(summary.failure_groups)
        ],
        "groups": [GroupRow(group, samples.get(group.attempt)) for group in top],
        "more_groups": len(summary.failure_groups) - len(top),
        "waiting": stats.criteria_waiting(summary.waiting_groups),
        "judges": judge_rows(cohort, exercise, texts),
    }
    return render(request, "lessons/review/stats.html", context)
