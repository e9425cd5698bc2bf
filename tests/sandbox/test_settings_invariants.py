"""R9: the timeouts nest, so no layer gives up (or redelivers) while an inner one still works.

every try of every model call, with its backoff  <  the soft limit
<  the lease (= Celery's hard time limit)  <  the broker's visibility timeout
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from unittest.mock import patch

import pytest
from django.conf import settings

from sandbox.settings import BASE_DIR
from sandbox.tasks import reconcile, run_attempt

NAMES = (
    "PROVIDER_TIMEOUT",
    "PROVIDER_TRIES",
    "RETRY_BACKOFF_BASE",
    "RETRY_BACKOFF_MAX",
    "ATTEMPT_SOFT_TIME_LIMIT",
    "ATTEMPT_LEASE_SECONDS",
    "BROKER_VISIBILITY_TIMEOUT",
    "CELERY_TASK_SOFT_TIME_LIMIT",
    "CELERY_TASK_TIME_LIMIT",
    "CELERY_BROKER_TRANSPORT_OPTIONS",
    "CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS",
    "CELERY_TASK_ACKS_LATE",
    "CELERY_TASK_REJECT_ON_WORKER_LOST",
    "CELERY_WORKER_PREFETCH_MULTIPLIER",
    "RECONCILE_QUEUED_AFTER",
    "RECONCILE_EVERY",
)

# What the worker's Celery app ends up with, read from the app itself.
APP_CONF = (
    "broker_transport_options",
    "result_backend_transport_options",
    "task_acks_late",
    "task_reject_on_worker_lost",
    "worker_prefetch_multiplier",
    "task_time_limit",
    "task_soft_time_limit",
)


def production_like(env: dict[str, str] | None = None) -> dict:
    """Return the settings and the Celery app's config in a fresh interpreter with REDIS_URL set
    (as in docker compose), printed as JSON."""
    unset = ("DEBUG", "SECRET_KEY", "SECRET_KEY_FILE", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    clean = {k: v for k, v in os.environ.items() if k not in unset and not k.startswith(NAMES)}
    code = (
        "import json, django; django.setup()\n"
        "from django.conf import settings\n"
        "from sandbox import celery_app\n"
        f"values = {{n: getattr(settings, n) for n in {list(NAMES)!r}}}\n"
        f"values['app'] = {{n: celery_app.conf[n] for n in {list(APP_CONF)!r}}}\n"
        "print(json.dumps(values))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "sandbox.settings",
            "REDIS_URL": "redis://redis.example:6379/0",
            **(env or {}),
        },
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def prod() -> dict:
    return production_like()


def worst_case_calls(s: dict) -> float:
    """Return the longest the model calls of an attempt may take: every try times out, and
    each wait between tries is the longest backoff (the cap) plus the jitter. A retry-after
    longer than the time left is not waited for: the deadline ends the retrying."""
    longest_wait = s["RETRY_BACKOFF_MAX"] + s["RETRY_BACKOFF_BASE"] / 2
    return s["PROVIDER_TIMEOUT"] * s["PROVIDER_TRIES"] + longest_wait * (s["PROVIDER_TRIES"] - 1)


def test_every_try_with_its_backoff_ends_before_the_soft_limit(prod):
    assert worst_case_calls(prod) < prod["ATTEMPT_SOFT_TIME_LIMIT"]


def test_the_soft_limit_ends_before_the_lease(prod):
    assert prod["ATTEMPT_SOFT_TIME_LIMIT"] < prod["ATTEMPT_LEASE_SECONDS"]


def test_calls_still_running_at_the_soft_limit_are_waited_for_within_the_lease(prod):
    # sandbox.runs.in_pool waits up to PROVIDER_TIMEOUT + 1 s for them, to bill their usage.
    soft, timeout = prod["ATTEMPT_SOFT_TIME_LIMIT"], prod["PROVIDER_TIMEOUT"]
    assert soft + timeout + 1 < prod["ATTEMPT_LEASE_SECONDS"]


def test_the_lease_is_celerys_hard_time_limit(prod):
    assert prod["CELERY_TASK_TIME_LIMIT"] == prod["ATTEMPT_LEASE_SECONDS"]
    assert prod["CELERY_TASK_SOFT_TIME_LIMIT"] == prod["ATTEMPT_SOFT_TIME_LIMIT"]
    assert prod["app"]["task_time_limit"] == prod["ATTEMPT_LEASE_SECONDS"]


def test_the_lease_ends_before_the_broker_redelivers(prod):
    assert prod["ATTEMPT_LEASE_SECONDS"] < prod["BROKER_VISIBILITY_TIMEOUT"]


def test_the_backoff_cap_is_shorter_than_the_visibility_timeout(prod):
    assert prod["RETRY_BACKOFF_MAX"] < prod["BROKER_VISIBILITY_TIMEOUT"]


def test_the_visibility_timeout_is_the_same_for_the_broker_and_the_result_backend(prod):
    visibility = prod["BROKER_VISIBILITY_TIMEOUT"]
    assert prod["CELERY_BROKER_TRANSPORT_OPTIONS"]["visibility_timeout"] == visibility
    assert prod["CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS"]["visibility_timeout"] == visibility
    assert prod["app"]["broker_transport_options"]["visibility_timeout"] == visibility
    assert prod["app"]["result_backend_transport_options"]["visibility_timeout"] == visibility


def test_the_visibility_timeout_follows_its_variable_everywhere():
    values = production_like({"BROKER_VISIBILITY_TIMEOUT": "900"})
    assert values["CELERY_BROKER_TRANSPORT_OPTIONS"]["visibility_timeout"] == 900
    assert values["CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS"]["visibility_timeout"] == 900
    assert values["app"]["broker_transport_options"]["visibility_timeout"] == 900


def test_a_worker_takes_one_message_at_a_time_and_acknowledges_it_late(prod):
    assert prod["CELERY_WORKER_PREFETCH_MULTIPLIER"] == 1
    assert prod["CELERY_TASK_ACKS_LATE"] is True
    assert prod["CELERY_TASK_REJECT_ON_WORKER_LOST"] is True
    assert prod["app"]["worker_prefetch_multiplier"] == 1
    assert prod["app"]["task_acks_late"] is True


def test_the_reconciler_runs_more_often_than_the_lease_lasts(prod):
    # Otherwise an attempt whose worker died waits a whole extra interval to be recovered.
    assert prod["RECONCILE_EVERY"] < prod["ATTEMPT_LEASE_SECONDS"]


def test_the_settings_of_this_test_run_nest_too():
    s = {name: getattr(settings, name) for name in NAMES}
    assert worst_case_calls(s) < s["ATTEMPT_SOFT_TIME_LIMIT"] < s["ATTEMPT_LEASE_SECONDS"]
    assert s["ATTEMPT_SOFT_TIME_LIMIT"] + s["PROVIDER_TIMEOUT"] + 1 < s["ATTEMPT_LEASE_SECONDS"]
    assert s["ATTEMPT_LEASE_SECONDS"] < s["BROKER_VISIBILITY_TIMEOUT"]


# One retry layer: the task never retries


def test_run_attempt_does_not_retry_on_any_exception():
    assert not getattr(run_attempt, "autoretry_for", ())
    assert not getattr(reconcile, "autoretry_for", ())


def test_run_attempt_is_acknowledged_late():
    assert run_attempt.acks_late is True


def test_a_crash_in_run_attempt_fails_the_task_instead_of_retrying_it():
    with patch("sandbox.tasks.runs.execute", side_effect=ConnectionError("boom")) as run:
        result = run_attempt.apply(args=["an-id"])
    assert result.state == "FAILURE"
    assert run.call_count == 1
