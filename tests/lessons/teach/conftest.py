"""Fixtures shared by the instructor-page tests."""

from __future__ import annotations

import pytest

from lessons.authoring import publishing
from lessons.models import PublishCheck
from tests.conftest import make_exercise, run_queued


@pytest.fixture
def checked_exercise(instructor, delay, django_capture_on_commit_callbacks):
    """Published, with a passing check of its current definition."""
    exercise = make_exercise(solution={"user": "Say hello to {name}."})
    with django_capture_on_commit_callbacks(execute=True):
        publishing.start_check(exercise, instructor, PublishCheck.RECHECK)
    run_queued()
    assert PublishCheck.objects.get().status == "passed"
    return exercise
