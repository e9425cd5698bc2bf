"""Where a learner stands in a course: the exercises passed, and the one to do next.

The next exercise to do is the first one not passed in course order, counting from the one
the learner worked on last (so an unpassed exercise is resumed, a passed one leads on) and
wrapping round to any skipped before it. `next_exercise` is that rule; the home, the course
page and the result's Next button all call it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from lessons.models import Course, Exercise, Progress
from lessons.review.gradebook import ungraded


def next_exercise(
    exercises: Sequence[Exercise], passed: Collection[int], last: Exercise | None = None
) -> Exercise | None:
    """Return the first exercise not passed (by id), in course order from `last` round to
    the one before it; None when all are passed.

    With exercises 1–4, 1 and 3 passed and 3 worked on last: 4, then 2 once 4 is passed.
    """
    start = next((i for i, e in enumerate(exercises) if last and e.id == last.id), 0)
    ordered = [*exercises[start:], *exercises[:start]]
    return next((e for e in ordered if e.id not in passed), None)


@dataclass(frozen=True)
class Standing:
    """A learner's standing in one course's exercises (those they may open, in order)."""

    exercises: Sequence[Exercise]
    passed: frozenset[int]
    next: Exercise | None  # None when every exercise is passed
    tried: bool

    @classmethod
    def of(cls, exercises: Sequence[Exercise]) -> Standing:
        """Return the standing in these exercises, each given its .progress (with_progress)."""
        rows = [e.progress for e in exercises if e.progress]  # type: ignore[attr-defined]
        passed = frozenset(row.exercise_id for row in rows if row.passed)
        worked = [row for row in rows if row.last_attempt_at]
        last_id = max(worked, key=lambda row: row.last_attempt_at).exercise_id if worked else None
        last = next((e for e in exercises if e.id == last_id), None)
        tried = any(row.attempts or row.passed for row in rows)
        return cls(exercises, passed, next_exercise(exercises, passed, last), tried)

    @property
    def total(self) -> int:
        return len(self.exercises)

    @property
    def passed_count(self) -> int:
        return len(self.passed)

    @property
    def percent(self) -> int:
        return round(100 * self.passed_count / self.total) if self.total else 0

    @property
    def action(self) -> str:
        """Return the label of the one button that leads on: Start, Continue or Review."""
        if not self.tried:
            return "Start"
        return "Continue" if self.next else "Review"

    @property
    def target(self) -> Exercise | None:
        """Return where that button goes: the next exercise, or the first to review."""
        return self.next or (self.exercises[0] if self.exercises else None)


def with_progress(user, exercises: list[Exercise]) -> list[Exercise]:
    """Return the exercises, each with the user's Progress on it as .progress (None: not
    tried, as a row of no graded attempt is: it holds what failed ones were billed), an
    attribute for Standing and the templates, not a model field."""
    rows = Progress.objects.filter(learner=user, exercise__in=exercises, attempts__gt=0)
    by_id = {row.exercise_id: row for row in rows}
    for exercise in exercises:
        exercise.progress = by_id.get(exercise.id)  # type: ignore[attr-defined]
    return exercises


def with_ungraded(user, exercises: list[Exercise]) -> list[Exercise]:
    """Give each exercise the user's work on it that has no graded attempt, as the gradebook
    reads it: .pending, how many attempts are queued or running, and .errors, those that
    ended in error (None for none). One query."""
    work = ungraded([user.pk], [e.id for e in exercises])
    for exercise in exercises:
        pending, errors = work.get((user.pk, exercise.id), (0, None))
        exercise.pending, exercise.errors = pending, errors  # type: ignore[attr-defined]
    return exercises


def standings(user, courses: Iterable[Course]) -> dict[int, Standing]:
    """Return the user's Standing in each course with a live exercise, by course id, in two
    queries. Drafts an instructor sees in their own course do not count."""
    exercises = with_progress(
        user,
        list(
            Exercise.objects.live()
            .filter(lesson__course__in=list(courses))
            .select_related("lesson__course")
            .in_course_order()
        ),
    )
    by_course: dict[int, list[Exercise]] = {}
    for exercise in exercises:
        by_course.setdefault(exercise.lesson.course_id, []).append(exercise)
    return {cid: Standing.of(items) for cid, items in by_course.items()}


def next_after(exercise: Exercise, learner) -> Exercise | None:
    """Return the exercise to do after passing this one (None: the course is complete)."""
    standing = standings(learner, [exercise.lesson.course]).get(exercise.lesson.course_id)
    if standing is None:
        return None
    return next_exercise(standing.exercises, standing.passed | {exercise.id}, exercise)
