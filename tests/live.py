"""Real processes for the end-to-end tests and the benchmark: a gunicorn web server, Celery
workers and the scheduler, started with the same commands as `make run` and docker compose,
and a small HTTP client to talk to them."""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection

from sandbox.processes import ROOT, beat_command, web_command, worker_command


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
class ProcessGroup:
    """Web, worker and scheduler processes started with the commands above, each logging
    to a file in workdir; used by the end-to-end tests and the benchmark."""

    workdir: Path
    processes: list[subprocess.Popen] = field(default_factory=list)
    port: int = 0

    def env(self) -> dict[str, str]:
        return dict(os.environ)

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

    def start(self, name: str, command: list[str], ready, what: str) -> subprocess.Popen:
        """Spawn a process and wait until ready() says it is; fail with its log if it exits."""
        process = self.spawn(name, command)
        wait_until(lambda: process.poll() is not None or ready(), 30, what)
        assert process.poll() is None, self.log(name).read_text()
        return process

    def logged(self, name: str, text: str) -> bool:
        return text in self.log(name).read_text()

    def start_worker(self, concurrency: int | None = None, include: str = "") -> subprocess.Popen:
        extra = ["--include", include] if include else []
        command = [*worker_command(concurrency), *extra]
        return self.start(
            "worker", command, lambda: self.logged("worker", " ready."), "the worker to be ready"
        )

    def start_beat(self) -> subprocess.Popen:
        return self.start(
            "beat", beat_command(), lambda: self.logged("beat", "beat: Starting"), "the scheduler"
        )

    def start_web(self) -> subprocess.Popen:
        self.port = free_port()

        def answers() -> bool:
            try:
                # As a TLS proxy would ask: production settings redirect plain HTTP.
                Browserless(self.url, tls_proxy=True).get("/accounts/login/")
                return True
            except OSError:
                return False

        return self.start(
            "web", web_command("127.0.0.1", self.port), answers, "the web server to answer"
        )

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
    """A tiny HTTP client with cookies and CSRF, for real requests without a browser.

    With tls_proxy, it speaks as a TLS-terminating proxy in front of production settings
    would: it says the request came over HTTPS, and sends the secure cookies back.
    """

    def __init__(self, base: str, tls_proxy: bool = False) -> None:
        self.base = base
        self.headers = {"X-Forwarded-Proto": "https"} if tls_proxy else {}
        self.origin = base.replace("http://", "https://", 1) if tls_proxy else base
        policy = http.cookiejar.DefaultCookiePolicy(
            secure_protocols=("https", "wss", "http") if tls_proxy else ("https", "wss")
        )
        self.jar = http.cookiejar.CookieJar(policy)
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def csrf(self) -> str:
        return next(str(c.value) for c in self.jar if c.name == "csrftoken")

    def get(self, path: str) -> tuple[int, str, str]:
        request = urllib.request.Request(self.base + path, headers=self.headers)
        with self.opener.open(request, timeout=10) as r:
            return r.status, r.geturl(), r.read().decode()

    def post(
        self, path: str, data: dict[str, str], headers: dict[str, str] | None = None
    ) -> tuple[int, str, str]:
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": self.csrf()}).encode()
        request = urllib.request.Request(
            self.base + path,
            data=body,
            headers={**self.headers, "Referer": self.origin + path, **(headers or {})},
        )
        with self.opener.open(request, timeout=10) as r:
            return r.status, r.geturl(), r.read().decode()

    def login(self, username: str, password: str) -> None:
        self.get("/accounts/login/")
        _, url, _ = self.post("/accounts/login/", {"username": username, "password": password})
        if urllib.parse.urlsplit(url).path != "/":
            raise AssertionError(f"login failed, landed on {url}")


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
