"""Run the embedded default: the web server, a real Celery worker and the scheduler that
runs the reconciler, supervised (one that exits is started again, and the log says so)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sandbox.processes import beat_command, web_command, worker_command

# A process that stops this soon after it started, three times running, is given up on.
QUICK_EXIT_SECONDS = 10.0


class Command(BaseCommand):
    help = "Start the web server, a Celery worker and the scheduler; restart any that exits."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, host: str, port: int, **options) -> None:
        broker = settings.REDIS_URL or f"the filesystem broker in {settings.BROKER_DIR}"
        commands = {
            "worker": worker_command(),
            "scheduler": beat_command(),
            "web server": web_command(host, port),
        }
        # Each in its own session, so a Ctrl-C reaches only this supervisor, which stops each
        # once: a gunicorn worker signalled twice (terminal, then master) can hang on the port.
        start = lambda name: subprocess.Popen(commands[name], start_new_session=True)  # noqa: E731
        processes = {name: start(name) for name in commands}
        started = dict.fromkeys(commands, time.monotonic())
        quick_exits = dict.fromkeys(commands, 0)
        self.stdout.write(
            self.style.SUCCESS(f"\nPrompt Sandbox is running: open http://{host}:{port}/\n")
            + f"Worker uses {broker}. Press Ctrl-C to stop.\n"
        )
        for hangup in (signal.SIGTERM, signal.SIGHUP):  # as Ctrl-C (a closed terminal, too)
            signal.signal(hangup, signal.default_int_handler)
        try:
            while True:
                time.sleep(0.5)
                for name, process in processes.items():
                    code = process.poll()
                    if code is None:
                        continue
                    quick = time.monotonic() - started[name] < QUICK_EXIT_SECONDS
                    quick_exits[name] = quick_exits[name] + 1 if quick else 0
                    if quick_exits[name] == 3:
                        raise CommandError(f"The {name} stopped three times on starting.")
                    self.stderr.write(f"The {name} stopped (exit code {code}); starting it again.")
                    processes[name] = start(name)
                    started[name] = time.monotonic()
        except KeyboardInterrupt:
            pass
        finally:
            for p in processes.values():
                p.terminate()  # a no-op on one that has exited
            until = time.monotonic() + 15  # for them all, or until a second Ctrl-C
            try:
                for p in processes.values():
                    p.wait(timeout=max(0, until - time.monotonic()))
            except (subprocess.TimeoutExpired, KeyboardInterrupt):
                for p in processes.values():
                    if p.poll() is None:
                        os.killpg(p.pid, signal.SIGKILL)
            self.stdout.write("Stopped the web server, the worker and the scheduler.")
