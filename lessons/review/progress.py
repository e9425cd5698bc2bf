"""Each learner's progress on each exercise, and their outputs waiting in the review queue,
rebuilt from their graded attempts by `refresh` whenever those change (graded, regraded,
decided, overridden). `summarize` is the one rule for what a Progress row holds; seed_demo
calls it too."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from graders.results import NEEDS_REVIEW
from lessons.review.models import Override, Progress, ReviewItem
from sandbox.models import Attempt, Run, UsageRecord


@dataclass(frozen=True)
class RunResult:
    case_id: int | None
    passed: bool
    failed: frozenset[str]  # the ids of the criteria it failed
    waiting: frozenset[str] = frozenset()  # of those it neither passed nor failed: needs review


@dataclass(frozen=True)
class GradedAttempt:
    id: str
    created_at: datetime
    score: float  # the override's, if an instructor set one
    passed: bool
    runs: Sequence[RunResult]
    overridden: bool = False  # an instructor set its score (and so whether it passed)


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)


def run_result(case_id: int | None, passed: bool | None, criteria: Iterable[Mapping]) -> RunResult:
    criteria = list(criteria)
    waiting = frozenset(str(c["id"]) for c in criteria if c.get("status") == NEEDS_REVIEW)
    failed = frozenset(str(c["id"]) for c in criteria if not c.get("passed")) - waiting
    return RunResult(case_id, bool(passed), failed, waiting)


def summarize(attempts: Sequence[GradedAttempt], usage: Usage) -> dict[str, Any]:
    """Return the fields of a learner's Progress on an exercise from their graded attempts,
    oldest first, and the usage of all their attempts on it."""
    fields = not_tried()
    for attempt in attempts:
        add_attempt(fields, attempt)
    return add_usage(fields, usage)


def not_tried() -> dict[str, Any]:
    return {
        "attempts": 0,
        "best_score": None,
        "passed": False,
        "first_try_passed": False,
        "attempts_to_pass": None,
        "first_attempt_at": None,
        "last_attempt_at": None,
        "passed_at": None,
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": Decimal(0),
        "case_results": {},
        "failure_groups": [],
    }


def add_attempt(fields: dict[str, Any], attempt: GradedAttempt) -> dict[str, Any]:
    """Count one more graded attempt, newer than those `fields` summarize, into them."""
    fields["attempts"] += 1
    best = fields["best_score"]
    fields["best_score"] = attempt.score if best is None else max(best, attempt.score)
    first, last = fields["first_attempt_at"], fields["last_attempt_at"]
    fields["first_attempt_at"] = min(first, attempt.created_at) if first else attempt.created_at
    fields["last_attempt_at"] = max(last, attempt.created_at) if last else attempt.created_at
    if attempt.passed and not fields["passed"]:
        fields["passed"], fields["passed_at"] = True, attempt.created_at
        fields["attempts_to_pass"] = fields["attempts"]
        fields["first_try_passed"] = fields["attempts"] == 1
    for run in attempt.runs:
        if run.waiting and not run.passed:
            continue  # neither passed nor failed until someone decides
        counts = fields["case_results"].setdefault(str(run.case_id), [0, 0])
        counts[0] += run.passed
        counts[1] += 1
    if not attempt.passed:
        # An attempt waiting for a person on some criterion is grouped apart: not failed yet.
        # One that failed no criterion failed by its score: the override's, if it has one.
        failed = sorted(set().union(*(run.failed for run in attempt.runs)))
        waiting = sorted(set().union(*(run.waiting for run in attempt.runs)))
        by_hand = attempt.overridden and not failed and not waiting
        key = (failed, waiting, by_hand)
        groups = fields["failure_groups"]
        same = (g for g in groups if group_key(g) == key)
        group = next(same, None)
        if group is None:
            group = {"criteria": failed, "count": 0, **({"waiting": waiting} if waiting else {})}
            group.update({"overridden": True} if by_hand else {})
            groups.append(group)
        group["count"] += 1
        group["attempt"] = attempt.id  # the latest
        groups.sort(key=lambda g: -g["count"])
    return fields


def group_key(group: Mapping[str, Any]) -> tuple[list[str], list[str], bool]:
    """Return what tells a failure group from another: the criteria failed, those waiting
    for review, and whether an instructor's override failed it (no criterion did)."""
    return group["criteria"], group.get("waiting", []), group.get("overridden", False)


def add_usage(fields: dict[str, Any], usage: Usage) -> dict[str, Any]:
    fields["input_tokens"] += usage.input_tokens
    fields["output_tokens"] += usage.output_tokens
    fields["cost_usd"] += usage.cost_usd
    return fields


def review_reasons(criteria: Iterable[Mapping]) -> set[tuple[str, str]]:
    """Return the (criterion id, reason) pairs of a run's results that wait for a person."""
    reasons = set()
    for result in criteria:
        if result.get("suspected_injection"):
            reasons.add((str(result["id"]), ReviewItem.INJECTION))
        elif result.get("status") == NEEDS_REVIEW:
            reasons.add((str(result["id"]), ReviewItem.NEEDS_REVIEW))
    return reasons


def refresh(learner_id: int, exercise_id: int) -> Progress:
    """Rebuild one learner's Progress on one exercise, and their open review items on it,
    from their graded attempts as they now are (a fixed number of queries).

    The row is locked first (made first if there is none, so that there is one to lock): a
    worker counting a new attempt (record, in that attempt's transaction) either commits
    before this reads the attempts, or waits for it."""
    with transaction.atomic():
        empty = Progress(learner_id=learner_id, exercise_id=exercise_id)
        Progress.objects.bulk_create([empty], ignore_conflicts=True)
        row = locked_row(learner_id, exercise_id) or empty
        graded = (
            Attempt.objects.by_learners()
            .filter(learner_id=learner_id, exercise_id=exercise_id, status=Attempt.GRADED)
            .select_related("override")
            .prefetch_related(Prefetch("runs", Run.objects.only(*RUN_FIELDS)))
            .order_by("created_at", "id")
        )
        attempts, wanted = [], {}
        for attempt in graded:
            attempts.append(graded_attempt(attempt, attempt.runs.all(), override_of(attempt)))
            wanted.update(waiting_for_review(attempt, attempt.runs.all()))
        spent = usage_of(
            UsageRecord.objects.filter(
                attempt__learner_id=learner_id,
                attempt__exercise_id=exercise_id,
                attempt__is_reference=False,
            )
        )
        open_items = sync_review_items(learner_id, exercise_id, wanted)
        fields = {**summarize(attempts, spent), "needs_review": open_items}
        return save(row, fields)


def record(attempt: Attempt, runs: Sequence[Run], usage: Iterable[UsageRecord]) -> Progress:
    """Count a newly graded attempt into its learner's progress from its rows as the worker
    saved them (a learner may have hundreds of attempts: none is read again); of a failed
    one, only what it was billed, as refresh counts it.

    It runs in the transaction that grades the attempt (attempt_saved), which holds the
    row's lock until the grade commits. No row yet means no graded attempt before this one
    (migration 0008 built the rows of earlier ones); if a concurrent first attempt created it
    meanwhile, the insert fails on the unique key and the row is rebuilt instead."""
    assert attempt.exercise_id is not None
    learner_id, exercise_id = attempt.learner_id, attempt.exercise_id
    row = locked_row(learner_id, exercise_id)
    fields = {name: getattr(row, name) for name in not_tried()} if row else not_tried()
    graded = attempt.status == Attempt.GRADED
    if graded:
        add_attempt(fields, graded_attempt(attempt, runs, override=None))  # new: none yet
    spent = list(usage)
    add_usage(
        fields,
        Usage(
            sum(u.input_tokens for u in spent),
            sum(u.output_tokens for u in spent),
            sum((Decimal(u.cost_usd) for u in spent), Decimal(0)),
        ),
    )
    wanted = waiting_for_review(attempt, runs) if graded else {}
    if wanted:
        items = [
            ReviewItem(attempt=attempt, run_id=r, criterion_id=c, reason=why)
            for r, c, why in wanted
        ]
        ReviewItem.objects.bulk_create(items, ignore_conflicts=True)
    fields["needs_review"] = (row.needs_review if row else 0) + len(wanted)
    if row is not None:
        return save(row, fields)
    try:
        with transaction.atomic():  # a savepoint, for the unique key's failure
            return Progress.objects.create(learner_id=learner_id, exercise_id=exercise_id, **fields)
    except IntegrityError:
        return refresh(learner_id, exercise_id)


def locked_row(learner_id: int, exercise_id: int) -> Progress | None:
    """Return the learner's row on the exercise, locked until the transaction ends, or None."""
    rows = Progress.objects.select_for_update().filter(
        learner_id=learner_id, exercise_id=exercise_id
    )
    return next(iter(rows), None)  # one at most: (learner, exercise) is unique


RUN_FIELDS = ("id", "attempt_id", "case_id", "passed", "criteria")


def graded_attempt(
    attempt: Attempt, runs: Iterable[Run], override: Override | None
) -> GradedAttempt:
    """Return what summarize reads of a graded attempt, with its override if any."""
    return GradedAttempt(
        id=str(attempt.id),
        created_at=attempt.created_at,
        score=override.score if override else attempt.score or 0.0,
        passed=override.passed if override else bool(attempt.passed),
        runs=[run_result(run.case_id, run.passed, run.criteria) for run in runs],
        overridden=override is not None,
    )


def override_of(attempt: Attempt) -> Override | None:
    """Return the attempt's override (select_related), or None."""
    return getattr(attempt, "override", None)


def waiting_for_review(attempt: Attempt, runs: Iterable[Run]) -> dict[tuple[int, str, str], Any]:
    """Return {(run id, criterion id, reason): attempt id} of the attempt's results that wait
    for a person."""
    return {
        (run.id, criterion_id, reason): attempt.id
        for run in runs
        for criterion_id, reason in review_reasons(run.criteria)
    }


def usage_of(records) -> Usage:
    return Usage(
        **records.aggregate(
            input_tokens=Coalesce(Sum("input_tokens"), 0),
            output_tokens=Coalesce(Sum("output_tokens"), 0),
            cost_usd=Coalesce(Sum("cost_usd"), Decimal(0)),
        )
    )


def save(row: Progress, fields: dict[str, Any]) -> Progress:
    """Write these fields to the learner's row (created if it is not there)."""
    fields["updated_at"] = timezone.now()
    for name, value in fields.items():
        setattr(row, name, value)
    if row.pk:
        row.save(update_fields=list(fields))
        return row
    Progress.objects.bulk_create(
        [row],
        update_conflicts=True,
        unique_fields=["learner", "exercise"],
        update_fields=list(fields),
    )
    return row


def sync_review_items(
    learner_id: int, exercise_id: int, wanted: Mapping[tuple[int, str, str], Any]
) -> int:
    """Open the review items `wanted` ({(run id, criterion id, reason): attempt id}) that are
    not open yet, resolve the learner's open ones on this exercise that are no longer wanted
    (decided, or regraded away); return how many are open."""
    items = ReviewItem.objects.filter(
        attempt__learner_id=learner_id, attempt__exercise_id=exercise_id
    )
    existing = {
        (run_id, criterion_id, reason): (pk, resolved)
        for pk, run_id, criterion_id, reason, resolved in items.values_list(
            "pk", "run_id", "criterion_id", "reason", "resolved_at"
        )
    }
    stale = [
        pk for key, (pk, resolved) in existing.items() if resolved is None and key not in wanted
    ]
    if stale:
        ReviewItem.objects.filter(pk__in=stale).update(resolved_at=timezone.now())
    reopened = [pk for key, (pk, resolved) in existing.items() if resolved and key in wanted]
    if reopened:
        ReviewItem.objects.filter(pk__in=reopened).update(resolved_at=None)
    new = [
        ReviewItem(attempt_id=attempt_id, run_id=run_id, criterion_id=criterion_id, reason=reason)
        for (run_id, criterion_id, reason), attempt_id in wanted.items()
        if (run_id, criterion_id, reason) not in existing
    ]
    if new:
        ReviewItem.objects.bulk_create(new, ignore_conflicts=True)
    return len(wanted)


def refresh_after(
    sender, attempt: Attempt, runs: Sequence[Run], usage: Sequence[UsageRecord], **kwargs
) -> None:
    """On attempt_saved, in the transaction that grades the attempt: a learner's graded attempt,
    or a failed one that was billed, changes their progress, once (committed with the grade, or
    not at all). A failure here is logged by the sender, never the attempt's; the next refresh
    rebuilds the row."""
    graded = attempt.status == Attempt.GRADED
    if attempt.exercise_id and not attempt.is_reference and (graded or usage):
        record(attempt, runs, usage)
