"""sandbox.bench_phases: the bench worker's CPU time by phase."""

from __future__ import annotations

import threading
import time

from sandbox import bench_phases, runs


def burn(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_importing_it_without_a_report_file_changes_nothing():
    assert not hasattr(runs.execute_claimed, "__wrapped__")


def test_it_sums_a_phases_cpu_time_across_threads():
    clock = bench_phases.PhaseClock()
    busy = clock.timed("busy", burn)
    idle = clock.timed("idle", time.sleep)
    threads = [threading.Thread(target=busy, args=(0.02,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    idle(0.05)  # waiting costs no CPU
    clock.count("task")
    assert 0.057 <= clock.seconds["busy"] < 0.12
    assert clock.seconds["idle"] < 0.015
    assert clock.calls == {"busy": 3, "idle": 1, "task": 1}
