"""serve_embedded, what `make run` starts: it supervises the web server, the worker and the
scheduler, so a worker that dies is started again, the web keeps serving, and the log says so."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from unittest.mock import patch

import pytest
from django.core.management import CommandError, call_command

from sandbox.models import Attempt
from tests.conftest import make_exercise, make_user
from tests.live import Stack, free_port, wait_until
from tests.sandbox.test_pipeline import submit


def workers_of(pid: int) -> list[int]:
    """Return the Celery worker processes among a process's children."""
    children = [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]
    return [c for c in children if b"\0worker\0" in Path(f"/proc/{c}/cmdline").read_bytes()]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_that_dies_is_started_again_and_attempts_still_get_graded(tmp_path):
    make_user("alice")
    exercise = make_exercise()
    stack = Stack(workdir=tmp_path, broker="embedded")
    stack.port = free_port()
    command = [sys.executable, "manage.py", "serve_embedded", "--port", str(stack.port)]
    serving = stack.spawn("serve", command)
    try:
        wait_until(lambda: stack.logged("serve", " ready."), 30, "the worker to be ready")
        (worker,) = workers_of(serving.pid)
        os.kill(worker, signal.SIGKILL)

        restarted = "The worker stopped (exit code -9); starting it again."
        wait_until(lambda: stack.logged("serve", restarted), 15, "the supervisor to say so")
        wait_until(lambda: stack.log("serve").read_text().count(" ready.") == 2, 30, "a new worker")
        assert workers_of(serving.pid) != [worker]
        attempt = submit(stack, exercise, "Please say hello to {name}.")
        wait_until(lambda: Attempt.objects.get(id=attempt.id).is_final, 30, "the attempt")
        assert Attempt.objects.get(id=attempt.id).status == Attempt.GRADED
        assert serving.poll() is None
    finally:
        stack.stop()


@pytest.fixture
def own_sigterm():
    """serve_embedded turns SIGTERM into Ctrl-C; give this test process its handler back."""
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)


def test_a_process_that_stops_on_starting_three_times_is_given_up(capsys, own_sigterm):
    # As when the port is taken or a setting is wrong: say so and stop, not loop forever.
    waits = [sys.executable, "-c", "import time; time.sleep(30)"]
    command = "sandbox.management.commands.serve_embedded"
    with (
        patch(f"{command}.worker_command", return_value=[sys.executable, "-c", "exit(3)"]),
        patch(f"{command}.beat_command", return_value=waits),
        patch(f"{command}.web_command", return_value=waits),
        pytest.raises(CommandError, match="The worker stopped three times on starting"),
    ):
        call_command("serve_embedded")
    said = capsys.readouterr()
    assert said.err.count("The worker stopped (exit code 3); starting it again.") == 2
    assert "Stopped the web server, the worker and the scheduler." in said.out
