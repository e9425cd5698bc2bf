from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseStopPolling, reswap, retarget, trigger_client_event
from django_htmx.middleware import HtmxDetails

from lessons.models import Exercise
from lessons.results import attempt_results
from lessons.review.drilldown import changes_since
from sandbox import limits
from sandbox.forms import AttemptForm
from sandbox.models import Attempt
from sandbox.providers import model_unavailable
from sandbox.tasks import enqueue_attempt

# The client event that refreshes the parts of a page that list attempts.
ATTEMPT_CHANGED = "attempt-changed"


class LearnerRequest(HttpRequest):
    """The request a signed-in view gets, for the type checker only: django-htmx's middleware
    adds .htmx, and login_required means .user is a User, never AnonymousUser."""

    htmx: HtmxDetails
    user: User


def _get_attempt_for_user(request: HttpRequest, attempt_id) -> Attempt:
    """Return an attempt the user may open, or 404 (never 403: others' do not exist for them)."""
    return get_object_or_404(
        Attempt.objects.visible_to(request.user).select_related("exercise__lesson__course"),
        id=attempt_id,
    )


def _get_exercise(request: HttpRequest, exercise_id: int) -> Exercise:
    """Return an exercise the user may work on (published, or a draft they teach), or 404."""
    return get_object_or_404(
        Exercise.objects.visible_to(request.user).select_related("lesson__course"), id=exercise_id
    )


@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    form: UserCreationForm[User] = UserCreationForm(data)
    after = request.POST.get("next") or request.GET.get("next", "")  # a join link, say
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        safe = url_has_allowed_host_and_scheme(after, {request.get_host()}, request.is_secure())
        return redirect(after if safe and after else "ls-courses")
    return render(request, "registration/signup.html", {"form": form, "next": after})


@login_required
@require_POST
def submit_attempt(request: LearnerRequest, exercise_id: int) -> HttpResponse:
    """Save the attempt and queue it once the row is committed; then show its status."""
    exercise = _get_exercise(request, exercise_id)
    form = AttemptForm(exercise, request.POST)
    if not form.is_valid():
        context = {"exercise": exercise, "form": form}
        if request.htmx:
            response = render(request, "lessons/exercise.html#prompt_form", context, status=422)
            return reswap(retarget(response, "#prompt-form"), "outerHTML")
        return render(request, "sandbox/submit_failed.html", context, status=422)
    values = form.values()
    fields, examples = exercise.compose(values)
    response = queue_attempt(
        request,
        [(exercise.backend, exercise.model_name)],
        exercise=exercise,
        system_prompt=fields["system"],
        user_prompt=fields["user"],
        prefill=fields["prefill"],
        slots=values["slots"],
        examples=examples,
    )
    if request.htmx:  # the form again, out of band: the last submit's errors go
        context = {"exercise": exercise, "form": AttemptForm(exercise, initial=form.written)}
        response.content += render_to_string(
            "lessons/exercise.html#prompt_form", {**context, "oob": True}, request
        ).encode()
    return response


def queue_attempt(request: LearnerRequest, models: list[tuple[str, str]], **fields) -> HttpResponse:
    """Save an attempt and queue it once committed, unless a limit or a model refuses it."""
    with transaction.atomic():
        # Lock the learner's row so concurrent submits queue up for the rate limit check.
        User.objects.select_for_update(no_key=True).only("pk").get(pk=request.user.pk)
        refused = next(filter(None, (model_unavailable(*m) for m in models)), "")
        refused = refused or limits.refusal(request.user)
        if refused:
            return refusal_response(request, refused)
        attempt = Attempt.objects.create(learner=request.user, **fields)
        enqueue_attempt(attempt)
    if request.htmx:
        response = render(request, "sandbox/attempt.html#status", {"attempt": attempt})
        return trigger_client_event(response, ATTEMPT_CHANGED)
    return redirect(attempt)


def attempt_context(attempt: Attempt) -> dict:
    """Return what the status partial shows: the attempt; once final, its results and usage."""
    if not attempt.is_final:
        return {"attempt": attempt}
    return {"attempt": attempt, **attempt_results(attempt), "usage": attempt.usage()}


def refusal_response(request: LearnerRequest, message: str) -> HttpResponse:
    """Tell the learner why nothing was queued (429), in the result area or as a page."""
    template = "sandbox/_refusal.html" if request.htmx else "sandbox/refusal.html"
    return render(request, template, {"message": message}, status=429)


@login_required
@require_safe
def attempt_detail(request: LearnerRequest, attempt_id) -> HttpResponse:
    """The attempt page; with htmx, only its status block, which stops polling once final."""
    attempt = _get_attempt_for_user(request, attempt_id)
    context = attempt_context(attempt)
    if request.htmx:
        response = render(request, "sandbox/attempt.html#status", context)
        if not attempt.is_final:
            return response
        # Stop polling, and tell the page (history, hints) that an attempt has finished.
        return trigger_client_event(HttpResponseStopPolling(response.content), ATTEMPT_CHANGED)
    exercise = attempt.exercise
    if exercise:  # what the model received for the first visible case, and what changed
        # An attempt stays readable after its exercise or course went back to draft; links
        # to pages the learner can no longer open are left out.
        context.update(
            exercise_opens=exercise.opens_for(request.user),
            course_opens=exercise.lesson.course.opens_for(request.user),
        )
        case = exercise.first_visible_case()
        context.update(prompt=exercise.prompt(attempt.fields(), attempt.examples, case), case=case)
        previous = (
            Attempt.objects.filter(
                learner=attempt.learner_id,
                exercise=exercise,
                is_reference=attempt.is_reference,
                created_at__lt=attempt.created_at,
            )
            .order_by("-created_at")
            .first()
        )
        if previous:
            context["previous"] = previous
            changes = changes_since(exercise, previous, attempt)
            context["prompt_changes"], context["output_changes"] = changes
    return render(request, "sandbox/attempt.html", context)


@login_required
@require_POST
def preview_prompt(request: HttpRequest, exercise_id: int) -> HttpResponse:
    """Return the prompt as the model will see it for the first visible test case."""
    exercise = _get_exercise(request, exercise_id)
    form = AttemptForm(exercise, request.POST)
    form.is_valid()  # preview whatever is there, even text the submit would refuse
    case = exercise.first_visible_case()
    prompt = exercise.render(form.values(), case)
    context = {"exercise": exercise, "prompt": prompt, "case": case, "oob": True}
    context["problems"] = form.placeholder_problems()  # shown out of band, above the preview
    return render(request, "lessons/exercise.html#preview", context)
