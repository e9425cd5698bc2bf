"""Fixtures for the pipeline tests: the fake provider; PrivateRedis, a Redis of a test's own
(the private_redis fixture of tests/conftest.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.fakeprovider import FakeProvider
from tests.live import free_port, wait_until


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    """A real local HTTP server speaking the OpenAI and Anthropic wire formats."""
    with FakeProvider() as fake:
        yield fake


class PrivateRedis:
    """A redis-server of this test's own, without persistence, so a test may flush, kill
    and restart it without touching the Redis other tests (or other people) are using."""

    def __init__(self, workdir) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.workdir / "redis.log").open("a")
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self.ping, 10, "the private Redis to answer")

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """Kill -9: the queued messages are gone, as after a restart without persistence."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        self.kill()
        self.start()
