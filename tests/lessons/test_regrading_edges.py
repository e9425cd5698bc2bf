"""Regrade where it could grade otherwise than the runner, or do what its page did not say:
a judge whose requirement now passes, an edited test case, a deleted hidden case, a second
regrade, a decision made meanwhile, a regrade out of time, an attempt graded meanwhile with the
old rubric."""

from __future__ import annotations

import json
from datetime import timedelta
from unittest.mock import Mock, patch

import pytest
from django.utils import timezone

import graders
from lessons.authoring import jobs, regrading
from lessons.models import Exercise, Regrade
from sandbox import calls
from sandbox.models import Attempt, Run
from tests.conftest import HTMX, graded_with_a_hidden_case, make_attempt, make_exercise, run_queued
from tests.lessons.test_regrading import (
    JUDGED,
    graded_then_judge_edited,
    judge_calls_on_ledger,
    run_regrade,
)

pytestmark = pytest.mark.django_db

JUDGE_STUB = {
    "rules": [{"if": "say hello", "reply": "Hello there!"}],
    "default": "No.",
    "judge": [{"item": "The reply greets the reader.", "if": "hello"}],
}


def fresh_grade(exercise: Exercise, attempt: Attempt) -> graders.Grade:
    """The grade the runner would give these outputs with the current rubric (no previous)."""
    exercise = Exercise.objects.get(pk=exercise.pk)
    runs = list(attempt.runs.order_by("position"))
    case = runs[0].case
    cases = [
        graders.CaseOutputs(
            case=case.as_grader_case(),
            outputs=tuple(r.output for r in runs),
            submission=exercise.grader_submission(attempt.fields(), attempt.examples, case),
        )
    ]

    return graders.grade_attempt(
        exercise.parsed_rubric,
        cases,
        sample_rule=exercise.parsed_sample_rule,
        judge=calls.make_judge(exercise, 10**12, []),
    )


def test_a_judge_that_requires_a_fixed_criterion_is_judged_again(learner, instructor):
    """The judge `requires` a criterion that failed (a typo in its text); the instructor fixes
    the typo and regrades. The stored "not judged: it requires ..." result has the same
    fingerprint and status ok, so it is reused: the judge is never asked, and the regrade
    disagrees with what the runner gives the same output under the same rubric."""
    rubric = {
        "pass_threshold": 1.0,
        "criteria": [
            {"id": "greets", "kind": "contains", "params": {"text": "helo"}, "ignore_case": True},
            {
                "id": "friendly",
                "kind": "llm_judge",
                "params": {
                    "model": "stub:judge",
                    "items": ["The reply greets the reader."],
                    "requires": ["greets"],
                },
            },
        ],
    }
    exercise = make_exercise(rubric=rubric, stub=JUDGE_STUB)
    attempt = make_attempt(learner, exercise)
    run_queued()
    attempt.refresh_from_db()
    assert attempt.passed is False
    fixed = json.loads(json.dumps(rubric))
    fixed["criteria"][0]["params"]["text"] = "hello"
    Exercise.objects.filter(pk=exercise.pk).update(rubric=fixed)
    exercise.refresh_from_db()
    expected = fresh_grade(exercise, attempt)
    assert (expected.score, expected.passed) == (1.0, True)  # what the runner gives now
    run_regrade(exercise, instructor)
    attempt.refresh_from_db()
    friendly = regrading.by_id(attempt.runs.get().criteria)["friendly"]
    assert friendly["detail"].startswith("not judged") is False, friendly["detail"]
    assert (attempt.score, attempt.passed) == (expected.score, expected.passed)


def test_the_page_counts_judge_calls_an_edited_test_case_makes(ines_client, learner, instructor):
    """A judge grading prefill + output reads the prefill rendered for the case: edit the
    case's variables and a regrade asks the judge again for every attempt, yet the page says
    it calls no judge, the budget is not checked, and the calls are billed."""
    rubric = {
        "pass_threshold": 1.0,
        "with_prefill": True,
        "criteria": [
            {
                "id": "friendly",
                "kind": "llm_judge",
                "params": {"model": "stub:judge", "items": ["The reply greets the reader."]},
            },
        ],
    }
    exercise = make_exercise(
        rubric=rubric, stub=JUDGE_STUB, editable_fields=["system", "user", "prefill"]
    )
    make_attempt(learner, exercise, prefill="Dear {name}, ")
    run_queued()
    assert Attempt.objects.get().status == Attempt.GRADED
    exercise.cases.update(variables={"name": "Grace"})
    html = ines_client.get(f"/teach/exercises/{exercise.id}/regrade/", headers=HTMX)
    text = html.content.decode()
    said_no_judge = "without calling a judge" in text
    run_regrade(Exercise.objects.get(pk=exercise.pk), instructor)
    billed = judge_calls_on_ledger(instructor)
    assert not (said_no_judge and billed), f"page said no judge call; {billed} were billed"


def test_a_regrade_does_not_unhide_a_deleted_hidden_case(learner, instructor):
    """A hidden test case's run is hidden from the learner; once the case is deleted (or
    renamed in a course file: deleted and created again), a regrade sets hidden=False, so the
    learner's attempt page shows that output and its criteria details."""
    attempt = graded_with_a_hidden_case(learner)
    exercise = attempt.exercise
    secret = attempt.runs.get(case_name="Secret case")
    assert secret.hidden
    exercise.cases.filter(name="Secret case").delete()
    run_regrade(exercise, instructor)
    secret.refresh_from_db()
    assert "Zanzibar" in secret.output
    assert secret.hidden, "the hidden case's output is now shown to the learner"


def test_a_second_regrade_is_refused_while_one_is_under_way(ines_client, learner, instructor):
    """Two POSTs (two tabs, a double click without htmx, a replayed form) queue two regrades
    of the same attempts: on two workers both ask the judge for every changed verdict, and
    both bill the instructor."""
    exercise = make_exercise()
    make_attempt(learner, exercise)
    run_queued()
    url = f"/teach/exercises/{exercise.id}/regrade/"
    ines_client.post(url, headers=HTMX)
    ines_client.post(url, headers=HTMX)
    unfinished = Regrade.objects.filter(status__in=[Regrade.QUEUED, Regrade.RUNNING])
    assert unfinished.count() == 1


def test_a_decision_made_while_the_regrade_asks_the_judge_is_not_lost(learner, instructor):
    """The regrade reads an attempt's runs and decisions (prefetched, up to 100 attempts ahead),
    asks the judge, then saves without a lock. An instructor decides the judge's criterion on
    that output meanwhile (decide excludes the decided criterion from judges_changed, so it is
    allowed): the regrade's save then overwrites the decided grade with one computed without
    the decision."""
    from lessons.review import decisions
    from tests.conftest import JUDGED_RUBRIC

    rubric = json.loads(json.dumps(JUDGED_RUBRIC))
    rubric["criteria"][1]["params"]["model"] = "stub:judge"
    exercise = make_exercise(rubric=rubric, stub=JUDGE_STUB)
    attempt = make_attempt(learner, exercise)
    run_queued()
    changed = json.loads(json.dumps(rubric))
    changed["criteria"][1]["params"]["items"] = ["The reply is friendly."]  # judge: not met
    Exercise.objects.filter(pk=exercise.pk).update(rubric=changed)
    run = attempt.runs.get()
    real = calls.make_judge
    decided = []

    def make_judge(*args, **kwargs):
        judge = real(*args, **kwargs)

        def judging(request):
            if not decided:  # the instructor decides while the judge thinks
                try:
                    fresh = type(run).objects.select_related("attempt__exercise").get(pk=run.pk)
                    decided.append(decisions.decide(fresh, "friendly", True, "", instructor))
                except Exception as e:
                    decided.append(e)
                    raise
            return judge(request)

        return judging

    import unittest.mock

    with unittest.mock.patch("lessons.authoring.regrading.calls.make_judge", make_judge):
        run_regrade(Exercise.objects.get(pk=exercise.pk), instructor)
    assert decided and not isinstance(decided[0], Exception), decided
    run.refresh_from_db()
    friendly = regrading.by_id(run.criteria)["friendly"]
    assert friendly["passed"] is True, "the instructor's decision (met) was overwritten"


def test_progress_follows_a_regrade(learner, instructor):
    from lessons.review.models import Progress

    exercise = make_exercise()
    make_attempt(learner, exercise, user_prompt="nothing")  # fails
    make_attempt(learner, exercise)  # passes
    run_queued()
    progress = Progress.objects.get(learner=learner, exercise=exercise)
    assert progress.passed and progress.attempts_to_pass == 2
    exercise.rubric = {"criteria": [{"id": "any", "kind": "word_count", "params": {"min": 1}}]}
    exercise.save()
    run_regrade(exercise, instructor)
    progress.refresh_from_db()
    assert progress.passed and progress.attempts_to_pass == 1 and progress.first_try_passed
    assert progress.failure_groups == []


def test_a_regrade_rebuilds_each_learners_progress_once(learner, other_learner, instructor):
    exercise = make_exercise()
    for who in (learner, other_learner, learner, other_learner, learner):
        make_attempt(who, exercise)
    run_queued()
    with patch("lessons.authoring.regrading.progress.refresh") as refresh:
        assert run_regrade(exercise, instructor).status == Regrade.DONE
    assert sorted(c.args for c in refresh.call_args_list) == sorted(
        [(learner.pk, exercise.pk), (other_learner.pk, exercise.pk)]
    )


def test_a_regrade_handed_over_within_a_learners_attempts_rebuilds_their_progress(
    learner, instructor, settings
):
    from lessons.review.models import Progress

    exercise = make_exercise()
    for _ in range(2):
        make_attempt(learner, exercise, user_prompt="nothing")  # fails, and passes regraded
    run_queued()
    assert not Progress.objects.get(learner=learner, exercise=exercise).passed
    exercise.rubric = {"criteria": [{"id": "any", "kind": "word_count", "params": {"min": 1}}]}
    exercise.save()
    settings.ATTEMPT_SOFT_TIME_LIMIT = 0  # hand over after every attempt
    regrade = Regrade.objects.create(exercise=exercise, requested_by=instructor)
    regrading.run(regrade.pk, publish=Mock())
    regrade.refresh_from_db()
    assert (regrade.status, regrade.done) == (Regrade.QUEUED, 1)  # handed over after one
    progress = Progress.objects.get(learner=learner, exercise=exercise)
    assert progress.passed  # the regraded attempt counts already


def test_a_regrade_out_of_time_does_not_save_judge_verdicts_as_needs_review(
    learner, instructor, settings
):
    """The regrade's judge calls share one deadline per delivery (started + soft limit) and run
    one after another. Past it, each judge call raises JudgeFailed, which llm_judge turns into
    needs_review, and the regrade saves that: a passing attempt stops passing and lands in the
    review queue. The runner past its soft limit fails the attempt instead of saving a grade;
    a regrade should hand the attempt over (not save it)."""
    from tests.conftest import JUDGED_RUBRIC

    rubric = json.loads(json.dumps(JUDGED_RUBRIC))
    rubric["criteria"][1]["params"]["model"] = "stub:judge"
    exercise = make_exercise(rubric=rubric, stub=JUDGE_STUB)
    attempt = make_attempt(learner, exercise)
    run_queued()
    attempt.refresh_from_db()
    assert attempt.passed
    changed = json.loads(json.dumps(rubric))
    changed["criteria"][1]["params"]["instructions"] = "Be strict."
    Exercise.objects.filter(pk=exercise.pk).update(rubric=changed)
    settings.ATTEMPT_SOFT_TIME_LIMIT = 0  # this delivery's deadline has passed at once
    run_regrade(Exercise.objects.get(pk=exercise.pk), instructor)
    attempt.refresh_from_db()
    friendly = regrading.by_id(attempt.runs.get().criteria)["friendly"]
    assert friendly["status"] != "needs_review", friendly["detail"]


BYE_RUBRIC = {"criteria": [{"id": "bye", "kind": "contains", "params": {"text": "bye"}}]}


def being_graded_when_asked(learner, exercise: Exercise) -> Attempt:
    """Return an attempt graded with the exercise's rubric now, back in the state of one a
    worker claimed (lease held) and is still grading: its runs saved, its grade not yet."""
    attempt = make_attempt(learner, exercise)
    run_queued()
    Attempt.objects.filter(pk=attempt.pk).update(
        status=Attempt.RUNNING,
        finished_at=None,
        lease_expires_at=timezone.now() + timedelta(minutes=4),
    )
    return attempt


def test_an_attempt_being_graded_with_the_old_rubric_joins_the_regrade(learner, instructor):
    exercise = make_exercise()
    attempt = being_graded_when_asked(learner, exercise)
    exercise.rubric = BYE_RUBRIC
    exercise.save()
    regrade = Regrade.objects.create(exercise=exercise, requested_by=instructor)

    def its_worker_saves_the_old_grade(seconds):  # while the regrade waits
        Attempt.objects.filter(pk=attempt.pk).update(
            status=Attempt.GRADED, finished_at=timezone.now()
        )

    with patch.object(regrading.time, "sleep", side_effect=its_worker_saves_the_old_grade):
        regrading.run(regrade.pk, publish=Mock())
    regrade.refresh_from_db()
    attempt.refresh_from_db()
    assert attempt.finished_at > regrade.created_at
    assert (regrade.status, regrade.total, regrade.done) == ("done", 1, 1)
    assert [c["id"] for c in attempt.runs.get().criteria] == ["bye"]
    assert (attempt.score, attempt.passed) == (0.0, False)


def test_a_regrade_that_waited_renews_its_lease_before_regrading(learner, instructor):
    exercise = make_exercise()
    attempt = being_graded_when_asked(learner, exercise)
    regrade = Regrade.objects.create(exercise=exercise, requested_by=instructor)

    def the_wait_uses_up_its_lease(seconds):
        Attempt.objects.filter(pk=attempt.pk).update(
            status=Attempt.GRADED, finished_at=timezone.now()
        )
        Regrade.objects.filter(pk=regrade.pk).update(lease_expires_at=timezone.now())

    real = regrading.regrade_attempt
    second_delivery = []

    def regrade_attempt(*args, **kwargs):
        second_delivery.append(jobs.claim(Regrade, regrade.pk))  # the reconciler's, say
        return real(*args, **kwargs)

    with (
        patch.object(regrading.time, "sleep", side_effect=the_wait_uses_up_its_lease),
        patch.object(regrading, "regrade_attempt", regrade_attempt),
    ):
        regrading.run(regrade.pk, publish=Mock())
    regrade.refresh_from_db()
    assert second_delivery == [None]
    assert (regrade.status, regrade.done) == ("done", 1)


def test_a_regrade_waiting_too_long_for_an_attempt_hands_over(
    ines_client, learner, instructor, settings, django_capture_on_commit_callbacks
):
    exercise = make_exercise()
    being_graded_when_asked(learner, exercise)
    settings.ATTEMPT_SOFT_TIME_LIMIT = 0.2  # a delivery waits 0.1 s
    regrade = Regrade.objects.create(exercise=exercise, requested_by=instructor)
    published = Mock()
    with django_capture_on_commit_callbacks(execute=True):
        with patch.object(regrading, "WAIT_INTERVAL", 0.02):
            regrading.run(regrade.pk, publish=published)
    regrade.refresh_from_db()
    assert (regrade.status, regrade.done, regrade.total, regrade.deliveries) == (
        "queued",
        0,
        0,
        0,
    )
    published.assert_called_once_with(regrade.pk)
    Regrade.objects.filter(pk=regrade.pk).update(status=Regrade.RUNNING)  # the next delivery
    url = f"/teach/exercises/{exercise.pk}/regrade/{regrade.pk}/"
    page = ines_client.get(url, headers=HTMX).content.decode()
    assert "Waiting for the attempts being graded now" in page
    assert 'max="100" aria-label' in page  # an indeterminate bar, not 100 %


def test_an_attempt_whose_worker_died_is_not_waited_for(learner, instructor):
    exercise = make_exercise()
    attempt = being_graded_when_asked(learner, exercise)
    Attempt.objects.filter(pk=attempt.pk).update(lease_expires_at=timezone.now())
    regrade = Regrade.objects.create(exercise=exercise, requested_by=instructor)
    with patch.object(regrading.time, "sleep", side_effect=AssertionError("waited")):
        regrading.run(regrade.pk, publish=Mock())
    regrade.refresh_from_db()
    assert (regrade.status, regrade.total) == ("done", 0)


def test_a_learner_deleted_during_a_regrade_costs_nobody_else_their_regrade(
    learner, other_learner, instructor, settings
):
    exercise = make_exercise()
    for who in (learner, other_learner, other_learner):
        make_attempt(who, exercise)
    run_queued()
    exercise.rubric = BYE_RUBRIC
    exercise.save()
    settings.ATTEMPT_SOFT_TIME_LIMIT = 0  # a delivery regrades one attempt, then hands over
    regrade = Regrade.objects.create(exercise=exercise, requested_by=instructor)
    regrading.run(regrade.pk, publish=Mock())
    regraded = Attempt.objects.get(runs__criteria__0__id="bye")
    regraded.learner.delete()  # and with them their attempts
    while Regrade.objects.get(pk=regrade.pk).status != Regrade.DONE:
        regrading.run(regrade.pk, publish=Mock())
    criteria = [run.criteria[0]["id"] for run in Run.objects.filter(attempt__exercise=exercise)]
    assert criteria and set(criteria) == {"bye"}


def test_the_judge_call_count_leaves_out_criteria_an_instructor_decided(learner, instructor):
    from lessons.review import decisions

    exercise, attempt = graded_then_judge_edited(learner)
    run = attempt.runs.select_related("attempt__exercise").get()
    Exercise.objects.filter(pk=exercise.pk).update(rubric=JUDGED)  # as it was when graded
    decisions.decide(run, "friendly", False, "Too curt.", instructor)
    exercise.save()  # the edited judge again
    now = timezone.now()
    assert regrading.judge_calls_needed(exercise, now) == 0
    assert regrading.judge_calls_at_most(exercise, now) == 0
    run_regrade(exercise, instructor)
    assert judge_calls_on_ledger(instructor) == 0  # the decision stands: no judge was asked
    run.refresh_from_db()
    assert regrading.by_id(run.criteria)["friendly"]["passed"] is False


def test_a_regrade_whose_instructor_was_deleted_asks_no_judge(learner, instructor):
    exercise, _ = graded_then_judge_edited(learner)
    regrade = Regrade.objects.create(exercise=exercise, requested_by=None)  # deleted since
    asked = []
    real = calls.make_judge

    def make_judge(*args, **kwargs):
        judge = real(*args, **kwargs)
        return lambda request: asked.append(request) or judge(request)

    with patch("lessons.authoring.regrading.calls.make_judge", make_judge):
        regrading.run(regrade.pk, publish=Mock())
    regrade.refresh_from_db()
    assert regrade.status == Regrade.ERROR
    assert regrade.error.startswith("0 attempts regraded, then the instructor who asked for it")
    assert asked == []  # no judge call on nobody's ledger


def test_a_regrade_hides_every_sample_of_a_case_that_fails(learner, instructor):
    exercise = make_exercise(
        samples=2,
        sample_rule="all",
        cases=[{"name": "Secret", "variables": {"name": "Z"}, "visibility": "hide_if_fail"}],
    )
    attempt = make_attempt(learner, exercise)
    run_queued()
    first, second = attempt.runs.order_by("sample")
    Run.objects.filter(pk=second.pk).update(output="nope")  # this sample fails the case
    Run.objects.filter(attempt=attempt).update(hidden=False)
    run_regrade(exercise, instructor)
    assert [run.hidden for run in attempt.runs.order_by("sample")] == [True, True]


def test_a_regrade_that_crashes_stops_saying_so_without_quoting_the_error(learner, instructor):
    exercise = make_exercise()
    make_attempt(learner, exercise)
    run_queued()
    regrade = Regrade.objects.create(exercise=exercise, requested_by=instructor)
    crash = RuntimeError('relation "sandbox_run" … E\'[{"id": ...')
    with patch.object(regrading, "grade_stored", side_effect=crash):
        regrading.run(regrade.pk, publish=Mock())
    regrade.refresh_from_db()
    assert regrade.status == Regrade.ERROR
    assert regrade.error.startswith("Something went wrong while grading the attempts again")
    assert "sandbox_run" not in regrade.error


def test_a_regrade_whose_worker_died_mid_way_rebuilds_the_progress_it_left_behind(
    learner, other_learner, instructor, settings
):
    """A worker killed (kill -9) after regrading some attempts never reaches the `finally`
    that rebuilds their learners' progress; the delivery that takes the regrade up again
    starts after them, so it must rebuild theirs too."""
    from lessons.review.models import Progress

    exercise = make_exercise()
    for who in (learner, other_learner):
        make_attempt(who, exercise, user_prompt="nothing")  # fails, and passes regraded
    run_queued()
    exercise.rubric = {"criteria": [{"id": "any", "kind": "word_count", "params": {"min": 1}}]}
    exercise.save()
    regrade = Regrade.objects.create(exercise=exercise, requested_by=instructor)
    first = Attempt.objects.order_by("id").first()
    assert first is not None

    class Killed(BaseException):
        """The worker process dies here: no `finally` runs."""

    real = regrading.regrade_attempt

    def regrade_one_then_die(exercise, attempt, *args):
        if attempt.pk != first.pk:
            raise Killed
        return real(exercise, attempt, *args)

    with (
        patch.object(regrading, "regrade_attempt", regrade_one_then_die),
        patch.object(regrading.progress, "refresh"),  # a dead process rebuilds nothing
        pytest.raises(Killed),
    ):
        regrading.run(regrade.pk, publish=Mock())
    assert Regrade.objects.get(pk=regrade.pk).done == 1
    Regrade.objects.filter(pk=regrade.pk).update(lease_expires_at=timezone.now())  # it expired
    regrading.run(regrade.pk, publish=Mock())  # the reconciler's delivery
    regrade.refresh_from_db()
    assert (regrade.status, regrade.done) == (Regrade.DONE, 2)
    for who in (learner, other_learner):
        assert Progress.objects.get(learner=who, exercise=exercise).passed, who


@pytest.mark.django_db(transaction=True)  # the ledger's foreign key is checked at commit
def test_a_regrade_whose_instructor_is_deleted_mid_way_stops_saying_why(
    learner, other_learner, instructor
):
    exercise = make_exercise(rubric=JUDGED, stub=JUDGE_STUB)
    for who in (learner, other_learner):
        make_attempt(who, exercise)
    run_queued()
    rubric = json.loads(json.dumps(JUDGED))
    rubric["criteria"][1]["params"]["items"] = ["The reply is friendly."]
    exercise.rubric = rubric
    exercise.save()
    regrade = Regrade.objects.create(exercise=exercise, requested_by=instructor)
    asked = []
    real = calls.make_judge

    def make_judge(*args, **kwargs):
        judge = real(*args, **kwargs)

        def ask(request):
            if not asked:
                instructor.delete()  # while the judge answers the first attempt
            asked.append(request)
            return judge(request)

        return ask

    with patch("lessons.authoring.regrading.calls.make_judge", make_judge):
        regrading.run(regrade.pk, publish=Mock())
    regrade.refresh_from_db()
    assert regrade.status == Regrade.ERROR
    assert regrade.error.startswith("1 attempt regraded, then the instructor who asked for it")
    assert len(asked) == 1  # none on nobody's ledger once the account was gone


@pytest.mark.parametrize("attempts", [2, 1], ids=["mid-way", "on-the-last-attempt"])
def test_an_edit_saved_while_a_regrade_runs_stops_it_saying_so(
    attempts, learner, other_learner, instructor
):
    """The rest would be graded with the rubric the delivery read when it began (or, after a
    hand-over, with the new one): the regrade's attempts would mix rubrics, and say done. An
    edit while the last attempt is regraded leaves it graded with the rubric of before: the
    regrade must not say done either."""
    exercise = make_exercise()
    for who in (learner, other_learner)[:attempts]:
        make_attempt(who, exercise, user_prompt="nothing")  # fails, and passes regraded
    run_queued()
    exercise.rubric = {"criteria": [{"id": "any", "kind": "word_count", "params": {"min": 1}}]}
    exercise.save()
    regrade = regrading.start(exercise, instructor, publish=Mock())
    real = regrading.regrade_attempt

    def regrade_then_edit(*args):
        changed = real(*args)
        Exercise.objects.filter(pk=exercise.pk).update(rubric=BYE_RUBRIC)  # meanwhile
        return changed

    with patch.object(regrading, "regrade_attempt", regrade_then_edit):
        regrading.run(regrade.pk, publish=Mock())
    regrade.refresh_from_db()
    assert (regrade.status, regrade.done) == (Regrade.ERROR, 1)
    assert regrade.error.startswith("1 attempt regraded, then the exercise was edited:")
