"""The learner drill-down (one learner's attempts on one exercise, for an instructor), and
the two things an instructor does there: decide a criterion of an output, override a score."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from lessons.review import access, decisions
from lessons.review.cohorts import deadlines_of
from lessons.review.drilldown import history
from lessons.review.forms import DecisionForm, OverrideForm
from lessons.review.models import Cohort, Progress
from sandbox.models import Attempt, Run

MAX_PAGE = 100_000  # past any real history; a bigger number would overflow the database


def page_number(request: HttpRequest) -> int:
    try:
        return min(max(1, int(request.GET.get("page", "1"))), MAX_PAGE)
    except ValueError:
        return 1


@login_required
@require_safe
def drilldown(request: HttpRequest, cohort_id: int, learner_id: int, exercise_id: int):
    cohort = access.cohort_for_instructor(request.user, cohort_id)
    learner = access.member_of(cohort, learner_id)
    exercise = access.exercise_of(cohort, exercise_id)
    due_at = deadlines_of(cohort).get(exercise.pk)
    page = page_number(request)
    found = history(learner.pk, exercise, page, for_instructor=True, due_at=due_at)
    if page > 1 and not found.attempts:
        raise Http404("No such page")
    context = {
        "cohort": cohort,
        "course": cohort.course,
        "learner": learner,
        "exercise": exercise,
        "due_at": due_at,
        "history": found,
        "progress": Progress.objects.filter(learner=learner, exercise=exercise).first(),
        "here": request.get_full_path(),
    }
    return render(request, "lessons/review/drilldown.html", context)


def form_problems(form: forms.Form) -> str:
    """Return a form's errors as one sentence per field, naming it."""
    problems = []
    for name, errors in form.errors.items():
        text = " ".join(str(error) for error in errors)
        problems.append(f"{name.capitalize()}: {text}" if name in form.fields else text)
    return " ".join(problems)


def back_to(request: HttpRequest, attempt: Attempt, next_url: str) -> HttpResponseRedirect:
    """Return a redirect to `next` if it is a URL of this site, else to the drill-down of a
    cohort of the course the learner is in, else to the review queue."""
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(next_url)
    assert attempt.exercise is not None, "reviewed attempts are of exercises"
    cohort = (
        Cohort.objects.taught_by(request.user)
        .filter(course=attempt.exercise.lesson.course_id, memberships__learner=attempt.learner_id)
        .order_by("id")
        .first()
    )
    if cohort is None:
        return HttpResponseRedirect(reverse("ls-teach-review-queue"))
    url = reverse("ls-teach-drilldown", args=[cohort.pk, attempt.learner_id, attempt.exercise_id])
    return HttpResponseRedirect(f"{url}#attempt-{attempt.pk}")


@login_required
@require_POST
def decide(request: HttpRequest, attempt_id) -> HttpResponse:
    attempt = access.attempt_for_instructor(request.user, attempt_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"The decision was not saved. {form_problems(form)}")
        return back_to(request, attempt, request.POST.get("next", ""))
    data = form.cleaned_data
    run = get_object_or_404(Run, pk=data["run"], attempt=attempt)
    run.attempt = attempt
    try:
        decisions.decide(run, data["criterion"], data["met"], data["note"], request.user)
    except decisions.ReviewError as error:
        messages.error(request, f"The decision was not saved. {error}")
    else:
        verdict = "met" if data["met"] else "not met"
        messages.success(request, f"Saved: {data['criterion']} on {run.case_name} is {verdict}.")
    return back_to(request, attempt, data["next"])


@login_required
@require_POST
def override(request: HttpRequest, attempt_id) -> HttpResponse:
    attempt = access.attempt_for_instructor(request.user, attempt_id)
    form = OverrideForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"The score was not changed. {form_problems(form)}")
        return back_to(request, attempt, request.POST.get("next", ""))
    data = form.cleaned_data
    try:
        if data["clear"]:
            decisions.clear_override(attempt, request.user)
            messages.success(request, "The override is removed: the attempt has its graded score.")
        else:
            decisions.override(attempt, data["score"] / 100, data["reason"], request.user)
            messages.success(request, f"Score set to {data['score']:g}%.")
    except decisions.ReviewError as error:
        messages.error(request, f"The score was not changed. {error}")
    return back_to(request, attempt, data["next"])
