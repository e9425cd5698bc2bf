"""L8: the ledger holds one UsageRecord per HTTP call, learners' attempts and their judge's
calls alike, through the real OpenAI and Anthropic SDKs against the fake provider: retried
errors, OpenAI reasoning tokens, Anthropic prompt-cache reads and writes. The tokens summed
equal what the provider reported, exactly, and each learner's cost is the price table's."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db.models import Sum

from sandbox import limits, runs
from sandbox.models import Attempt, UsageRecord
from tests.conftest import make_attempt, make_exercise, make_user
from tests.fakeprovider import FAKE_KEY, status, success

pytestmark = pytest.mark.django_db

PRICES = {
    "openai": (Decimal("0.15"), Decimal("0.60")),
    "anthropic": (Decimal("0.80"), Decimal("4")),
}
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-3-5-haiku-latest"}


@pytest.fixture
def provider(settings, fake_provider):
    """Both providers on the fake; each answer it sends is kept with the path it went to."""
    settings.OPENAI_API_KEY = settings.ANTHROPIC_API_KEY = FAKE_KEY
    settings.OPENAI_BASE_URL = fake_provider.openai_url
    settings.ANTHROPIC_BASE_URL = fake_provider.anthropic_url
    settings.CASSETTE_MODE = "off"
    settings.SANDBOX_MODELS = ";".join(
        f"{b}:{MODELS[b]}:{PRICES[b][0]}:{PRICES[b][1]}" for b in MODELS
    )
    settings.PROVIDER_TRIES, settings.RETRY_BACKOFF_BASE = 3, 0.01
    fake_provider.answered = []
    receive = fake_provider._next

    def kept(received):
        script = receive(received)
        fake_provider.answered.append((received.path, script))
        return script

    fake_provider._next = kept
    return fake_provider


def judged_exercise(backend: str):
    """An exercise on the backend whose judge is the same model: its calls are billed too."""
    rubric = {
        "criteria": [
            {"id": "greets", "kind": "contains", "params": {"text": "hello"}, "ignore_case": True},
            {
                "id": "kind",
                "kind": "llm_judge",
                "params": {"model": f"{backend}:{MODELS[backend]}", "items": ["It is kind."]},
            },
        ]
    }
    return make_exercise(
        slug=f"{backend}-{uuid.uuid4().hex[:6]}",
        backend=backend,
        model_name=MODELS[backend],
        rubric=rubric,
    )


def attempt_on(learner, exercise, prompt: str) -> Attempt:
    attempt = make_attempt(learner, exercise, user_prompt=prompt)
    runs.execute(str(attempt.id))
    attempt.refresh_from_db()
    assert attempt.status == Attempt.GRADED, attempt.error
    return attempt


def test_one_record_per_http_call_with_cached_and_reasoning_tokens_summed_exactly(provider):
    alice, bob = make_user("alice"), make_user("bob")
    provider.queue(
        success("Hello Ada!", input_tokens=120, output_tokens=40, reasoning_tokens=25),
        status(500),
        success("Not JSON.", input_tokens=300, output_tokens=12, cached_tokens=256),
    )
    attempt_on(alice, judged_exercise("openai"), "Please say hello to {name}.")
    provider.queue(
        status(529),
        success("Hello Ada.", input_tokens=2000, cache_creation_tokens=1800, output_tokens=30),
        success("{}", input_tokens=2100, cached_tokens=1800, output_tokens=5, reasoning_tokens=3),
    )
    attempt_on(bob, judged_exercise("anthropic"), "Please say hello to {name}, kindly.")
    attempt_on(alice, judged_exercise("anthropic"), "Say hello to {name}, please.")

    records = UsageRecord.objects.filter(cache_hit=False)
    assert records.count() == len(provider.received) == len(provider.answered)
    judge_calls = [r for r in provider.received if "It is kind." in str(r.body)]
    assert judge_calls, "the judge's calls went over HTTP too"

    reported = [s.usage for _, s in provider.answered if s.kind == "success"]
    totals = records.aggregate(
        i=Sum("input_tokens"),
        o=Sum("output_tokens"),
        c=Sum("cached_tokens"),
        r=Sum("reasoning_tokens"),
    )
    assert totals == {
        "i": sum(u["input"] for u in reported),
        "o": sum(u["output"] for u in reported),
        "c": sum(u["cached"] for u in reported),
        "r": sum(u["reasoning"] for u in reported),
    }
    assert totals["c"] >= 256 + 1800 and totals["r"] >= 25 + 3
    answered = records.filter(error_code="")
    assert answered.count() == len(reported)
    assert all(r.request_id and r.model == MODELS[r.backend] for r in answered)

    for learner in (alice, bob):
        expected = sum(  # each call's cost to the micro-dollar, as the ledger keeps it
            (
                (r.input_tokens * PRICES[r.backend][0] + r.output_tokens * PRICES[r.backend][1])
                / 1_000_000
            ).quantize(Decimal("0.000001"))
            for r in records.filter(learner=learner)
        )
        assert limits.spent_today(learner=learner)["cost"] == expected
        assert expected > 0
