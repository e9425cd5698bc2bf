"""What an instructor does to a learner's grade: decide a criterion of an output (a review
decision, also the label of that output), or override an attempt's score. Each is saved with
an audit entry; a decision regrades the attempt through the one scoring path
(regrading.grade_stored), and either brings the learner's progress up to date."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from graders.results import NEEDS_REVIEW
from graders.reuse import version
from lessons.authoring import regrading
from lessons.review import progress
from lessons.review.models import AuditEntry, Decision, Override
from sandbox.models import Attempt, Run


class ReviewError(ValueError):
    """What the instructor asked for cannot be done; the message says why."""


def effective_score(attempt: Attempt) -> float | None:
    override = getattr(attempt, "override", None)
    return override.score if override else attempt.score


def judges_changed(exercise, runs: Iterable[Run], decided_id: str) -> bool:
    """Return whether a judge criterion (other than the one being decided) is defined
    otherwise than when these runs' outputs were graded: applying a decision without asking
    a judge would then leave it unavailable."""
    models = {k: v for k, v in exercise.parsed_rubric.model_criteria.items() if k != decided_id}
    for run in runs if models else ():
        stored = regrading.by_id(run.criteria)
        for criterion_id, model in models.items():
            fingerprint = str(stored.get(criterion_id, {}).get("fingerprint", ""))
            if fingerprint.partition(":")[0] != model.definition:
                return True
    return False


def decidable(result: Mapping[str, Any], decided: bool) -> bool:
    """Return whether an instructor may decide a criterion from its stored result on an
    output: a judge's criterion, one waiting for review (the judge could not decide, or a
    suspected injection), or one decided before."""
    return (
        result.get("kind") == "llm_judge"
        or result.get("status") == NEEDS_REVIEW
        or bool(result.get("suspected_injection"))
        or decided
    )


def percent(score: float | None) -> str:
    return "–" if score is None else f"{round(score * 100)}%"


def with_override(lock: bool) -> QuerySet[Attempt]:
    """Return attempts with their override, locking each attempt's row if asked (only its
    row: PostgreSQL cannot lock the nullable side of the outer join to an override that may
    not exist)."""
    attempts = Attempt.objects.select_for_update(of=("self",)) if lock else Attempt.objects.all()
    return attempts.select_related("override")


def decide(run: Run, criterion_id: str, met: bool, note: str, user) -> Decision:
    """Record an instructor's verdict on one criterion of one output, regrade its attempt with
    it, and resolve the review items it answers."""
    attempt = run.attempt
    exercise = attempt.exercise
    if exercise is None or attempt.status != Attempt.GRADED:
        raise ReviewError("Only a graded attempt on an exercise can be reviewed.")
    if criterion_id not in {c.id for c in exercise.parsed_rubric.criteria}:
        raise ReviewError(f"The rubric has no criterion {criterion_id!r} (any more).")
    with transaction.atomic():
        # One review of an attempt at a time: each regrade reads every decision saved before it.
        locked = (
            with_override(lock=True).prefetch_related(regrading.stored_runs()).get(pk=attempt.pk)
        )
        runs = {r.pk: r for r in locked.runs.all()}
        if judges_changed(exercise, runs.values(), criterion_id):
            raise ReviewError(
                "The rubric's judge criteria changed since this attempt was graded: regrade the "
                "exercise first, then decide."
            )
        stored = regrading.by_id(runs[run.pk].criteria).get(criterion_id)
        decided = any(d.criterion_id == criterion_id for d in runs[run.pk].decisions.all())
        if stored is None or not decidable(stored, decided):
            raise ReviewError(
                f"{criterion_id!r} is not for a person to decide on this output: only a judge's "
                "criteria and results waiting for review are."
            )
        before = effective_score(locked)
        decision, created = Decision.objects.get_or_create(
            run_id=run.pk,
            criterion_id=criterion_id,
            defaults={
                "exercise": exercise,
                "met": met,
                "judge_passed": stored.get("passed") if stored.get("status") == "ok" else None,
                "judge_status": stored.get("status", ""),
                "judge_version": version(str(stored.get("fingerprint", ""))),
            },
        )
        was = None if created else decision.met
        decision.met, decision.note = met, note.strip()
        decision.decided_by, decision.decided_at = user, timezone.now()
        decision.save()
        # Read again, with the decision just saved.
        locked = (
            with_override(lock=False).prefetch_related(regrading.stored_runs()).get(pk=attempt.pk)
        )
        # Only the decision changes: every other stored result stands as it was graded (no
        # judge is asked again, whatever it answered then), so nothing is billed.
        grade = regrading.grade_stored(exercise, locked, judge=None, keep_stored=True)
        regrading.save_regraded(locked, grade)
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
        before = effective_score(with_override(lock=True).get(pk=attempt.pk))
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
