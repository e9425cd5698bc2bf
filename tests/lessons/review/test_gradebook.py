"""lessons.review.gradebook: a cohort's learners × its course's exercises, read from Progress,
with totals per learner and per exercise, sorting, search and pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from lessons.models import Course, Exercise, Lesson
from lessons.review.exports import gradebook_rows
from lessons.review.gradebook import (
    ASC,
    DESC,
    PER_PAGE,
    Gradebook,
    bucket,
    exercises_of,
    gradebook,
    sorting,
)
from lessons.review.models import Cohort, Deadline, Membership, Progress
from sandbox.models import Attempt
from tests.conftest import make_attempt, make_exercise, make_user

NOW = timezone.now()


def make_cohort(name: str = "Morning group", course_slug: str = "basics") -> Cohort:
    course, _ = Course.objects.get_or_create(slug=course_slug, defaults={"title": "Basics"})
    return Cohort.objects.create(course=course, name=name)


def enrol(cohort: Cohort, *learners: User) -> None:
    Membership.objects.bulk_create([Membership(cohort=cohort, learner=u) for u in learners])


def progress(learner: User, exercise: Exercise, score: float, attempts: int = 1, **fields):
    """A learner's Progress as progress.refresh would leave it after `attempts` tries."""
    passed = fields.pop("passed", score >= 1.0)
    fields.setdefault("last_attempt_at", NOW)
    if passed:
        fields.setdefault("passed_at", fields["last_attempt_at"])
    return Progress.objects.create(
        learner=learner,
        exercise=exercise,
        attempts=attempts,
        best_score=score,
        passed=passed,
        first_attempt_at=fields["last_attempt_at"],
        **fields,
    )


def two_exercises() -> tuple[Exercise, Exercise]:
    return make_exercise(slug="greet", position=0), make_exercise(
        slug="thank", title="Thank someone", position=1
    )


def cell(book: Gradebook, learner: User, exercise: Exercise):
    row = next(r for r in book.rows if r.learner.pk == learner.pk)
    return next(c for c in row.cells if c.exercise_id == exercise.pk)


def names(book: Gradebook) -> list[str]:
    return [row.learner.username for row in book.rows]


def test_cells_are_coloured_green_when_passed_and_red_to_amber_by_score():
    assert bucket(None, False) == "untried"
    assert [bucket(p, False) for p in (0, 24, 25, 49, 50, 74, 75, 99)] == [
        "b0",
        "b0",
        "b1",
        "b1",
        "b2",
        "b2",
        "b3",
        "b3",
    ]
    assert bucket(60, True) == bucket(100, True) == "pass"


def test_a_header_sorts_its_own_way_first_and_flips_when_sorted_on():
    assert sorting("learner", "total", DESC).next_direction == ASC
    assert sorting("total", "learner", ASC).next_direction == DESC
    assert sorting("total", "learner", ASC).aria == "none"
    now_desc = sorting("total", "total", DESC)
    assert (now_desc.aria, now_desc.next_direction) == ("descending", ASC)
    assert sorting("ex-3", "ex-3", ASC).aria == "ascending"


@pytest.mark.django_db
def test_the_columns_are_the_published_live_exercises_in_lesson_then_exercise_order():
    second = make_exercise(slug="second", position=2)
    first = make_exercise(slug="first", position=1)
    make_exercise(slug="draft", status=Exercise.DRAFT)
    make_exercise(slug="archived", archived=True)
    course = first.lesson.course
    later = Lesson.objects.create(course=course, slug="later", title="Later", position=5)
    in_later = Exercise.objects.create(
        lesson=later, slug="x", title="X", status=Exercise.PUBLISHED, rubric=first.rubric
    )
    gone = Lesson.objects.create(course=course, slug="gone", title="Gone", archived=True)
    Exercise.objects.create(
        lesson=gone, slug="y", title="Y", status=Exercise.PUBLISHED, rubric=first.rubric
    )
    assert [e.pk for e in exercises_of(course.pk)] == [first.pk, second.pk, in_later.pk]
    book = gradebook(make_cohort())
    assert book.lessons == [("First lesson", 2), ("Later", 1)]


@pytest.mark.django_db
def test_cells_show_best_score_pass_attempts_and_late_and_untried_work():
    greet, thank = two_exercises()
    cohort = make_cohort()
    alice = make_user("alice")
    enrol(cohort, alice)
    Deadline.objects.create(cohort=cohort, exercise=thank, due_at=NOW - timedelta(days=1))
    progress(alice, greet, 1.0, attempts=3)
    progress(alice, thank, 0.456, attempts=2)

    book = gradebook(cohort)
    greet_cell, thank_cell = cell(book, alice, greet), cell(book, alice, thank)
    assert (greet_cell.percent, greet_cell.passed, greet_cell.attempts) == (100, True, 3)
    assert not greet_cell.late  # no deadline
    assert (thank_cell.percent, thank_cell.passed, thank_cell.bucket) == (46, False, "b1")
    assert thank_cell.late  # tried after the deadline without passing before it
    assert book.columns[1].due_at == NOW - timedelta(days=1)
    for each, exercise in ((greet_cell, greet), (thank_cell, thank)):
        assert each.url == reverse("ls-teach-drilldown", args=[cohort.pk, alice.pk, exercise.pk])


@pytest.mark.django_db
def test_work_passed_before_the_deadline_is_not_late_and_no_row_is_not_tried():
    greet, thank = two_exercises()
    cohort = make_cohort()
    alice = make_user("alice")
    enrol(cohort, alice)
    due = NOW - timedelta(days=1)
    Deadline.objects.create(cohort=cohort, exercise=greet, due_at=due)
    progress(alice, greet, 1.0, passed_at=due - timedelta(hours=1))
    Progress.objects.create(learner=alice, exercise=thank, attempts=0)  # nothing graded

    book = gradebook(cohort)
    assert not cell(book, alice, greet).late
    untried = cell(book, alice, thank)
    assert not untried.tried and untried.bucket == "untried" and untried.attempts == 0


def errored(learner: User, exercise: Exercise, code: str, minutes: int, **fields) -> Attempt:
    return make_attempt(
        learner,
        exercise,
        status=Attempt.ERROR,
        error_code=code,
        error=f"It stopped: {code}.",
        created_at=NOW - timedelta(minutes=minutes),
        **fields,
    )


@pytest.mark.django_db
def test_work_whose_every_attempt_ended_in_error_is_tried_and_stuck_not_untried():
    greet, thank = two_exercises()
    cohort = make_cohort()
    alice, bob = make_user("alice"), make_user("bob")
    enrol(cohort, alice, bob)
    errored(alice, greet, "provider", minutes=30)
    errored(alice, greet, "time_limit", minutes=10)
    errored(alice, greet, "budget", minutes=20)
    errored(alice, thank, "poison", minutes=5, is_reference=True)  # an instructor's run: not hers
    progress(bob, greet, 0.5)
    errored(bob, greet, "poison", minutes=1)  # he has a graded attempt: his cell is its score

    book = gradebook(cohort)
    stuck = cell(book, alice, greet)
    assert not stuck.tried and stuck.bucket == "errors"
    assert stuck.errors is not None
    assert (stuck.errors.count, stuck.errors.code) == (3, "time_limit")
    assert stuck.errors.reason == "It stopped: time_limit."
    assert cell(book, alice, thank).bucket == "untried" and cell(book, alice, thank).errors is None
    graded = cell(book, bob, greet)
    assert (graded.percent, graded.bucket, graded.errors) == (50, "b2", None)


@pytest.mark.django_db
def test_work_whose_only_attempts_are_queued_or_running_is_in_progress_not_untried():
    greet, thank = two_exercises()
    cohort = make_cohort()
    alice, bob = make_user("alice"), make_user("bob")
    enrol(cohort, alice, bob)
    make_attempt(alice, greet, status=Attempt.QUEUED)
    make_attempt(alice, greet, status=Attempt.RUNNING)
    errored(alice, greet, "provider", minutes=3)
    make_attempt(alice, thank, status=Attempt.RUNNING, is_reference=True)  # not hers
    progress(bob, greet, 0.5)
    make_attempt(bob, greet, status=Attempt.QUEUED)  # graded before: his cell is its score

    book = gradebook(cohort)
    running = cell(book, alice, greet)
    assert (running.tried, running.bucket, running.pending) == (False, "pending", 2)
    assert running.errors is not None and running.errors.count == 1
    assert cell(book, alice, thank).bucket == "untried"
    assert (cell(book, bob, greet).bucket, cell(book, bob, greet).pending) == ("b2", 0)


@pytest.mark.django_db
def test_a_learners_total_is_the_mean_best_score_counting_untried_as_zero():
    greet, thank = two_exercises()
    cohort = make_cohort()
    alice, bob = make_user("alice"), make_user("bob")
    enrol(cohort, alice, bob)
    progress(alice, greet, 1.0, attempts=4)
    progress(alice, thank, 0.5, attempts=2)
    progress(bob, greet, 0.3)

    rows = {row.learner.username: row for row in gradebook(cohort).rows}
    assert (rows["alice"].total, rows["alice"].passed, rows["alice"].attempts) == (75, 1, 6)
    assert (rows["bob"].total, rows["bob"].passed, rows["bob"].attempts) == (15, 0, 1)


@pytest.mark.django_db
def test_only_the_cohorts_members_and_the_courses_exercises_count():
    greet, _ = two_exercises()
    cohort, evening = make_cohort(), make_cohort("Evening group")
    alice, bob = make_user("alice"), make_user("bob")
    enrol(cohort, alice)
    enrol(evening, bob)  # same course, another cohort
    progress(alice, greet, 0.5)
    progress(bob, greet, 1.0)
    elsewhere = Course.objects.create(slug="other", title="Other")
    lesson = Lesson.objects.create(course=elsewhere, slug="l", title="L")
    other = Exercise.objects.create(
        lesson=lesson, slug="o", title="O", status=Exercise.PUBLISHED, rubric=greet.rubric
    )
    progress(alice, other, 1.0, attempts=9)

    book = gradebook(cohort)
    assert names(book) == ["alice"]
    assert book.rows[0].attempts == 1 and book.rows[0].passed == 0
    assert book.totals[greet.pk].tried == 1 and book.totals[greet.pk].passed == 0
    assert book.cohort_total.learners == 1 and book.cohort_total.attempts == 1


@pytest.mark.django_db
def test_the_footer_totals_the_whole_cohort_whatever_the_page_and_search():
    greet, thank = two_exercises()
    cohort = make_cohort()
    learners = [make_user(f"learner{i:03}") for i in range(PER_PAGE + 5)]
    enrol(cohort, *learners)
    for i, learner in enumerate(learners):
        progress(learner, greet, 1.0 if i % 5 == 0 else 0.5)
    progress(learners[0], thank, 0.2, attempts=3)

    book = gradebook(cohort, query="learner000")
    assert names(book) == ["learner000"]
    totals = book.totals[greet.pk]
    assert (totals.tried, totals.passed) == (PER_PAGE + 5, 11)
    assert totals.mean == round((11 * 1.0 + 44 * 0.5) / 55 * 100)
    assert book.totals[thank.pk].tried == 1 and book.totals[thank.pk].mean == 20
    assert book.cohort_total.learners == PER_PAGE + 5
    assert book.cohort_total.passed == 11 and book.cohort_total.attempts == 55 + 3
    assert book.cohort_total.mean == round((11 + 22 + 0.2) / (55 * 2) * 100)


@pytest.mark.django_db
def test_an_exercise_nobody_tried_has_no_mean():
    greet, thank = two_exercises()
    cohort = make_cohort()
    enrol(cohort, make_user("alice"))
    book = gradebook(cohort)
    assert book.totals[thank.pk].tried == 0 and book.totals[thank.pk].mean is None
    assert book.rows[0].total == 0


@pytest.mark.django_db
def test_sorting_by_name_total_passes_attempts_and_an_exercise_untried_lowest():
    greet, thank = two_exercises()
    cohort = make_cohort()
    ada = make_user("zed", first_name="Ada", last_name="Byron")
    cy = make_user("cy")
    bea = make_user("bea", first_name="Bea")
    enrol(cohort, ada, cy, bea)
    progress(ada, greet, 1.0, attempts=1)
    progress(ada, thank, 0.2, attempts=1)
    progress(cy, greet, 0.9, attempts=5)
    progress(bea, thank, 0.6, attempts=2)

    assert names(gradebook(cohort)) == ["zed", "bea", "cy"]  # Ada Byron, Bea, cy
    assert names(gradebook(cohort, sort="learner", direction=DESC)) == ["cy", "bea", "zed"]
    assert names(gradebook(cohort, sort="total")) == ["zed", "cy", "bea"]  # 60, 45, 30
    assert names(gradebook(cohort, sort="total", direction=ASC)) == ["bea", "cy", "zed"]
    assert names(gradebook(cohort, sort="passed"))[0] == "zed"
    assert names(gradebook(cohort, sort="attempts")) == ["cy", "zed", "bea"]
    by_thank = gradebook(cohort, sort=f"ex-{thank.pk}", direction=ASC)
    assert names(by_thank) == ["cy", "zed", "bea"]  # not tried, 20, 60
    assert names(gradebook(cohort, sort=f"ex-{thank.pk}")) == ["bea", "zed", "cy"]


@pytest.mark.django_db
def test_an_unknown_sort_or_direction_falls_back_to_names_in_order():
    greet, _ = two_exercises()
    cohort = make_cohort()
    enrol(cohort, make_user("bo"), make_user("al"))
    for sort in ("password", "ex-999999", "ex-x", f"ex-{greet.pk}x"):
        book = gradebook(cohort, sort=sort, direction="sideways")
        assert (book.sort, book.direction, names(book)) == ("learner", ASC, ["al", "bo"])


@pytest.mark.django_db
def test_search_finds_learners_by_username_names_or_email_every_word():
    two_exercises()
    cohort = make_cohort()
    enrol(
        cohort,
        make_user("ada", first_name="Ada", last_name="Lovelace", email="ada@engine.org"),
        make_user("grace", first_name="Grace", last_name="Hopper", email="gh@navy.mil"),
        make_user("alan", email="alan@bletchley.uk"),
    )
    assert names(gradebook(cohort, query="LOVE")) == ["ada"]
    assert names(gradebook(cohort, query="navy")) == ["grace"]
    assert names(gradebook(cohort, query="  a ")) == ["ada", "alan", "grace"]
    assert names(gradebook(cohort, query="grace hopper")) == ["grace"]
    assert names(gradebook(cohort, query="grace lovelace")) == []


@pytest.mark.django_db
def test_pages_hold_fifty_learners_and_a_bad_page_number_gives_a_real_page():
    two_exercises()
    cohort = make_cohort()
    enrol(cohort, *[make_user(f"u{i:03}") for i in range(PER_PAGE + 3)])
    first = gradebook(cohort)
    assert len(first.rows) == PER_PAGE and first.page.paginator.num_pages == 2
    second = gradebook(cohort, page=2)
    assert names(second) == ["u050", "u051", "u052"]
    assert names(gradebook(cohort, page="999")) == names(second)
    assert names(gradebook(cohort, page="x")) == names(first)


@pytest.mark.django_db
def test_an_unpublished_lessons_exercises_are_not_columns_so_a_learner_who_did_all_shows_100():
    # Lessons start unpublished; one may hold an exercise already marked published, which
    # learners cannot open: grading the cohort on it took every learner's total down.
    greet = make_exercise()
    draft_lesson = Lesson.objects.create(
        course=greet.lesson.course, slug="next", title="Next", position=9, published=False
    )
    Exercise.objects.create(
        lesson=draft_lesson, slug="z", title="Z", status=Exercise.PUBLISHED, rubric=greet.rubric
    )
    cohort = make_cohort()
    alice = make_user("alice")
    enrol(cohort, alice)
    progress(alice, greet, 1.0)

    assert [e.pk for e in exercises_of(greet.lesson.course_id)] == [greet.pk]
    book = gradebook(cohort)
    assert (book.rows[0].total, book.cohort_total.mean) == (100, 100)
    header, row = list(gradebook_rows(cohort))
    assert row[header.index("total %")] == 100.0
