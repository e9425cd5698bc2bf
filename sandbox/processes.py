"""The commands that start the web and worker processes, shared by `make run`,
docker compose and the tests, so all three run the product the same way."""

from __future__ import annotations

import http.cookiejar
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def web_command(host: str, port: int) -> list[str]:
    return [
        str(BIN / "gunicorn"),
        "sandbox.wsgi",
        "--bind",
        f"{host}:{port}",
        "--workers",
        "2",
        "--threads",
        "4",
        "--access-logfile",
        "-",
    ]


def worker_command(concurrency: int | None = None) -> list[str]:
    # Threads, because a worker spends its time waiting on model HTTP calls.
    command = [
        str(BIN / "celery"),
        "-A",
        "sandbox",
        "worker",
        "--pool",
        "threads",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
    ]
    if concurrency:
        command += ["--concurrency", str(concurrency)]
    return command


def beat_command() -> list[str]:
    """The scheduler that runs the reconciler every RECONCILE_EVERY seconds (one per site)."""
    return [str(BIN / "celery"), "-A", "sandbox", "beat", "--loglevel", "INFO"]


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
        return next(cast(str, c.value) for c in self.jar if c.name == "csrftoken")

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
