"""Exercise health: every published exercise of a course replayed as its publish check runs it,
so an operator sees drift when a provider changes a model (docs/authoring.md, "Exercise
health").

Each exercise has its checks: the reference solution, which should pass, then each known-bad
prompt (`known_bad` in the course format), which should fail. A check is a reference attempt
run here and now on the real pipeline (sandbox.runs.execute): the exercise's configured backend
when it has keys, else its cassette or stub rules; its calls go on the ledger of the instructor
who asked, within their budget, as the publish check's do. A HealthCheck row keeps one report
row per check (exercise, check, expected, got); it runs in the worker as a regrade does
(lessons.authoring.jobs: claimed with a lease, taken up again by the reconciler).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, QuerySet
from django.utils import timezone

from lessons.authoring import jobs, publishing
from lessons.authoring.jobs import Publish
from lessons.models import Course, Exercise, HealthCheck, PromptValues
from sandbox import limits, runs
from sandbox.models import Attempt

log = logging.getLogger(__name__)

PASS, FAIL, ERROR = "pass", "fail", "error"
REFERENCE = "reference solution"


def published(course: Course) -> QuerySet[Exercise]:
    """Return the course's published exercises, in course order: those a health check runs."""
    return Exercise.objects.filter(
        lesson__course=course, lesson__archived=False, status=Exercise.PUBLISHED, archived=False
    ).order_by("lesson__position", "lesson__id", "position", "id")


def checks(exercise: Exercise) -> list[tuple[str, PromptValues, str]]:
    """Return the exercise's checks, in order: (name, prompt, expected result)."""
    bad = [(f"known-bad prompt {n}", p, FAIL) for n, p in enumerate(exercise.known_bad, 1)]
    return [(REFERENCE, exercise.solution or {}, PASS), *bad]


def row(exercise: Exercise, check: str, expected: str, got: str, **extra: Any) -> dict[str, Any]:
    """Return one row of the report; it drifted when what it got is not what was expected."""
    lesson = exercise.lesson
    return {
        "exercise_id": exercise.pk,
        "exercise": f"{lesson.slug}/{exercise.slug}",
        "title": exercise.title,
        "check": check,
        "expected": expected,
        "got": got,
        "score": None,
        "detail": "",
        "drifted": got != expected,
        **extra,
    }


def replay(exercise: Exercise, check: str, prompt: PromptValues, expected: str, user) -> dict:
    """Run one check as a reference attempt, here and now; return its report row."""
    attempt = Attempt.objects.create(
        learner=user, **publishing.reference_attempt_fields(exercise, prompt)
    )
    runs.execute(str(attempt.id))
    attempt.refresh_from_db()
    if attempt.status != Attempt.GRADED:
        return row(exercise, check, expected, ERROR, detail=attempt.error, attempt=str(attempt.id))
    failures = [] if attempt.passed else publishing.reference_failures(attempt, limit=2)
    return row(
        exercise,
        check,
        expected,
        PASS if attempt.passed else FAIL,
        score=attempt.score_percent,
        detail="; ".join(failures),
        attempt=str(attempt.id),
    )


def running(course: Course) -> HealthCheck | None:
    """Return the course's health check under way: queued, or running within its lease (one
    whose worker died waits for the reconciler and blocks nothing)."""
    under_way = course.health_checks.filter(status__in=(HealthCheck.QUEUED, HealthCheck.RUNNING))
    return under_way.exclude(jobs.lease_expired(timezone.now())).first()


def latest(course: Course) -> HealthCheck | None:
    """Return the course's latest health check, saying whether its worker died (`stalled`)."""
    stalled = ExpressionWrapper(jobs.lease_expired(timezone.now()), output_field=BooleanField())
    return course.health_checks.select_related("requested_by").annotate(stalled=stalled).first()


def refusal(course: Course, user) -> str:
    """Return why this instructor may not start a health check of the course now, or ""."""
    if running(course):
        return "A health check of this course is under way; wait for it to finish."
    if not published(course).exists():
        return "This course has no published exercise to check."
    return limits.budget_refusal(user)


def create(course: Course, user) -> HealthCheck:
    """Save a queued health check of the course's published exercises as they are now."""
    ids = list(published(course).values_list("pk", flat=True))
    return HealthCheck.objects.create(
        course=course, requested_by=user, exercise_ids=ids, total=len(ids)
    )


def start(course: Course, user, publish: Publish) -> HealthCheck:
    """Save a health check (create), published once the transaction commits; or return the
    one under way (two clicks at once would replay every exercise twice). One whose worker
    died is stopped: the new one replaces it."""
    with transaction.atomic():
        jobs.one_at_a_time(course)
        under_way = running(course)
        if under_way:
            return under_way
        jobs.replace_stalled(course.health_checks.all(), "health check")
        job = create(course, user)
        jobs.publish_on_commit(publish, job.pk)
    return job


def check_course(course: Course, user) -> HealthCheck:
    """Check the course's exercises here and now; return the finished row. It runs as in the
    worker, here handing over to itself."""
    handed = [create(course, user).pk]
    job_id = handed[0]
    while handed:
        run(handed.pop(), publish=handed.append)
    return HealthCheck.objects.get(pk=job_id)


def run(check_id: int, publish: Publish) -> None:
    """Run every check not run yet, in order, saving each row as it is got.

    A delivery claims the job (jobs.take) and saves each row, renewing its lease, while it
    holds it; an exercise counts as checked once its last check is saved. A delivery that has
    worked half the task's soft time limit (after one check at least), or reaches that limit,
    hands the rest to a fresh message. Over the instructor's budget, it stops with an error
    saying how far it got.
    """
    taken = jobs.take(HealthCheck, check_id)
    if taken is None:
        return
    job, held = taken
    started = time.monotonic()
    rows, done, ran = list(job.rows), job.done, 0
    try:
        while done < job.total:
            exercise_id = job.exercise_ids[done]
            exercise = Exercise.objects.select_related("lesson").filter(pk=exercise_id).first()
            todo = checks(exercise) if exercise else []  # none if deleted since
            got = sum(r["exercise_id"] == exercise_id for r in rows)
            for name, prompt, expected in todo[got:]:
                if ran and time.monotonic() > started + settings.ATTEMPT_SOFT_TIME_LIMIT / 2:
                    jobs.hand_over(held, job.pk, publish)
                    return
                asker = job.requested_by_id  # its account read again: deleted meanwhile?
                user = User.objects.filter(pk=asker).first() if asker else None
                refused = limits.budget_refusal(user) if user else "its instructor was deleted."
                if refused:
                    jobs.stop(held, f"{done} of {job.total} exercises checked, then: {refused}")
                    return
                assert exercise is not None and user is not None
                rows.append(replay(exercise, name, prompt, expected, user))
                ran += 1
                if not held.update(rows=rows, lease_expires_at=jobs.lease_end()):
                    return  # another delivery took it over
            done += 1
            drifted = sum(r["drifted"] for r in rows)
            if not held.update(done=done, drifted=drifted, lease_expires_at=jobs.lease_end()):
                return
    except SoftTimeLimitExceeded:
        jobs.hand_over(held, job.pk, publish)  # the check under way runs again
        return
    except Exception as e:
        log.exception("health check %s failed", check_id)
        jobs.stop(held, str(e) or type(e).__name__)
        return
    held.update(status=HealthCheck.DONE, finished_at=timezone.now())


def reconcile(publish: Publish) -> int:
    """Publish again the health checks a lost message or a dead worker left behind."""
    return jobs.reconcile(HealthCheck, publish)
