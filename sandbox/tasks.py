"""Celery tasks: thin wrappers that take ids and call plain functions in sandbox.runs.

run_attempt has no Celery retries: retries live in sandbox.calls, so a model call is never
multiplied by a second retry layer. It is acknowledged late and claims its attempt with a
conditional UPDATE, so a redelivered or duplicated message does nothing twice.
"""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from sandbox import runs
from sandbox.models import Attempt


@shared_task(name="sandbox.run_attempt", acks_late=True, ignore_result=True)
def run_attempt(attempt_id: str) -> None:
    runs.execute(attempt_id)


def enqueue_attempt(attempt: Attempt) -> None:
    """Publish run_attempt once the transaction that saved the attempt commits.

    If the broker is down then, the error is logged and the learner still gets their saved
    attempt; it stays queued and the reconciler publishes it later.
    """
    transaction.on_commit(lambda: run_attempt.delay(str(attempt.id)), robust=True)


@shared_task(name="sandbox.reconcile", ignore_result=True)
def reconcile() -> int:
    return runs.reconcile(publish=run_attempt.delay)
