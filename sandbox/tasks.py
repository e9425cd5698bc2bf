"""Celery tasks: thin wrappers that take ids and call plain functions in sandbox.runs.

run_attempt has no Celery retries: retries live in sandbox.calls, so a model
call is never multiplied by a second retry layer.
"""

from __future__ import annotations

from celery import shared_task

from sandbox import runs


@shared_task(name="sandbox.run_attempt", acks_late=True, ignore_result=True)
def run_attempt(attempt_id: str) -> None:
    runs.execute_attempt(attempt_id)


@shared_task(name="sandbox.reconcile", ignore_result=True)
def reconcile() -> int:
    return runs.reconcile(publish=run_attempt.delay)
