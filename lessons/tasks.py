"""Celery tasks of the lessons app: thin wrappers that take ids and call lessons.authoring."""

from __future__ import annotations

from celery import shared_task

from lessons import authoring


@shared_task(name="lessons.regrade", ignore_result=True)
def regrade(regrade_id: int) -> None:
    authoring.regrade_exercise(regrade_id)
