from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class AttemptQuerySet(models.QuerySet):
    def visible_to(self, user) -> AttemptQuerySet:
        """Return the attempts this user may open: their own."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(learner=user)


class Attempt(models.Model):
    """One submission by one learner: saved first, then queued, then run by a worker."""

    QUEUED, RUNNING, GRADED, ERROR = "queued", "running", "graded", "error"
    STATUS_CHOICES = [
        (QUEUED, "Queued"),
        (RUNNING, "Running"),
        (GRADED, "Graded"),
        (ERROR, "Error"),
    ]
    FINAL = (GRADED, ERROR)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    learner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="attempts")
    exercise = models.ForeignKey("lessons.Exercise", models.CASCADE, related_name="attempts")
    system_prompt = models.TextField(blank=True)
    user_prompt = models.TextField(blank=True)
    prefill = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=QUEUED)
    error = models.TextField(blank=True)
    score = models.FloatField(null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = AttemptQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        indexes = [
            # A learner's attempts on one exercise, newest first (exercise page history).
            models.Index(fields=("learner", "exercise", "-created_at"), name="attempt_history"),
        ]

    def __str__(self) -> str:
        return f"{self.learner} on {self.exercise} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("sb-attempt", args=[self.id])

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    @property
    def score_percent(self) -> int | None:
        return None if self.score is None else round(self.score * 100)

    def fields(self) -> dict[str, str]:
        return {"system": self.system_prompt, "user": self.user_prompt, "prefill": self.prefill}

    def claim(self) -> bool:
        """Move queued → running. Return False when another delivery already has it."""
        now = timezone.now()
        claimed = Attempt.objects.filter(id=self.id, status=self.QUEUED).update(
            status=self.RUNNING, started_at=now
        )
        if claimed:
            self.status, self.started_at = self.RUNNING, now
        return bool(claimed)

    def finish(self, score: float, passed: bool) -> bool:
        """Move running → graded. Return False (and change nothing) if it was not running."""
        now = timezone.now()
        done = Attempt.objects.filter(id=self.id, status=self.RUNNING).update(
            status=self.GRADED, score=score, passed=passed, finished_at=now
        )
        if done:
            self.status, self.score, self.passed, self.finished_at = self.GRADED, score, passed, now
        return bool(done)

    def fail(self, reason: str) -> bool:
        """Move a non-final attempt to error, with the reason the learner will read."""
        now = timezone.now()
        done = (
            Attempt.objects.filter(id=self.id)
            .exclude(status__in=self.FINAL)
            .update(status=self.ERROR, error=reason, finished_at=now)
        )
        if done:
            self.status, self.error, self.finished_at = self.ERROR, reason, now
        return bool(done)


class Run(models.Model):
    """One model call of an attempt (one test case), and the grade of its output."""

    attempt = models.ForeignKey(Attempt, models.CASCADE, related_name="runs")
    case = models.ForeignKey("lessons.Case", models.SET_NULL, null=True, related_name="runs")
    position = models.PositiveIntegerField()
    case_name = models.CharField(max_length=100)
    hidden = models.BooleanField(default=False)
    messages = models.JSONField(default=list)
    output = models.TextField(blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    score = models.FloatField(null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True)
    criteria = models.JSONField(default=list)

    class Meta:
        ordering = ("position",)
        constraints = [
            models.UniqueConstraint(fields=("attempt", "position"), name="one_run_per_case")
        ]

    def __str__(self) -> str:
        return f"{self.attempt_id} / {self.case_name}"

    @property
    def score_percent(self) -> int | None:
        return None if self.score is None else round(self.score * 100)
