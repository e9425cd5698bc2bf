"""Rate limits and budgets, checked before anything is queued (and the budgets again before
an attempt's model calls: attempts queued together each passed the submit's check)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import cast

from django.conf import settings
from django.core.cache import caches
from django.db.models import Sum
from django.utils import timezone

from sandbox.models import Attempt, UsageRecord

SPENT_KEY = "limits:spent-today"
SPENT_SECONDS = 5


def start_of_day():
    return timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)


def spent_today(**filters) -> dict:
    """Return today's tokens and cost of real model calls (cache hits cost nothing)."""
    totals = UsageRecord.objects.filter(
        created_at__gte=start_of_day(), cache_hit=False, **filters
    ).aggregate(input=Sum("input_tokens"), output=Sum("output_tokens"), cost=Sum("cost_usd"))
    return {
        "tokens": (totals["input"] or 0) + (totals["output"] or 0),
        "cost": totals["cost"] or Decimal(0),
    }


def spend_cap_reached() -> bool:
    """Return whether today's spend across the site has reached the cap. Each process
    re-reads the ledger every few seconds at most: summing the day's ledger on every call
    would grow with the day, and asking a shared cache costs a round trip per attempt."""
    local = caches["local"]
    spent = cast(
        str, local.get_or_set(SPENT_KEY, lambda: str(spent_today()["cost"]), SPENT_SECONDS)
    )
    return Decimal(spent) >= Decimal(str(settings.GLOBAL_DAILY_SPEND_CAP_USD))


def refusal(user) -> str:
    """Return why this learner may not submit now, or "" when they may."""
    window = timezone.now() - timedelta(minutes=1)
    recent = Attempt.objects.filter(learner=user, created_at__gte=window).count()
    if recent >= settings.SUBMISSIONS_PER_MINUTE:
        return (
            f"You have submitted {recent} times in the last minute, the most allowed. "
            "Wait a moment, then submit again."
        )
    return budget_refusal(user)


def budget_refusal(user) -> str:
    """Return why model calls on this user's budget (a user or their id) may not start now
    (the site's spending cap, their daily tokens or cost), or "" when they may: a submit asks
    this, the worker again before an attempt's calls, and an instructor's regrade."""
    if spend_cap_reached():
        return "Model calls are paused: this site has reached its spending cap for today."
    spent = spent_today(learner=user)
    if spent["tokens"] >= settings.DAILY_TOKEN_BUDGET:
        return (
            f"You have used your {settings.DAILY_TOKEN_BUDGET:,} tokens for today. "
            "Your budget renews at midnight UTC."
        )
    if spent["cost"] >= Decimal(str(settings.DAILY_COST_BUDGET_USD)):
        return (
            f"You have used your ${settings.DAILY_COST_BUDGET_USD:.2f} model budget for today. "
            "It renews at midnight UTC."
        )
    return ""
