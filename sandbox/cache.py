"""Django's Redis cache, with one connection pool and one client per server for the
whole process, and add_or_get_many: the single-flight step in one round trip.

Django gives every thread its own cache backend, and each backend its own connection
pool, so a worker running 200 attempts at once opened a connection to Redis for each of
its threads, with its handshake, while the burst that needed them was arriving. And
Django builds a new redis.Redis object for every cache operation, which costs more than
the round trip itself. Here all threads share one pool, which opens only as many
connections as are in use at once, and one client; both are thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import redis
from django.core import checks
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_lock = threading.Lock()
_shared: dict[tuple, tuple] = {}  # (server, pool class, pool options) → (pool, client)


class SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._by_index: dict[int, tuple] = {}

    def _get_connection_pool(self, write):
        return self._shared(write)[0]

    def get_client(self, key=None, *, write=False):
        return self._shared(write)[1]

    def _shared(self, write) -> tuple:
        index = self._get_connection_pool_index(write)
        if index not in self._by_index:
            server = self._servers[index]
            key = (server, self._pool_class, repr(sorted(self._pool_options.items())))
            with _lock:
                if key not in _shared:
                    pool = self._pool_class.from_url(server, **self._pool_options)
                    _shared[key] = (pool, self._client(connection_pool=pool))
            self._by_index[index] = _shared[key]
        return self._by_index[index]

    def set_many(self, data, timeout):
        # Django sends MULTI, MSET, an EXPIRE per key and EXEC; a SET … EX per key stores
        # each value with its expiry in one command, all in one round trip.
        pipeline = self.get_client(write=True).pipeline(transaction=False)
        for key, value in data.items():
            pipeline.set(key, self._serializer.dumps(value), ex=timeout)
        pipeline.execute()

    def add_or_get_many(self, keys: Sequence[str], value, timeout) -> list:
        pipeline = self.get_client(write=True).pipeline(transaction=False)
        stored = self._serializer.dumps(value)
        for key in keys:
            pipeline.set(key, stored, ex=timeout, nx=True, get=True)
        return [None if v is None else self._serializer.loads(v) for v in pipeline.execute()]


class SharedClientRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = SharedClientRedisCacheClient

    def add_or_get_many(self, keys: Sequence[str], value, timeout) -> list:
        made = [self.make_and_validate_key(key) for key in keys]
        return self._cache.add_or_get_many(made, value, self.get_backend_timeout(timeout))


def add_or_get_many(cache: BaseCache, keys: Sequence[str], value, timeout: int) -> list[Any]:
    """Store value under every key that holds nothing, for `timeout` seconds; return, for
    each key in turn, None where this call stored it, or what the key held.

    On the shared Redis cache that is one round trip (SET … NX GET, Redis 7 or later);
    on any other cache, a get_many and then an add per key it lacked. A key repeated in
    `keys` is stored by its first occurrence and found held by the others.
    """
    if hasattr(cache, "add_or_get_many"):  # django.core.cache.cache is a proxy to it
        return cache.add_or_get_many(keys, value, timeout)
    held = cache.get_many(keys)
    result = []
    for key in keys:
        if key in held:
            result.append(held[key])
        elif cache.add(key, value, timeout):
            held[key] = value
            result.append(None)
        else:  # taken since the get_many; if it is already gone again, say it is held
            result.append(cache.get(key, value))
    return result


@checks.register(checks.Tags.caches)
def check_redis_version(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Refuse a Redis older than 7.0, which would answer every attempt's single flight
    (SET … NX GET) with a syntax error. `migrate` runs this check, so docker compose and
    `make run` stop before starting a site that could grade nothing. A server that does
    not answer is not judged here: the broker's own retries report it."""
    problems = []
    for alias in caches:
        cache = caches[alias]
        if not isinstance(cache, SharedClientRedisCache):
            continue
        for server in cache._servers:
            client = redis.Redis.from_url(server, socket_connect_timeout=2, socket_timeout=2)
            try:
                version = client.info("server")["redis_version"]
            except redis.RedisError:
                continue
            finally:
                client.close()
            if tuple(int(part) for part in version.split(".")[:2]) < (7, 0):
                problems.append(
                    checks.Error(
                        f"The cache {alias!r} is on Redis {version}; Prompt Sandbox needs "
                        "Redis 7.0 or later (its response cache sends SET with NX and GET "
                        "together).",
                        hint="Upgrade Redis, or point REDIS_URL at a Redis 7 server.",
                        id="sandbox.E001",
                    )
                )
    return problems
