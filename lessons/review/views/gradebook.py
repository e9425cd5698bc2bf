"""The gradebook page of a cohort: its learners × its exercises, as a heat map."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from lessons.review import access
from lessons.review import gradebook as grades
from sandbox.views import LearnerRequest


@login_required
@require_safe
def gradebook(request: LearnerRequest, cohort_id: int) -> HttpResponse:
    """One page of the gradebook, searched and sorted; htmx's search as you type gets the
    results part alone."""
    cohort = access.cohort_for_instructor(request.user, cohort_id)
    book = grades.gradebook(
        cohort,
        query=request.GET.get("q", ""),
        sort=request.GET.get("sort", ""),
        direction=request.GET.get("dir", ""),
        page=request.GET.get("page", 1),
    )
    context = {"cohort": cohort, "course": cohort.course, "book": book}
    if request.htmx and not request.htmx.history_restore_request:
        # The table, and the count of learners for the live region above it.
        context["swap_count"] = True
        return render(request, "lessons/review/gradebook.html#results", context)
    return render(request, "lessons/review/gradebook.html", context)
