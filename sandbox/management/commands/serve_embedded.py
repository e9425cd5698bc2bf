"""Run the embedded default: the web server, a real Celery worker and the scheduler
that runs the reconciler.

Ctrl-C (or SIGTERM) stops them all; if one exits, the others are stopped too.
"""

from __future__ import annotations

import signal
import subprocess
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from sandbox.processes import beat_command, web_command, worker_command


def interrupt(*_) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Start the web server and a Celery worker process; Ctrl-C stops both."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, host: str, port: int, **options) -> None:
        broker = (
            "Redis at " + settings.REDIS_URL
            if settings.REDIS_URL
            else (f"the filesystem broker in {settings.BROKER_DIR}")
        )
        processes = [
            subprocess.Popen(worker_command()),
            subprocess.Popen(beat_command()),
            subprocess.Popen(web_command(host, port)),
        ]
        self.stdout.write(
            self.style.SUCCESS(f"\nPrompt Sandbox is running: open http://{host}:{port}/\n")
            + f"Worker uses {broker}. Press Ctrl-C to stop.\n"
        )
        signal.signal(signal.SIGTERM, interrupt)
        try:
            while all(p.poll() is None for p in processes):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for p in processes:
                if p.poll() is None:
                    p.terminate()
            for p in processes:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
            self.stdout.write("Stopped the web server, the worker and the scheduler.")
