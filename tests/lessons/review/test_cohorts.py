"""lessons.review.cohorts: join codes as people type them, and what a deadline makes late."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lessons.review.cohorts import is_late, normalize_code, work_is_late

DUE = datetime(2027, 3, 1, 17, 30, tzinfo=UTC)
BEFORE, AFTER = DUE - timedelta(hours=1), DUE + timedelta(hours=1)


def test_codes_are_read_in_any_case_with_spaces_and_dashes():
    assert normalize_code(" abcd-2345 ") == "ABCD2345"
    assert normalize_code("<b>") == "B"  # only the code's alphabet is kept


def test_work_is_late_when_tried_after_the_deadline_without_passing_before_it():
    assert work_is_late(AFTER, None, DUE)
    assert work_is_late(AFTER, AFTER, DUE), "passed, but only after the deadline"
    assert not work_is_late(AFTER, BEFORE, DUE), "passed in time, tried again later"
    assert not work_is_late(BEFORE, None, DUE)
    assert not work_is_late(AFTER, None, None), "no deadline"
    assert not work_is_late(None, None, DUE), "not tried"


def test_an_attempt_is_late_after_the_deadline():
    assert is_late(AFTER, DUE) and not is_late(DUE, DUE) and not is_late(AFTER, None)
