"""sandbox/settings.py: the env helpers, and what the settings become under a given environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from sandbox import celery_app
from sandbox.settings import BASE_DIR, envbool, envint, envsecret


def settings_under(env: dict[str, str], *names: str) -> subprocess.CompletedProcess:
    """Import sandbox.settings in a fresh interpreter with this environment; print the names."""
    unset = ("DEBUG", "SECRET_KEY", "SECRET_KEY_FILE", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    code = (
        "import json, sandbox.settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {list(names)!r}}}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def values_under(env: dict[str, str], *names: str) -> dict:
    result = settings_under(env, *names)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("value, expected", [("True", True), ("False", False)])
def test_envbool_reads_true_and_false(monkeypatch, value, expected):
    monkeypatch.setenv("SANDBOX_TEST_FLAG", value)
    assert envbool("SANDBOX_TEST_FLAG", "False") is expected


def test_envbool_uses_the_default_when_unset(monkeypatch):
    monkeypatch.delenv("SANDBOX_TEST_FLAG", raising=False)
    assert envbool("SANDBOX_TEST_FLAG", "True") is True


@pytest.mark.parametrize("value", ["true", "false", "1", "0", "yes", "", " True"])
def test_envbool_rejects_anything_else(monkeypatch, value):
    monkeypatch.setenv("SANDBOX_TEST_FLAG", value)
    with pytest.raises(ImproperlyConfigured, match="SANDBOX_TEST_FLAG"):
        envbool("SANDBOX_TEST_FLAG", "False")


def test_envint_reads_a_whole_number(monkeypatch):
    monkeypatch.setenv("SANDBOX_TEST_INT", "42")
    assert envint("SANDBOX_TEST_INT", "7") == 42
    monkeypatch.delenv("SANDBOX_TEST_INT")
    assert envint("SANDBOX_TEST_INT", "7") == 7


@pytest.mark.parametrize("value", ["", "ten", "1.5"])
def test_envint_rejects_anything_else(monkeypatch, value):
    monkeypatch.setenv("SANDBOX_TEST_INT", value)
    with pytest.raises(ImproperlyConfigured, match="SANDBOX_TEST_INT"):
        envint("SANDBOX_TEST_INT", "7")


def test_envsecret_reads_the_variable(monkeypatch):
    monkeypatch.delenv("SANDBOX_TEST_SECRET_FILE", raising=False)
    monkeypatch.setenv("SANDBOX_TEST_SECRET", "s3cret")
    assert envsecret("SANDBOX_TEST_SECRET") == "s3cret"


def test_envsecret_uses_the_default_when_unset(monkeypatch):
    monkeypatch.delenv("SANDBOX_TEST_SECRET_FILE", raising=False)
    monkeypatch.delenv("SANDBOX_TEST_SECRET", raising=False)
    assert envsecret("SANDBOX_TEST_SECRET", "fallback") == "fallback"


def test_envsecret_reads_the_file_named_by_name_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-the-file\n")
    monkeypatch.setenv("SANDBOX_TEST_SECRET_FILE", str(secret))
    monkeypatch.setenv("SANDBOX_TEST_SECRET", "from-the-variable")
    assert envsecret("SANDBOX_TEST_SECRET") == "from-the-file"


def test_envsecret_fails_loudly_when_the_file_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("SANDBOX_TEST_SECRET_FILE", str(tmp_path / "missing"))
    monkeypatch.setenv("SANDBOX_TEST_SECRET", "from-the-variable")
    with pytest.raises(ImproperlyConfigured, match="SANDBOX_TEST_SECRET_FILE"):
        envsecret("SANDBOX_TEST_SECRET")


def test_production_settings_refuse_to_start_without_a_secret_key():
    result = settings_under({"DEBUG": "False"}, "SECRET_KEY")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_production_settings_start_with_a_secret_key():
    values = values_under(
        {"DEBUG": "False", "SECRET_KEY": "a-real-secret-key"}, "DEBUG", "SECRET_KEY"
    )
    assert values == {"DEBUG": False, "SECRET_KEY": "a-real-secret-key"}


def test_production_settings_read_the_secret_key_from_a_file(tmp_path):
    secret = tmp_path / "secret_key"
    secret.write_text("key-from-a-file\n")
    values = values_under({"DEBUG": "False", "SECRET_KEY_FILE": str(secret)}, "SECRET_KEY")
    assert values == {"SECRET_KEY": "key-from-a-file"}


def test_settings_refuse_a_debug_value_that_is_not_true_or_false():
    result = settings_under({"DEBUG": "yes"}, "DEBUG")
    assert result.returncode != 0
    assert "DEBUG must be True or False" in result.stderr


def test_the_broker_is_redis_when_redis_url_is_set():
    url = "redis://redis.example:6379/0"
    values = values_under({"REDIS_URL": url}, "CELERY_BROKER_URL", "CACHES")
    assert values["CELERY_BROKER_URL"] == url
    assert values["CACHES"]["default"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "OPTIONS": {"driver_info": None},
    }


@pytest.mark.parametrize(("options", "lookups"), [({}, ["redis"]), (None, [])])
def test_the_caches_connections_skip_redis_pys_package_metadata(monkeypatch, options, lookups):
    """Each thread of a worker connects to the response cache; redis-py otherwise reads its
    own version from the package metadata for every connection (1.9 ms of CPU, not 0.7)."""
    import redis
    from redis import utils

    from tests.live import redis_url

    if options is None:  # the settings' own
        options = values_under({"REDIS_URL": "redis://x"}, "CACHES")["CACHES"]["default"]
        options = options["OPTIONS"]
    looked_up: list[str] = []
    monkeypatch.setattr(utils.metadata, "version", lambda name: looked_up.append(name) or "8")
    pool = redis.ConnectionPool.from_url(redis_url(), **options)
    try:
        assert redis.Redis(connection_pool=pool).ping()
    finally:
        pool.disconnect()
    assert looked_up == lookups


def test_web_and_workers_share_the_queue_celery_queue_names():
    assert values_under({}, "CELERY_TASK_DEFAULT_QUEUE") == {"CELERY_TASK_DEFAULT_QUEUE": "celery"}
    named = values_under({"CELERY_QUEUE": "site-b"}, "CELERY_TASK_DEFAULT_QUEUE")
    assert named == {"CELERY_TASK_DEFAULT_QUEUE": "site-b"}


def test_the_broker_is_the_filesystem_without_redis_url():
    values = values_under({}, "CELERY_BROKER_URL", "CELERY_BROKER_TRANSPORT_OPTIONS")
    assert values["CELERY_BROKER_URL"] == "filesystem://"
    options = values["CELERY_BROKER_TRANSPORT_OPTIONS"]
    assert options["data_folder_in"] == options["data_folder_out"]


def test_tasks_are_acknowledged_late_and_prefetched_one_at_a_time():
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    # The CELERY_ namespace carries them into the app the worker runs.
    assert celery_app.conf.task_acks_late is True
    assert celery_app.conf.worker_prefetch_multiplier == 1
    assert celery_app.conf.task_serializer == "json"
    assert celery_app.conf.accept_content == ["json"]
