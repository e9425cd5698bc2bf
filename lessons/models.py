from __future__ import annotations

from functools import cached_property

from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

import graders
from sandbox.backends import BACKEND_CHOICES
from sandbox.backends.stub import StubRuleError, StubScript, parse_script
from sandbox.prompting import PROMPT_FIELDS


class Course(models.Model):
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("position", "title")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("ls-course", args=[self.slug])


class Lesson(models.Model):
    course = models.ForeignKey(Course, models.CASCADE, related_name="lessons")
    slug = models.SlugField()
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, help_text="Markdown")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("position", "id")
        constraints = [
            models.UniqueConstraint(fields=("course", "slug"), name="lesson_slug_in_course")
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("ls-lesson", args=[self.course.slug, self.slug])


def validate_rubric(value: object) -> None:
    try:
        graders.load_rubric(value)
    except graders.RubricError as e:
        raise ValidationError(str(e)) from None


def validate_stub(value: object) -> None:
    try:
        parse_script(value)  # type: ignore[arg-type]
    except StubRuleError as e:
        raise ValidationError(str(e)) from None


def validate_editable(value: object) -> None:
    if not isinstance(value, list) or not value or not set(value) <= set(PROMPT_FIELDS):
        raise ValidationError(f"must be a non-empty list drawn from {', '.join(PROMPT_FIELDS)}")


class Exercise(models.Model):
    lesson = models.ForeignKey(Lesson, models.CASCADE, related_name="exercises")
    slug = models.SlugField()
    title = models.CharField(max_length=200)
    instructions = models.TextField(blank=True, help_text="Markdown")
    position = models.PositiveIntegerField(default=0)

    # What the learner writes: which fields are editable, and their starter text.
    editable_fields = models.JSONField(default=list, validators=[validate_editable])
    starter_system = models.TextField(blank=True)
    starter_user = models.TextField(blank=True)
    starter_prefill = models.TextField(blank=True)
    variables = models.JSONField(default=list, blank=True)

    # Model settings.
    backend = models.CharField(max_length=40, choices=BACKEND_CHOICES, default="stub")
    model_name = models.CharField(max_length=100, default="scripted")
    temperature = models.FloatField(default=0.0)
    max_tokens = models.PositiveIntegerField(default=256)
    # Sampling: k runs per test case, reported as a pass rate ("passes 4 of 5").
    samples = models.PositiveSmallIntegerField(default=1)
    require_all_samples = models.BooleanField(default=False)
    stub = models.JSONField(default=dict, blank=True, validators=[validate_stub])

    rubric = models.JSONField(validators=[validate_rubric])
    hints = models.JSONField(default=list, blank=True)
    solution = models.JSONField(default=dict, blank=True, help_text="The reference prompt fields")
    known_bad = models.JSONField(default=list, blank=True, help_text="Prompts that must fail")

    class Meta:
        ordering = ("position", "id")
        constraints = [
            models.UniqueConstraint(fields=("lesson", "slug"), name="exercise_slug_in_lesson")
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("ls-exercise", args=[self.lesson.course.slug, self.lesson.slug, self.slug])

    @cached_property
    def parsed_rubric(self) -> graders.Rubric:
        return graders.load_rubric(self.rubric)

    @cached_property
    def stub_script(self) -> StubScript:
        return parse_script(self.stub)

    def starter(self) -> dict[str, str]:
        return {
            "system": self.starter_system,
            "user": self.starter_user,
            "prefill": self.starter_prefill,
        }

    def first_visible_case(self) -> Case | None:
        return next((c for c in self.cases.all() if not c.hidden), None)


class Case(models.Model):
    """A test case: values for the exercise's variables, and what a good answer looks like."""

    exercise = models.ForeignKey(Exercise, models.CASCADE, related_name="cases")
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    variables = models.JSONField(default=dict, blank=True)
    # Whether the learner sees this case's input, output and feedback (Moodle
    # CodeRunner's choices): always, never, or only when it passed / failed.
    visibility = models.CharField(
        max_length=12,
        choices=[(v, v.replace("_", " ")) for v in graders.VISIBILITY],
        default="show",
    )
    reference = models.TextField(blank=True, help_text="An optional reference answer")
    expected = models.JSONField(default=dict, blank=True)
    weight = models.FloatField(default=1.0)

    class Meta:
        ordering = ("position", "id")
        verbose_name = "test case"

    def __str__(self) -> str:
        return self.name

    @property
    def hidden(self) -> bool:
        """Return whether the case's input is kept off the exercise page."""
        return self.visibility != "show"

    def as_grader_case(self) -> graders.Case:
        return graders.Case(
            name=self.name,
            variables=self.variables,
            reference=self.reference,
            expected=self.expected,
            weight=self.weight,
            visibility=self.visibility,
        )
