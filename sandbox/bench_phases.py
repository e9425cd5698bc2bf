"""Where a bench worker's CPU goes, by phase of an attempt: `python -m sandbox.bench --phases`
loads this module into its worker (with --include and BENCH_PHASES_FILE; the product never
does, and without that variable importing it changes nothing).

It wraps the pipeline's phase functions to sum the CPU time (`time.thread_time`) every
thread spends in each, and at shutdown writes them to BENCH_PHASES_FILE with the CPU of the
whole process and of its consumer thread since the worker was ready, and how many tasks
and attempts ran. The phases nest: claim_next runs inside drain_queue, save_graded inside
some attempt's execute_claimed.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections import Counter
from pathlib import Path

from celery.signals import task_postrun, worker_ready, worker_shutdown

from sandbox import calls, runs

PHASES = {
    runs: (
        "drain_queue",
        "claim_next",
        "execute_claimed",
        "prepare",
        "run_jobs",
        "grade_jobs",
        "save_graded",
    ),
    calls: ("lookup_or_lead", "finish_leading"),
}


class PhaseClock:
    """Sums the thread CPU time spent in functions, across threads."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def timed(self, name: str, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            started = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.thread_time() - started
                with self.lock:
                    self.seconds[name] += spent
                    self.calls[name] += 1

        return wrapper

    def count(self, name: str) -> None:
        with self.lock:
            self.calls[name] += 1


def consumer_thread_seconds() -> float:
    """Return the CPU time of the process's main thread, where Celery's consumer runs."""
    fields = Path(f"/proc/self/task/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_seconds() -> float:
    times = os.times()
    return times.user + times.system


def install(report_file: Path) -> None:
    """Time the phases in this process, and write the report when the worker stops."""
    clock = PhaseClock()
    for module, names in PHASES.items():
        for name in names:
            setattr(module, name, clock.timed(name, getattr(module, name)))
    at_ready: dict[str, float] = {}

    @worker_ready.connect(weak=False)
    def note_start(**kwargs) -> None:
        at_ready.update(process=process_seconds(), consumer=consumer_thread_seconds())

    @task_postrun.connect(weak=False)
    def count_task(**kwargs) -> None:
        clock.count("task")

    @worker_shutdown.connect(weak=False)
    def write_report(**kwargs) -> None:
        report = {
            "tasks": clock.calls["task"],
            "attempts": clock.calls["execute_claimed"],
            "process_s": process_seconds() - at_ready["process"],
            "consumer_s": consumer_thread_seconds() - at_ready["consumer"],
            "phases_s": dict(clock.seconds),
        }
        report_file.write_text(json.dumps(report))

if os.environ.get("BENCH_PHASES_FILE"):
    install(Path(os.environ["BENCH_PHASES_FILE"]))
