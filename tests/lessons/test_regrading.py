"""lessons.regrading: a regrade grades stored outputs as the runner does (one scoring path),
keeps judge verdicts that cannot have changed, charges the instructor for the others, and
is taken up again by the lessons reconciler when its message or its worker is lost."""

from __future__ import annotations

import importlib
import json
import time
from datetime import timedelta
from unittest.mock import Mock

import pytest
from django.apps import apps
from django.utils import timezone

from lessons.authoring import jobs, regrading
from lessons.models import Exercise, Regrade
from lessons.tasks import reconcile
from sandbox.models import Attempt, UsageRecord
from tests.conftest import HTMX, JUDGED_RUBRIC, make_attempt, make_exercise, make_run, run_queued

pytestmark = pytest.mark.django_db

# The honest stub judge meets "greets" on "Hello there!" (three calls: the verdict and its two
# checks), and knows no rule for any other item: not met, in one call.
JUDGE_STUB = {
    "rules": [{"if": "say hello", "reply": "Hello there!"}],
    "default": "No.",
    "judge": [{"item": "The reply greets the reader.", "if": "hello"}],
}
JUDGED = json.loads(json.dumps(JUDGED_RUBRIC))
JUDGED["criteria"][1]["params"]["model"] = "stub:judge"


def run_regrade(exercise: Exercise, instructor) -> Regrade:
    regrade = Regrade.objects.create(exercise=exercise, requested_by=instructor)
    regrading.run(regrade.pk, publish=Mock())
    regrade.refresh_from_db()
    return regrade


def judge_calls_on_ledger(user) -> int:
    return UsageRecord.objects.filter(learner=user, attempt=None, cache_hit=False).count()


def test_it_grades_stored_outputs_again_with_the_new_rubric(learner, instructor):
    exercise = make_exercise()
    attempt = make_attempt(learner, exercise)
    run_queued()
    exercise.rubric = {"criteria": [{"id": "bye", "kind": "contains", "params": {"text": "bye"}}]}
    exercise.save()
    regrade = run_regrade(exercise, instructor)
    attempt.refresh_from_db()
    assert (attempt.score, attempt.passed) == (0.0, False)
    assert [c["id"] for c in attempt.runs.get().criteria] == ["bye"]
    assert (regrade.status, regrade.total, regrade.done, regrade.changed) == ("done", 1, 1, 1)


def test_with_every_sample_required_the_case_scores_its_worst_sample_not_the_mean(
    learner, instructor
):
    exercise = make_exercise(samples=2, sample_rule="all")
    attempt = make_attempt(learner, exercise, status=Attempt.GRADED, finished_at=timezone.now())
    case = exercise.cases.get()
    make_run(attempt, 0, case=case, case_name="Ada", sample=0, output="Hello there!")
    make_run(attempt, 1, case=case, case_name="Ada", sample=1, output="Nope")
    run_regrade(exercise, instructor)
    attempt.refresh_from_db()
    # "Nope" passes "short" only: 0.5. The mean of the samples would be 0.75.
    assert attempt.score == pytest.approx(0.5) and attempt.passed is False
    assert [r.score for r in attempt.runs.order_by("sample")] == [1.0, 0.5]


def test_unchanged_judge_criteria_keep_their_verdicts_without_a_judge_call(learner, instructor):
    exercise = make_exercise(rubric=JUDGED, stub=JUDGE_STUB)
    attempt = make_attempt(learner, exercise)
    run_queued()
    attempt.refresh_from_db()
    assert attempt.passed and attempt.score == 1.0
    stored = attempt.runs.get().criteria
    assert regrading.judge_calls_needed(exercise, timezone.now()) == 0
    regrade = run_regrade(exercise, instructor)
    attempt.refresh_from_db()
    assert (attempt.score, attempt.passed) == (1.0, True)  # not "unavailable", not 50%
    assert attempt.runs.get().criteria == stored
    assert regrade.changed == 0 and judge_calls_on_ledger(instructor) == 0


def graded_then_judge_edited(learner) -> tuple[Exercise, Attempt]:
    """Return an exercise whose judge criterion was edited after it graded this attempt."""
    exercise = make_exercise(rubric=JUDGED, stub=JUDGE_STUB)
    attempt = make_attempt(learner, exercise)
    run_queued()
    rubric = json.loads(json.dumps(JUDGED))
    rubric["criteria"][1]["params"]["items"] = ["The reply is friendly."]
    exercise.rubric = rubric
    exercise.save()
    return exercise, attempt


def test_changed_judge_criteria_ask_the_judge_on_the_instructors_ledger(learner, instructor):
    exercise, _ = graded_then_judge_edited(learner)
    assert regrading.judge_calls_needed(exercise, timezone.now()) == 1
    run_regrade(exercise, instructor)
    assert judge_calls_on_ledger(instructor) == 1
    assert regrading.judge_calls_needed(exercise, timezone.now()) == 0


def test_the_page_says_how_many_judge_calls_before_it_starts(ines_client, learner):
    exercise = make_exercise(rubric=JUDGED, stub=JUDGE_STUB)
    for _ in range(3):
        make_attempt(learner, exercise)
    run_queued()
    rubric = json.loads(json.dumps(JUDGED))
    rubric["criteria"][1]["params"]["items"] = ["The reply is friendly."]
    Exercise.objects.filter(pk=exercise.pk).update(rubric=rubric)
    html = ines_client.get(f"/teach/exercises/{exercise.id}/regrade/", headers=HTMX)
    text = html.content.decode()
    # Up to three calls per attempt, each asked again after a bad answer (default retries: 1).
    assert "This regrade will grade 3 attempts again and make up to 18 judge calls" in text
    assert regrading.judge_calls_needed(Exercise.objects.get(pk=exercise.pk), timezone.now()) == 3
    assert f'hx-post="/teach/exercises/{exercise.id}/regrade/"' in text
    assert not Regrade.objects.exists()


def test_it_refuses_to_start_when_the_instructor_is_over_budget(
    ines_client, instructor, learner, settings
):
    exercise = make_exercise(rubric=JUDGED, stub=JUDGE_STUB)
    make_attempt(learner, exercise)
    run_queued()
    rubric = json.loads(json.dumps(JUDGED))
    rubric["criteria"][1]["params"]["items"] = ["The reply is friendly."]
    Exercise.objects.filter(pk=exercise.pk).update(rubric=rubric)
    UsageRecord.objects.create(
        learner=instructor, backend="stub", model="scripted", input_tokens=10**9
    )
    r = ines_client.post(f"/teach/exercises/{exercise.id}/regrade/", headers=HTMX)
    assert "Not regraded: You have used your" in r.content.decode()
    assert not Regrade.objects.exists()


def test_a_regrade_whose_message_was_lost_is_published_again(ines_client, instructor, settings):
    exercise = make_exercise()
    old = timezone.now() - timedelta(seconds=settings.RECONCILE_QUEUED_AFTER + 1)
    regrade = Regrade.objects.create(exercise=exercise, requested_by=instructor)
    Regrade.objects.filter(pk=regrade.pk).update(published_at=old)
    published = Mock()
    assert regrading.reconcile(publish=published) == 1
    published.assert_called_once_with(regrade.pk)
    assert regrading.reconcile(publish=published) == 0  # stamped: not again at once


def test_a_regrade_whose_worker_died_is_taken_up_again_and_the_button_comes_back(
    ines_client, learner, instructor, monkeypatch
):
    exercise = make_exercise()
    for _ in range(2):
        make_attempt(learner, exercise)
    run_queued()
    exercise.rubric = {"criteria": [{"id": "bye", "kind": "contains", "params": {"text": "bye"}}]}
    exercise.save()
    regrade = Regrade.objects.create(exercise=exercise, requested_by=instructor)
    # A worker claimed it, regraded nothing, and died: running, its lease long gone.
    jobs.claim(Regrade, regrade.pk)
    Regrade.objects.filter(pk=regrade.pk).update(lease_expires_at=timezone.now())
    url = f"/teach/exercises/{exercise.id}/regrade/{regrade.pk}/"
    assert ines_client.get(url, headers=HTMX).status_code == 200  # still polling
    # The beat task publishes it again; the new delivery runs it to the end.
    monkeypatch.setattr("lessons.tasks.regrade.delay", lambda pk: regrading.run(pk, Mock()))
    assert reconcile.run() == 1
    regrade.refresh_from_db()
    assert (regrade.status, regrade.done, regrade.changed, regrade.deliveries) == ("done", 2, 2, 2)
    r = ines_client.get(url, headers=HTMX)
    assert r.status_code == 286  # htmx: stop polling
    html = r.content.decode()
    assert "2 attempts regraded, 2 changed" in html and "Regrade attempts" in html


def test_a_regrade_that_kills_its_worker_every_time_is_set_aside(instructor, settings):
    exercise = make_exercise()
    regrade = Regrade.objects.create(exercise=exercise, requested_by=instructor)
    for _ in range(settings.MAX_DELIVERIES):
        jobs.claim(Regrade, regrade.pk)
        Regrade.objects.filter(pk=regrade.pk).update(lease_expires_at=timezone.now())
    regrading.run(regrade.pk, publish=Mock())
    regrade.refresh_from_db()
    assert regrade.status == Regrade.ERROR
    assert "stopped its worker 3 times" in regrade.error


def test_a_duplicate_message_does_nothing(instructor):
    regrade = Regrade.objects.create(exercise=make_exercise(), status=Regrade.DONE)
    regrading.run(regrade.pk, publish=Mock())
    regrade.refresh_from_db()
    assert regrade.status == Regrade.DONE and regrade.started_at is None


def test_a_long_regrade_hands_the_rest_to_a_fresh_message(learner, instructor, settings):
    exercise = make_exercise()
    for _ in range(2):
        make_attempt(learner, exercise)
    run_queued()
    settings.ATTEMPT_SOFT_TIME_LIMIT = 0  # every delivery is out of time after one attempt
    regrade = Regrade.objects.create(exercise=exercise, requested_by=instructor)
    published = Mock()
    regrading.run(regrade.pk, publish=published)
    regrade.refresh_from_db()
    assert (regrade.status, regrade.done, regrade.deliveries) == ("queued", 1, 0)
    regrading.run(regrade.pk, publish=published)
    regrade.refresh_from_db()
    assert (regrade.status, regrade.done, regrade.total) == ("done", 2, 2)


def test_reference_runs_are_left_alone(instructor):
    exercise = make_exercise(solution={"user": "Say hello to {name}."})
    Attempt.objects.create(learner=instructor, exercise=exercise, is_reference=True)
    run_queued()
    assert run_regrade(exercise, instructor).total == 0


def test_judge_calls_at_most_counts_every_retry_of_every_judge_in_a_criterion(learner):
    exercise = make_exercise(rubric=JUDGED, stub=JUDGE_STUB)
    for _ in range(2):
        make_attempt(learner, exercise)
    run_queued()
    judge = {"kind": "llm_judge", "params": {"model": "stub:judge", "items": ["Kind."]}}
    rubric = json.loads(json.dumps(JUDGED))
    rubric["criteria"][1]["params"]["retries"] = 3
    rubric["criteria"].append(
        {
            "id": "both",
            "kind": "all_of",
            "params": {"criteria": [{"id": "a", **judge}, {"id": "b", **judge}]},
        }
    )
    Exercise.objects.filter(pk=exercise.pk).update(rubric=rubric)
    exercise.refresh_from_db()
    # Per attempt, three calls each asked up to 1 + retries times: friendly 3 × (1 + 3),
    # both 2 × 3 × (1 + 1).
    assert regrading.judge_calls_at_most(exercise, timezone.now()) == 2 * (12 + 12)
    assert regrading.judge_calls_needed(exercise, timezone.now()) == 2 * 2


def test_a_regrade_stops_once_the_instructor_is_over_budget(learner, instructor, monkeypatch):
    exercise = make_exercise(rubric=JUDGED, stub=JUDGE_STUB)
    for _ in range(3):
        make_attempt(learner, exercise)
    run_queued()
    rubric = json.loads(json.dumps(JUDGED))
    rubric["criteria"][1]["params"]["items"] = ["The reply is friendly."]
    Exercise.objects.filter(pk=exercise.pk).update(rubric=rubric)
    refusals = iter(["", "You have used your tokens for today."])
    asked = []

    def budget_refusal(user):
        asked.append(user)
        return next(refusals)

    monkeypatch.setattr(regrading.limits, "budget_refusal", budget_refusal)
    regrade = run_regrade(exercise, instructor)
    assert asked == [instructor, instructor]  # before each attempt, on the instructor's budget
    assert (regrade.status, regrade.done, regrade.total) == ("error", 1, 3)
    assert regrade.error == (
        "1 attempt regraded, then it was over the budget of the instructor who asked for it. "
        "You have used your tokens for today."
    )
    assert judge_calls_on_ledger(instructor) == 1


def test_a_regrade_that_calls_no_judge_ignores_the_budget(learner, instructor):
    exercise = make_exercise()
    make_attempt(learner, exercise)
    run_queued()
    UsageRecord.objects.create(
        learner=instructor, backend="stub", model="scripted", input_tokens=10**9
    )
    exercise.rubric = {"criteria": [{"id": "bye", "kind": "contains", "params": {"text": "bye"}}]}
    exercise.save()
    regrade = run_regrade(exercise, instructor)
    assert (regrade.status, regrade.done) == ("done", 1)


def test_judge_calls_of_a_delivery_that_lost_the_regrade_still_reach_the_ledger(
    learner, instructor
):
    exercise = make_exercise(rubric=JUDGED, stub=JUDGE_STUB)
    attempt = make_attempt(learner, exercise)
    run_queued()
    attempt.refresh_from_db()
    stored = attempt.runs.get().criteria
    rubric = json.loads(json.dumps(JUDGED))
    rubric["criteria"][1]["params"]["items"] = ["The reply is friendly."]
    Exercise.objects.filter(pk=exercise.pk).update(rubric=rubric)
    exercise.refresh_from_db()
    attempt = regrading.attempts_to_regrade(exercise, timezone.now()).get()
    lost = Regrade.objects.none()  # another delivery claimed the regrade meanwhile
    deadline = time.monotonic() + 60
    assert regrading.regrade_attempt(exercise, attempt, instructor.pk, lost, deadline) is None
    assert judge_calls_on_ledger(instructor) == 1
    assert attempt.runs.get().criteria == stored  # the grade is not saved


def test_a_regrade_left_running_without_a_lease_is_taken_up_again(instructor):
    """Regrades claimed before they had leases: the migration gives them an expired one, and
    the reconciler and the claim treat one still without a lease as expired."""
    exercise = make_exercise()
    regrade = Regrade.objects.create(exercise=exercise, requested_by=instructor)
    Regrade.objects.filter(pk=regrade.pk).update(
        status=Regrade.RUNNING, lease_expires_at=None, deliveries=1
    )
    published = Mock()
    assert regrading.reconcile(publish=published) == 1
    published.assert_called_once_with(regrade.pk)
    assert jobs.claim(Regrade, regrade.pk) is not None
    regrade.refresh_from_db()
    assert regrade.lease_expires_at is not None and regrade.deliveries == 2


def test_the_migration_gives_leaseless_running_regrades_an_expired_lease(instructor):
    migration = importlib.import_module("lessons.migrations.0005_publish_check_regrade_lease")
    exercise = make_exercise()
    running, queued = (
        Regrade.objects.create(exercise=exercise, requested_by=instructor) for _ in range(2)
    )
    Regrade.objects.filter(pk=running.pk).update(status=Regrade.RUNNING, lease_expires_at=None)
    migration.lease_running_regrades(apps, None)
    running.refresh_from_db()
    queued.refresh_from_db()
    assert running.lease_expires_at <= timezone.now() and queued.lease_expires_at is None


def test_the_migration_stops_regrades_under_way_that_counted_attempts_at_an_offset(instructor):
    migration = importlib.import_module("lessons.migrations.0016_regrade_after")
    exercise = make_exercise()
    halfway, fresh, done = (
        Regrade.objects.create(exercise=exercise, requested_by=instructor) for _ in range(3)
    )
    Regrade.objects.filter(pk=halfway.pk).update(status=Regrade.QUEUED, done=3, total=5)
    Regrade.objects.filter(pk=done.pk).update(status=Regrade.DONE, done=5, total=5)
    migration.stop_regrades_under_way(apps, None)
    statuses = {r.pk: (r.status, r.error[:24]) for r in Regrade.objects.all()}
    assert statuses == {
        halfway.pk: ("error", "The site was upgraded wh"),
        fresh.pk: ("queued", ""),
        done.pk: ("done", ""),
    }
