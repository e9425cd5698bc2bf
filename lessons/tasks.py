"""Celery tasks of the lessons app: thin wrappers that take ids and call plain functions."""

from __future__ import annotations

import logging

from celery import shared_task

from lessons.authoring import calibrating, health, publishing, regrading

log = logging.getLogger(__name__)


@shared_task(name="lessons.regrade", acks_late=True, ignore_result=True)
def regrade(regrade_id: int) -> None:
    regrading.run(regrade_id, publish=regrade.delay)


@shared_task(name="lessons.calibrate_judge", acks_late=True, ignore_result=True)
def calibrate_judge(calibration_id: int) -> None:
    calibrating.run(calibration_id, publish=calibrate_judge.delay)


@shared_task(name="lessons.check_exercises", acks_late=True, ignore_result=True)
def check_exercises(check_id: int) -> None:
    health.run(check_id, publish=check_exercises.delay)


@shared_task(name="lessons.reconcile", ignore_result=True)
def reconcile() -> int:
    """Decide stranded publish checks, and publish again stranded regrades, calibrations and
    health checks; a failure of the first does not keep the others from running."""
    decided = 0
    try:
        decided = publishing.finish_stranded_checks()
    except Exception:
        log.exception("stranded publish checks could not be decided")
    regrades = regrading.reconcile(publish=regrade.delay)
    calibrations = calibrating.reconcile(publish=calibrate_judge.delay)
    return decided + regrades + calibrations + health.reconcile(publish=check_exercises.delay)
