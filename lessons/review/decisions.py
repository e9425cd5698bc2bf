"""What an instructor does to a learner's grade: decide a criterion of an output (a review
decision, also the label of that output), or override an attempt's score. Each is saved with
an audit entry; a decision regrades the attempt through the one scoring path
(regrading.grade_stored), and either brings the learner's progress up to date."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from lessons.authoring import regrading
from lessons.review import progress
from lessons.review.models import AuditEntry, Decision, Override
from sandbox import calls
from sandbox.calls import CallLog
from sandbox.models import Attempt, Run, UsageRecord


class ReviewError(ValueError):
    """What the instructor asked for cannot be done; the message says why."""


def effective_score(attempt: Attempt) -> float | None:
    override = getattr(attempt, "override", None)
    return override.score if override else attempt.score


def percent(score: float | None) -> str:
    return "–" if score is None else f"{round(score * 100)}%"


def locked_with_override(attempt: Attempt) -> Attempt:
    """Return the attempt with its override, locking its row (not the override's, which may
    not exist: PostgreSQL cannot lock the nullable side of an outer join)."""
    return (
        Attempt.objects.select_for_update(of=("self",))
        .select_related("override")
        .get(pk=attempt.pk)
    )


def decide(run: Run, criterion_id: str, met: bool, note: str, user) -> Decision:
    """Record an instructor's verdict on one criterion of one output, regrade its attempt with
    it, and resolve the review items it answers."""
    attempt = run.attempt
    exercise = attempt.exercise
    if exercise is None or attempt.status != Attempt.GRADED:
        raise ReviewError("Only a graded attempt on an exercise can be reviewed.")
    if criterion_id not in {c.id for c in exercise.parsed_rubric.criteria}:
        raise ReviewError(f"The rubric has no criterion {criterion_id!r} (any more).")
    judge_log: list[CallLog] = []
    with transaction.atomic():
        # One review of an attempt at a time: each regrade reads every decision saved before it.
        before = effective_score(locked_with_override(attempt))
        stored = regrading.by_id(Run.objects.get(pk=run.pk).criteria).get(criterion_id, {})
        decision, created = Decision.objects.get_or_create(
            run_id=run.pk,
            criterion_id=criterion_id,
            defaults={
                "exercise": exercise,
                "met": met,
                "judge_passed": stored.get("passed") if stored.get("status") == "ok" else None,
                "judge_status": stored.get("status", ""),
                "judge_version": str(stored.get("fingerprint", "")).partition(":")[0][:12],
            },
        )
        was = None if created else decision.met
        decision.met, decision.note = met, note.strip()
        decision.decided_by, decision.decided_at = user, timezone.now()
        decision.save()
        locked = (
            Attempt.objects.select_related("override")
            .prefetch_related(regrading.stored_runs())
            .get(pk=attempt.pk)
        )  # read again, with the decision just saved
        deadline = time.monotonic() + settings.ATTEMPT_SOFT_TIME_LIMIT
        grade = regrading.grade_stored(
            exercise, locked, calls.make_judge(exercise, deadline, judge_log)
        )
        regrading.save_regraded(locked, grade)
        if judge_log:
            UsageRecord.objects.bulk_create(UsageRecord.for_calls(user.pk, None, judge_log))
        override = getattr(locked, "override", None)
        after = override.score if override else grade.score
        verdict = "met" if met else "not met"
        changed = "" if was is None or was == met else f" (was {'met' if was else 'not met'})"
        AuditEntry.objects.create(
            attempt_id=attempt.pk,
            actor=user,
            action=AuditEntry.DECISION,
            summary=f"{criterion_id} on {run.case_name}: {verdict}{changed}"[:300],
            note=decision.note,
            score_before=before,
            score_after=after,
        )
    progress.refresh(attempt.learner_id, exercise.pk)
    return decision


def override(attempt: Attempt, score: float, reason: str, user) -> Override:
    """Set an attempt's score (0 to 1) by hand; it passes at the rubric's threshold."""
    if attempt.exercise is None or attempt.status != Attempt.GRADED:
        raise ReviewError("Only a graded attempt on an exercise can have its score set.")
    if not 0 <= score <= 1:
        raise ReviewError("The score must be between 0 and 100%.")
    if not reason.strip():
        raise ReviewError("Give a reason: the learner and other instructors will read it.")
    passed = score >= attempt.exercise.parsed_rubric.pass_threshold
    with transaction.atomic():
        before = effective_score(locked_with_override(attempt))
        row, _ = Override.objects.update_or_create(
            attempt_id=attempt.pk,
            defaults={
                "score": score,
                "passed": passed,
                "reason": reason.strip(),
                "by": user,
                "created_at": timezone.now(),
            },
        )
        AuditEntry.objects.create(
            attempt_id=attempt.pk,
            actor=user,
            action=AuditEntry.OVERRIDE,
            summary=f"score {percent(before)} → {percent(score)}",
            note=row.reason,
            score_before=before,
            score_after=score,
        )
    progress.refresh(attempt.learner_id, attempt.exercise.pk)
    return row


def clear_override(attempt: Attempt, user) -> None:
    """Give an attempt its graded score back."""
    assert attempt.exercise is not None, "overrides are of exercise attempts"
    with transaction.atomic():
        row = Override.objects.select_for_update().filter(attempt_id=attempt.pk).first()
        if row is None:
            raise ReviewError("This attempt's score was not overridden.")
        row.delete()
        AuditEntry.objects.create(
            attempt_id=attempt.pk,
            actor=user,
            action=AuditEntry.OVERRIDE_CLEARED,
            summary=f"score {percent(row.score)} → {percent(attempt.score)} (as graded)",
            score_before=row.score,
            score_after=attempt.score,
        )
    progress.refresh(attempt.learner_id, attempt.exercise.pk)
