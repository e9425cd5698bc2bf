"""Cohorts: an instructor creates one and manages its code, deadlines and members; learners
join one with its code or link."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from lessons.models import Course
from lessons.review import access
from lessons.review import cohorts as joining
from lessons.review.forms import CohortForm, DeadlinesForm, JoinForm
from lessons.review.models import Cohort, Membership, new_join_code
from sandbox.views import LearnerRequest

MEMBERS_PER_PAGE = 50


def _join_and_go(request: LearnerRequest, cohort: Cohort) -> HttpResponse:
    if joining.teaches(request.user, cohort):
        messages.warning(
            request,
            f"You teach {cohort.course.title}, so you were not added to {cohort.name}: "
            "its code is for learners.",
        )
        return redirect("ls-teach-cohort", cohort.pk)
    if joining.join(cohort, request.user):
        messages.success(request, f"You joined {cohort.name} ({cohort.course.title}).")
    else:
        messages.success(request, f"You are already in {cohort.name} ({cohort.course.title}).")
    return redirect("ls-course", cohort.course.slug)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def create_cohort(request: LearnerRequest, course_slug: str) -> HttpResponse:
    course = get_object_or_404(Course.objects.taught_by(request.user), slug=course_slug)
    form = CohortForm(
        request.POST if request.method == "POST" else None,
        instance=Cohort(course=course, created_by=request.user),
    )
    if request.method == "POST" and form.is_valid():
        cohort = form.save()
        messages.success(
            request, f"Cohort “{cohort.name}” created: share its join code {cohort.join_code}."
        )
        return redirect("ls-teach-cohort", cohort.pk)
    status = 422 if form.errors else 200
    return render(
        request, "lessons/review/cohort_new.html", {"course": course, "form": form}, status=status
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def edit_cohort(request: LearnerRequest, cohort_id: int) -> HttpResponse:
    """The cohort's name, join code and link, deadlines and members (each with Remove). Each
    form posts its own `action`; the page shows the others as saved."""
    cohort = access.cohort_for_instructor(request.user, cohort_id)
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "new-code":
        cohort.join_code = new_join_code()
        cohort.save(update_fields=["join_code"])
        messages.success(
            request, f"New join code {cohort.join_code}: the old code and link no longer work."
        )
        return redirect("ls-teach-cohort", cohort.pk)
    if action == "remove":
        posted = request.POST.get("membership", "")
        members_here = Membership.objects.filter(cohort=cohort).select_related("learner")
        # isdigit() alone lets "²" through, which int() refuses.
        chosen = int(posted) if posted.isascii() and posted.isdigit() else 0
        membership = get_object_or_404(members_here, pk=chosen)
        membership.delete()
        messages.success(
            request,
            f"{membership.learner.username} is no longer in {cohort.name}. Their attempts and "
            "progress are kept, and the join code brings them back.",
        )
        return redirect(reverse("ls-teach-cohort", args=[cohort.pk]) + "#members-heading")
    rename = CohortForm(request.POST if action == "rename" else None, instance=cohort)
    deadlines = DeadlinesForm(
        request.POST if action == "deadlines" else None,
        cohort=cohort,
        exercises=joining.deadline_exercises(cohort.course_id),
    )
    if action == "rename" and rename.is_valid():
        rename.save()
        messages.success(request, "Cohort renamed.")
        return redirect("ls-teach-cohort", cohort.pk)
    if action == "deadlines" and deadlines.is_valid():
        deadlines.save()
        messages.success(request, "Deadlines saved.")
        for exercise in deadlines.newly_past():
            messages.warning(
                request,
                f"The deadline of “{exercise.title}” has already passed: every attempt at it "
                "from now on counts as late. Check the date if that is not what you meant.",
            )
        return redirect(reverse("ls-teach-cohort", args=[cohort.pk]) + "#deadlines")
    members = Paginator(
        Membership.objects.filter(cohort=cohort)
        .select_related("learner")
        .only(
            "id",
            "joined_at",
            "learner__id",
            "learner__username",
            "learner__first_name",
            "learner__last_name",
            "learner__is_active",
        )
        .order_by("-joined_at", "-id"),
        MEMBERS_PER_PAGE,
    ).get_page(request.GET.get("page"))
    context = {
        "cohort": cohort,
        "course": cohort.course,
        "rename": rename,
        "deadlines": deadlines,
        "members": members,
        # The code opens the cohort only while learners may open its course (as joining does).
        "joinable": joining.cohort_with_code(cohort.join_code) is not None,
        "join_url": request.build_absolute_uri(reverse("ls-join-code", args=[cohort.join_code])),
        "join_page": request.build_absolute_uri(reverse("ls-join")),
        "timezone_name": timezone.get_current_timezone_name(),
    }
    status = 422 if rename.errors or deadlines.errors else 200
    return render(request, "lessons/review/cohort_settings.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def join(request: LearnerRequest) -> HttpResponse:
    form = JoinForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        return _join_and_go(request, form.cleaned_data["code"])
    status = 422 if form.errors else 200
    return render(request, "lessons/review/join.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def join_with_code(request: LearnerRequest, code: str) -> HttpResponse:
    """A shared join link: GET asks to confirm, POST joins; the course's instructors are not
    joined (they go to the cohort's settings)."""
    cohort = joining.cohort_with_code(code)
    if cohort is None:
        context = {"form": JoinForm(), "unknown_link": True}
        return render(request, "lessons/review/join.html", context, status=404)
    if request.method == "POST" or joining.teaches(request.user, cohort):
        return _join_and_go(request, cohort)
    member = Membership.objects.filter(cohort=cohort, learner=request.user).exists()
    context = {"cohort": cohort, "course": cohort.course, "member": member}
    return render(request, "lessons/review/join_confirm.html", context)
