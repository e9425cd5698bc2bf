"""sandbox.cache: Django's Redis cache with one pool and one client per process,
add_or_get_many on it and on any other cache, and the check for Redis 7 (real Redis)."""

from __future__ import annotations

import threading
import uuid

import pytest
import redis
from django.core.cache import cache, caches

from sandbox.cache import SharedClientRedisCache, add_or_get_many, check_redis_version
from tests.live import redis_url


@pytest.fixture
def redis_caches(settings):
    """Django's own handler for a Redis cache: it gives every thread a backend of its own."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "redis": {"BACKEND": "sandbox.cache.SharedClientRedisCache", "LOCATION": redis_url()},
    }
    return caches


def in_a_thread(fn):
    result = []
    thread = threading.Thread(target=lambda: result.append(fn()))
    thread.start()
    thread.join(10)
    return result[0]


def test_every_thread_shares_one_pool_and_one_client(redis_caches):
    here = redis_caches["redis"]
    there = in_a_thread(lambda: redis_caches["redis"])
    assert here is not there  # Django's handler: one backend per thread
    assert here._cache.get_client(write=True) is there._cache.get_client(write=True)
    assert here._cache._get_connection_pool(True) is there._cache._get_connection_pool(False)


def test_it_stores_and_adds_like_any_django_cache(redis_caches):
    cache, key = redis_caches["redis"], f"test-{uuid.uuid4()}"
    assert cache.add(key, {"text": "hi"}, 10) is True
    assert cache.add(key, "other", 10) is False
    assert in_a_thread(lambda: redis_caches["redis"].get(key)) == {"text": "hi"}
    cache.delete(key)


def test_set_many_stores_every_value_with_its_expiry(redis_caches):
    cache, key = redis_caches["redis"], f"test-{uuid.uuid4()}"
    cache.set_many({f"{key}:a": {"text": "hi"}, f"{key}:b": 3}, 7)
    assert cache.get_many([f"{key}:a", f"{key}:b"]) == {f"{key}:a": {"text": "hi"}, f"{key}:b": 3}
    assert 0 < cache._cache.get_client().ttl(cache.make_key(f"{key}:b")) <= 7
    cache.set_many({f"{key}:a": "forever"}, None)
    assert cache._cache.get_client().ttl(cache.make_key(f"{key}:a")) == -1
    cache.delete_many([f"{key}:a", f"{key}:b"])


def test_servers_or_options_of_their_own_get_a_pool_of_their_own():
    a = SharedClientRedisCache(redis_url(), {})
    b = SharedClientRedisCache(redis_url(), {"OPTIONS": {"max_connections": 5}})
    assert a._cache.get_client() is SharedClientRedisCache(redis_url(), {})._cache.get_client()
    assert a._cache.get_client() is not b._cache.get_client()


@pytest.mark.parametrize("alias", ["redis", "default"])
def test_add_or_get_many_adds_what_is_free_and_returns_what_is_held(redis_caches, alias):
    cache, key = redis_caches[alias], f"test-{uuid.uuid4()}"
    held, free = f"{key}:held", f"{key}:free"
    cache.set(held, {"text": "hi"}, 10)
    assert add_or_get_many(cache, [held, free, free], "mark", 10) == [{"text": "hi"}, None, "mark"]
    assert cache.get(free) == "mark"
    assert cache.get(held) == {"text": "hi"}
    cache.delete_many([held, free])


def test_add_or_get_many_on_redis_sets_the_expiry(redis_caches):
    cache, key = redis_caches["redis"], f"test-{uuid.uuid4()}"
    add_or_get_many(cache, [key], "mark", 7)
    assert 0 < cache._cache.get_client().ttl(cache.make_key(key)) <= 7
    cache.delete(key)


def test_add_or_get_many_through_djangos_cache_proxy_takes_the_one_round_trip(
    settings, monkeypatch
):
    settings.CACHES = {
        "default": {"BACKEND": "sandbox.cache.SharedClientRedisCache", "LOCATION": redis_url()}
    }
    client = caches["default"]._cache.get_client()
    monkeypatch.setattr(client, "mget", lambda *a, **k: pytest.fail("took the get_many path"))
    keys = [f"test-{uuid.uuid4()}" for _ in range(3)]
    assert add_or_get_many(cache, keys, "mark", 10) == [None, None, None]
    assert add_or_get_many(cache, keys, "other", 10) == ["mark", "mark", "mark"]
    cache.delete_many(keys)


def test_the_check_accepts_a_redis_7(redis_caches):
    assert int(redis_caches["redis"]._cache.get_client().info()["redis_version"][0]) >= 7
    assert check_redis_version() == []


def test_the_check_refuses_a_redis_older_than_7(redis_caches, monkeypatch):
    monkeypatch.setattr(redis.Redis, "info", lambda self, section=None: {"redis_version": "6.2.14"})
    (error,) = check_redis_version()
    assert error.id == "sandbox.E001"
    assert "Redis 6.2.14" in error.msg and "7.0 or later" in error.msg


def test_the_check_leaves_a_redis_that_does_not_answer_to_the_broker(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "sandbox.cache.SharedClientRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    assert check_redis_version() == []
