"""The review's forms: cohorts and their deadlines, joining, decisions, overrides, the queue's
filter. They validate input; the changes are made by lessons.review.cohorts and .decisions."""

from __future__ import annotations

from typing import cast

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from lessons.models import Course, Exercise
from lessons.review import cohorts as joining
from lessons.review.models import Cohort, Deadline, ReviewItem

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows


class CohortForm(forms.ModelForm):
    class Meta:
        model = Cohort
        fields = ["name"]
        labels = {"name": "Cohort name"}
        help_texts = {"name": "Learners see it when they join, e.g. “Spring 2027, Tuesday group”."}

    def clean_name(self) -> str:
        """Refuse the name of another cohort of the course: /teach/, the review queue and the
        join message tell cohorts apart by name."""
        name = self.cleaned_data["name"]
        others = Cohort.objects.filter(course=self.instance.course_id, name__iexact=name)
        if others.exclude(pk=self.instance.pk).exists():
            raise ValidationError(f"This course has a cohort called “{name}” already.")
        return name


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

    def newly_past(self) -> list[Exercise]:
        """The exercises whose deadline this form sets to a time already gone (a mistyped
        year, say): from now on every attempt at them counts as late."""
        now = timezone.now()
        return [
            e
            for e in self.exercises
            if self.key(e) in self.changed_data and (self.cleaned_data[self.key(e)] or now) < now
        ]

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

    def clean_code(self) -> Cohort:
        cohort = joining.cohort_with_code(self.cleaned_data["code"])
        if cohort is None:
            raise ValidationError(
                "No open cohort has this code. Check it with your instructor: codes have "
                "8 letters and digits, like ABCD-2345."
            )
        return cohort


class DecisionForm(forms.Form):
    run = forms.IntegerField(min_value=1)
    criterion = forms.CharField(max_length=100)
    met = forms.TypedChoiceField(
        choices=[("1", "Met"), ("0", "Not met")], coerce=lambda value: value == "1"
    )
    note = forms.CharField(required=False, max_length=2000)
    next = forms.CharField(required=False)


class OverrideForm(forms.Form):
    score = forms.FloatField(required=False, min_value=0, max_value=100)
    reason = forms.CharField(required=False, max_length=2000)
    clear = forms.BooleanField(required=False)
    next = forms.CharField(required=False)

    def clean(self):
        data = super().clean()
        if not data.get("clear"):
            if data.get("score") is None and "score" not in self.errors:
                self.add_error("score", "Give the score, from 0 to 100.")
            if not (data.get("reason") or "").strip():
                self.add_error(
                    "reason", "Give a reason: the learner and other instructors read it."
                )
        return data


class QueueFilter(forms.Form):
    course = forms.ChoiceField(required=False, label="Course")
    reason = forms.ChoiceField(
        required=False, label="Why", choices=[("", "Any reason"), *ReviewItem.REASONS]
    )

    def __init__(self, data, courses: list[Course]) -> None:
        super().__init__(data)
        course = cast(forms.ChoiceField, self.fields["course"])
        course.choices = [("", "All my courses"), *((c.slug, c.title) for c in courses)]
