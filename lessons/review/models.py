"""The review models. Imported by lessons.models, so they belong to the lessons app."""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

JOIN_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read aloud


def new_join_code() -> str:
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(8))


class CohortQuerySet(models.QuerySet):
    def taught_by(self, user) -> CohortQuerySet:
        """Return the cohorts of the courses this user teaches."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(course__instructors=user)


class Cohort(models.Model):
    """A group of learners taking a course together, joined with a code."""

    course = models.ForeignKey("lessons.Course", models.CASCADE, related_name="cohorts")
    name = models.CharField(max_length=200)
    join_code = models.CharField(max_length=12, unique=True, default=new_join_code)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = CohortQuerySet.as_manager()

    class Meta:
        ordering = ("course", "name", "id")

    def __str__(self) -> str:
        return f"{self.name} ({self.course})"


class Membership(models.Model):
    cohort = models.ForeignKey(Cohort, models.CASCADE, related_name="memberships")
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="memberships"
    )
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("cohort", "learner"), name="one_membership")]

    def __str__(self) -> str:
        return f"{self.learner} in {self.cohort}"


class Deadline(models.Model):
    """When a cohort's attempts on an exercise become late."""

    cohort = models.ForeignKey(Cohort, models.CASCADE, related_name="deadlines")
    exercise = models.ForeignKey("lessons.Exercise", models.CASCADE, related_name="deadlines")
    due_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=("cohort", "exercise"), name="one_deadline")]

    def __str__(self) -> str:
        return f"{self.exercise} due {self.due_at:%Y-%m-%d %H:%M} for {self.cohort}"


class Progress(models.Model):
    """One learner's work on one exercise, summarized from their graded attempts (with any
    override) by lessons.review.progress.summarize: what the review pages read, so that none
    of them reads attempts by the thousand."""

    learner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="progress")
    exercise = models.ForeignKey(
        "lessons.Exercise", models.CASCADE, related_name="learner_progress"
    )
    attempts = models.PositiveIntegerField(default=0)  # graded ones
    best_score = models.FloatField(null=True, blank=True)
    passed = models.BooleanField(default=False)
    first_try_passed = models.BooleanField(default=False)
    attempts_to_pass = models.PositiveIntegerField(null=True, blank=True)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    passed_at = models.DateTimeField(null=True, blank=True)  # of the first passing attempt
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal(0))
    # {case id: [runs passed, runs]} over every sample of every graded attempt, but the runs
    # not passed that wait for review (neither passed nor failed yet).
    case_results = models.JSONField(default=dict)
    # The failing attempts grouped by the criteria they failed:
    # [{"criteria": [ids, sorted], "count": n, "attempt": id of the latest}]; those not
    # passed that wait for review on some criteria have them as "waiting": [ids, sorted];
    # those failed by an override, no criterion failed nor waiting, are "overridden": true.
    failure_groups = models.JSONField(default=list)
    needs_review = models.PositiveIntegerField(default=0)  # open items in the review queue
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("learner", "exercise"), name="one_progress")]
        indexes = [models.Index(fields=("exercise", "learner"), name="progress_by_exercise")]
        verbose_name_plural = "progress"

    def __str__(self) -> str:
        return f"{self.learner} on {self.exercise}: {self.best_score}"

    @property
    def best_percent(self) -> int | None:
        return None if self.best_score is None else round(self.best_score * 100)


class ReviewItem(models.Model):
    """An output waiting for an instructor: its judge could not decide a criterion, or the
    output was flagged as a suspected prompt injection."""

    NEEDS_REVIEW, INJECTION = "needs_review", "injection"
    REASONS = [(NEEDS_REVIEW, "The judge could not decide"), (INJECTION, "Suspected injection")]

    attempt = models.ForeignKey("sandbox.Attempt", models.CASCADE, related_name="review_items")
    run = models.ForeignKey("sandbox.Run", models.CASCADE, related_name="review_items")
    criterion_id = models.CharField(max_length=100)
    reason = models.CharField(max_length=20, choices=REASONS)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("created_at", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("run", "criterion_id", "reason"), name="one_review_item"
            )
        ]
        indexes = [
            models.Index(
                fields=("created_at",),
                condition=models.Q(resolved_at__isnull=True),
                name="review_item_open",
            )
        ]

    def __str__(self) -> str:
        return f"{self.criterion_id} on {self.run_id} ({self.reason})"


class Decision(models.Model):
    """An instructor's verdict on one criterion for one output: it stands for that criterion
    in every grading of the output (graders.Decision), and is the label the judge's own
    verdict is measured against."""

    run = models.ForeignKey("sandbox.Run", models.CASCADE, related_name="decisions")
    # The run's exercise, so an exercise's labels are found without its runs and attempts.
    exercise = models.ForeignKey("lessons.Exercise", models.CASCADE, related_name="+")
    criterion_id = models.CharField(max_length=100)
    met = models.BooleanField()
    note = models.TextField(blank=True, max_length=2000)
    # What the judge had said of it before anyone decided: passed or not when its status was
    # "ok", null when it could not decide (needs review) or the criterion is not a judge's.
    judge_passed = models.BooleanField(null=True, blank=True)
    judge_status = models.CharField(max_length=20, blank=True)
    # The criterion's definition (the start of its fingerprint): a version of the judge prompt.
    judge_version = models.CharField(max_length=12, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("run", "criterion_id"), name="one_decision")]
        indexes = [models.Index(fields=("exercise", "criterion_id"), name="decision_labels")]

    def __str__(self) -> str:
        return f"{self.criterion_id} on {self.run_id}: {'met' if self.met else 'not met'}"

    def save(self, *args, **kwargs) -> None:
        if self.exercise_id is None:
            self.exercise_id = self.run.attempt.exercise_id
        super().save(*args, **kwargs)


class Override(models.Model):
    """An instructor's score for an attempt, standing for its graded score everywhere."""

    attempt = models.OneToOneField("sandbox.Attempt", models.CASCADE, related_name="override")
    score = models.FloatField()
    passed = models.BooleanField()
    reason = models.TextField(max_length=2000)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.attempt_id} set to {self.score}"

    @property
    def score_percent(self) -> int:
        return round(self.score * 100)


class AuditEntry(models.Model):
    """Something an instructor did to an attempt's grade, kept for good."""

    DECISION, OVERRIDE, OVERRIDE_CLEARED = "decision", "override", "override_cleared"
    ACTIONS = [
        (DECISION, "Review decision"),
        (OVERRIDE, "Score override"),
        (OVERRIDE_CLEARED, "Override removed"),
    ]

    attempt = models.ForeignKey("sandbox.Attempt", models.CASCADE, related_name="audit")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+"
    )
    action = models.CharField(max_length=20, choices=ACTIONS)
    summary = models.CharField(max_length=300)  # "answers: not met", "score 40% → 90%"
    note = models.TextField(blank=True)
    score_before = models.FloatField(null=True, blank=True)
    score_after = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("created_at", "id")
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.get_action_display()} on {self.attempt_id}: {self.summary}"
