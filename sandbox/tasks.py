"""Celery tasks: thin wrappers that call plain functions in sandbox.runs.

Attempts wait in the database, not in the broker: a submission saves its attempt and
wakes the workers with a drain_queue message, unless one is already on its way; a drain
claims a batch of waiting attempts and runs them. Under load one message starts many
attempts, so the broker's cost per message is shared by the batch.

drain_queue has no Celery retries: retries live in sandbox.calls, so a model call is
never multiplied by a second retry layer.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from sandbox import runs


@shared_task(name="sandbox.drain_queue", acks_late=True, ignore_result=True)
def drain_queue() -> None:
    runs.drain_queue(wake=wake_workers)


def wake_workers() -> None:
    """Publish drain_queue, unless one published earlier has not started yet: that one
    will claim what is queued now. If the publish fails, the mark is taken back, so the
    next submission tries again (and the reconciler wakes the workers meanwhile)."""
    pending = runs.drain_pending_key()
    if not cache.add(pending, True, settings.DRAIN_PENDING_SECONDS):
        return
    try:
        drain_queue.delay()
    except BaseException:
        cache.delete(pending)
        raise


def wake_workers_on_commit() -> None:
    """Wake the workers once the transaction that saved an attempt commits.

    If the broker is down then, the error is logged and the learner still gets their
    saved attempt; it stays queued and the reconciler wakes the workers later.
    """
    transaction.on_commit(wake_workers, robust=True)


@shared_task(name="sandbox.reconcile", ignore_result=True)
def reconcile() -> int:
    return runs.reconcile(wake=drain_queue.delay)
