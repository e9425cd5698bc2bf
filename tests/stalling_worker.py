"""Loaded into a test's worker process (`--include tests.stalling_worker`): slow parts scripted
by the prompt. "STUB-WAITS 12.5s" makes the stub answer after 12.5 s; an output holding
"GRADER-LOOPS-FOR 7s" (the echo model repeats the prompt) keeps its grader looping for 7 s."""

from __future__ import annotations

import re
import time

import graders
from sandbox.backends.stub import StubBackend

WAITS = re.compile(r"STUB-WAITS (\d+(?:\.\d+)?)s")
LOOPS = re.compile(r"GRADER-LOOPS-FOR (\d+(?:\.\d+)?)s")

complete = StubBackend.complete
grade_attempt = graders.grade_attempt


def seconds(pattern: re.Pattern[str], text: str) -> float:
    found = pattern.search(text)
    return float(found[1]) if found else 0.0


def complete_late(self, request):
    time.sleep(seconds(WAITS, request.prompt_text()))
    return complete(self, request)


def grade_looping(rubric, cases, **options):
    spin = max((seconds(LOOPS, o) for c in cases for o in c.outputs), default=0.0)
    until = time.monotonic() + spin
    while time.monotonic() < until:  # a grader stuck in a loop, not waiting on anything
        time.sleep(0.01)
    return grade_attempt(rubric, cases, **options)


StubBackend.complete = complete_late  # type: ignore[method-assign]
graders.grade_attempt = grade_looping
