"""The learner's own progress: per course (completion, best scores, what to do next), and per
exercise (their attempts, with diffs between consecutive ones), showing only what learners
may see."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from lessons.journey import standings, with_progress, with_ungraded
from lessons.models import Course, Exercise
from lessons.review.drilldown import history
from lessons.review.models import Progress
from lessons.review.views.drilldown import page_number
from lessons.views import visible_lessons
from sandbox.views import LearnerRequest


@login_required
@require_safe
def course_progress(request: LearnerRequest, course_slug: str) -> HttpResponse:
    """Work never graded reads as in progress or errors only, as in the gradebook."""
    course = get_object_or_404(Course.objects.visible_to(request.user), slug=course_slug)
    lessons = visible_lessons(request.user, course)
    exercises = with_progress(request.user, [e for lesson in lessons for e in lesson.visible])
    with_ungraded(request.user, exercises)
    standing = standings(request.user, [course]).get(course.id)
    context = {
        "course": course,
        "lessons": lessons,
        "passed": standing.passed_count if standing else 0,
        "total": standing.total if standing else 0,
        "percent": standing.percent if standing else 0,
        "next": standing.next if standing else None,
    }
    return render(request, "lessons/review/progress.html", context)


@login_required
@require_safe
def exercise_progress(request: LearnerRequest, course_slug: str, exercise_id: int) -> HttpResponse:
    exercise = get_object_or_404(
        Exercise.objects.visible_to(request.user).select_related("lesson__course"),
        pk=exercise_id,
        lesson__course__slug=course_slug,
    )
    page = page_number(request)
    found = history(request.user.pk, exercise, page, for_instructor=False)
    if page > 1 and not found.attempts:
        raise Http404("No such page")
    context = {
        "exercise": exercise,
        "course": exercise.lesson.course,
        "history": found,
        "progress": Progress.objects.filter(learner=request.user, exercise=exercise).first(),
    }
    return render(request, "lessons/review/progress_exercise.html", context)
