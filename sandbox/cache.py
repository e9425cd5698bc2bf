"""Django's Redis cache, with one connection pool and one client per server for the
whole process.

Django gives every thread its own cache backend, and each backend its own connection
pool, so a worker running 200 attempts at once opened a connection to Redis for each of
its threads, with its handshake, while the burst that needed them was arriving. And
Django builds a new redis.Redis object for every cache operation, which costs more than
the round trip itself. Here all threads share one pool, which opens only as many
connections as are in use at once, and one client; both are thread-safe.
"""

from __future__ import annotations

import threading

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


class SharedClientRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = SharedClientRedisCacheClient
