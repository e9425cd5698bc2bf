"""Each learner's progress on each exercise, and their outputs waiting in the review queue,
rebuilt from their graded attempts by `refresh` whenever those change (graded, regraded,
decided, overridden). `summarize` is the one rule for what a Progress row holds; seed_demo
calls it too."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from graders.results import NEEDS_REVIEW
from lessons.review.models import Progress, ReviewItem
from sandbox.models import Attempt, Run, UsageRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    case_id: int | None
    passed: bool
    failed: frozenset[str]  # the ids of the criteria it did not pass


@dataclass(frozen=True)
class GradedAttempt:
    id: str
    created_at: datetime
    score: float  # the override's, if an instructor set one
    passed: bool
    runs: Sequence[RunResult]


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)


def run_result(case_id: int | None, passed: bool | None, criteria: Iterable[Mapping]) -> RunResult:
    failed = frozenset(str(c["id"]) for c in criteria if not c.get("passed"))
    return RunResult(case_id, bool(passed), failed)


def summarize(attempts: Sequence[GradedAttempt], usage: Usage) -> dict[str, Any]:
    """Return the fields of a learner's Progress on an exercise from their graded attempts,
    oldest first, and the usage of all their attempts on it."""
    first_pass = next((i for i, a in enumerate(attempts) if a.passed), None)
    cases: dict[str, list[int]] = {}
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    for attempt in attempts:
        for run in attempt.runs:
            counts = cases.setdefault(str(run.case_id), [0, 0])
            counts[0] += run.passed
            counts[1] += 1
        if not attempt.passed:
            failed = tuple(sorted(set().union(*(run.failed for run in attempt.runs))))
            group = groups.setdefault(failed, {"criteria": list(failed), "count": 0})
            group["count"] += 1
            group["attempt"] = attempt.id  # the latest, as attempts come oldest first
    return {
        "attempts": len(attempts),
        "best_score": max((a.score for a in attempts), default=None),
        "passed": first_pass is not None,
        "first_try_passed": first_pass == 0,
        "attempts_to_pass": None if first_pass is None else first_pass + 1,
        "first_attempt_at": attempts[0].created_at if attempts else None,
        "last_attempt_at": attempts[-1].created_at if attempts else None,
        "passed_at": None if first_pass is None else attempts[first_pass].created_at,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cost_usd": usage.cost_usd,
        "case_results": cases,
        "failure_groups": sorted(groups.values(), key=lambda g: -g["count"]),
    }


def review_reasons(criteria: Iterable[Mapping]) -> set[tuple[str, str]]:
    """Return the (criterion id, reason) pairs of a run's results that wait for a person."""
    reasons = set()
    for result in criteria:
        if result.get("status") == NEEDS_REVIEW:
            reasons.add((str(result["id"]), ReviewItem.NEEDS_REVIEW))
        if result.get("suspected_injection"):
            reasons.add((str(result["id"]), ReviewItem.INJECTION))
    return reasons


def refresh(learner_id: int, exercise_id: int) -> Progress:
    """Rebuild one learner's Progress on one exercise, and their open review items on it,
    from their graded attempts as they now are (a fixed number of queries)."""
    graded = (
        Attempt.objects.by_learners()
        .filter(learner_id=learner_id, exercise_id=exercise_id, status=Attempt.GRADED)
        .select_related("override")
        .prefetch_related(
            Prefetch("runs", Run.objects.only("id", "attempt_id", "case_id", "passed", "criteria"))
        )
        .order_by("created_at", "id")
    )
    attempts, wanted = [], {}
    for attempt in graded:
        override = getattr(attempt, "override", None)
        runs = list(attempt.runs.all())
        attempts.append(
            GradedAttempt(
                id=str(attempt.id),
                created_at=attempt.created_at,
                score=override.score if override else attempt.score or 0.0,
                passed=override.passed if override else bool(attempt.passed),
                runs=[run_result(r.case_id, r.passed, r.criteria) for r in runs],
            )
        )
        for run in runs:
            for criterion_id, reason in review_reasons(run.criteria):
                wanted[(run.id, criterion_id, reason)] = attempt.id
    spent = UsageRecord.objects.filter(
        attempt__learner_id=learner_id, attempt__exercise_id=exercise_id
    ).aggregate(
        input_tokens=Coalesce(Sum("input_tokens"), 0),
        output_tokens=Coalesce(Sum("output_tokens"), 0),
        cost_usd=Coalesce(Sum("cost_usd"), Decimal(0)),
    )
    open_items = sync_review_items(learner_id, exercise_id, wanted)
    fields = {**summarize(attempts, Usage(**spent)), "needs_review": open_items}
    fields["updated_at"] = timezone.now()
    row = Progress(learner_id=learner_id, exercise_id=exercise_id, **fields)
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


def refresh_after(sender, attempt: Attempt, **kwargs) -> None:
    """On attempt_finished: a learner's graded attempt changes their progress. A failure here
    is logged, never the attempt's: it is saved, and the next refresh rebuilds the row."""
    if attempt.exercise_id and not attempt.is_reference and attempt.status == Attempt.GRADED:
        try:
            refresh(attempt.learner_id, attempt.exercise_id)
        except Exception:
            log.exception("progress of attempt %s not refreshed", attempt.id)
