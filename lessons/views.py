from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch, Q, prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from graders.names import checks
from lessons.journey import standings, with_progress, with_ungraded
from lessons.models import Course, Exercise, Lesson, PromptValues
from sandbox.forms import AttemptForm
from sandbox.models import Attempt
from sandbox.providers import model_unavailable
from sandbox.views import attempt_context


def last_prompt(attempt: Attempt | None) -> tuple[dict[str, str], PromptValues]:
    """Return the prompt this attempt sent, as the prompt form's fields and as
    Exercise.compose's values: the exercise page opens on the learner's last prompt, not on
    the starter, so a reload, the back button or a return the next day keeps their work."""
    if attempt is None:
        return {}, {}
    parts = {"system": attempt.system_prompt, "user": attempt.user_prompt}
    parts["prefill"] = attempt.prefill
    examples = {i: text for i, (_, text) in enumerate(attempt.examples)}
    fields = {**parts, **{f"slot_{name}": text for name, text in attempt.slots.items()}}
    fields.update({f"example_{i}": text for i, text in examples.items()})
    return fields, {**parts, "slots": attempt.slots, "examples": examples}


def visible_lessons(user, course: Course):
    """Return the course's lessons this user may open, with the exercises they may open as
    .visible, prefetched."""
    exercises = Exercise.objects.visible_to(user).select_related("lesson__course")
    lessons = course.lessons.visible_to(user)
    return list(lessons.prefetch_related(Prefetch("exercises", exercises, to_attr="visible")))


@require_safe
def course_list(request: HttpRequest) -> HttpResponse:
    """The home: signed in, the learner's courses with their standing; signed out, what the
    product is, with the courses it offers."""
    live_lessons = Q(lessons__published=True, lessons__archived=False)
    courses = list(
        Course.objects.visible_to(request.user).annotate(
            lesson_count=Count("lessons", filter=live_lessons, distinct=True)
        )
    )
    if not request.user.is_authenticated:
        prefetch_related_objects(
            courses, Prefetch("lessons", Lesson.objects.live(), "live_lessons")
        )
        return render(request, "lessons/landing.html", {"courses": courses})
    found = standings(request.user, courses)
    for course in courses:
        course.standing = found.get(course.id)
    return render(request, "lessons/course_list.html", {"courses": courses})


@login_required
@require_safe
def course_detail(request: HttpRequest, course_slug: str) -> HttpResponse:
    course = get_object_or_404(Course.objects.visible_to(request.user), slug=course_slug)
    lessons = visible_lessons(request.user, course)
    with_ungraded(
        request.user, with_progress(request.user, [e for lesson in lessons for e in lesson.visible])
    )
    context = {
        "course": course,
        "lessons": lessons,
        "standing": standings(request.user, [course]).get(course.id),
    }
    return render(request, "lessons/course_detail.html", context)


@login_required
@require_safe
def lesson_detail(request: HttpRequest, course_slug: str, lesson_slug: str) -> HttpResponse:
    course = get_object_or_404(Course.objects.visible_to(request.user), slug=course_slug)
    lessons = visible_lessons(request.user, course)
    index = next((i for i, lesson in enumerate(lessons) if lesson.slug == lesson_slug), None)
    if index is None:
        raise Http404("No such lesson")
    lesson = lessons[index]
    context = {
        "lesson": lesson,
        "course": course,
        "exercises": with_ungraded(request.user, with_progress(request.user, lesson.visible)),
        "previous": lessons[index - 1] if index > 0 else None,
        "next": lessons[index + 1] if index + 1 < len(lessons) else None,
    }
    return render(request, "lessons/lesson_detail.html", context)


@login_required
@require_safe
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
    start_over = request.GET.get("start") == "over"  # the link beside a last prompt
    written, values = last_prompt(None if start_over else attempts.first())
    if latest:
        latest.exercise = exercise  # whose sample rule its cases are shown by
    # Hint n unlocks after n attempts that were graded and did not pass.
    failures = attempts.filter(status=Attempt.GRADED, passed=False).count()
    context = {
        "exercise": exercise,
        "lesson": exercise.lesson,
        "course": exercise.lesson.course,
        "form": AttemptForm(exercise, initial=written),
        "on_last_prompt": bool(written),
        "backend_problem": model_unavailable(exercise.backend, exercise.model_name),
        "visible_cases": visible,
        "hidden_count": len(cases) - len(visible),
        "checks": checks(exercise.parsed_rubric),
        "case": case,
        "prompt": exercise.render(values, case),
        "history": history,
        "latest": attempt_context(latest) if latest else None,
        "hints": exercise.hints[:failures],
        "locked_hints": max(0, len(exercise.hints) - failures),
    }
    return render(request, "lessons/exercise.html", context)
