"""Celery tasks of the lessons app: thin wrappers that take ids and call plain functions."""

from __future__ import annotations

from celery import shared_task

from lessons import publishing, regrading


@shared_task(name="lessons.regrade", acks_late=True, ignore_result=True)
def regrade(regrade_id: int) -> None:
    regrading.run(regrade_id, publish=regrade.delay)


@shared_task(name="lessons.reconcile", ignore_result=True)
def reconcile() -> int:
    """Decide stranded publish checks and publish again stranded regrades."""
    return publishing.finish_stranded_checks() + regrading.reconcile(publish=regrade.delay)
