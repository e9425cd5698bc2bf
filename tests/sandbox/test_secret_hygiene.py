"""S10: provider keys never leave the settings. Attempts on OpenAI and Anthropic through their
real SDKs against the fake provider, one answered from the Redis response cache, one refused
with a 401 whose message echoes the key, one retried after a 500: the key prefixes appear in
no page, no log line (DEBUG and up, the SDKs' own included), no Redis key or value, no task
argument and no database row; nor, with a real worker process holding the keys (slow), its
log or the broker's messages."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from django.db import connection
from django.test import Client

from sandbox import runs
from sandbox.models import Attempt
from tests.conftest import make_attempt, make_exercise, make_user
from tests.fakeprovider import status, success

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent.parent

OPENAI_KEY = "sk-proj-S10openaiKEYvalue0123456789"
ANTHROPIC_KEY = "sk-ant-api03-S10anthropicKEYvalue0123"
# "sk-" at the start of a word: "task-" and "desk-" hold it too.
PREFIX = re.compile(rb"(?<![A-Za-z0-9])sk-")


def leaks(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    found = [key for key in (OPENAI_KEY, ANTHROPIC_KEY) if key.encode() in data]
    found += [m.group().decode() for m in PREFIX.finditer(data)]
    return found


@pytest.fixture
def keyed(settings, fake_provider, private_redis):
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = OPENAI_KEY, fake_provider.openai_url
    settings.ANTHROPIC_API_KEY = ANTHROPIC_KEY
    settings.ANTHROPIC_BASE_URL = fake_provider.anthropic_url
    settings.CASSETTE_MODE = "off"
    settings.SANDBOX_MODELS = "openai:gpt-4o-mini:0.15:0.60;anthropic:claude-3-5-haiku-latest:0.8:4"
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": private_redis.url,
        },
    }
    settings.PROVIDER_TRIES, settings.RETRY_BACKOFF_BASE = 3, 0.01
    return fake_provider


def submit(client: Client, exercise, on_commit, prompt: str) -> Attempt:
    with on_commit(execute=True):
        response = client.post(f"/exercises/{exercise.id}/submit/", {"user": prompt})
    assert response.status_code == 302, response.content[:500]
    attempt = Attempt.objects.filter(exercise=exercise).latest("created_at")
    runs.execute(str(attempt.id))
    attempt.refresh_from_db()
    return attempt


def test_no_key_prefix_reaches_pages_logs_redis_tasks_or_rows(
    keyed, private_redis, delay, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)
    learner = make_user("alice")
    client = Client()
    client.force_login(learner)
    openai = make_exercise(
        slug="via-openai", backend="openai", model_name="gpt-4o-mini", temperature=0
    )
    anthropic = make_exercise(
        slug="via-anthropic", backend="anthropic", model_name="claude-3-5-haiku-latest"
    )
    leaky = f"Incorrect API key provided: {OPENAI_KEY}. Bearer {ANTHROPIC_KEY}"
    keyed.queue(success("Hello there!"), status(401, message=leaky), status(500), success("Hello!"))
    on_commit = django_capture_on_commit_callbacks
    attempts = [
        submit(client, openai, on_commit, "Please say hello to {name}."),
        submit(client, openai, on_commit, "Please say hello to {name}."),  # from the cache
        submit(client, openai, on_commit, "Say hello to {name}, kindly."),  # 401
        submit(client, anthropic, on_commit, "Please say hello to {name}."),  # 500, then 200
    ]
    assert [c.args for c in delay.call_args_list] == [(str(a.id),) for a in attempts]
    assert [a.status for a in attempts] == ["graded", "graded", "error", "graded"]
    assert attempts[2].error_code == "auth"
    assert len(keyed.received) == 4  # the second attempt came from the cache

    pages = [client.get(f"/attempts/{a.id}/").content for a in attempts]
    pages += [client.get(e.get_absolute_url()).content for e in (openai, anthropic)]
    assert [leaks(page) for page in pages] == [[]] * len(pages)
    assert leaks(caplog.text) == []
    assert leaks(json.dumps([[c.args, c.kwargs] for c in delay.call_args_list])) == []

    store = redis.Redis.from_url(private_redis.url)
    keys = list(store.scan_iter(count=1000))
    assert keys, "the response cache wrote to Redis"
    assert [
        (k, leaks(k + (store.dump(k) or b""))) for k in keys if leaks(k + (store.dump(k) or b""))
    ] == []

    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            rows = repr(cursor.fetchall())
            assert leaks(rows) == [], table


WEB_PROBE = """
import django
django.setup()
from django.core.management import call_command
from django.test import Client
call_command("migrate", verbosity=0)
from django.conf import settings as s
print(Client().get("/accounts/login/").status_code, bool(s.OPENAI_API_KEY or s.ANTHROPIC_API_KEY))
"""


def test_the_web_process_starts_and_serves_without_provider_keys(tmp_path):
    env = {k: v for k, v in os.environ.items() if "API_KEY" not in k and k != "DATABASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="sandbox.settings", SANDBOX_DATA_DIR=str(tmp_path))
    env["ALLOWED_HOSTS"] = "testserver"
    result = subprocess.run(
        [sys.executable, "-c", WEB_PROBE], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "False"]


def redis_leaks(url: str) -> list:
    store = redis.Redis.from_url(url)
    found = []
    for key in store.scan_iter(count=1000):
        dumped = key + (store.dump(key) or b"")
        if store.type(key) == b"list":  # the broker's queue: its messages, task arguments in them
            dumped += b"".join(store.lrange(key, 0, -1))
        found += leaks(dumped)
    return found


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_with_the_keys_logs_and_stores_none_of_them(
    tmp_path, fake_provider, private_redis
):
    from celery import Celery

    from tests.live import Stack, wait_until

    learner = make_user("alice")
    exercise = make_exercise(backend="openai", model_name="gpt-4o-mini", temperature=0)
    leaky = f"Incorrect API key provided: {OPENAI_KEY}. Bearer {ANTHROPIC_KEY}"
    fake_provider.queue(success("Hello there!"), status(401, message=leaky))
    stack = Stack(
        workdir=tmp_path,
        broker="redis",
        extra_env={
            "REDIS_URL": private_redis.url,
            "OPENAI_API_KEY": OPENAI_KEY,
            "OPENAI_BASE_URL": fake_provider.openai_url,
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "SANDBOX_MODELS": "openai:gpt-4o-mini:0.15:0.60",
            "CASSETTE_MODE": "off",
        },
    )
    attempts = [
        make_attempt(learner, exercise, user_prompt=prompt)
        for prompt in ("Please say hello to {name}.", "Say hello to {name}, kindly.")
    ]
    app = Celery("publisher", broker=private_redis.url)
    try:
        for attempt in attempts:
            app.send_task("sandbox.run_attempt", args=[str(attempt.id)])
        assert redis_leaks(private_redis.url) == []  # the messages, waiting
        stack.start_worker()
        wait_until(
            lambda: not Attempt.objects.exclude(status__in=Attempt.FINAL).exists(),
            30,
            "both attempts to finish",
        )
    finally:
        app.close()
        stack.stop()
    assert sorted(Attempt.objects.values_list("status", flat=True)) == ["error", "graded"]
    log = stack.log("worker").read_text()
    assert log.count("HTTP Request: POST") == 2 and leaks(log) == []
    assert redis_leaks(private_redis.url) == []
