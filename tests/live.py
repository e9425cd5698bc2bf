"""Real processes for the end-to-end tests: a gunicorn web server and a Celery worker,
started with the same commands as `make run` and docker compose, against the test database."""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection

from sandbox.processes import beat_command, web_command, worker_command

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Stack:
    """A web server and a worker process sharing one broker and the test database."""

    workdir: Path
    broker: str  # "redis" or "embedded"
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)
    port: int = 0

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

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        out = self.log(name).open("w")
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.env(), stdout=out, stderr=subprocess.STDOUT
        )
        self.processes.append(process)
        return process

    def start_worker(self, concurrency: int | None = None) -> subprocess.Popen:
        worker = self.spawn("worker", worker_command(concurrency))
        wait_until(
            lambda: " ready." in self.log("worker").read_text() or worker.poll() is not None,
            30,
            "the worker to be ready",
        )
        assert worker.poll() is None, self.log("worker").read_text()
        return worker

    def start_beat(self) -> subprocess.Popen:
        beat = self.spawn("beat", beat_command())
        wait_until(
            lambda: "beat: Starting" in self.log("beat").read_text() or beat.poll() is not None,
            30,
            "the scheduler to start",
        )
        assert beat.poll() is None, self.log("beat").read_text()
        return beat

    def start_web(self) -> subprocess.Popen:
        self.port = free_port()
        web = self.spawn("web", web_command("127.0.0.1", self.port))

        def answers() -> bool:
            try:
                urllib.request.urlopen(f"{self.url}/accounts/login/", timeout=2)
                return True
            except OSError:
                return web.poll() is not None

        wait_until(answers, 30, "the web server to answer")
        assert web.poll() is None, self.log("web").read_text()
        return web

    def stop(self) -> None:
        for p in self.processes:
            if p.poll() is None:
                p.terminate()
        for p in self.processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


class Browserless:
    """A tiny HTTP client with cookies and CSRF, for real requests without a browser."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def csrf(self) -> str:
        return next(c.value for c in self.jar if c.name == "csrftoken")

    def get(self, path: str) -> tuple[int, str, str]:
        with self.opener.open(self.base + path, timeout=10) as r:
            return r.status, r.geturl(), r.read().decode()

    def post(self, path: str, data: dict[str, str]) -> tuple[int, str, str]:
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": self.csrf()}).encode()
        request = urllib.request.Request(
            self.base + path, data=body, headers={"Referer": self.base + path}
        )
        with self.opener.open(request, timeout=10) as r:
            return r.status, r.geturl(), r.read().decode()

    def login(self, username: str, password: str) -> None:
        self.get("/accounts/login/")
        status, url, _ = self.post("/accounts/login/", {"username": username, "password": password})
        assert url.rstrip("/") == self.base, f"login failed, landed on {url}"
