"""Celery tasks: thin wrappers that take ids and call plain functions in sandbox.runs.

run_attempt has no Celery retries: retries live in sandbox.calls, so a model
call is never multiplied by a second retry layer.
"""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from sandbox import runs


@shared_task(name="sandbox.run_attempt", acks_late=True, ignore_result=True)
def run_attempt(attempt_id: str) -> None:
    runs.execute_attempt(attempt_id)


def publish_on_commit(attempt_id: str) -> None:
    """Queue run_attempt once the transaction that saved the attempt commits.

    If the broker is down then, the error is logged and the learner still gets their
    saved attempt; it stays queued and the reconciler publishes it later.
    """

    def publish() -> None:
        run_attempt.delay(attempt_id)

    transaction.on_commit(publish, robust=True)


@shared_task(name="sandbox.reconcile", ignore_result=True)
def reconcile() -> int:
    return runs.reconcile(publish=run_attempt.delay)
