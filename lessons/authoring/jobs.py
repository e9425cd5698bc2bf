"""Background jobs of the lessons app (regrades, judge calibrations: lessons.models.BackgroundJob),
claimed as attempts are: a conditional UPDATE takes a queued job, or a running one past its
lease (its worker died), with a new lease; a delivery saves only while no later claim replaced
it; the lessons reconciler publishes again the ones a lost message or a dead worker left."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import F, Model, Q, QuerySet
from django.utils import timezone

from lessons.models import BackgroundJob
from sandbox import runs

log = logging.getLogger(__name__)

Publish = Callable[[int], object]
Job = TypeVar("Job", bound=BackgroundJob)


def lease_end() -> datetime:
    return timezone.now() + timedelta(seconds=settings.ATTEMPT_LEASE_SECONDS)


def lease_expired(now: datetime) -> Q:
    """Return the running jobs whose worker died: past their lease, or without one (claimed
    before the job had leases)."""
    return Q(status=BackgroundJob.RUNNING) & (
        Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True)
    )


def claim(model: type[Job], pk: int) -> Job | None:
    """Move a queued job, or a running one past its lease, to running with a new lease and one
    more delivery; return it, or None if another delivery holds it or it is final."""
    now = timezone.now()
    claimable = Q(status=BackgroundJob.QUEUED) | lease_expired(now)
    claimed = model._default_manager.filter(claimable, pk=pk).update(
        status=BackgroundJob.RUNNING,
        started_at=now,
        lease_expires_at=lease_end(),
        deliveries=F("deliveries") + 1,
    )
    if not claimed:
        return None
    return model._default_manager.select_related(*model.RELATED).get(pk=pk)


def take(model: type[Job], pk: int) -> tuple[Job, QuerySet[Job]] | None:
    """Claim a job for this delivery; return it with its hold (the job as long as no later
    claim replaced this one), or None when there is nothing to do: another delivery holds it,
    it is final, or it was delivered MAX_DELIVERIES times without handing over or finishing
    (it stopped its worker each time) and is now set aside with an error."""
    job = claim(model, pk)
    if job is None:
        log.info("%s %s is not runnable; nothing to do", model._meta.verbose_name, pk)
        return None
    held = model._default_manager.filter(
        pk=pk, status=BackgroundJob.RUNNING, started_at=job.started_at
    )
    if job.deliveries > settings.MAX_DELIVERIES:
        held.update(
            status=BackgroundJob.ERROR,
            error=f"It stopped its worker {job.deliveries - 1} times, so it was set aside.",
            finished_at=timezone.now(),
        )
        return None
    return job, held


def one_at_a_time(row: Model) -> None:
    """Lock the row a job is started for (an exercise, a course) until the transaction ends,
    so that a second start at the same moment waits and then sees the first one's job."""
    type(row)._default_manager.select_for_update().filter(pk=row.pk).first()


def publish_on_commit(publish: Publish, pk: int) -> None:
    """Publish a job once the transaction that saved it commits. A broker down then is logged
    and the reconciler publishes it later. (A lambda, not a functools.partial: Django logs a
    robust hook that raised by its __qualname__, which a partial lacks, failing the request.)"""
    transaction.on_commit(lambda: publish(pk), robust=True)


def hand_over(held: QuerySet, pk: int, publish: Publish) -> None:
    """Queue the rest of a job for a fresh delivery, its count of deliveries reset."""
    with transaction.atomic():
        if held.update(
            status=BackgroundJob.QUEUED,
            deliveries=0,
            lease_expires_at=None,
            published_at=timezone.now(),
        ):
            publish_on_commit(publish, pk)


def stop(held: QuerySet, error: str) -> None:
    """End a job with an error, if this delivery still holds it."""
    held.update(status=BackgroundJob.ERROR, error=error, finished_at=timezone.now())


def replace_stalled(under_way: QuerySet, what: str) -> None:
    """Stop the jobs among `under_way` whose worker died, which a new one started now
    replaces: taken up again by the reconciler, they would do (and bill) its work twice."""
    stalled = under_way.filter(lease_expired(timezone.now()))
    stop(
        stalled,
        f"Its worker stopped before it finished, and the {what} started after it replaced it.",
    )


def reconcile(model: type[BackgroundJob], publish: Publish) -> int:
    """Publish again the jobs a lost message or a dead worker left behind; return how many.
    The claim takes them up where they stopped."""
    expired = model._default_manager.filter(lease_expired(timezone.now()))
    rows = model._default_manager.all()
    return runs.republish(rows, expired, publish, str(model._meta.verbose_name_plural))
