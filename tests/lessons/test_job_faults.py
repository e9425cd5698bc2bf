"""Faults in the instructor's server-side jobs, with real parts: a worker and a scheduler on a
Redis of the test's own, killed (kill -9) or stopped (SIGTERM) while a regrade or a publish
check's reference run is under way. Every job ends, once, with the truth on its row.

The processes run with test_faults' small, still nested, limits (a 5-second soft limit in an
8-second lease, a reconciler every second); tests/stalling_worker.py makes the grader of an
output holding "GRADER-LOOPS-FOR 1s" take a second, and the stub answer "STUB-WAITS 3s" late.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from unittest.mock import patch

import pytest
from celery import Celery
from django.contrib.auth.models import User

from lessons.authoring import publishing
from lessons.models import Exercise, PublishCheck, Regrade
from lessons.review.models import Progress
from sandbox.models import Attempt, Run
from tests.conftest import make_attempt, make_exercise, run_queued
from tests.live import Stack, wait_until
from tests.sandbox.test_faults import SMALL, STALLING

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

GREETS = {"criteria": [{"id": "greets", "kind": "contains", "params": {"text": "hello"}}]}


@pytest.fixture
def stack(tmp_path, private_redis) -> Iterator[Stack]:
    stack = Stack(
        workdir=tmp_path, broker="redis", extra_env={"REDIS_URL": private_redis.url, **SMALL}
    )
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def send(private_redis) -> Iterator:
    """Publish a task from this process, as the web process does."""
    app = Celery("publisher", broker=private_redis.url)
    app.conf.broker_connection_retry_on_startup = True

    def publish(name: str, arg) -> None:
        app.send_task(name, args=[arg])

    try:
        yield publish
    finally:
        app.close()


def kill_9(process) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def regrade_under_way() -> tuple[Exercise, Regrade, list[User]]:
    """Return a regrade (queued) of eight learners' attempts, one each, failing on the echo
    model (too long) and passing once the rubric is GREETS; each takes the worker a second."""
    exercise = make_exercise(model_name="echo")
    people = [User.objects.create(username=f"learner{n}") for n in range(8)]
    for who in people:
        make_attempt(who, exercise, user_prompt="Say hello GRADER-LOOPS-FOR 1s to {name}.")
    run_queued()  # here: no loop
    assert not Attempt.objects.filter(passed=True).exists()
    exercise.rubric = GREETS
    exercise.save()
    instructor = User.objects.create(username="ines")
    return exercise, Regrade.objects.create(exercise=exercise, requested_by=instructor), people


def assert_regraded_once(exercise: Exercise, regrade: Regrade, people: list[User]) -> None:
    regrade.refresh_from_db()
    assert (regrade.status, regrade.error) == (Regrade.DONE, "")
    assert (regrade.total, regrade.done, regrade.changed) == (8, 8, 8)
    assert set(Attempt.objects.values_list("passed", flat=True)) == {True}
    assert {tuple(c["id"] for c in r.criteria) for r in Run.objects.all()} == {("greets",)}
    for who in people:
        progress = Progress.objects.get(learner=who, exercise=exercise)
        assert progress.passed and progress.attempts == 1, who


def test_a_regrade_whose_worker_is_killed_mid_way_finishes_once_with_true_progress(stack, send):
    exercise, regrade, people = regrade_under_way()
    worker = stack.start_worker(include=STALLING)
    send("lessons.regrade", regrade.pk)
    # A delivery hands over after half the soft limit (2.5 s): kill the second one mid-way,
    # once it regraded an attempt (a learner's only one, which no later delivery sees).
    wait_until(lambda: Regrade.objects.get(pk=regrade.pk).done >= 4, 30, "half the regrade")
    kill_9(worker)
    assert Regrade.objects.get(pk=regrade.pk).done < 8
    stack.start_worker(include=STALLING)
    stack.start_beat()
    wait_until(
        lambda: Regrade.objects.get(pk=regrade.pk).is_final, 30, "the regrade to be finished"
    )
    assert_regraded_once(exercise, regrade, people)
    assert "reconciled 1 regrades" in stack.log("worker").read_text()


def test_a_regrade_whose_worker_is_stopped_for_a_deploy_finishes_once(stack, send):
    exercise, regrade, people = regrade_under_way()
    worker = stack.start_worker(include=STALLING)
    send("lessons.regrade", regrade.pk)
    wait_until(lambda: Regrade.objects.get(pk=regrade.pk).done >= 1, 30, "the regrade to start")
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=30)
    stack.start_worker(include=STALLING)  # its hand-over message waits in Redis for it
    wait_until(
        lambda: Regrade.objects.get(pk=regrade.pk).is_final, 30, "the regrade to be finished"
    )
    assert_regraded_once(exercise, regrade, people)


def test_a_queued_regrade_survives_a_redis_restart(stack, send, private_redis):
    exercise, regrade, people = regrade_under_way()
    send("lessons.regrade", regrade.pk)
    private_redis.restart()  # without persistence: its message is gone
    stack.start_worker(include=STALLING)
    stack.start_beat()
    wait_until(
        lambda: Regrade.objects.get(pk=regrade.pk).is_final, 40, "the regrade to be finished"
    )
    assert_regraded_once(exercise, regrade, people)


def test_a_publish_check_whose_worker_is_killed_while_the_reference_runs_is_decided_once(
    stack, send
):
    exercise = make_exercise(
        status=Exercise.DRAFT, solution={"user": "Please say hello STUB-WAITS 3s to {name}."}
    )
    instructor = User.objects.create(username="ines")
    with patch("sandbox.tasks.run_attempt.delay"):  # published below, to the test's Redis
        check = publishing.start_check(exercise, instructor, PublishCheck.PUBLISH)
    assert check.reference is not None
    worker = stack.start_worker(include=STALLING)
    send("sandbox.run_attempt", str(check.reference.id))
    wait_until(
        lambda: Attempt.objects.get(pk=check.reference.pk).status == Attempt.RUNNING,
        15,
        "the reference to run",
    )
    kill_9(worker)
    stack.start_worker(include=STALLING)
    stack.start_beat()
    wait_until(
        lambda: PublishCheck.objects.get(pk=check.pk).is_final, 30, "the check to be decided"
    )
    check.refresh_from_db()
    exercise.refresh_from_db()
    assert (check.status, check.problems) == (PublishCheck.PASSED, [])
    assert exercise.status == Exercise.PUBLISHED
    reference = Attempt.objects.get(pk=check.reference_id)
    assert (reference.status, reference.deliveries) == (Attempt.GRADED, 2)
    assert reference.runs.count() == 1
    assert stack.log("worker").read_text().count(f"publish check {check.pk} passed") == 1
