"""The CSV exports of a cohort: the gradebook (one row per member) and all attempts (one row
per run), streamed in chunks, guarded against formulas, holding only the cohort's rows."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from lessons.models import Exercise, Lesson
from lessons.review import exports
from lessons.review.models import AuditEntry, Deadline, Decision, Override
from tests.conftest import make_attempt, make_run, make_user
from tests.lessons.review.test_gradebook import (
    enrol,
    errored,
    make_cohort,
    progress,
    two_exercises,
)

NOW = timezone.now()


def read(response) -> list[list[str]]:
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def gradebook_url(cohort) -> str:
    return reverse("ls-teach-gradebook-csv", args=[cohort.pk])


def attempts_url(cohort) -> str:
    return reverse("ls-teach-attempts-csv", args=[cohort.pk])


@pytest.fixture
def cohort(instructor, learner):
    cohort = make_cohort("Morning group")
    enrol(cohort, learner)
    return cohort


def test_cells_that_a_spreadsheet_would_run_start_with_an_apostrophe():
    for text in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert exports.cell(text) == "'" + text
    assert exports.cell("ada") == "ada" and exports.cell("a=b") == "a=b"
    assert exports.cell(None) == "" and exports.cell(True) == "yes" and exports.cell(0.5) == 0.5


def test_a_formula_after_a_separator_a_spreadsheet_may_split_at_is_guarded_too():
    # Excel in a locale whose list separator is ";" splits an unquoted line there.
    assert exports.cell("Ada;=cmd|' /C calc'!A0") == "Ada;'=cmd|' /C calc'!A0"
    assert exports.cell("a\t+1;@x") == "a\t'+1;'@x"
    assert exports.cell("a; b;c=d") == "a; b;c=d"


def test_criterion_results_decisions_and_audit_read_as_text():
    assert (
        exports.criteria_text(
            [
                {"id": "greets", "passed": True, "status": "ok"},
                {"id": "short", "passed": False, "status": "ok"},
                {"id": "tone", "passed": False, "status": "needs_review"},
                {"id": "safe", "passed": True, "suspected_injection": True},
            ]
        )
        == "greets=passed; short=failed; tone=needs_review; safe=passed (suspected injection)"
    )


# The gradebook CSV


def test_the_gradebook_csv_has_one_row_per_member_and_a_column_per_exercise(
    ines_client, cohort, learner
):
    greet, thank = two_exercises()
    bob = make_user("bob", first_name="Bob", last_name="Stone", email="bob@example.org")
    enrol(cohort, bob)
    progress(learner, greet, 1.0, attempts=2)
    progress(learner, thank, 0.334, attempts=1)
    progress(bob, thank, 0.5)
    attempt = make_attempt(learner, greet, status="graded", score=0.2, passed=False)
    Override.objects.create(attempt=attempt, score=1.0, passed=True, reason="Fine")

    response = ines_client.get(gradebook_url(cohort))
    rows = read(response)
    day = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="basics-morning-group-gradebook-{day}.csv"'
    )
    assert rows[0] == [
        "username",
        "name",
        "email",
        "First lesson / Greet someone %",
        "First lesson / Thank someone %",
        "total %",
        "passed",
        "overrides",
        "in progress",
        "errors only",
    ]
    assert rows[1:] == [
        ["alice", "", "", "100.0", "33.4", "66.7", "1", "1", "", ""],
        ["bob", "Bob Stone", "bob@example.org", "", "50.0", "25.0", "0", "0", "", ""],
    ]


def test_the_gradebook_csv_tells_work_stuck_on_errors_or_in_progress_from_not_tried(
    ines_client, cohort, learner
):
    greet, thank = two_exercises()
    errored(learner, greet, "provider", minutes=3)
    make_attempt(learner, thank, status="running")
    errored(learner, thank, "budget", minutes=5)
    bob = make_user("bob")
    enrol(cohort, bob)
    progress(bob, greet, 0.5)
    errored(bob, greet, "poison", minutes=1)  # graded before: a score
    header, alice, bob_row = read(ines_client.get(gradebook_url(cohort)))
    assert alice[3:5] == ["", ""]  # no score, but not "not tried" either
    assert dict(zip(header[-2:], alice[-2:], strict=True)) == {
        "in progress": "First lesson / Thank someone",
        "errors only": "First lesson / Greet someone",
    }
    assert bob_row[3] == "50.0" and bob_row[-2:] == ["", ""]


def test_the_gradebook_csv_guards_learner_text_and_leaves_out_other_cohorts(ines_client, cohort):
    two_exercises()
    enrol(cohort, make_user("=cmd", first_name="+SUM(1)", last_name="x", email="@evil.org"))
    elsewhere = make_cohort("Evening group")
    enrol(elsewhere, make_user("eve"))
    rows = read(ines_client.get(gradebook_url(cohort)))
    assert [row[0] for row in rows[1:]] == ["'=cmd", "alice"]
    assert rows[1][1:3] == ["'+SUM(1) x", "'@evil.org"]


def test_the_gradebook_csv_reads_members_a_chunk_at_a_time_with_the_same_queries(
    ines_client, cohort, monkeypatch
):
    greet, _ = two_exercises()
    monkeypatch.setattr(exports, "LEARNERS_PER_CHUNK", 3)
    learners = [make_user(f"u{i:02}") for i in range(7)]
    enrol(cohort, *learners)
    for user in learners:
        progress(user, greet, 0.5)

    def queries() -> tuple[int, list[str]]:
        with CaptureQueriesContext(connection) as captured:
            rows = read(ines_client.get(gradebook_url(cohort)))
        return len(captured), [row[0] for row in rows[1:]]

    count, names = queries()
    assert names == ["alice", *(f"u{i:02}" for i in range(7))]  # 8 members, in 3 chunks
    enrol(cohort, make_user("v0"))  # still 3 chunks
    assert queries()[0] == count


# The all-attempts CSV


def graded_with_review(cohort, learner, instructor, exercise):
    """An attempt with two runs, a decision on one, an override and their audit entries."""
    attempt = make_attempt(learner, exercise, status="graded", score=0.5, passed=False)
    first = make_run(
        attempt,
        0,
        case_name="Ada",
        score=1.0,
        passed=True,
        criteria=[
            {"id": "greets", "passed": True, "status": "ok"},
            {"id": "tone", "passed": True, "status": "ok"},
        ],
    )
    make_run(
        attempt,
        1,
        case_name="=Hidden",
        sample=1,
        hidden=True,
        score=0.0,
        passed=False,
        criteria=[{"id": "greets", "passed": False, "status": "needs_review"}],
    )
    Decision.objects.create(
        run=first, criterion_id="tone", met=True, note="Polite enough", decided_by=instructor
    )
    Override.objects.create(attempt=attempt, score=0.9, passed=True, reason="-Kind", by=instructor)
    AuditEntry.objects.create(
        attempt=attempt, actor=instructor, action=AuditEntry.DECISION, summary="tone on Ada: met"
    )
    AuditEntry.objects.create(
        attempt=attempt,
        actor=instructor,
        action=AuditEntry.OVERRIDE,
        summary="score 50% → 90%",
        note="-Kind",
    )
    return attempt


def test_the_attempts_csv_has_a_row_per_run_with_its_results_decisions_and_audit(
    ines_client, cohort, learner, instructor
):
    greet, _ = two_exercises()
    Deadline.objects.create(cohort=cohort, exercise=greet, due_at=NOW - timedelta(days=1))
    attempt = graded_with_review(cohort, learner, instructor, greet)
    queued = make_attempt(learner, greet, created_at=NOW - timedelta(days=3))
    failed = make_attempt(
        learner,
        greet,
        status="error",
        error_code="time_limit",
        error="Grading took longer than 60 seconds and was stopped.",
        created_at=NOW - timedelta(days=2),
    )

    response = ines_client.get(attempts_url(cohort))
    rows = read(response)
    assert rows[0] == exports.ATTEMPT_HEADER
    # A column added later goes last: a sheet reading the others by position still works.
    assert rows[0][5:7] == ["status", "graded score %"] and rows[0][-1] == "error"
    assert "attempts-" in response["Content-Disposition"]
    by_column = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [(r["attempt"], r["case"]) for r in by_column] == [
        (str(queued.id), ""),  # oldest first; no runs yet: one row
        (str(failed.id), ""),
        (str(attempt.id), "Ada"),
        (str(attempt.id), "'=Hidden"),
    ]
    not_run, stopped, ada, hidden = by_column
    assert (not_run["status"], not_run["late"], not_run["final score %"]) == ("queued", "no", "")
    assert not_run["error"] == "" and ada["error"] == ""
    # Why an attempt was never graded, as the drill-down says it.
    assert stopped["status"] == "error"
    assert stopped["error"] == "time_limit: Grading took longer than 60 seconds and was stopped."
    assert ada["learner"] == "alice" and ada["exercise"] == "Greet someone"
    assert ada["submitted at"] == attempt.created_at.isoformat() and ada["late"] == "yes"
    assert (ada["graded score %"], ada["override score %"], ada["final score %"]) == (
        "50.0",
        "90.0",
        "90.0",
    )
    assert ada["override reason"] == "'-Kind" and ada["passed"] == "yes"
    assert (ada["sample"], ada["run score %"], ada["run passed"]) == ("0", "100.0", "yes")
    assert ada["criteria"] == "greets=passed; tone=passed"
    assert ada["decisions"] == "tone: met (by ines): Polite enough"
    assert hidden["criteria"] == "greets=needs_review" and hidden["decisions"] == ""
    assert (hidden["sample"], hidden["run passed"]) == ("1", "no")
    audit = ada["audit"].split("; ")
    assert audit[0].startswith("tone on Ada: met (by ines, ")
    assert audit[1].startswith("score 50% → 90% (by ines, ") and audit[1].endswith(": -Kind")
    assert hidden["audit"] == ada["audit"]


def test_the_attempts_csv_holds_only_the_cohorts_learners_on_the_course(
    ines_client, cohort, learner, other_instructor
):
    greet, _ = two_exercises()
    mine = make_attempt(learner, greet, status="graded", score=1.0, passed=True)
    make_attempt(learner, greet, is_reference=True)  # a publish check, not the learner's
    make_attempt(learner, None)  # the playground
    outsider = make_user("eve")
    enrol(make_cohort("Evening group"), outsider)
    make_attempt(outsider, greet)
    lesson = Lesson.objects.create(course=other_instructor.taught_courses.get(), slug="l")
    other = Exercise.objects.create(lesson=lesson, slug="o", status="published", rubric={})
    make_attempt(learner, other)  # another course's
    rows = read(ines_client.get(attempts_url(cohort)))
    assert [row[2] for row in rows[1:]] == [str(mine.id)]


def test_the_attempts_csv_takes_queries_per_chunk_not_per_attempt(
    ines_client, cohort, learner, instructor, monkeypatch
):
    greet, thank = two_exercises()
    monkeypatch.setattr(exports, "ATTEMPTS_PER_CHUNK", 5)

    def queries(count: int) -> int:
        while exports.Attempt.objects.count() < count:
            graded_with_review(cohort, learner, instructor, greet)
        with CaptureQueriesContext(connection) as captured:
            rows = read(ines_client.get(attempts_url(cohort)))
        assert len(rows) == 1 + 2 * count
        return len(captured)

    one_chunk = queries(2)
    assert queries(5) == one_chunk
    per_chunk = queries(10) - one_chunk
    assert 0 < per_chunk <= 4  # the attempts' next rows, and their runs, decisions, audit
    assert queries(20) == one_chunk + 3 * per_chunk


def test_the_attempts_csv_streams_rows_before_reading_every_attempt(
    cohort, learner, instructor, monkeypatch
):
    greet, _ = two_exercises()
    monkeypatch.setattr(exports, "ATTEMPTS_PER_CHUNK", 2)
    for _ in range(6):
        graded_with_review(cohort, learner, instructor, greet)
    rows = exports.attempt_rows(cohort)
    next(rows)  # the header
    with CaptureQueriesContext(connection) as first_chunk:
        next(rows)
    with CaptureQueriesContext(connection) as rest_of_it:
        assert len(list(rows)) == 11
    assert len(first_chunk) <= 5 and len(rest_of_it) > 0  # later chunks are read later


@pytest.mark.parametrize("url", [gradebook_url, attempts_url])
def test_only_the_courses_instructors_may_download(client, cohort, learner, other_instructor, url):
    two_exercises()
    assert client.get(url(cohort)).status_code == 302
    client.force_login(learner)
    assert client.get(url(cohort)).status_code == 404
    client.force_login(other_instructor)
    assert client.get(url(cohort)).status_code == 404
