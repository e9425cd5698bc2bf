"""Loaded into a test's worker process (`--include tests.crashing_worker`): an attempt whose
prompt holds CRASH stops the whole process, as a grader crashing the interpreter would."""

from __future__ import annotations

import os

from sandbox import runs

CRASH = "CRASH-THE-WORKER"

prepare = runs.prepare


def prepare_or_crash(attempt):
    if CRASH in attempt.user_prompt:
        os._exit(1)
    return prepare(attempt)


runs.prepare = prepare_or_crash
