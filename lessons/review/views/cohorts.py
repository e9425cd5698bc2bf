"""Cohorts: an instructor creates one and manages its code, deadlines and members; learners
join one with its code or link."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from lessons.models import Course, Exercise
from lessons.review import access
from lessons.review import cohorts as joining
from lessons.review.models import Cohort, Deadline, Membership, new_join_code
from lessons.views import visible_courses
from sandbox.views import LearnerRequest

MEMBERS_PER_PAGE = 50
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows


class CohortForm(forms.ModelForm):
    class Meta:
        model = Cohort
        fields = ["name"]
        labels = {"name": "Cohort name"}
        help_texts = {"name": "Learners see it when they join, e.g. “Spring 2027, Tuesday group”."}


class DeadlinesForm(forms.Form):
    """One optional deadline per exercise of the cohort's course; a blank one removes it."""

    def __init__(self, *args, cohort: Cohort, exercises: list[Exercise], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.cohort, self.exercises = cohort, exercises
        due = joining.deadlines_of(cohort)
        for exercise in exercises:
            self.fields[self.key(exercise)] = forms.DateTimeField(
                label=exercise.title,
                required=False,
                initial=timezone.localtime(due[exercise.pk]) if exercise.pk in due else None,
                input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M", "%Y-%m-%d"],
                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
                error_messages={
                    "invalid": f"The deadline of “{exercise.title}” is not a date and time: "
                    "enter it as YYYY-MM-DD HH:MM, or leave it blank for none."
                },
            )

    @staticmethod
    def key(exercise: Exercise) -> str:
        return f"due_{exercise.pk}"

    def rows(self) -> list[tuple[Exercise, forms.BoundField]]:
        return [(exercise, self[self.key(exercise)]) for exercise in self.exercises]

    def save(self) -> None:
        due = {e.pk: self.cleaned_data[self.key(e)] for e in self.exercises}
        with transaction.atomic():
            cleared = [pk for pk, at in due.items() if at is None]
            Deadline.objects.filter(cohort=self.cohort, exercise_id__in=cleared).delete()
            Deadline.objects.bulk_create(
                [
                    Deadline(cohort=self.cohort, exercise_id=pk, due_at=at)
                    for pk, at in due.items()
                    if at is not None
                ],
                update_conflicts=True,
                unique_fields=["cohort", "exercise"],
                update_fields=["due_at"],
            )


class JoinForm(forms.Form):
    code = forms.CharField(
        label="Join code",
        max_length=40,
        help_text="The code your instructor gave you; capitals, spaces and dashes do not matter.",
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_code(self) -> Cohort:
        cohort = cohort_with_code(self.user, self.cleaned_data["code"])
        if cohort is None:
            raise ValidationError(
                "No open cohort has this code. Check it with your instructor: codes have "
                "8 letters and digits, like ABCD-2345."
            )
        return cohort


def cohort_with_code(user, code: str) -> Cohort | None:
    """Return the cohort this join code opens, if its course is one the user may see."""
    normalized = joining.normalize_code(code)
    if not normalized:
        return None
    return (
        Cohort.objects.select_related("course")
        .filter(join_code=normalized, course__in=visible_courses(user))
        .first()
    )


def deadline_exercises(course_id: int) -> list[Exercise]:
    """Return the exercises a deadline can be set on: the course's live ones, drafts too (so
    deadlines can be set before publishing), in lesson then exercise order."""
    return list(
        Exercise.objects.filter(lesson__course_id=course_id, archived=False, lesson__archived=False)
        .select_related("lesson")
        .only("id", "title", "status", "lesson__id", "lesson__title")
        .order_by("lesson__position", "lesson__id", "position", "id")
    )


def _join_and_go(request: LearnerRequest, cohort: Cohort) -> HttpResponse:
    if joining.join(cohort, request.user):
        messages.success(request, f"You joined {cohort.name} ({cohort.course.title}).")
    else:
        messages.success(request, f"You are already in {cohort.name} ({cohort.course.title}).")
    return redirect("ls-course", cohort.course.slug)


@login_required
@require_http_methods(["GET", "POST"])
def create_cohort(request: LearnerRequest, course_slug: str) -> HttpResponse:
    course = get_object_or_404(Course.objects.taught_by(request.user), slug=course_slug)
    form = CohortForm(request.POST or None, instance=Cohort(course=course, created_by=request.user))
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
@require_http_methods(["GET", "POST"])
def edit_cohort(request: LearnerRequest, cohort_id: int) -> HttpResponse:
    """The cohort's name, join code and link, deadlines and members. Each form posts its own
    `action`; the page shows the others as saved."""
    cohort = access.cohort_for_instructor(request.user, cohort_id)
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "new-code":
        cohort.join_code = new_join_code()
        cohort.save(update_fields=["join_code"])
        messages.success(
            request, f"New join code {cohort.join_code}: the old code and link no longer work."
        )
        return redirect("ls-teach-cohort", cohort.pk)
    rename = CohortForm(request.POST if action == "rename" else None, instance=cohort)
    deadlines = DeadlinesForm(
        request.POST if action == "deadlines" else None,
        cohort=cohort,
        exercises=deadline_exercises(cohort.course_id),
    )
    if action == "rename" and rename.is_valid():
        rename.save()
        messages.success(request, "Cohort renamed.")
        return redirect("ls-teach-cohort", cohort.pk)
    if action == "deadlines" and deadlines.is_valid():
        deadlines.save()
        messages.success(request, "Deadlines saved.")
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
        "join_url": request.build_absolute_uri(reverse("ls-join-code", args=[cohort.join_code])),
        "join_page": request.build_absolute_uri(reverse("ls-join")),
        "timezone_name": timezone.get_current_timezone_name(),
    }
    status = 422 if rename.errors or deadlines.errors else 200
    return render(request, "lessons/review/cohort_settings.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def join(request: LearnerRequest) -> HttpResponse:
    form = JoinForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        return _join_and_go(request, form.cleaned_data["code"])
    status = 422 if form.errors else 200
    return render(request, "lessons/review/join.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def join_with_code(request: LearnerRequest, code: str) -> HttpResponse:
    """A shared join link: GET asks to confirm, POST joins."""
    cohort = cohort_with_code(request.user, code)
    if cohort is None:
        context = {"form": JoinForm(user=request.user), "unknown_link": True}
        return render(request, "lessons/review/join.html", context, status=404)
    if request.method == "POST":
        return _join_and_go(request, cohort)
    member = Membership.objects.filter(cohort=cohort, learner=request.user).exists()
    context = {"cohort": cohort, "course": cohort.course, "member": member}
    return render(request, "lessons/review/join_confirm.html", context)
