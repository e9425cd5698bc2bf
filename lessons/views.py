from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Max, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from lessons.models import Course, Exercise, Lesson
from sandbox.forms import AttemptForm
from sandbox.models import Attempt
from sandbox.prompting import render_prompt
from sandbox.views import attempt_context


def exercise_statuses(user, exercises) -> dict[int, dict]:
    """Return {exercise id: {"best": score, "passed": bool, "tries": n}} for the user's attempts."""
    rows = (
        Attempt.objects.filter(learner=user, exercise__in=exercises)
        .values("exercise_id")
        .annotate(
            best=Max("score"),
            passes=Count("id", filter=Q(passed=True)),
            tries=Count("id"),
        )
    )
    return {r["exercise_id"]: r for r in rows}


@login_required
@require_GET
def course_list(request: HttpRequest) -> HttpResponse:
    courses = Course.objects.annotate(
        lesson_count=Count("lessons", distinct=True),
        exercise_count=Count("lessons__exercises", distinct=True),
    )
    return render(request, "lessons/course_list.html", {"courses": courses})


@login_required
@require_GET
def course_detail(request: HttpRequest, course_slug: str) -> HttpResponse:
    course = get_object_or_404(Course, slug=course_slug)
    lessons = list(course.lessons.prefetch_related("exercises"))
    exercises = [e for lesson in lessons for e in lesson.exercises.all()]
    statuses = exercise_statuses(request.user, exercises)
    for exercise in exercises:
        exercise.status = statuses.get(exercise.id)
    passed = sum(1 for s in statuses.values() if s["passes"])
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
    lesson = get_object_or_404(
        Lesson.objects.select_related("course"), course__slug=course_slug, slug=lesson_slug
    )
    exercises = list(lesson.exercises.all())
    statuses = exercise_statuses(request.user, exercises)
    for exercise in exercises:
        exercise.status = statuses.get(exercise.id)
    siblings = list(lesson.course.lessons.values_list("slug", "title"))
    index = [slug for slug, _ in siblings].index(lesson.slug)
    context = {
        "lesson": lesson,
        "course": lesson.course,
        "exercises": exercises,
        "previous": siblings[index - 1] if index > 0 else None,
        "next": siblings[index + 1] if index + 1 < len(siblings) else None,
    }
    return render(request, "lessons/lesson_detail.html", context)


@login_required
@require_GET
def exercise_detail(
    request: HttpRequest, course_slug: str, lesson_slug: str, exercise_slug: str
) -> HttpResponse:
    exercise = get_object_or_404(
        Exercise.objects.select_related("lesson__course"),
        lesson__course__slug=course_slug,
        lesson__slug=lesson_slug,
        slug=exercise_slug,
    )
    cases = list(exercise.cases.all())
    case = next((c for c in cases if not c.hidden), None)
    attempts = Attempt.objects.filter(learner=request.user, exercise=exercise)
    history = list(attempts.only("id", "status", "score", "passed", "created_at")[:20])
    latest = history[0] if history else None
    # Hint n unlocks after n attempts that were graded and did not pass.
    failures = attempts.filter(status=Attempt.GRADED, passed=False).count()
    context = {
        "exercise": exercise,
        "lesson": exercise.lesson,
        "course": exercise.lesson.course,
        "form": AttemptForm(exercise),
        "visible_cases": [c for c in cases if not c.hidden],
        "hidden_count": sum(1 for c in cases if c.hidden),
        "case": case,
        "prompt": render_prompt(exercise.starter(), case.variables if case else {}),
        "history": history,
        "latest": attempt_context(latest) if latest else None,
        "hints": exercise.hints[:failures],
        "locked_hints": max(0, len(exercise.hints) - failures),
    }
    return render(request, "lessons/exercise.html", context)
