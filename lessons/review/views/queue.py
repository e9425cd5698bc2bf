"""The needs-review queue: the outputs of learners in the courses I teach that wait for a
person (the judge could not decide, or the output looks like a prompt injection), oldest
first, each with a form to decide its criterion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from lessons.authoring.regrading import by_id
from lessons.models import Course, Exercise
from lessons.review.forms import QueueFilter
from lessons.review.models import Membership, ReviewItem
from lessons.review.statistics import criterion_texts
from sandbox.views import LearnerRequest

PAGE_SIZE = 25
OUTPUT_CHARS = 4000


@dataclass(frozen=True)
class Entry:
    item: ReviewItem
    criterion_text: str
    result: dict[str, Any]  # the criterion's stored result on this output
    output: str
    truncated: bool
    drilldown: str | None


def first_cohorts(learner_ids: set[int], course_ids: set[int]) -> dict[tuple[int, int], int]:
    """Return {(learner id, course id): the first of that course's cohorts the learner is
    in} (one query)."""
    memberships = (
        Membership.objects.filter(learner_id__in=learner_ids, cohort__course_id__in=course_ids)
        .order_by("cohort__name", "cohort_id")
        .values_list("learner_id", "cohort__course_id", "cohort_id")
    )
    first: dict[tuple[int, int], int] = {}
    for learner_id, course_id, cohort_id in memberships:
        first.setdefault((learner_id, course_id), cohort_id)
    return first


def entries(items: list[ReviewItem]) -> list[Entry]:
    exercises: dict[int, Exercise] = {}
    for item in items:
        exercise = item.attempt.exercise
        assert exercise is not None, "review items are of attempts on exercises"
        exercises[item.pk] = exercise
    learners = {item.attempt.learner_id for item in items}
    courses = {exercise.lesson.course_id for exercise in exercises.values()}
    cohorts = first_cohorts(learners, courses) if items else {}
    texts: dict[int, dict[str, str]] = {}
    rows = []
    for item in items:
        learner_id, run, exercise = item.attempt.learner_id, item.run, exercises[item.pk]
        if exercise.pk not in texts:
            texts[exercise.pk] = criterion_texts(exercise.parsed_rubric)
        cohort_id = cohorts.get((learner_id, exercise.lesson.course_id))
        rows.append(
            Entry(
                item=item,
                criterion_text=texts[exercise.pk].get(item.criterion_id, ""),
                result=by_id(run.criteria).get(item.criterion_id, {}),
                output=run.output[:OUTPUT_CHARS],
                truncated=len(run.output) > OUTPUT_CHARS,
                drilldown=None
                if cohort_id is None
                else reverse("ls-teach-drilldown", args=[cohort_id, learner_id, exercise.pk]),
            )
        )
    return rows


@login_required
@require_safe
def review_queue(request: LearnerRequest) -> HttpResponse:
    courses = list(Course.objects.taught_by(request.user).order_by("title", "pk"))
    if not courses and not request.user.is_staff:  # who may see /teach/ (teach_home)
        raise Http404("Nothing to review")
    filters = QueueFilter(request.GET, courses)
    filters.is_valid()  # an unknown course or reason is reported, and not applied
    chosen = filters.cleaned_data
    items = ReviewItem.objects.filter(
        resolved_at__isnull=True,
        attempt__exercise__lesson__course__in=[
            course.pk for course in courses if chosen.get("course") in ("", None, course.slug)
        ],
    )
    if chosen.get("reason"):
        items = items.filter(reason=chosen["reason"])
    items = (
        items.select_related("attempt__learner", "attempt__exercise__lesson__course", "run")
        .defer("run__messages", "attempt__system_prompt", "attempt__user_prompt")
        .order_by("created_at", "id")
    )
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "filters": filters,
        "page": page,
        "entries": entries(list(page.object_list)),
        "filtered": bool(chosen.get("course") or chosen.get("reason")),
        "here": request.get_full_path(),
    }
    return render(request, "lessons/review/queue.html", context)
