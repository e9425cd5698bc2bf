"""The commands that start the web, worker and scheduler processes, shared by `make run`,
docker compose, the tests and the benchmark, so all of them run the product the same way."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def web_command(host: str, port: int) -> list[str]:
    options = "--workers 2 --threads 4 --access-logfile -".split()
    return [str(BIN / "gunicorn"), "sandbox.wsgi", "--bind", f"{host}:{port}", *options]


def worker_command(concurrency: int | None = None) -> list[str]:
    # Threads, because a worker spends its time waiting on model HTTP calls.
    options = "--pool threads --loglevel INFO --without-gossip --without-mingle".split()
    command = [str(BIN / "celery"), "-A", "sandbox", "worker", *options]
    if concurrency:
        command += ["--concurrency", str(concurrency)]
    return command


def beat_command() -> list[str]:
    """The scheduler that runs the reconciler every RECONCILE_EVERY seconds (one per site)."""
    return [str(BIN / "celery"), "-A", "sandbox", "beat", "--loglevel", "INFO"]
