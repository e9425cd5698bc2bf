"""sandbox.limits: the rate limit, the per-learner budgets and the site's spend cap."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from unittest.mock import patch

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sandbox import limits
from sandbox.models import Attempt, UsageRecord
from tests.conftest import make_user, post_at_once

PLAYGROUND = "/playground/"
RUN = {"user": "Say hello.", "models": ["stub:echo"], "temperature": "0", "max_tokens": "32"}


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.SUBMISSIONS_PER_MINUTE = 3
    settings.DAILY_TOKEN_BUDGET = 1000
    settings.DAILY_COST_BUDGET_USD = 0.50
    settings.GLOBAL_DAILY_SPEND_CAP_USD = 5.00


@pytest.fixture
def wakes(delay):
    """What the view queues: a run_attempt message after each saved attempt."""
    return delay


def submissions(user, count: int, ago: timedelta = timedelta(seconds=5)) -> None:
    for _ in range(count):
        Attempt.objects.create(learner=user, created_at=timezone.now() - ago)


def spend(user, tokens: int = 0, cost: str = "0", cache_hit: bool = False, **fields) -> None:
    UsageRecord.objects.create(
        learner=user,
        backend="openai",
        model="gpt-4o-mini",
        input_tokens=tokens // 2,
        output_tokens=tokens - tokens // 2,
        cost_usd=Decimal(cost),
        cache_hit=cache_hit,
        **fields,
    )


# The rate limit


def test_a_learner_may_submit_up_to_the_limit_in_a_minute(learner):
    submissions(learner, 2)
    assert limits.refusal(learner) == ""


def test_the_submission_past_the_limit_is_refused_with_a_reason(learner):
    submissions(learner, 3)
    assert limits.refusal(learner) == (
        "You have submitted 3 times in the last minute, the most allowed. "
        "Wait a moment, then submit again."
    )


def test_submissions_older_than_a_minute_do_not_count(learner):
    submissions(learner, 3, ago=timedelta(seconds=61))
    assert limits.refusal(learner) == ""


def test_another_learners_submissions_do_not_count(learner, other_learner):
    submissions(learner, 3)
    assert limits.refusal(other_learner) == ""


def test_the_request_past_the_limit_gets_429_and_nothing_is_queued(
    alice_client, wakes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            assert alice_client.post(PLAYGROUND, RUN).status_code == 302
        r = alice_client.post(PLAYGROUND, RUN)
    assert r.status_code == 429
    assert "You have submitted 3 times in the last minute" in r.content.decode()
    assert Attempt.objects.count() == 3
    assert wakes.call_count == 3


def test_a_second_learner_is_unaffected_by_the_first_learners_limit(
    client, learner, other_learner, wakes, django_capture_on_commit_callbacks
):
    submissions(learner, 3)
    client.force_login(other_learner)
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(PLAYGROUND, RUN)
    assert r.status_code == 302
    assert wakes.call_count == 1


def test_a_spoofed_forwarded_for_header_does_not_reset_the_limit(
    alice_client, learner, wakes, django_capture_on_commit_callbacks
):
    submissions(learner, 3)
    with django_capture_on_commit_callbacks(execute=True):
        r = alice_client.post(
            PLAYGROUND, RUN, HTTP_X_FORWARDED_FOR="203.0.113.9", REMOTE_ADDR="203.0.113.9"
        )
    assert r.status_code == 429
    wakes.assert_not_called()


@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_cannot_pass_the_limit_together(wakes):
    # Five requests at once, limit three: the check and the insert must not interleave.
    carol = User.objects.create(username="carol")
    codes = post_at_once(carol, PLAYGROUND, RUN)
    assert sorted(codes) == [302, 302, 302, 429, 429]
    assert Attempt.objects.count() == 3


# The daily budgets


def test_the_daily_token_budget_refuses_with_a_reason(learner):
    spend(learner, tokens=1000)
    assert limits.refusal(learner) == (
        "You have used your 1,000 tokens for today. Your budget renews at midnight UTC."
    )


def test_a_learner_under_the_token_budget_may_submit(learner):
    spend(learner, tokens=999)
    assert limits.refusal(learner) == ""


def test_the_daily_cost_budget_refuses_with_a_reason(learner):
    spend(learner, tokens=10, cost="0.30")
    spend(learner, tokens=10, cost="0.20")
    assert limits.refusal(learner) == (
        "You have used your $0.50 model budget for today. It renews at midnight UTC."
    )


def test_yesterdays_usage_does_not_count(learner):
    spend(learner, tokens=5000, cost="3", created_at=limits.start_of_day() - timedelta(seconds=1))
    assert limits.refusal(learner) == ""


def test_cache_hits_do_not_count_towards_the_budget(learner):
    spend(learner, tokens=50_000, cost="0", cache_hit=True)
    assert limits.refusal(learner) == ""
    assert limits.spent_today(learner=learner) == {"tokens": 0, "cost": Decimal(0)}


def test_another_learners_spending_does_not_count(learner, other_learner):
    spend(other_learner, tokens=5000, cost="0.90")
    assert limits.refusal(learner) == ""


def test_the_budget_refusal_is_a_429_and_nothing_is_queued(
    alice_client, learner, wakes, django_capture_on_commit_callbacks
):
    spend(learner, tokens=1000)
    with django_capture_on_commit_callbacks(execute=True):
        r = alice_client.post(PLAYGROUND, RUN)
    assert r.status_code == 429
    assert "You have used your 1,000 tokens for today." in r.content.decode()
    assert Attempt.objects.count() == 0
    wakes.assert_not_called()


# The site's spend cap


def test_the_spend_cap_refuses_every_learner(learner, other_learner):
    spender = make_user("carol")
    spend(spender, tokens=10, cost="3.00")
    spend(spender, tokens=10, cost="2.00")
    message = "Model calls are paused: this site has reached its spending cap for today."
    assert limits.spend_cap_reached()
    assert limits.refusal(learner) == message
    assert limits.refusal(other_learner) == message


def test_the_spend_cap_is_not_reached_below_it(learner):
    spend(make_user("carol"), tokens=10, cost="4.99")
    assert not limits.spend_cap_reached()
    assert limits.refusal(learner) == ""


def test_each_process_reads_the_days_spend_at_most_every_few_seconds(learner):
    spend(make_user("carol"), tokens=10, cost="4.99")
    assert not limits.spend_cap_reached()
    spend(make_user("dave"), tokens=10, cost="1.00")
    with CaptureQueriesContext(connection) as queries:
        assert not limits.spend_cap_reached()  # the total read a moment ago still stands
    assert len(queries) == 0
    with patch("time.time", return_value=time.time() + limits.SPENT_SECONDS + 1):
        assert limits.spend_cap_reached()
