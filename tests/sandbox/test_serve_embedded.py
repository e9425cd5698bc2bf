"""serve_embedded, what `make run` starts: it supervises the web server, the worker and the
scheduler, so a worker that dies is started again, the web keeps serving, and the log says so."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from types import SimpleNamespace
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
    """serve_embedded turns SIGTERM and SIGHUP into Ctrl-C; give this test process its
    handlers back."""
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGHUP)}
    yield
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


@contextlib.contextmanager
def serving(commands: list[list], sleep: Callable[[float], None]) -> Iterator[None]:
    """Have serve_embedded start these commands as its worker, scheduler and web server, and
    call `sleep` where its supervising loop waits (to press Ctrl-C there)."""
    command = "sandbox.management.commands.serve_embedded"
    clock = SimpleNamespace(monotonic=time.monotonic, sleep=sleep)
    with (
        patch(f"{command}.worker_command", return_value=commands[0]),
        patch(f"{command}.beat_command", return_value=commands[1]),
        patch(f"{command}.web_command", return_value=commands[2]),
        patch(f"{command}.time", clock),
    ):
        yield


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


STOPPABLE = """
import os, signal, sys, time
def stop(signum, frame):
    with open(sys.argv[1], "a") as f:
        f.write(" " + signal.Signals(signum).name)
    sys.exit(0)
for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, stop)
with open(sys.argv[1], "w") as f:
    f.write(str(os.getpgid(0)))
time.sleep(30)
"""


def test_ctrl_c_reaches_the_processes_once_from_the_supervisor(tmp_path, own_sigterm):
    # A terminal's Ctrl-C signals its whole process group; a gunicorn worker signalled by it
    # and then by its master could hang for good, holding the port the next `make run` needs.
    files = {name: tmp_path / name for name in ("worker", "scheduler", "web")}

    def ctrl_c(seconds):
        wait_until(lambda: all(f.exists() and f.read_text() for f in files.values()), 10, "all")
        raise KeyboardInterrupt

    with serving([[sys.executable, "-c", STOPPABLE, file] for file in files.values()], ctrl_c):
        call_command("serve_embedded")
    for name, file in files.items():
        group, *signals = file.read_text().split()
        assert int(group) != os.getpgid(0), f"the {name} is in the terminal's process group"
        assert signals == ["SIGTERM"], name


# As a worker finishing its attempts does, it goes on past the first SIGTERM.
STUBBORN = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda signum, frame: None)
with open(sys.argv[1], "w") as f:
    f.write(str(os.getpid()))
time.sleep(60)
"""


def kill_all(files: list[Path]) -> None:
    """Kill the processes whose pids these files hold, those still there."""
    for file in files:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(file.read_text()), signal.SIGKILL)


def is_gone(pid: int) -> bool:
    """Return whether a process has exited (a zombie not yet reaped has)."""
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().split()[2] == "Z"


def test_a_second_ctrl_c_stops_at_once_what_still_runs(tmp_path, own_sigterm):
    files = [tmp_path / name for name in ("worker", "scheduler", "web")]
    commands = [[sys.executable, "-c", STUBBORN, file] for file in files]

    def ctrl_c_twice(seconds):
        wait_until(lambda: all(f.exists() and f.read_text() for f in files), 10, "the processes")
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
        raise KeyboardInterrupt

    started = time.monotonic()
    try:
        with serving(commands, ctrl_c_twice):
            try:
                call_command("serve_embedded")
            except KeyboardInterrupt:
                pytest.fail("the second Ctrl-C stopped the supervisor, not the processes")
        assert time.monotonic() - started < 10
        for file in files:
            wait_until(partial(is_gone, int(file.read_text())), 2, f"the {file.name} killed")
    finally:
        kill_all(files)


# As a worker finishing a long attempt does: it stops, but some seconds after SIGTERM.
LATE = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda signum, frame: (time.sleep(8), sys.exit(0)))
with open(sys.argv[1], "w") as f:
    f.write(str(os.getpid()))
time.sleep(60)
"""


@pytest.mark.slow
def test_stopping_waits_15_seconds_in_all_not_15_for_each_process(tmp_path, own_sigterm):
    files = [tmp_path / name for name in ("worker", "scheduler", "web")]
    commands = [
        [sys.executable, "-c", LATE, files[0]],
        *([sys.executable, "-c", STUBBORN, file] for file in files[1:]),
    ]
    interrupted = []

    def ctrl_c(seconds):
        wait_until(lambda: all(f.exists() and f.read_text() for f in files), 10, "the processes")
        interrupted.append(time.monotonic())
        raise KeyboardInterrupt

    try:
        with serving(commands, ctrl_c):
            call_command("serve_embedded")
        # The worker took 8 s, then the others were given 15 s more, not what was left of 15.
        assert time.monotonic() - interrupted[0] < 18
        for file in files:
            wait_until(partial(is_gone, int(file.read_text())), 2, f"the {file.name} stopped")
    finally:
        kill_all(files)
