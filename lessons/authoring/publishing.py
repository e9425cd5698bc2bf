"""Publish checks: the reference solution, run on the real pipeline, decides whether an exercise
may be published, and whether a published one still passes after an edit.

A check is saved with its reference attempt in the transaction that starts it (the instructor's
Publish, or any edit of a published exercise); the worker's attempt_finished signal decides it,
and the lessons reconciler decides any whose signal was lost. Nothing waits on an open page.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

import graders
from lessons.authoring import jobs
from lessons.authoring.editing import case_numbers, judge_on_ledger
from lessons.models import Case, Exercise, PromptValues, PublishCheck
from sandbox import limits
from sandbox.models import Attempt
from sandbox.providers import reference_unavailable
from sandbox.tasks import enqueue_attempt

log = logging.getLogger(__name__)

# The exercise's fields a check does not depend on: where it sits, what learners read, and
# what the check does not run. Every other field (a new one too) is checked: a change to it
# in a published exercise checks it again.
UNCHECKED_FIELDS = frozenset(
    {
        "id",
        "lesson",  # where it sits
        "slug",
        "position",
        "status",  # set by the check itself, and by publish/unpublish
        "archived",
        "title",  # what learners read, not what grades them
        "instructions",
        "hints",
        "known_bad",  # run by the starter course's test, not by the publish check
    }
)
CHECKED_FIELDS = tuple(
    f.attname for f in Exercise._meta.concrete_fields if f.name not in UNCHECKED_FIELDS
)
CHECKED_CASE_FIELDS = ("name", "variables", "visibility", "reference", "expected", "weight")
CHANGED = "The exercise changed while it was being checked: check it again."
SUPERSEDED = "superseded"  # the error code of a reference run a later check made pointless


def checked_definition(exercise: Exercise) -> str:
    """Return a digest of the saved exercise's checked fields and test cases."""
    fields = Exercise.objects.filter(pk=exercise.pk).values(*CHECKED_FIELDS).get()
    cases = list(
        Case.objects.filter(exercise_id=exercise.pk)
        .order_by("position", "id")
        .values(*CHECKED_CASE_FIELDS)
    )
    text = json.dumps([fields, cases], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def reference_attempt_fields(
    exercise: Exercise, solution: PromptValues | None = None
) -> dict[str, Any]:
    """Return the Attempt fields of a run of the exercise's reference solution (or of another
    instructor's prompt, such as a known-bad one)."""
    solution = (exercise.solution or {}) if solution is None else solution
    fields, examples = exercise.compose(solution)
    return {
        "exercise": exercise,
        "is_reference": True,
        "system_prompt": fields["system"],
        "user_prompt": fields["user"],
        "prefill": fields["prefill"],
        "slots": solution.get("slots") or {},
        "examples": examples,
    }


def missing_values_message(case: Case, missing: list[str]) -> str:
    return (
        f"Test case “{case.name}” has no value for {', '.join(missing)}: give it one on the "
        "Test cases page (its prompt would reach the model with the placeholder unfilled)."
    )


def problems_before_running(exercise: Exercise) -> list[str]:
    """Return why the reference solution cannot even be run (no solution, no cases, …)."""
    problems = []
    if not any(v for v in (exercise.solution or {}).values()):
        problems.append("There is no reference solution: write one under “Reference solution”.")
    if not exercise.cases.exists():
        problems.append("There are no test cases: add at least one.")
    problems += [
        missing_values_message(case, missing) for case, missing in exercise.cases_without_values()
    ]
    try:
        graders.load_rubric(exercise.rubric)
    except graders.RubricError as e:
        problems.append(f"The rubric is not valid: {e}")
    refused = reference_unavailable(exercise.backend, exercise.stub_script)
    if refused:
        problems.append(f"Reference solution: it cannot be run here. {refused}")
    return problems


def supersede(exercise: Exercise, definition: str) -> None:
    """Fail the exercise's checks under way of another version than `definition`, and end their
    reference runs no worker is running (queued, or running past its lease: the reconciler
    would run it again), billed nothing: the worker's claim takes neither. A run a worker
    holds finishes and is billed; its check stays failed."""
    now = timezone.now()
    obsolete = exercise.publish_checks.filter(status=PublishCheck.CHECKING).exclude(
        definition=definition
    )
    idle = Q(status=Attempt.QUEUED) | Q(status=Attempt.RUNNING, lease_expires_at__lt=now)
    Attempt.objects.filter(idle, pk__in=obsolete.values("reference")).update(
        status=Attempt.ERROR,
        error_code=SUPERSEDED,
        error="Not run: the exercise was edited before a worker took this run, so the check "
        "it was for no longer applies.",
        finished_at=now,
    )
    obsolete.update(status=PublishCheck.FAILED, problems=[CHANGED], finished_at=now)


def rate_refusal(user) -> str:
    """Return why this instructor may not start another check now, or "": at most
    SUBMISSIONS_PER_MINUTE checks that queued a reference run in the last minute, as submits.
    Their row is locked while the count is read, so checks started at once wait for it."""
    User.objects.select_for_update(no_key=True).only("pk").get(pk=user.pk)
    window = timezone.now() - timedelta(minutes=1)
    started = PublishCheck.objects.filter(requested_by=user, created_at__gte=window)
    recent = started.exclude(reference=None).count()
    if recent < settings.SUBMISSIONS_PER_MINUTE:
        return ""
    return (
        f"You have started {recent} publish checks in the last minute, the most allowed. "
        "Wait a moment, then check it again."
    )


@transaction.atomic
def start_check(exercise: Exercise, user, reason: str, rate_limited: bool = True) -> PublishCheck:
    """Save a check of the exercise with its reference attempt, queued once this commits.

    A check to publish publishes the exercise if it passes; a recheck of a published one
    says whether it still passes. One whose solution cannot even be run, or whose model calls
    the user's budget does not allow now, is saved failed at once, saying why. While a check
    of the exercise as it is now runs for the same reason, that one is returned: a second
    click (or instructor) would run and bill the reference again, and decide it twice. Checks
    under way of an earlier version are superseded (every path that starts a check comes here).

    Checks are `rate_limited` (rate_refusal) but for a course import's, which starts one per
    changed exercise at once, from files an operator imports.
    """
    jobs.one_at_a_time(exercise)
    definition = checked_definition(exercise)
    supersede(exercise, definition)
    under_way = exercise.publish_checks.filter(  # not one whose run was deleted: never decided
        status=PublishCheck.CHECKING, definition=definition, reason=reason, reference__isnull=False
    )
    if check := under_way.select_related("reference").first():
        return check
    problems = problems_before_running(exercise)
    refused = (rate_refusal(user) if rate_limited else "") or limits.budget_refusal(user)
    if refused:
        problems.append(refused)
    check = PublishCheck(
        exercise=exercise,
        requested_by=user,
        reason=reason,
        definition=definition,
        problems=problems,
    )
    if check.problems:
        check.status, check.finished_at = PublishCheck.FAILED, timezone.now()
    else:
        check.reference = Attempt.objects.create(learner=user, **reference_attempt_fields(exercise))
        enqueue_attempt(check.reference)
    check.save()
    return check


@transaction.atomic
def recheck_if_changed(
    exercise: Exercise, user=None, rate_limited: bool = True
) -> PublishCheck | None:
    """Check a published exercise again if what its check depends on changed since its latest
    check, and fail any check still under way of an earlier version. Every path that edits an
    exercise or its test cases calls this after saving, in its transaction: the instructor's
    editors, the CSV import, the course import and the Django admin.

    It locks the exercise's row first, as finish_check does before it publishes: an edit
    committed while a check to publish is being decided is either seen by that check (which
    then fails) or sees the exercise published (and checks it again).

    The check runs as `user`, or (for a course import, not `rate_limited`) as the course's
    first instructor.
    """
    status = (
        Exercise.objects.select_for_update()
        .filter(pk=exercise.pk)
        .values_list("status", flat=True)
        .first()
    )
    definition = checked_definition(exercise)
    # A check under way when its exercise is edited fails now, draft or published: its
    # worker may grade either version, and an undo before it is decided would leave the digest
    # it compares as it was, so it would pass on a run of the edited version. Its run, if no
    # worker took it yet, is not run: several quick edits bill one reference run, the last.
    supersede(exercise, definition)
    if status != Exercise.PUBLISHED:
        return None
    latest = exercise.publish_checks.first()
    if latest and latest.definition == definition:
        return None
    user = user or first_instructor(exercise)
    if user is None:
        return None  # nobody teaches it yet: nobody to run it as, nor to tell
    return start_check(exercise, user, PublishCheck.RECHECK, rate_limited)


def first_instructor(exercise: Exercise):
    """Return whom a check no one clicked for (a course import's) runs as, or None."""
    return exercise.lesson.course.instructors.order_by("pk").first()


def reference_failures(attempt: Attempt, limit: int = 4) -> list[str]:
    """Return one sentence per failing check of the reference run (a criterion on a case, or a
    case's error), once however many samples failed it, numbering cases as the cases page."""
    assert attempt.exercise is not None  # a reference attempt is one of an exercise
    numbers = case_numbers(attempt.exercise)
    why: dict[str, str] = {}  # what failed → why, as its first failing sample said
    for run in attempt.runs.all():
        case = f"case {numbers.get(run.case_id or 0, '?')} ({run.case_name!r})"
        if run.error:
            why.setdefault(case, run.error)
        for c in run.criteria:
            if not c["passed"]:
                why.setdefault(f"criterion {c['id']!r} failed on {case}", c["detail"])
    failures = [f"{what}: {detail}" for what, detail in why.items()]
    if len(failures) > limit:
        failures = [*failures[:limit], f"and {len(failures) - limit} more"]
    return failures


def self_test(exercise: Exercise, attempt: Attempt) -> graders.SelfTestReport:
    """Return the rubric's self-test, its judge calls on the reference attempt's ledger."""
    with judge_on_ledger(exercise, attempt.learner_id, attempt) as judge:
        return exercise.self_test(judge=judge)


def check_problems(check: PublishCheck) -> list[str]:
    """Return why a check whose reference attempt is final fails, one sentence per check:

    1. the exercise must be as it was when the check started (not edited meanwhile);
    2. the reference attempt must have passed the rubric;
    3. the rubric's self-test must pass.
    """
    exercise, attempt = check.exercise, check.reference
    assert attempt is not None  # only a check failed at once has none, and it is decided
    problems = []
    if checked_definition(exercise) != check.definition:
        problems.append(CHANGED)
    elif attempt.status == Attempt.ERROR:
        problems.append(f"Reference solution: it could not be run. {attempt.error}")
    elif not attempt.passed:
        threshold = round(exercise.parsed_rubric.pass_threshold * 100)
        failures = reference_failures(attempt)
        why = ": " + "; ".join(failures) if failures else "."
        problems.append(
            f"Reference solution: it scored {attempt.score_percent}% (needs {threshold}%){why}"
        )
    problems += [f"Self-test: {m}" for m in self_test(exercise, attempt).messages()]
    return problems


def undecided() -> Q:
    """Return the checks no worker is deciding: none took them, or its hold expired."""
    now = timezone.now()
    free = Q(deciding_until__isnull=True) | Q(deciding_until__lt=now)
    return Q(status=PublishCheck.CHECKING) & free


def finish_check(check: PublishCheck) -> None:
    """Decide a check whose reference attempt is final, and publish the exercise if the check
    was to publish it and passed. A check already decided, or being decided by another
    worker, is left as it is: it is taken first, for a lease (the self-test asks the judge).

    The self-test can take seconds (a judge): the exercise's row is locked and its definition
    compared again in the transaction that decides, so an edit saved meanwhile fails the check
    rather than being published unchecked.
    """
    taken = PublishCheck.objects.filter(undecided(), pk=check.pk)
    if not taken.update(deciding_until=jobs.lease_end()):
        log.info("publish check %s is decided or being decided; nothing to do", check.pk)
        return
    problems = check_problems(check)
    with transaction.atomic():
        locked = Exercise.objects.select_for_update().filter(pk=check.exercise_id)
        list(locked.values_list("pk", flat=True))
        if checked_definition(check.exercise) != check.definition and CHANGED not in problems:
            problems.insert(0, CHANGED)
        status = PublishCheck.FAILED if problems else PublishCheck.PASSED
        decided = PublishCheck.objects.filter(pk=check.pk, status=PublishCheck.CHECKING).update(
            status=status, problems=problems, finished_at=timezone.now()
        )
        if decided and status == PublishCheck.PASSED and check.reason == PublishCheck.PUBLISH:
            Exercise.objects.filter(pk=check.exercise_id).update(status=Exercise.PUBLISHED)
    if decided:
        log.info("publish check %s %s", check.pk, status)


def finish_check_of(sender, attempt: Attempt, **kwargs) -> None:
    """On attempt_finished: decide the check a reference attempt was run for."""
    if not attempt.is_reference:
        return
    check = (
        PublishCheck.objects.select_related("exercise", "reference")
        .filter(reference=attempt, status=PublishCheck.CHECKING)
        .first()
    )
    if check:
        finish_check(check)


ORPHANED = (
    "Reference solution: its run was deleted with the account that started the check, "
    "before it was decided. Check again."
)


def finish_stranded_checks() -> int:
    """Decide the checks whose reference attempt is final but which are not (the worker died
    between saving the attempt and deciding the check); return how many it tried. Fail those
    whose reference attempt was deleted before it was decided.

    Only those whose reference attempt finished more than RECONCILE_QUEUED_AFTER seconds ago
    (a younger one is left to its attempt_finished handler) and that no worker is deciding
    (finish_check takes them): deciding one twice would call (and bill) its judge twice. One
    that raises is logged, and the others are still decided.
    """
    finished_before = timezone.now() - timedelta(seconds=settings.RECONCILE_QUEUED_AFTER)
    stranded = PublishCheck.objects.select_related("exercise", "reference").filter(
        undecided(),
        reference__status__in=Attempt.FINAL,
        reference__finished_at__lt=finished_before,
    )
    checks = list(stranded[: settings.RECONCILE_BATCH])
    orphaned = PublishCheck.objects.filter(status=PublishCheck.CHECKING, reference__isnull=True)
    orphaned.update(status=PublishCheck.FAILED, problems=[ORPHANED], finished_at=timezone.now())
    for check in checks:
        try:
            finish_check(check)
        except Exception:
            log.exception("publish check %s could not be decided", check.pk)
    if checks:
        log.warning("decided %d stranded publish checks", len(checks))
    return len(checks)


def failing_checks(user) -> list[PublishCheck]:
    """Return the failed latest checks of the published exercises this user teaches."""
    latest = PublishCheck.objects.filter(exercise=OuterRef("pk")).order_by("-created_at", "-id")
    exercises = Exercise.objects.filter(
        status=Exercise.PUBLISHED, lesson__course__instructors=user
    ).annotate(latest_check=Subquery(latest.values("pk")[:1]))
    return list(
        PublishCheck.objects.filter(
            pk__in=exercises.values("latest_check"), status=PublishCheck.FAILED
        ).select_related("exercise__lesson__course")
    )
