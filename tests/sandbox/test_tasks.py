"""sandbox.tasks: the drain_queue task and how a saved attempt wakes the workers."""

from __future__ import annotations

import inspect
import time
from unittest.mock import patch

import pytest
from django.core.cache import cache

from sandbox import runs
from sandbox.tasks import drain_queue, wake_workers


def test_the_task_is_named_acknowledged_late_and_takes_no_arguments():
    assert drain_queue.name == "sandbox.drain_queue"
    assert drain_queue.acks_late is True
    assert list(inspect.signature(drain_queue.run).parameters) == []


def test_the_task_drains_and_wakes_the_workers_when_its_batch_is_full():
    with patch("sandbox.tasks.runs.drain_queue") as drain:
        drain_queue()
    drain.assert_called_once_with(wake=wake_workers)


def test_wakes_before_a_drain_starts_publish_one_message(delay):
    for _ in range(5):
        wake_workers()
    delay.assert_called_once_with()
    assert cache.get(runs.drain_pending_key()) is True


def test_a_drain_that_starts_lets_the_next_wake_publish_again(db, delay):
    wake_workers()
    runs.drain_queue(wake=wake_workers)  # nothing queued; it clears the mark all the same
    wake_workers()
    assert delay.call_count == 2


def test_the_pending_mark_expires_so_a_lost_message_holds_nothing_back(delay, settings):
    settings.DRAIN_PENDING_SECONDS = 0.05
    wake_workers()
    time.sleep(0.1)
    wake_workers()
    assert delay.call_count == 2


def test_each_queue_has_its_own_mark(delay, settings):
    # Sites sharing one Redis keep to their own queues: one's mark must not hold back another.
    wake_workers()
    settings.CELERY_TASK_DEFAULT_QUEUE = "another-site"
    wake_workers()
    assert delay.call_count == 2


def test_a_failed_publish_takes_the_mark_back(delay):
    delay.side_effect = ConnectionError("the broker is down")
    with pytest.raises(ConnectionError):
        wake_workers()
    assert cache.get(runs.drain_pending_key()) is None
    delay.side_effect = None
    wake_workers()
    assert delay.call_count == 2
