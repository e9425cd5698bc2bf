"""The gradebook of a cohort: its learners × its course's exercises, read from Progress.
Totals, sorting and search run in SQL, so a page costs the same few queries at 5,000 learners
as at 5; only the learners on the page have their Progress rows loaded."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.paginator import Page, Paginator
from django.db.models import (
    Avg,
    Case,
    Count,
    Exists,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Concat, Lower, Substr, Trim
from django.urls import reverse

from lessons.models import Exercise
from lessons.review.cohorts import deadlines_of, work_is_late
from lessons.review.models import Cohort, Membership, Progress
from sandbox.models import Attempt

PER_PAGE = 50
MAX_QUERY = 100  # characters of a search kept
ASC, DESC = "asc", "desc"
# The sort keys besides one per exercise ("ex-<id>"), and the direction each starts in.
SORTS = {"learner": ASC, "total": DESC, "passed": DESC, "attempts": DESC}
EXERCISE_SORT = "ex-"


def exercises_of(course_id: int) -> list[Exercise]:
    """Return the exercises a cohort is graded on: the course's ones its learners may open
    (published, in a published lesson, neither archived), in lesson then exercise order."""
    return list(
        Exercise.objects.filter(
            lesson__course_id=course_id,
            status=Exercise.PUBLISHED,
            archived=False,
            lesson__published=True,
            lesson__archived=False,
        )
        .select_related("lesson")
        .only("id", "title", "slug", "position", "lesson__id", "lesson__title", "lesson__position")
        .order_by("lesson__position", "lesson__id", "position", "id")
    )


def tried(exercise_ids: Sequence[int]) -> QuerySet[Progress]:
    """Return the Progress rows of graded work on these exercises (a row of no attempts is
    work not tried)."""
    return Progress.objects.filter(exercise_id__in=exercise_ids, attempts__gt=0)


def _per_learner(exercise_ids: Sequence[int], aggregate, output_field):
    """One aggregate over a learner's Progress on these exercises, as a correlated subquery."""
    rows = (
        tried(exercise_ids)
        .filter(learner=OuterRef("pk"))
        .order_by()
        .values("learner")
        .annotate(value=aggregate)
        .values("value")
    )
    return Coalesce(
        Subquery(rows[:1], output_field=output_field), Value(0), output_field=output_field
    )


def display_name():
    """The name a learner is listed by, in SQL: their full name, or their username."""
    full = Trim(Concat("first_name", Value(" "), "last_name"))
    return Case(
        When(Q(first_name="") & Q(last_name=""), then=F("username")),
        default=full,
    )


def members(cohort: Cohort, exercise_ids: Sequence[int]) -> QuerySet[User]:
    """Return the cohort's learners, each with their totals over these exercises: score_sum
    (of best scores, untried counting 0), passed_count and attempt_count."""
    return (
        User.objects.filter(memberships__cohort=cohort)
        .only("id", "username", "first_name", "last_name", "email", "is_active")
        .annotate(
            name=display_name(),
            score_sum=_per_learner(exercise_ids, Sum("best_score"), FloatField()),
            passed_count=_per_learner(
                exercise_ids, Count("id", filter=Q(passed=True)), IntegerField()
            ),
            attempt_count=_per_learner(exercise_ids, Sum("attempts"), IntegerField()),
        )
    )


def search(learners: QuerySet[User], query: str) -> QuerySet[User]:
    """Keep the learners whose username, first or last name or email holds every word."""
    for word in query.split():
        learners = learners.filter(
            Q(username__icontains=word)
            | Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(email__icontains=word)
        )
    return learners


def sort_key(sort: str, exercise_ids: Sequence[int]) -> str:
    """Return the sort asked for if it names a column of this gradebook, else "learner"."""
    if sort in SORTS:
        return sort
    number = sort[len(EXERCISE_SORT) :]
    if sort.startswith(EXERCISE_SORT) and number in {str(pk) for pk in exercise_ids}:
        return sort
    return "learner"


def order(learners: QuerySet[User], sort: str, direction: str) -> QuerySet[User]:
    """Order learners by a valid sort key; untried work sorts as the lowest score, and ties
    go by name."""
    if sort.startswith(EXERCISE_SORT):
        best = tried([int(sort[len(EXERCISE_SORT) :])]).filter(learner=OuterRef("pk"))
        learners = learners.annotate(sort_value=Subquery(best.values("best_score")[:1]))
        key: Any = F("sort_value")
    else:
        key = {
            "learner": Lower("name"),
            "total": F("score_sum"),
            "passed": F("passed_count"),
            "attempts": F("attempt_count"),
        }[sort]
    ordered = key.desc(nulls_last=True) if direction == DESC else key.asc(nulls_first=True)
    return learners.order_by(ordered, Lower("name"), "username", "id")


@dataclass(frozen=True)
class Column:
    id: int
    title: str
    lesson: str
    due_at: datetime | None
    sort: str  # its sort key


@dataclass(frozen=True)
class Errors:
    """A learner's attempts on an exercise when none was graded: every one ended in error."""

    count: int
    code: str  # of the last one: provider error, time_limit, budget, poison…
    reason: str  # of the last one, as its learner read it (cut to ERROR_CHARS)


ERROR_CHARS = 200
PENDING = (Attempt.QUEUED, Attempt.RUNNING)  # an attempt not graded yet, nor ended in error


@dataclass(frozen=True)
class Cell:
    exercise_id: int
    percent: int | None  # of the best score; None: not tried
    passed: bool
    attempts: int
    late: bool
    bucket: str  # the heat map's colour class
    url: str  # the learner's drill-down on this exercise
    errors: Errors | None = None  # of work never graded: tried, stuck on errors
    pending: int = 0  # of work never graded: attempts still queued or running

    @property
    def tried(self) -> bool:
        return self.percent is not None


@dataclass(frozen=True)
class Row:
    learner: User
    cells: list[Cell]
    total: int | None  # percent: the mean best score, untried counting 0; None: no exercises
    passed: int
    attempts: int


@dataclass(frozen=True)
class ColumnTotal:
    tried: int
    passed: int
    mean: int | None  # percent: the mean best score of those who tried


@dataclass(frozen=True)
class CohortTotal:
    learners: int
    mean: int | None  # percent: the mean of the learners' totals
    passed: int
    attempts: int


def bucket(
    percent: int | None, passed: bool, errors: Errors | None = None, pending: int = 0
) -> str:
    """Return the heat map class of a cell: green when passed, else red to amber by score;
    work never graded is "pending" while an attempt is queued or running, else "errors"
    when it was tried, else "untried"."""
    if percent is None:
        return "pending" if pending else "errors" if errors else "untried"
    if passed:
        return "pass"
    return f"b{min(percent // 25, 3)}"


def total_percent(score_sum: float, exercises: int) -> int | None:
    return round(score_sum / exercises * 100) if exercises else None


def drilldown_url(cohort_id: int) -> Callable[[int, int], str]:
    """Return a function giving a learner's drill-down URL on an exercise of this cohort.

    A page has 2,000 cells: one reverse() each was a quarter of its render, so the URL is
    reversed once and its learner and exercise filled in (tests compare it with reverse()).
    """
    marker = 999_999_999
    pattern = reverse("ls-teach-drilldown", args=[cohort_id, marker, marker + 1])
    pattern = pattern.replace(str(marker + 1), "{exercise}").replace(str(marker), "{learner}")
    return lambda learner_id, exercise_id: pattern.format(learner=learner_id, exercise=exercise_id)


def ungraded(
    learner_ids: Sequence[int] | QuerySet, exercise_ids: Sequence[int]
) -> dict[tuple[int, int], tuple[int, Errors | None]]:
    """Return, by (learner, exercise), of the work with no graded attempt (no Progress that
    counts one): how many attempts are still queued or running, and those that ended in error
    (how many, and the last one's code and reason); one query, of one row per learner and
    exercise. `learner_ids` may be a query of ids (a cohort's members)."""
    graded = tried(exercise_ids).filter(
        learner_id=OuterRef("learner_id"), exercise_id=OuterRef("exercise_id")
    )
    attempts = Attempt.objects.by_learners().filter(
        ~Exists(graded),
        learner_id__in=learner_ids,
        exercise_id__in=exercise_ids,
        status__in=(Attempt.ERROR, *PENDING),
    )
    last = Attempt.objects.filter(
        learner_id=OuterRef("learner_id"),
        exercise_id=OuterRef("exercise_id"),
        is_reference=False,
        status=Attempt.ERROR,
    ).order_by("-created_at", "-id")
    rows = (
        attempts.order_by()
        .values("learner_id", "exercise_id")
        .annotate(
            pending=Count("id", filter=Q(status__in=PENDING)),
            count=Count("id", filter=Q(status=Attempt.ERROR)),
            code=Subquery(last.values("error_code")[:1]),
            reason=Subquery(last.annotate(cut=Substr("error", 1, ERROR_CHARS)).values("cut")[:1]),
        )
    )
    return {
        (row["learner_id"], row["exercise_id"]): (
            row["pending"],
            Errors(row["count"], row["code"] or "", row["reason"] or "") if row["count"] else None,
        )
        for row in rows
    }


def cells_of(
    cohort_id: int, learner_ids: Iterable[int], columns: Sequence[Column]
) -> dict[int, list[Cell]]:
    """Return each learner's cells, one per column, from their Progress (one query, of plain
    values: model instances would cost more than the rest of the page), and the errors of
    their work never graded, in progress or stuck on errors (one more)."""
    url = drilldown_url(cohort_id)
    learner_ids = list(learner_ids)
    found = {
        (row[0], row[1]): row
        for row in tried([c.id for c in columns])
        .filter(learner_id__in=learner_ids)
        .values_list(
            "learner_id",
            "exercise_id",
            "attempts",
            "best_score",
            "passed",
            "last_attempt_at",
            "passed_at",
        )
    }
    waiting = ungraded(learner_ids, [c.id for c in columns])
    cells_by_learner = {}
    for learner_id in learner_ids:
        cells = []
        for column in columns:
            row = found.get((learner_id, column.id))
            if row is None:
                pending, stuck = waiting.get((learner_id, column.id), (0, None))
                colour = bucket(None, False, stuck, pending)
                address = url(learner_id, column.id)
                cells.append(
                    Cell(column.id, None, False, 0, False, colour, address, stuck, pending)
                )
                continue
            _, _, attempts, best_score, passed, last_attempt_at, passed_at = row
            percent = round((best_score or 0) * 100)
            late = work_is_late(last_attempt_at, passed_at, column.due_at)
            cells.append(
                Cell(
                    column.id,
                    percent,
                    passed,
                    attempts,
                    late,
                    bucket(percent, passed),
                    url(learner_id, column.id),
                )
            )
        cells_by_learner[learner_id] = cells
    return cells_by_learner


def column_totals(
    cohort: Cohort, columns: Sequence[Column]
) -> tuple[dict[int, ColumnTotal], CohortTotal]:
    """Return the totals of each column over the whole cohort, and of the cohort (two
    queries)."""
    per_exercise = {
        row["exercise_id"]: row
        for row in tried([c.id for c in columns])
        .filter(learner__memberships__cohort=cohort)  # a join: faster than IN (members)
        .order_by()
        .values("exercise_id")
        .annotate(
            tried=Count("id"),
            passed=Count("id", filter=Q(passed=True)),
            mean=Avg("best_score"),
            score_sum=Sum("best_score"),
            attempts=Sum("attempts"),
        )
    }
    totals = {}
    for column in columns:
        row = per_exercise.get(column.id)
        mean = None if row is None or row["mean"] is None else round(row["mean"] * 100)
        totals[column.id] = ColumnTotal(
            row["tried"] if row else 0, row["passed"] if row else 0, mean
        )
    count = Membership.objects.filter(cohort=cohort).count()
    score_sum = sum(row["score_sum"] or 0 for row in per_exercise.values())
    return totals, CohortTotal(
        learners=count,
        mean=total_percent(score_sum / count, len(columns)) if count else None,
        passed=sum(row["passed"] for row in per_exercise.values()),
        attempts=sum(row["attempts"] or 0 for row in per_exercise.values()),
    )


@dataclass(frozen=True)
class Sorting:
    """A column header's sort link: the key, the direction a click asks for, and the
    aria-sort value the header has now."""

    key: str
    next_direction: str
    aria: str  # ascending, descending or none


def sorting(key: str, sort: str, direction: str) -> Sorting:
    if key != sort:
        return Sorting(key, SORTS.get(key, DESC), "none")
    current = "ascending" if direction == ASC else "descending"
    return Sorting(key, DESC if direction == ASC else ASC, current)


@dataclass(frozen=True)
class Gradebook:
    columns: list[Column]
    lessons: list[tuple[str, int]]  # the lesson titles over the columns, with their spans
    rows: list[Row]
    page: Page
    totals: dict[int, ColumnTotal]
    cohort_total: CohortTotal
    query: str
    sort: str
    direction: str

    def totals_in_order(self) -> list[ColumnTotal]:
        return [self.totals[column.id] for column in self.columns]

    @property
    def pages(self) -> list[int | str]:
        """The page numbers to link, with an ellipsis where some are left out."""
        paginator = self.page.paginator
        return list(paginator.get_elided_page_range(self.page.number, on_each_side=2, on_ends=1))

    @property
    def sorts(self) -> dict[str, Sorting]:
        """The sort links of the learner and total columns, by key."""
        return {key: sorting(key, self.sort, self.direction) for key in SORTS}

    @property
    def column_sorts(self) -> list[tuple[Column, Sorting]]:
        return [(c, sorting(c.sort, self.sort, self.direction)) for c in self.columns]


def lesson_spans(columns: Sequence[Column]) -> list[tuple[str, int]]:
    spans: list[tuple[str, int]] = []
    for column in columns:
        if spans and spans[-1][0] == column.lesson:
            spans[-1] = (column.lesson, spans[-1][1] + 1)
        else:
            spans.append((column.lesson, 1))
    return spans


def gradebook(
    cohort: Cohort, query: str = "", sort: str = "", direction: str = "", page: str | int = 1
) -> Gradebook:
    """Return one page of a cohort's gradebook, searched and sorted (a fixed number of
    queries whatever the numbers of learners, exercises and attempts)."""
    deadlines = deadlines_of(cohort)
    columns = [
        Column(e.id, e.title, e.lesson.title, deadlines.get(e.id), f"{EXERCISE_SORT}{e.id}")
        for e in exercises_of(cohort.course_id)
    ]
    ids = [c.id for c in columns]
    sort = sort_key(sort, ids)
    if direction not in (ASC, DESC):
        direction = SORTS.get(sort, DESC)
    query = query.replace("\x00", "").strip()[:MAX_QUERY]  # PostgreSQL refuses NUL
    learners = order(search(members(cohort, ids), query), sort, direction)
    page_obj = Paginator(learners, PER_PAGE).get_page(page)
    on_page = list(page_obj.object_list)
    cells = cells_of(cohort.pk, [learner.pk for learner in on_page], columns)
    rows = [
        Row(
            learner,
            cells[learner.pk],
            total_percent(learner.score_sum, len(columns)),
            learner.passed_count,
            learner.attempt_count,
        )
        for learner in on_page
    ]
    totals, cohort_total = column_totals(cohort, columns)
    return Gradebook(
        columns, lesson_spans(columns), rows, page_obj, totals, cohort_total, query, sort, direction
    )
