"""Real processes for the end-to-end tests: a gunicorn web server and a Celery worker,
started with the same commands as `make run` and docker compose, against the test database."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection

from sandbox.processes import ProcessGroup

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """Return a URL for the database this test process is using (the test database)."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def redis_url() -> str:
    """Return the Redis URL for tests: one database per xdist worker, so runs do not mix."""
    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
    base = re.sub(r"/\d+$", "", base)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return f"{base}/{10 + int(worker.removeprefix('gw') or 0)}"


@dataclass
class Stack(ProcessGroup):
    """A web server and a worker process sharing one broker and the test database."""

    broker: str = "redis"  # "redis" or "embedded"
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "DEBUG")
        }
        env.update(
            DEBUG="True",
            DATABASE_URL=database_url(),
            SANDBOX_DATA_DIR=str(self.workdir),
            DJANGO_SETTINGS_MODULE="sandbox.settings",
            PYTHONUNBUFFERED="1",
        )
        if self.broker == "redis":
            env["REDIS_URL"] = redis_url()
        env.update(self.extra_env)
        return env

    @contextmanager
    def serving(self) -> Iterator[Stack]:
        """Run a worker and a web server for the length of the block."""
        try:
            self.start_worker()
            self.start_web()
            yield self
        finally:
            self.stop()
