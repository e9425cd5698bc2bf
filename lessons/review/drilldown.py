"""One learner's attempts on one exercise, newest first, each with its diff to the attempt
before it: what an instructor's drill-down and the learner's own progress page show. The
learner's view keeps to what learners may see (hidden runs as pass or fail only, visible
criteria only, a decision as its result only). A fixed number of queries per page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from graders.results import NEEDS_REVIEW
from lessons.models import Exercise
from lessons.results import result_rows
from lessons.review.cohorts import is_late
from lessons.review.decisions import decidable
from lessons.review.diffs import FieldChange, TextDiff, changes, side_by_side
from lessons.review.models import AuditEntry, Decision
from sandbox.models import Attempt, Run, UsageRecord

PAGE_SIZE = 20

STATUS_LABELS = {
    "needs_review": "needs review",
    "unavailable": "unavailable",
    "error": "error",
}


@dataclass(frozen=True)
class CriterionView:
    id: str
    kind: str
    passed: bool
    status: str  # "passed", "failed", "needs review", "unavailable", "error"
    score: float | None
    feedback: str
    detail: str
    # The instructor's view only:
    decision: Decision | None = None
    decidable: bool = False  # a judge's criterion, or one waiting for review
    waiting: bool = False  # in the review queue: no decision yet

    @property
    def score_percent(self) -> int | None:
        return None if self.score is None else round(self.score * 100)


@dataclass
class SampleView:
    """A run with the criteria its viewer may see; lessons.results.result_rows groups these
    by case."""

    run: Run
    criteria: list[CriterionView]

    @property
    def case_name(self) -> str:
        return self.run.case_name

    @property
    def passed(self) -> bool | None:
        return self.run.passed

    @property
    def hidden(self) -> bool:
        return self.run.hidden

    @property
    def error(self) -> str:
        return self.run.error

    @property
    def waiting(self) -> bool:
        return any(c.waiting for c in self.criteria)

    @property
    def decided(self) -> bool:
        return any(c.decision for c in self.criteria)


@dataclass(frozen=True)
class OutputChange:
    label: str
    diff: TextDiff | None  # None: the same output as before


@dataclass
class AttemptView:
    attempt: Attempt
    number: int  # 1 for the learner's first attempt on the exercise
    prompt: list[tuple[str, str, bool]]  # (label, text, editable by the learner)
    cases: list[dict]  # lessons.results.result_rows of SampleViews
    previous: Attempt | None
    prompt_changes: list[FieldChange] = field(default_factory=list)
    output_changes: list[OutputChange] = field(default_factory=list)
    # The instructor's view only:
    late: bool = False
    received: list[dict] = field(default_factory=list)  # Run.messages of the first run
    received_case: str = ""
    usage: Mapping[str, Any] | None = None
    audit: Sequence[AuditEntry] = ()

    @property
    def label(self) -> str:
        return f"Attempt {self.number}"

    @property
    def previous_label(self) -> str:
        return f"Attempt {self.number - 1}"

    @property
    def override(self):
        return getattr(self.attempt, "override", None)

    @property
    def outputs_changed(self) -> bool:
        return any(c.diff for c in self.output_changes)


@dataclass
class History:
    attempts: list[AttemptView]
    total: int
    page: int
    has_older: bool


def prompt_texts(exercise: Exercise, attempt: Attempt) -> list[tuple[str, str, bool]]:
    """Return the prompt an attempt was written with, as stored: (label, text, whether the
    learner could change it), the empty parts left out."""
    editable = exercise.editable_parts()
    parts = [
        ("System", attempt.system_prompt, "system" in editable),
        ("User", attempt.user_prompt, "user" in editable),
        ("Prefill", attempt.prefill, "prefill" in editable),
    ]
    for index, (role, text) in enumerate(attempt.examples):
        given = exercise.examples[index] if index < len(exercise.examples) else {}
        parts.append((f"Example {index + 1} · {role}", text, bool(given.get("editable"))))
    return [(label, text, can_edit) for label, text, can_edit in parts if text]


def status_of(result: Mapping[str, Any]) -> str:
    status = result.get("status", "ok")
    if status != "ok":
        return STATUS_LABELS.get(status, status)
    return "passed" if result.get("passed") else "failed"


def instructor_criteria(run: Run, rubric_ids: set[str], graded: bool) -> list[CriterionView]:
    decided = {d.criterion_id: d for d in run.decisions.all()}
    views = []
    for result in run.criteria:
        criterion_id = str(result["id"])
        decision = decided.get(criterion_id)
        needs_person = result.get("status") == NEEDS_REVIEW or bool(
            result.get("suspected_injection")
        )
        views.append(
            CriterionView(
                id=criterion_id,
                kind=str(result.get("kind", "")),
                passed=bool(result.get("passed")),
                status=status_of(result),
                score=result.get("score"),
                feedback=str(result.get("feedback", "")),
                detail=str(result.get("rationale") or result.get("detail", "")),
                decision=decision,
                decidable=graded
                and criterion_id in rubric_ids
                and decidable(result, decision is not None),
                waiting=needs_person and decision is None,
            )
        )
    return views


def learner_criteria(run: Run) -> list[CriterionView]:
    """The visible criteria of a run the learner may see; an instructor's decision shows as
    its verdict, not its note."""
    decided = {d.criterion_id: d.met for d in run.decisions.all()}
    views = []
    for result in run.criteria:
        if not result.get("visible", True):
            continue
        criterion_id = str(result["id"])
        detail = str(result.get("detail", ""))
        if criterion_id in decided:
            detail = (
                f"An instructor reviewed this: {'met' if decided[criterion_id] else 'not met'}."
            )
        views.append(
            CriterionView(
                id=criterion_id,
                kind=str(result.get("kind", "")),
                passed=bool(result.get("passed")),
                status=status_of(result),
                score=result.get("score"),
                feedback=str(result.get("feedback", "")),
                detail=detail,
            )
        )
    return views


def run_key(run: Run) -> tuple[object, int]:
    return (run.case_id or run.case_name, run.sample)


def output_changes(
    runs: Sequence[Run], before: Sequence[Run], for_instructor: bool
) -> list[OutputChange]:
    """Return each case's output against the same case's (and sample's) output of the attempt
    before; learners' hidden runs are left out."""
    earlier = {run_key(run): run for run in before}
    sampled = {run.case_name for run in runs if run.sample}
    out = []
    for run in runs:
        old = earlier.get(run_key(run))
        if not for_instructor and (run.hidden or (old is not None and old.hidden)):
            continue
        label = run.case_name + (f" · sample {run.sample + 1}" if run.case_name in sampled else "")
        old_output = old.output if old is not None else ""
        same = old is not None and old_output == run.output
        out.append(OutputChange(label, None if same else side_by_side(old_output, run.output)))
    return out


def changes_since(
    exercise: Exercise, previous: Attempt, attempt: Attempt
) -> tuple[list[FieldChange], list[OutputChange]]:
    """Return what changed since the learner's previous attempt, as the attempt page shows
    it: the prompt part by part, and each case's output (its first sample) the learner sees."""
    before, after = ({k: t for k, t, _ in prompt_texts(exercise, a)} for a in (previous, attempt))
    runs, earlier = ([r for r in a.runs.all() if r.sample == 0] for a in (attempt, previous))
    return changes(before, after), output_changes(runs, earlier, for_instructor=False)


def attempts_of(learner_id: int, exercise: Exercise) -> QuerySet[Attempt]:
    return Attempt.objects.by_learners().filter(learner_id=learner_id, exercise=exercise)


def usage_by_attempt(attempt_ids: Sequence[object]) -> dict[object, dict[str, Any]]:
    """Return {attempt id: tokens, calls and cost} of these attempts, in one grouped query."""
    rows = (
        UsageRecord.objects.filter(attempt_id__in=attempt_ids)
        .values("attempt_id")
        .annotate(
            input_tokens=Coalesce(Sum("input_tokens"), 0),
            output_tokens=Coalesce(Sum("output_tokens"), 0),
            cost_usd=Coalesce(Sum("cost_usd"), Decimal(0)),
            calls=Count("id", filter=Q(cache_hit=False)),
        )
        .order_by()
    )
    return {row["attempt_id"]: row for row in rows}


def history(
    learner_id: int,
    exercise: Exercise,
    page: int,
    *,
    for_instructor: bool,
    due_at: datetime | None = None,
) -> History:
    """Return one page of a learner's attempts on an exercise, newest first, each with its
    diff to the attempt before it (one more attempt is read for the last one's)."""
    attempts = attempts_of(learner_id, exercise)
    total = attempts.count()
    if for_instructor:
        decisions = Decision.objects.select_related("decided_by")
    else:
        decisions = Decision.objects.only("id", "run_id", "criterion_id", "met")
    runs = Run.objects.order_by("position").prefetch_related(Prefetch("decisions", decisions))
    prefetched: list[Prefetch] = [Prefetch("runs", runs)]
    if for_instructor:
        prefetched.append(Prefetch("audit", AuditEntry.objects.select_related("actor")))
    offset = (page - 1) * PAGE_SIZE
    rows = list(
        attempts.select_related("override__by")
        .prefetch_related(*prefetched)
        .order_by("-created_at", "-id")[offset : offset + PAGE_SIZE + 1]
    )
    shown = rows[:PAGE_SIZE]
    usage = usage_by_attempt([a.pk for a in shown]) if for_instructor else {}
    rubric_ids = {c.id for c in exercise.parsed_rubric.criteria}
    views = []
    for index, attempt in enumerate(shown):
        attempt.exercise = exercise
        previous = rows[index + 1] if index + 1 < len(rows) else None
        runs_now = list(attempt.runs.all())
        graded = attempt.status == Attempt.GRADED
        samples = [
            SampleView(
                run,
                instructor_criteria(run, rubric_ids, graded)
                if for_instructor
                else learner_criteria(run),
            )
            for run in runs_now
        ]
        cases = result_rows(samples, exercise)
        for case in cases:
            # Unfolded: what waits for an instructor, and on the newest attempt what failed
            # or was decided.
            case["open"] = any(sample.waiting for sample in case["runs"]) or (
                index == 0
                and (not case["passed"] or any(sample.decided for sample in case["runs"]))
            )
        prompt = prompt_texts(exercise, attempt)
        view = AttemptView(
            attempt=attempt,
            number=total - offset - index,
            prompt=prompt,
            cases=cases,
            previous=previous,
        )
        if previous is not None:
            before = {label: text for label, text, _ in prompt_texts(exercise, previous)}
            view.prompt_changes = changes(before, {label: text for label, text, _ in prompt})
            view.output_changes = output_changes(
                runs_now, list(previous.runs.all()), for_instructor
            )
        if for_instructor:
            view.late = is_late(attempt.created_at, due_at)
            if runs_now:
                view.received = [m for m in runs_now[0].messages if m.get("content")]
                view.received_case = runs_now[0].case_name
            view.usage = usage.get(attempt.pk)
            view.audit = list(attempt.audit.all())
        views.append(view)
    return History(views, total, page, has_older=len(rows) > PAGE_SIZE)
