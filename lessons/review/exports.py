"""A cohort's CSV exports: its gradebook, and every run of its learners' attempts. Both are
generators of rows read in chunks, so a large cohort is never in memory at once."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.text import slugify

from lessons.review.cohorts import deadlines_of, is_late
from lessons.review.decisions import effective_score
from lessons.review.gradebook import exercises_of, members, tried, ungraded
from lessons.review.models import AuditEntry, Cohort, Decision, Override
from sandbox.models import Attempt, Run

LEARNERS_PER_CHUNK = 500
ATTEMPTS_PER_CHUNK = 200
# What a spreadsheet would read as the start of a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A separator a spreadsheet may split an unquoted line at (";" in many locales, a tab),
# followed by a formula start: the cell it would begin.
SEPARATED_FORMULA = re.compile(r"([;\t])(?=[=+\-@\t\r])")

ATTEMPT_HEADER = [
    "learner",
    "exercise",
    "attempt",
    "submitted at",
    "late",
    "status",
    "graded score %",
    "override score %",
    "override reason",
    "final score %",
    "passed",
    "case",
    "sample",
    "run score %",
    "run passed",
    "criteria",
    "decisions",
    "audit",
    "error",  # last, so that the columns before it keep the places they had
]


class Echo:
    """A file that hands back what is written to it, so csv.writer returns each line."""

    def write(self, value: str) -> str:
        return value


def cell(value: Any) -> Any:
    """Return a value as a CSV cell: blank for None, yes/no for booleans, and text that a
    spreadsheet would run as a formula behind an apostrophe, at its start or after a
    separator it may split the line at (OWASP's CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    text = SEPARATED_FORMULA.sub(r"\1'", str(value))
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def lines(rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """Return the CSV lines of rows, one at a time."""
    writer = csv.writer(Echo())
    for row in rows:
        yield writer.writerow([cell(value) for value in row])


def percent(score: float | None) -> float | None:
    return None if score is None else round(score * 100, 1)


def filename(cohort: Cohort, kind: str, day: date) -> str:
    cohort_slug = slugify(cohort.name) or "cohort"
    return f"{cohort.course.slug}-{cohort_slug}-{kind}-{day.isoformat()}.csv"


def gradebook_rows(cohort: Cohort) -> Iterator[list[Any]]:
    """Yield the gradebook as rows, a header first: one row per member with their best score
    per exercise (blank: no graded attempt), total, passes, how many attempts have an
    override, and last the exercises of theirs with no graded attempt that are in progress or
    stuck on errors (the blank score columns stay numbers). Members come in chunks by
    username, each with its Progress rows and ungraded attempts (three queries a chunk)."""
    exercises = exercises_of(cohort.course_id)
    ids = [e.id for e in exercises]
    names = {e.id: f"{e.lesson.title} / {e.title}" for e in exercises}
    yield [
        "username",
        "name",
        "email",
        *(f"{names[i]} %" for i in ids),
        "total %",
        "passed",
        "overrides",
        "in progress",
        "errors only",
    ]
    overridden = (
        Override.objects.filter(
            attempt__learner=OuterRef("pk"),
            attempt__exercise_id__in=ids,
            attempt__is_reference=False,
        )
        .order_by()
        .values("attempt__learner")
        .annotate(count=Count("id"))
        .values("count")
    )
    learners: QuerySet[Any] = (
        members(cohort, ids)
        .annotate(
            overrides=Coalesce(Subquery(overridden[:1], output_field=IntegerField()), Value(0))
        )
        .order_by("username")
    )
    after = None
    while True:
        chunk = list(
            (learners.filter(username__gt=after) if after else learners)[:LEARNERS_PER_CHUNK]
        )
        if not chunk:
            return
        best = {
            (learner_id, exercise_id): score
            for learner_id, exercise_id, score in tried(ids)
            .filter(learner_id__in=[learner.pk for learner in chunk])
            .values_list("learner_id", "exercise_id", "best_score")
        }
        waiting = ungraded([learner.pk for learner in chunk], ids)
        for learner in chunk:
            mine = [(i, *waiting[(learner.pk, i)]) for i in ids if (learner.pk, i) in waiting]
            yield [
                learner.username,
                learner.get_full_name(),
                learner.email,
                *(percent(best.get((learner.pk, i))) for i in ids),
                percent(learner.score_sum / len(ids)) if ids else None,
                learner.passed_count,
                learner.overrides,
                "; ".join(names[i] for i, pending, _ in mine if pending),
                "; ".join(names[i] for i, pending, errors in mine if errors and not pending),
            ]
        after = chunk[-1].username


def criteria_text(criteria: Iterable[dict]) -> str:
    """Return a run's criterion results as "id=passed; id=needs_review; …"."""
    parts = []
    for result in criteria:
        status = result.get("status", "ok")
        state = ("passed" if result.get("passed") else "failed") if status == "ok" else status
        if result.get("suspected_injection"):
            state += " (suspected injection)"
        parts.append(f"{result.get('id')}={state}")
    return "; ".join(parts)


def _who(user) -> str:
    return user.username if user else "deleted user"


def decisions_text(decisions: Iterable[Decision]) -> str:
    return "; ".join(
        f"{d.criterion_id}: {'met' if d.met else 'not met'} (by {_who(d.decided_by)})"
        + (f": {d.note}" if d.note else "")
        for d in decisions
    )


def audit_text(entries: Iterable[AuditEntry]) -> str:
    return "; ".join(
        f"{e.summary} (by {_who(e.actor)}, {e.created_at.isoformat()})"
        + (f": {e.note}" if e.note else "")
        for e in entries
    )


def cohort_attempts(cohort: Cohort):
    """Return the attempts of the cohort's members on the course's exercises (drafts and
    archived ones too: this is the record), with what the CSV reads of them."""
    return (
        Attempt.objects.by_learners()
        .filter(exercise__lesson__course_id=cohort.course_id, learner__memberships__cohort=cohort)
        .select_related("learner", "exercise", "override")
        .only(
            "id",
            "created_at",
            "status",
            "error_code",
            "error",
            "score",
            "passed",
            "learner__username",
            "exercise__title",
            "override__score",
            "override__passed",
            "override__reason",
        )
        .prefetch_related(
            Prefetch(
                "runs",
                Run.objects.only(
                    "id",
                    "attempt_id",
                    "position",
                    "case_name",
                    "sample",
                    "score",
                    "passed",
                    "criteria",
                ),
            ),
            Prefetch("runs__decisions", Decision.objects.select_related("decided_by")),
            Prefetch("audit", AuditEntry.objects.select_related("actor")),
        )
        .order_by(
            "learner__username",
            "exercise__lesson__position",
            "exercise__lesson_id",
            "exercise__position",
            "exercise_id",
            "created_at",
            "id",
        )
    )


def error_text(attempt: Attempt) -> str | None:
    """Return why an attempt ended in error, "code: reason"; None for one that did not."""
    if attempt.status != Attempt.ERROR:
        return None
    return f"{attempt.error_code or 'error'}: {attempt.error}"


def attempt_rows(cohort: Cohort) -> Iterator[list[Any]]:
    """Yield every run of the cohort's attempts as a row, a header first; an attempt without
    runs (queued, or failed before any) is one row with the run's cells blank. Attempts come
    ATTEMPTS_PER_CHUNK at a time, with their runs, decisions and audit (four queries a chunk)."""
    yield ATTEMPT_HEADER
    deadlines = deadlines_of(cohort)
    for attempt in cohort_attempts(cohort).iterator(chunk_size=ATTEMPTS_PER_CHUNK):
        override = getattr(attempt, "override", None)
        final_passed = override.passed if override else attempt.passed
        head = [
            attempt.learner.username,
            attempt.exercise.title,
            str(attempt.id),
            attempt.created_at.isoformat(),
            is_late(attempt.created_at, deadlines.get(attempt.exercise_id)),
            attempt.status,
            percent(attempt.score),
            percent(override.score) if override else None,
            override.reason if override else None,
            percent(effective_score(attempt)),
            final_passed,
        ]
        audit = audit_text(attempt.audit.all())
        error = error_text(attempt)
        runs = list(attempt.runs.all())
        if not runs:
            yield [*head, None, None, None, None, "", "", audit, error]
        for run in runs:
            yield [
                *head,
                run.case_name,
                run.sample,
                percent(run.score),
                run.passed,
                criteria_text(run.criteria),
                decisions_text(run.decisions.all()),
                audit,
                error,
            ]
