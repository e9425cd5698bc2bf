"""sandbox.broker: kombu's Redis transport with one client per channel (real Redis)."""

from __future__ import annotations

import uuid

import pytest
from kombu import Connection

from tests.live import redis_url


@pytest.fixture
def channel():
    with Connection(redis_url(), transport="sandbox.broker:Transport") as connection:
        yield connection.default_channel


def test_a_channel_keeps_one_client_for_its_commands(channel):
    client = channel._create_client()
    assert channel._create_client() is client
    with channel.conn_or_acquire() as acquired:
        assert acquired is client
    assert channel._create_client(asynchronous=True) is not client  # the event loop's own


def test_a_new_pool_gets_a_new_client(channel):
    client = channel._create_client()
    channel._disconnect_pools()  # as after a fork
    assert channel._create_client() is not client
    assert channel._create_client().connection_pool is channel.pool


def test_messages_go_round_and_are_acknowledged(channel):
    with Connection(redis_url(), transport="sandbox.broker:Transport") as connection:
        queue = connection.SimpleQueue(f"test-{uuid.uuid4()}")
        queue.put({"attempt": "a"})
        message = queue.get(timeout=5)
        assert message.payload == {"attempt": "a"}
        message.ack()
        unacked = connection.default_channel.unacked_key
        assert not connection.default_channel.client.hexists(unacked, message.delivery_tag)
        queue.clear()
        queue.close()
