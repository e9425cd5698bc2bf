"""Group commit: many threads hand in one item each, and one of them writes a batch.

A worker process runs dozens of attempts at once, and each used to pay for its own
database statements, whose cost is mostly per statement, not per row. A Batcher lets
the threads share them: a thread whose item finds no batch being written writes at once
(so a lone item waits for nothing), and items handed in while a batch is being written
go together in the next one. Under load a batch is as large as what arrived meanwhile.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(eq=False)
class Ticket(Generic[Item, Result]):
    item: Item
    done: threading.Event = field(default_factory=threading.Event)
    # Set instead of a result when this ticket's thread is to write the next batch.
    writes_next: bool = False
    result: Result | None = None
    error: BaseException | None = None


class Batcher(Generic[Item, Result]):
    """Run `write_batch(items) -> results` (one result per item, in order) for items handed
    in by many threads, at most `max_batch` at a time, each batch in the thread of one of
    its items. If a batch fails, its items are written one at a time with `write_one`,
    which takes the careful path, so one bad item fails only its own thread."""

    def __init__(
        self,
        write_batch: Callable[[Sequence[Item]], list[Result]],
        write_one: Callable[[Item], Result],
        max_batch: int = 100,
    ) -> None:
        self.write_batch = write_batch
        self.write_one = write_one
        self.max_batch = max_batch
        self.lock = threading.Lock()
        self.waiting: list[Ticket[Item, Result]] = []
        self.writing = False

    def submit(self, item: Item) -> Result:
        ticket: Ticket[Item, Result] = Ticket(item)
        with self.lock:
            self.waiting.append(ticket)
            writes_now = not self.writing
            self.writing = True
        if not writes_now:
            ticket.done.wait()
        if writes_now or ticket.writes_next:
            self.write_next_batch()
        if ticket.error:
            raise ticket.error
        return ticket.result

    def write_next_batch(self) -> None:
        """Write the oldest waiting items (this thread's among them), then hand the writing
        on to the oldest item still waiting, if any."""
        with self.lock:
            batch = self.waiting[: self.max_batch]
            del self.waiting[: self.max_batch]
        try:
            self.write(batch)
        finally:
            with self.lock:
                following = self.waiting[0] if self.waiting else None
                self.writing = following is not None
            for ticket in batch:
                ticket.done.set()
            if following:
                following.writes_next = True
                following.done.set()

    def write(self, batch: list[Ticket[Item, Result]]) -> None:
        try:
            results = self.write_batch([t.item for t in batch])
        except Exception as e:
            log.info("a batch of %d failed (%r); writing its items one by one", len(batch), e)
            for ticket in batch:
                try:
                    ticket.result = self.write_one(ticket.item)
                except Exception as e:
                    ticket.error = e
            return
        except BaseException as e:  # the thread is being stopped: so are the others' items
            for ticket in batch:
                ticket.error = e
            raise
        for ticket, result in zip(batch, results, strict=True):
            ticket.result = result
