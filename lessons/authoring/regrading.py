"""Regrades: an exercise's graded learner attempts graded again from their stored outputs,
through graders.grade_attempt, as the runner grades them.

Judge verdicts whose criterion did not change are kept (the stored results go in as
`previous`); the others ask the judge through the runner's retry layer, on the ledger of the
instructor who asked. Like an attempt, a regrade is claimed with a lease, and the lessons
reconciler publishes it again when its message was lost or its worker died.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone

import graders
from lessons.authoring import editing, jobs, publishing
from lessons.authoring.jobs import Publish
from lessons.models import Exercise, Regrade
from lessons.review import progress
from lessons.review.models import Decision
from sandbox import calls, limits
from sandbox.calls import CallLog
from sandbox.models import Attempt, Run, UsageRecord

log = logging.getLogger(__name__)

WAIT_INTERVAL = 0.5  # seconds between looks at the attempts being graded when a regrade starts


def attempts_to_regrade(exercise: Exercise, before) -> QuerySet[Attempt]:
    """Return the learners' attempts graded with the rubric of before `before`, in the order
    a regrade takes them (see Regrade.after): graded before it, or claimed before it and
    graded since (their worker read the exercise when it claimed them). Later ones had the
    rubric it regrades with."""
    graded_with_it = Q(finished_at__lte=before) | Q(started_at__lte=before)
    return (
        Attempt.objects.by_learners()
        .filter(graded_with_it, exercise=exercise, status=Attempt.GRADED)
        .order_by("id")
    )


def being_graded(exercise: Exercise, before) -> QuerySet[Attempt]:
    """Return the learners' attempts a worker is grading with the rubric of before `before`:
    claimed before it and held (a dead worker's, past its lease, is claimed again later and
    graded with the rubric of then)."""
    return Attempt.objects.by_learners().filter(
        exercise=exercise,
        status=Attempt.RUNNING,
        started_at__lte=before,
        lease_expires_at__gte=timezone.now(),
    )


def by_id(criteria: list[dict]) -> dict[str, dict]:
    """Return a run's stored criterion results by criterion id, as `previous` holds them."""
    return {criterion["id"]: criterion for criterion in criteria}


def comparable(exercise: Exercise, attempt: Attempt) -> list[graders.scoring.StoredCriteria]:
    """Return the stored criterion results of an attempt's runs (prefetched) as grading them
    again would reuse them: graders.reusable_previous, on the cases grade_stored grades."""
    cases = stored_cases(exercise, attempt, case_groups(attempt))
    return graders.reusable_previous(exercise.parsed_rubric, cases)


def stored_criteria(exercise: Exercise, before) -> list[graders.scoring.StoredCriteria]:
    """Return the stored criterion results, by id, of every run a regrade would grade again,
    as it would find them reusable (comparable)."""
    pending = attempts_to_regrade(exercise, before).prefetch_related(stored_runs())
    return [
        stored
        for attempt in pending.iterator(chunk_size=100)
        for stored in comparable(exercise, attempt)
    ]


def judge_calls_needed(exercise: Exercise, before) -> int:
    """Return how many judge calls regrading the attempts graded before `before` would make at
    least: one per sample and criterion whose stored verdict cannot be reused."""
    rubric = exercise.parsed_rubric
    if not rubric.calls_a_model():
        return 0
    return graders.judge_calls_needed(rubric, stored_criteria(exercise, before))


def judge_calls_at_most(exercise: Exercise, before) -> int:
    """Return how many judge calls that regrade can make at most (what the instructor's budget
    may be charged), every judge retrying each bad answer as often as its `retries` allows."""
    rubric = exercise.parsed_rubric
    if not rubric.calls_a_model():
        return 0
    return graders.judge_calls_at_most(rubric, stored_criteria(exercise, before))


def refusal(exercise: Exercise, user) -> str:
    """Return why this instructor may not start a regrade now, or "": its judge calls go on
    their budget."""
    if judge_calls_needed(exercise, timezone.now()):
        return limits.budget_refusal(user)
    return ""


class RegradeUnderWay(Exception):
    """The exercise has a regrade queued or running: a second would grade (and bill) the same
    attempts again."""


def start(exercise: Exercise, user, publish: Publish) -> Regrade:
    """Save a queued regrade, published once the transaction commits, unless one is under way
    (RegradeUnderWay)."""
    with transaction.atomic():
        jobs.one_at_a_time(exercise)
        under_way = exercise.regrades.filter(status__in=(Regrade.QUEUED, Regrade.RUNNING))
        if under_way.exists():
            raise RegradeUnderWay("A regrade of this exercise is under way.")
        regrade = Regrade.objects.create(
            exercise=exercise,
            requested_by=user,
            definition=publishing.checked_definition(exercise),
        )
        jobs.publish_on_commit(publish, regrade.pk)
    return regrade


def grade_stored(
    exercise: Exercise, attempt: Attempt, judge: graders.Judge | None, keep_stored: bool = False
) -> graders.Grade:
    """Grade an attempt's stored outputs (its runs, prefetched with their case and decisions)
    again with the exercise's current rubric, through graders.grade_attempt, and set each
    run's score, pass, criteria and visibility to match (unsaved). Instructors' decisions
    stand for the criteria they decided; stored judge verdicts that cannot have changed are
    reused (with keep_stored, whatever their status: graders.grade_case)."""
    groups = case_groups(attempt)
    cases = stored_cases(exercise, attempt, groups)
    grade = graders.grade_attempt(
        exercise.parsed_rubric,
        cases,
        sample_rule=exercise.parsed_sample_rule,
        judge=judge,
        keep_stored=keep_stored,
    )
    for group, case_grade in zip(groups, grade.cases, strict=True):
        for run, sample in zip(group, case_grade.samples, strict=True):
            run.score, run.passed = sample.score, sample.passed
            run.criteria = [c.to_dict() for c in sample.criteria]
            if run.case:  # a deleted case's run stays as hidden as it was; samples as one
                run.hidden = not graders.feedback_visible(run.case.visibility, case_grade.passed)
    return grade


def case_groups(attempt: Attempt) -> list[list[Run]]:
    """Return an attempt's runs (prefetched) grouped by test case, its samples together."""
    by_case: dict[object, list[Run]] = {}
    for run in attempt.runs.all():
        by_case.setdefault(case_key(run), []).append(run)
    return list(by_case.values())


def stored_cases(
    exercise: Exercise, attempt: Attempt, groups: list[list[Run]]
) -> list[graders.CaseOutputs]:
    """Return what graders grade again of each test case's runs: outputs, the prompt as
    sent, the stored results and the instructors' decisions."""
    return [
        graders.CaseOutputs(
            case=grader_case(group[0]),
            outputs=tuple(run.output for run in group),
            submission=exercise.grader_submission(
                attempt.fields(), attempt.examples, group[0].case
            ),
            previous=tuple(by_id(run.criteria) for run in group),
            decisions=tuple(
                {d.criterion_id: graders.Decision(d.met) for d in run.decisions.all()}
                for run in group
            ),
        )
        for group in groups
    ]


def case_key(run: Run) -> object:
    """Return what tells a run's test case apart: its case, or the name of one since deleted."""
    return run.case_id or run.case_name


def grader_case(run: Run) -> graders.Case:
    """Return the test case a run's output is graded for (the name alone, once deleted)."""
    return run.case.as_grader_case() if run.case else graders.Case(name=run.case_name)


def save_regraded(attempt: Attempt, grade: graders.Grade) -> None:
    """Save what grade_stored set on the attempt's runs, and its total (in a transaction)."""
    Run.objects.bulk_update(attempt.runs.all(), ["score", "passed", "criteria", "hidden"])
    Attempt.objects.filter(pk=attempt.pk).update(score=grade.score, passed=grade.passed)


def stored_runs() -> Prefetch:
    """What grade_stored reads of an attempt's runs, to prefetch."""
    runs = Run.objects.select_related("case").prefetch_related("decisions")
    return Prefetch("runs", runs.order_by("position"))


class OverTime(Exception):
    """Grading an attempt again took longer than the soft time limit: its grade is not saved
    (its judge calls ran out of time, and would read as needs review)."""


def decided(attempt: Attempt) -> set[tuple[int, str, bool]]:
    """Return the decisions on an attempt's runs (prefetched) as they were read."""
    runs = attempt.runs.all()
    return {(run.pk, d.criterion_id, d.met) for run in runs for d in run.decisions.all()}


def decided_now(attempt: Attempt) -> set[tuple[int, str, bool]]:
    """Return the decisions on an attempt's runs as they are saved now (one query)."""
    saved = Decision.objects.filter(run__attempt=attempt)
    return set(saved.values_list("run_id", "criterion_id", "met"))


def regrade_attempt(
    exercise: Exercise,
    attempt: Attempt,
    ledger_user_id: int | None,
    held: QuerySet[Regrade],
    deadline: float,
) -> bool | None:
    """Grade an attempt's stored outputs again (grade_stored) and save its runs and total,
    counting it in the regrade's progress and renewing its lease, in one transaction; return
    whether its score or pass changed, or None if this delivery no longer holds the regrade
    (its grade is not saved then; the judge calls it made, which were billed, still go on
    the ledger). Raise OverTime, saving only the ledger, when grading outlasted `deadline`.
    A decision saved while the judge was asked is applied before saving (the attempt locked,
    as decisions.decide locks it)."""
    judge_log: list[CallLog] = []
    grade = grade_stored(exercise, attempt, calls.make_judge(exercise, deadline, judge_log))
    # Past the deadline, judge calls fail (needs review): the runner would fail the attempt.
    over_time = exercise.parsed_rubric.calls_a_model() and time.monotonic() >= deadline
    with transaction.atomic():
        if ledger_user_id and judge_log and editing.account_kept(ledger_user_id):
            UsageRecord.objects.bulk_create(UsageRecord.for_calls(ledger_user_id, None, judge_log))
        if not over_time:
            locked = Attempt.objects.select_for_update().filter(pk=attempt.pk)
            list(locked.values_list("pk", flat=True))  # as decisions.decide locks it
            if decided_now(attempt) != decided(attempt):
                # Apply the new decisions to the verdicts just asked for, asking no judge.
                graded = {run.pk: run.criteria for run in attempt.runs.all()}
                attempt = locked.prefetch_related(stored_runs()).get()
                for run in attempt.runs.all():
                    run.criteria = graded.get(run.pk, run.criteria)
                grade = grade_stored(exercise, attempt, judge=None, keep_stored=True)
            changed = (attempt.score, attempt.passed) != (grade.score, grade.passed)
            if not held.update(
                after=attempt.id,
                done=F("done") + 1,
                changed=F("changed") + int(changed),
                lease_expires_at=jobs.lease_end(),
            ):
                return None
            save_regraded(attempt, grade)
    if over_time:
        limit = settings.ATTEMPT_SOFT_TIME_LIMIT
        raise OverTime(f"Grading one attempt again took longer than {limit} seconds.")
    return changed


def budget_stop(regrade: Regrade, attempt: Attempt) -> str:
    """Return why a regrade must stop before grading this attempt again, or "": it would call
    the judge, and the instructor who asked is over their budget (limits.budget_refusal), or
    their account is gone (the calls would go on nobody's ledger, past the site's cap)."""
    rubric = regrade.exercise.parsed_rubric
    if not rubric.calls_a_model():
        return ""
    if not graders.judge_calls_needed(rubric, comparable(regrade.exercise, attempt)):
        return ""
    asker = regrade.requested_by_id
    if asker is None or not User.objects.filter(pk=asker).exists():  # deleted, even mid-way
        return (
            "the instructor who asked for it no longer has an account, and its judge calls "
            "would be on nobody's budget. Ask for a new regrade."
        )
    refusal = limits.budget_refusal(regrade.requested_by)
    if not refusal:
        return ""
    return f"it was over the budget of the instructor who asked for it. {refusal}"


def run(regrade_id: int, publish: Publish) -> None:
    """Run a regrade: every attempt it has not counted yet, in order, then done.

    It begins once no attempt claimed before it was asked for is still being graded (those
    join it), waiting in turns of half the task's soft time limit, as below. A delivery that
    has worked for half the task's soft time limit (after one attempt at least) hands the rest
    to a fresh message, so a long regrade meets no time limit (the judge calls of the attempt
    under way end by the limit, as a runner's do). One delivered MAX_DELIVERIES times without
    handing over or finishing stopped its worker each time, and is set aside. Before each
    attempt that calls the judge, the instructor's budget is checked: over it, the regrade
    stops (an error saying why and how far it got).
    """
    taken = jobs.take(Regrade, regrade_id)
    if taken is None:
        return
    regrade, held = taken
    started = time.monotonic()
    if not regrade.done:
        # Graded, an attempt under way joins this regrade (attempts_to_regrade): begun before
        # it finishes, the regrade would leave it with the old rubric's grade.
        while being_graded(regrade.exercise, regrade.created_at).exists():
            if time.monotonic() > started + settings.ATTEMPT_SOFT_TIME_LIMIT / 2:
                jobs.hand_over(held, regrade.pk, publish)
                return
            time.sleep(WAIT_INTERVAL)
    unrefreshed: set[int] = set()  # learners whose progress does not count their regrade yet
    try:
        pending = attempts_to_regrade(regrade.exercise, regrade.created_at)
        if regrade.deliveries > 1 and regrade.after:
            # The last delivery died (a hand-over resets the count) before rebuilding the
            # progress of the learners it regraded: rebuild theirs with this one's.
            regraded = pending.filter(id__lte=regrade.after).order_by()
            unrefreshed.update(regraded.values_list("learner_id", flat=True).distinct())
        if not regrade.done:
            held.update(total=pending.count(), lease_expires_at=jobs.lease_end())  # after a wait
        if regrade.after:
            pending = pending.filter(id__gt=regrade.after)
        pending = pending.prefetch_related(stored_runs())
        for index, attempt in enumerate(pending.iterator(chunk_size=100)):
            if index and time.monotonic() > started + settings.ATTEMPT_SOFT_TIME_LIMIT / 2:
                jobs.hand_over(held, regrade.pk, publish)
                return
            if edited(regrade):
                jobs.stop(held, stopped_after(regrade.done + index, EDITED))
                return
            refused = budget_stop(regrade, attempt)
            if refused:
                jobs.stop(held, stopped_after(regrade.done + index, refused))
                return
            # Each attempt's judge calls get the whole soft limit, as a runner's do (the lease,
            # renewed after each attempt, is longer).
            deadline = time.monotonic() + settings.ATTEMPT_SOFT_TIME_LIMIT
            try:
                changed = regrade_attempt(
                    regrade.exercise, attempt, regrade.requested_by_id, held, deadline
                )
            except OverTime as e:
                jobs.stop(held, stopped_after(regrade.done + index, f"it stopped. {e}"))
                return
            if changed is None:
                log.info("regrade %s was taken over by another delivery", regrade_id)
                return
            unrefreshed.add(attempt.learner_id)
        if edited(regrade):  # while the last attempt was graded, with the rubric of before
            jobs.stop(held, stopped_after(held.values_list("done", flat=True).first() or 0, EDITED))
            return
    except Exception:  # its message may quote SQL or data: the log has it
        log.exception("regrade %s failed", regrade_id)
        jobs.stop(held, CRASHED)
        return
    finally:  # once per learner and delivery (after each attempt, a regrade grew with the
        # square of a learner's attempts), whether it ends, stops or hands over
        for learner_id in unrefreshed:
            progress.refresh(learner_id, regrade.exercise_id)
    held.update(status=Regrade.DONE, finished_at=timezone.now())


def edited(regrade: Regrade) -> bool:
    """Return whether the exercise was edited since the regrade was asked for (unknown of a
    regrade from before its digest was kept)."""
    digest = regrade.definition
    return bool(digest) and digest != publishing.checked_definition(regrade.exercise)


EDITED = (
    "the exercise was edited: those keep the grades of before the edit. Regrade again to grade "
    "every attempt as it is now."
)
CRASHED = (
    "Something went wrong while grading the attempts again; it has been logged. The attempts "
    "graded again before it keep their new grades."
)


def stopped_after(done: int, why: str) -> str:
    """Return the error of a regrade stopped after `done` attempts: "3 attempts regraded,
    then <why>"."""
    return f"{done} attempt{'' if done == 1 else 's'} regraded, then {why}"


def reconcile(publish: Publish) -> int:
    """Publish again the regrades a lost message or a dead worker left behind (jobs.reconcile)."""
    return jobs.reconcile(Regrade, publish)
