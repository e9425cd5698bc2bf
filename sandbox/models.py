from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from sandbox.providers import MODEL_NAME_CHARS, model_choice

if TYPE_CHECKING:
    from sandbox.calls import CallLog

log = logging.getLogger(__name__)
CASE_NAME_CHARS = 100  # as a test case keeps its name
REQUEST_ID_CHARS = 200


class AttemptQuerySet(models.QuerySet):
    def visible_to(self, user) -> AttemptQuerySet:
        """Return the attempts this user may open: their own, and the reference runs (the
        publish checks) of the courses they teach now, whoever started them: not their own."""
        if not user.is_authenticated:
            return self.none()
        taught = models.Q(is_reference=True, exercise__lesson__course__instructors=user)
        return self.filter(models.Q(learner=user, is_reference=False) | taught).distinct()

    def by_learners(self) -> AttemptQuerySet:
        """Return learners' attempts on exercises (not reference runs, not the playground)."""
        return self.filter(is_reference=False, exercise__isnull=False)

    def claim(self, attempt_id: str, lease_seconds: float) -> Attempt | None:
        """Move a queued attempt (or one running past its lease: its worker died) to running
        with a lease and one more delivery, in one conditional UPDATE, and return it with its
        exercise; None if another delivery holds it or it is final."""
        now = timezone.now()
        runnable = models.Q(status=Attempt.QUEUED) | models.Q(
            status=Attempt.RUNNING, lease_expires_at__lt=now
        )
        claimed = self.filter(runnable, id=attempt_id).update(
            status=Attempt.RUNNING,
            started_at=now,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            deliveries=models.F("deliveries") + 1,
        )
        if not claimed:
            status = self.filter(id=attempt_id).values_list("status", flat=True).first()
            why = "already final" if status in Attempt.FINAL else "lease held"
            log.info("attempt %s not claimed: %s", attempt_id, why if status else "no such attempt")
            return None
        attempt = self.select_related("exercise").get(id=attempt_id)
        if attempt.deliveries > 1:
            log.info("attempt %s is claimed again (delivery %d)", attempt_id, attempt.deliveries)
        return attempt


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
    # An exercise attempt is graded; a playground run (no exercise) runs the prompt
    # on the chosen models with the chosen parameters and is not graded.
    exercise = models.ForeignKey(
        "lessons.Exercise", models.CASCADE, null=True, blank=True, related_name="attempts"
    )
    playground_models = models.JSONField(default=list, blank=True)  # see playground_columns
    # An instructor's run of the reference solution (the publish check): not a learner's try.
    is_reference = models.BooleanField(default=False)
    temperature = models.FloatField(null=True, blank=True)
    max_tokens = models.PositiveIntegerField(null=True, blank=True)
    system_prompt = models.TextField(blank=True)
    user_prompt = models.TextField(blank=True)
    prefill = models.TextField(blank=True)
    slots = models.JSONField(default=dict, blank=True)  # the learner's text per named slot
    examples = models.JSONField(default=list, blank=True)  # [[role, text], …] as sent
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=QUEUED)
    error_code = models.CharField(max_length=30, blank=True)
    error = models.TextField(blank=True)
    score = models.FloatField(null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    deliveries = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = AttemptQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        indexes = [
            # A learner's attempts on one exercise, newest first (exercise page history).
            models.Index(fields=("learner", "exercise", "-created_at"), name="attempt_history"),
            # A learner's submissions in the last minute (the rate limit, on every submit).
            models.Index(fields=("learner", "created_at"), name="attempt_rate_limit"),
            # The attempts that are not final: what the reconciler scans.
            models.Index(
                fields=("created_at",),
                condition=models.Q(status__in=("queued", "running")),
                name="attempt_unfinished",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.learner} on {self.exercise or 'the playground'} ({self.status})"

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

    @property
    def is_playground(self) -> bool:
        return self.exercise_id is None

    def playground_columns(self) -> list[dict[str, str]]:
        """Return a playground run's model calls: model key, label ("Prompt B" or "") and
        prompt. A bare model key (rows saved before prompt B was possible) runs this prompt."""
        return [
            {"model": c, "label": "", **self.fields()} if isinstance(c, str) else c
            for c in self.playground_models
        ]

    def finish(self, score: float | None, passed: bool | None) -> bool:
        """Move running → graded. Return False (and change nothing) unless it is still
        running on this delivery (a later one claimed it after this one's lease expired)."""
        held = Attempt.objects.filter(id=self.id, status=self.RUNNING, deliveries=self.deliveries)
        return self.finish_as(held, status=self.GRADED, score=score, passed=passed)

    def fail(self, code: str, reason: str) -> bool:
        """Move a non-final attempt to error, with the reason the learner will read, unless
        a later delivery has claimed it since."""
        held = Attempt.objects.filter(id=self.id, deliveries=self.deliveries)
        held = held.exclude(status__in=self.FINAL)
        return self.finish_as(held, status=self.ERROR, error_code=code, error=reason)

    def finish_as(self, held: models.QuerySet[Attempt], **values: object) -> bool:
        """Write these values and the finish time if `held` still finds this attempt."""
        values["finished_at"] = timezone.now()
        if not held.update(**values):
            return False
        for name, value in values.items():
            setattr(self, name, value)
        return True

    def usage(self) -> dict:
        """Return this attempt's tokens and cost, summed over its model calls."""
        return self.usage_records.aggregate(
            input_tokens=Coalesce(Sum("input_tokens"), 0),
            output_tokens=Coalesce(Sum("output_tokens"), 0),
            cost_usd=Coalesce(Sum("cost_usd"), Decimal(0)),
            calls=Count("id", filter=models.Q(cache_hit=False)),
        )


class Run(models.Model):
    """One model call of an attempt (one test case), and the grade of its output."""

    attempt = models.ForeignKey(Attempt, models.CASCADE, related_name="runs")
    case = models.ForeignKey("lessons.Case", models.SET_NULL, null=True, related_name="runs")
    position = models.PositiveIntegerField()
    case_name = models.CharField(max_length=CASE_NAME_CHARS)
    sample = models.PositiveIntegerField(default=0)
    model_label = models.CharField(max_length=140, blank=True)
    cache_hit = models.BooleanField(default=False)
    hidden = models.BooleanField(default=False, help_text="The learner sees only pass or fail")
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

    def turns(self) -> list[tuple[str, str]]:
        """Return the conversation sent, as RenderedPrompt.turns does (no empty system)."""
        return [(m["role"], m["content"]) for m in self.messages if m["content"]]


class UsageRecord(models.Model):
    """One model call (or one cache hit) and what it cost: the ledger budgets are read from."""

    learner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="usage")
    attempt = models.ForeignKey(
        Attempt, models.SET_NULL, null=True, blank=True, related_name="usage_records"
    )
    backend = models.CharField(max_length=40)
    model = models.CharField(max_length=MODEL_NAME_CHARS)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(default=0)
    reasoning_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal(0))
    latency_ms = models.PositiveIntegerField(default=0)
    cache_hit = models.BooleanField(default=False)
    request_id = models.CharField(max_length=REQUEST_ID_CHARS, blank=True)
    error_code = models.CharField(max_length=30, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [
            # A learner's spend today (the budget check before every submit).
            models.Index(fields=("learner", "created_at"), name="usage_by_learner_day"),
        ]

    def __str__(self) -> str:
        return f"{self.backend}/{self.model} {self.input_tokens}+{self.output_tokens} tokens"

    @classmethod
    def for_calls(
        cls, user_id: int, attempt: Attempt | None, entries: Iterable[CallLog]
    ) -> list[UsageRecord]:
        """Return one unsaved row per HTTP call (or cache hit), priced from the allowlist."""
        rows = []
        for entry in entries:
            completion = entry.completion
            tokens_in = completion.input_tokens if completion else 0
            tokens_out = completion.output_tokens if completion else 0
            choice = model_choice(entry.backend, entry.model)
            rows.append(
                cls(
                    learner_id=user_id,
                    attempt=attempt,
                    backend=entry.backend,
                    model=entry.model,
                    input_tokens=tokens_in,
                    output_tokens=tokens_out,
                    cached_tokens=completion.cached_tokens if completion else 0,
                    reasoning_tokens=completion.reasoning_tokens if completion else 0,
                    cost_usd=0 if entry.cache_hit else choice.cost(tokens_in, tokens_out),
                    latency_ms=entry.latency_ms,
                    cache_hit=entry.cache_hit,
                    # a provider's own id, of any length: the first characters identify it
                    request_id=completion.request_id[:REQUEST_ID_CHARS] if completion else "",
                    error_code=entry.error_code,
                )
            )
        return rows


class CacheEntry(models.Model):
    """The table of Django's database cache, used when there is no Redis (the embedded
    default). A model, so migrations create it everywhere instead of `createcachetable`."""

    cache_key = models.CharField(max_length=255, primary_key=True)
    value = models.TextField()
    expires = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "sandbox_cache"

    def __str__(self) -> str:
        return self.cache_key
