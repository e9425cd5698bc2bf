"""sandbox.cache: Django's Redis cache with one pool and one client per process (real Redis)."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.core.cache import caches

from sandbox.cache import SharedClientRedisCache
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


def test_servers_or_options_of_their_own_get_a_pool_of_their_own():
    a = SharedClientRedisCache(redis_url(), {})
    b = SharedClientRedisCache(redis_url(), {"OPTIONS": {"max_connections": 5}})
    assert a._cache.get_client() is SharedClientRedisCache(redis_url(), {})._cache.get_client()
    assert a._cache.get_client() is not b._cache.get_client()
