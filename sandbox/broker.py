"""kombu's Redis transport, with one Redis client per channel instead of one per command.

kombu builds a new redis.Redis object for every command it sends outside its event
loop: recording each delivered message as unacked, acknowledging it, publishing. Each
build copies redis-py's table of response callbacks, about 60 µs here, twice or more
per task; the worker's consumer thread, which every message of a burst goes through,
spent a fifth of its time on it. A client is thread-safe (every command borrows a
connection from the pool), so the channel keeps one for as long as its pool lives.
"""

from __future__ import annotations

from kombu.transport import redis


class Channel(redis.Channel):
    _sync_client = None

    def _create_client(self, asynchronous=False):
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool
        client = self._sync_client
        if client is None or client.connection_pool is not pool:
            client = self._sync_client = super()._create_client()
        return client


class Transport(redis.Transport):
    Channel = Channel
