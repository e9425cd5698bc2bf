from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from lessons.models import Course, Exercise, Progress
from sandbox.forms import AttemptForm
from sandbox.models import Attempt
from sandbox.providers import model_unavailable
from sandbox.views import attempt_context


def exercise_statuses(user, exercises) -> dict[int, Progress]:
    """Return the user's Progress on these exercises, by exercise id (none: not tried)."""
    rows = Progress.objects.filter(learner=user, exercise__in=exercises)
    return {row.exercise_id: row for row in rows}


def visible_courses(user):
    return Course.objects.filter(Q(archived=False) | Q(instructors=user)).distinct()


def visible_lessons(user, course: Course):
    """Return the course's lessons with the exercises this user may open, prefetched."""
    lessons = (
        course.lessons.all()
        if course.instructors.filter(pk=user.pk).exists()
        else (course.lessons.filter(archived=False))
    )
    return list(
        lessons.prefetch_related(
            Prefetch(
                "exercises",
                queryset=Exercise.objects.visible_to(user).select_related("lesson__course"),
                to_attr="visible",
            )
        )
    )


def with_progress(user, exercises: list[Exercise]) -> list[Exercise]:
    statuses = exercise_statuses(user, exercises)
    for exercise in exercises:
        # An attribute for the templates only, not a model field.
        exercise.progress = statuses.get(exercise.id)  # type: ignore[attr-defined]
    return exercises


@login_required
@require_GET
def course_list(request: HttpRequest) -> HttpResponse:
    published = Q(lessons__exercises__status=Exercise.PUBLISHED, lessons__exercises__archived=False)
    courses = visible_courses(request.user).annotate(
        lesson_count=Count("lessons", filter=Q(lessons__archived=False), distinct=True),
        exercise_count=Count("lessons__exercises", filter=published, distinct=True),
    )
    return render(request, "lessons/course_list.html", {"courses": courses})


@login_required
@require_GET
def course_detail(request: HttpRequest, course_slug: str) -> HttpResponse:
    course = get_object_or_404(visible_courses(request.user), slug=course_slug)
    lessons = visible_lessons(request.user, course)
    exercises = with_progress(request.user, [e for lesson in lessons for e in lesson.visible])
    passed = sum(1 for e in exercises if e.progress and e.progress.passed)  # type: ignore[attr-defined, misc]
    context = {
        "course": course,
        "lessons": lessons,
        "passed": passed,
        "total": len(exercises),
        "progress": round(100 * passed / len(exercises)) if exercises else 0,
    }
    return render(request, "lessons/course_detail.html", context)


@login_required
@require_GET
def lesson_detail(request: HttpRequest, course_slug: str, lesson_slug: str) -> HttpResponse:
    course = get_object_or_404(visible_courses(request.user), slug=course_slug)
    lessons = visible_lessons(request.user, course)
    index = next((i for i, lesson in enumerate(lessons) if lesson.slug == lesson_slug), None)
    if index is None:
        raise Http404("No such lesson")
    lesson = lessons[index]
    context = {
        "lesson": lesson,
        "course": course,
        "exercises": with_progress(request.user, lesson.visible),
        "previous": lessons[index - 1] if index > 0 else None,
        "next": lessons[index + 1] if index + 1 < len(lessons) else None,
    }
    return render(request, "lessons/lesson_detail.html", context)


@login_required
@require_GET
def exercise_detail(
    request: HttpRequest, course_slug: str, lesson_slug: str, exercise_slug: str
) -> HttpResponse:
    exercise = get_object_or_404(
        Exercise.objects.visible_to(request.user).select_related("lesson__course"),
        lesson__course__slug=course_slug,
        lesson__slug=lesson_slug,
        slug=exercise_slug,
    )
    cases = list(exercise.cases.all())
    visible = [c for c in cases if not c.hidden]
    case = visible[0] if visible else None
    attempts = Attempt.objects.by_learners().filter(learner=request.user, exercise=exercise)
    history = list(attempts.only("id", "status", "score", "passed", "created_at")[:20])
    latest = history[0] if history else None
    if latest:
        latest.exercise = exercise  # whose sample rule its cases are shown by
    # Hint n unlocks after n attempts that were graded and did not pass.
    failures = attempts.filter(status=Attempt.GRADED, passed=False).count()
    context = {
        "exercise": exercise,
        "lesson": exercise.lesson,
        "course": exercise.lesson.course,
        "form": AttemptForm(exercise),
        "backend_problem": model_unavailable(exercise.backend, exercise.model_name),
        "visible_cases": visible,
        "hidden_count": len(cases) - len(visible),
        "case": case,
        "prompt": exercise.render({}, case),
        "history": history,
        "latest": attempt_context(latest) if latest else None,
        "hints": exercise.hints[:failures],
        "locked_hints": max(0, len(exercise.hints) - failures),
    }
    return render(request, "lessons/exercise.html", context)
