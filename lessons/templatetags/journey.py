from __future__ import annotations

from django import template

from lessons import journey
from lessons.review.progress import override_of

register = template.Library()


@register.simple_tag(takes_context=True)
def after_passing(context, attempt) -> dict | None:
    """Return where a passed attempt leads the learner viewing it: {"next": the exercise to
    do next, or None when the course is complete; "course"}. None if it did not pass, or is
    not the viewer's own exercise attempt (a playground run, a reference run, a learner's
    attempt an instructor reviews), or its course no longer opens for them (a draft again)."""
    request = context.get("request")
    if attempt.exercise_id is None or attempt.is_reference:
        return None
    if request is None or request.user.pk != attempt.learner_id:
        return None
    override = override_of(attempt)
    if not (override.passed if override else attempt.passed):
        return None
    course = attempt.exercise.lesson.course
    if not course.opens_for(request.user):
        return None
    return {"next": journey.next_after(attempt.exercise, request.user), "course": course}
