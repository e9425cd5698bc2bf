"""sandbox.batching.Batcher: group commit across threads."""

from __future__ import annotations

import threading
import time

import pytest

from sandbox.batching import Batcher


class Recorder:
    """A write_batch that records its batches, and can be held on its first one."""

    def __init__(self, hold_first: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.started = threading.Event()
        self.release = threading.Event()
        if not hold_first:
            self.release.set()

    def write_batch(self, items):
        self.batches.append(list(items))
        self.started.set()
        self.release.wait(5)
        return [item * 10 for item in items]


def submit_in_threads(batcher: Batcher, items: list[int]) -> tuple[dict, list[threading.Thread]]:
    results: dict[int, object] = {}

    def submit(item: int) -> None:
        try:
            results[item] = batcher.submit(item)
        except Exception as e:
            results[item] = e

    threads = [threading.Thread(target=submit, args=(i,)) for i in items]
    for thread in threads:
        thread.start()
    return results, threads


def wait_for_waiting(batcher: Batcher, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(batcher.waiting) < count:
        assert time.monotonic() < deadline, "the items never queued"
        time.sleep(0.001)


def test_a_lone_item_is_written_at_once_in_its_own_thread():
    writers = []

    def write_batch(items):
        writers.append(threading.current_thread())
        return [i + 1 for i in items]

    batcher = Batcher(write_batch, write_one=None)
    assert batcher.submit(1) == 2
    assert batcher.submit(5) == 6
    assert writers == [threading.current_thread()] * 2


def test_items_handed_in_during_a_write_go_together_in_the_next_batch():
    recorder = Recorder(hold_first=True)
    batcher = Batcher(recorder.write_batch, write_one=None)
    first, first_threads = submit_in_threads(batcher, [1])
    assert recorder.started.wait(5)
    results, threads = submit_in_threads(batcher, [2, 3, 4, 5])
    wait_for_waiting(batcher, 4)
    recorder.release.set()
    for thread in first_threads + threads:
        thread.join(5)
    assert recorder.batches[0] == [1]
    assert sorted(recorder.batches[1]) == [2, 3, 4, 5]
    assert {**first, **results} == {1: 10, 2: 20, 3: 30, 4: 40, 5: 50}
    assert not batcher.writing and not batcher.waiting


def test_a_batch_holds_at_most_max_batch_items():
    recorder = Recorder(hold_first=True)
    batcher = Batcher(recorder.write_batch, write_one=None, max_batch=2)
    _, first_threads = submit_in_threads(batcher, [0])
    assert recorder.started.wait(5)
    results, threads = submit_in_threads(batcher, [1, 2, 3, 4, 5])
    wait_for_waiting(batcher, 5)
    recorder.release.set()
    for thread in first_threads + threads:
        thread.join(5)
    assert [len(b) for b in recorder.batches] == [1, 2, 2, 1]
    assert results == {i: i * 10 for i in range(1, 6)}


def test_a_failed_batch_is_written_one_by_one_and_only_the_bad_item_fails():
    recorder = Recorder(hold_first=True)

    def write_batch(items):
        recorder.write_batch(items)
        if 3 in items:
            raise RuntimeError("one of these is bad")
        return [i * 10 for i in items]

    def write_one(item):
        if item == 3:
            raise ValueError("3 is bad")
        return item * 100

    batcher = Batcher(write_batch, write_one)
    _, first_threads = submit_in_threads(batcher, [1])
    assert recorder.started.wait(5)
    results, threads = submit_in_threads(batcher, [2, 3, 4])
    wait_for_waiting(batcher, 3)
    recorder.release.set()
    for thread in first_threads + threads:
        thread.join(5)
    assert results[2] == 200 and results[4] == 400
    assert isinstance(results[3], ValueError)


def test_a_lone_failing_item_is_tried_once_more_on_its_own_then_raises():
    tries = []

    def write_batch(items):
        raise RuntimeError("batch")

    def write_one(item):
        tries.append(item)
        raise ValueError("still bad")

    with pytest.raises(ValueError, match="still bad"):
        Batcher(write_batch, write_one).submit(7)
    assert tries == [7]


def test_a_thread_being_stopped_stops_its_whole_batch_and_the_next_writes():
    class Stop(BaseException):
        pass

    recorder = Recorder(hold_first=True)

    def write_batch(items):
        recorder.write_batch(items)
        if 1 in items:
            raise Stop()
        return [i * 10 for i in items]

    batcher = Batcher(write_batch, write_one=None)
    _, first_threads = submit_in_threads(batcher, [0])
    assert recorder.started.wait(5)
    stopped: list[BaseException] = []

    def submit_one() -> None:
        try:
            batcher.submit(1)
        except Stop as e:
            stopped.append(e)

    stopping = threading.Thread(target=submit_one)
    stopping.start()
    wait_for_waiting(batcher, 1)
    recorder.release.set()
    stopping.join(5)
    for thread in first_threads:
        thread.join(5)
    assert len(stopped) == 1
    assert batcher.submit(2) == 20  # the batcher still works afterwards
