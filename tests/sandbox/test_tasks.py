"""sandbox.tasks: the run_attempt task and how a saved attempt is queued."""

from __future__ import annotations

import inspect
from unittest.mock import patch

from django.db import transaction

from sandbox.tasks import enqueue_attempt, reconcile, run_attempt
from tests.conftest import make_attempt


def test_the_task_is_named_acknowledged_late_and_takes_the_attempt_id():
    assert run_attempt.name == "sandbox.run_attempt"
    assert run_attempt.acks_late is True
    assert list(inspect.signature(run_attempt.run).parameters) == ["attempt_id"]


def test_the_task_only_calls_the_runner():
    with patch("sandbox.tasks.runs.execute") as execute:
        run_attempt("an-id")
    execute.assert_called_once_with("an-id")


def test_an_attempt_is_published_once_its_transaction_commits(
    learner, exercise, delay, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            attempt = make_attempt(learner, exercise)
            enqueue_attempt(attempt)
            delay.assert_not_called()
    delay.assert_called_once_with(str(attempt.id))


def test_an_attempt_rolled_back_is_never_published(
    learner, exercise, delay, django_capture_on_commit_callbacks
):
    class Abort(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                enqueue_attempt(make_attempt(learner, exercise))
                raise Abort
        except Abort:
            pass
    assert callbacks == []
    delay.assert_not_called()


def test_the_reconciler_publishes_through_the_task(delay):
    with patch("sandbox.tasks.runs.reconcile", return_value=3) as reconciler:
        assert reconcile() == 3
    reconciler.assert_called_once_with(publish=run_attempt.delay)
