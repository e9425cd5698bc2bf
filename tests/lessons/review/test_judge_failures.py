"""L4 end to end: a judge model that answers malformed JSON, refuses, answers nothing or never
answers (through the real OpenAI SDK against the fake provider) leaves the attempt graded but
not passed, its judged criterion needing review at 0, after at most 1 + retries judge calls;
and the attempt waits in its instructor's review queue."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from lessons.review.models import ReviewItem
from sandbox import runs
from sandbox.models import Attempt
from tests.conftest import make_attempt, make_exercise
from tests.fakeprovider import FAKE_KEY, FakeProvider, hang, success

pytestmark = pytest.mark.django_db

RETRIES = 2
RUBRIC = {
    "pass_threshold": 0.5,  # "greets" alone reaches it: only the judge's status may stop a pass
    "criteria": [
        {"id": "greets", "kind": "contains", "params": {"text": "hello"}, "ignore_case": True},
        {
            "id": "friendly",
            "kind": "llm_judge",
            "params": {
                "model": "openai:gpt-4o-mini",
                "items": ["The reply greets the reader."],
                "retries": RETRIES,
            },
        },
    ],
}
FAILURES = {
    "malformed JSON": success('{"items": [{"id": "c1", "verdict": "met", "score": 1'),
    "a refusal": success("I'm sorry, but I can't help with grading this."),
    "an empty answer": success(""),
    "a timeout": hang(),
}


@pytest.fixture
def judge_provider(settings):
    with FakeProvider() as fake:
        settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = FAKE_KEY, fake.openai_url
        settings.CASSETTE_MODE = "off"
        settings.SANDBOX_MODELS = "openai:gpt-4o-mini:0.15:0.60"
        settings.PROVIDER_TIMEOUT, settings.PROVIDER_TRIES = 1, 1
        yield fake


@pytest.mark.parametrize("failure", FAILURES)
def test_a_judge_that_cannot_answer_sends_the_attempt_to_review_never_to_a_pass(
    judge_provider, learner, ines_client, failure
):
    judge_provider.queue(*[FAILURES[failure]] * (1 + RETRIES))
    exercise = make_exercise(rubric=RUBRIC)  # the learner's model is the stub: "Hello there!"
    attempt = make_attempt(learner, exercise)
    runs.execute(str(attempt.id))
    attempt.refresh_from_db()

    assert attempt.status == Attempt.GRADED, attempt.error
    assert attempt.passed is False and attempt.score == 0.5
    greets, friendly = attempt.runs.get().criteria
    assert greets["passed"] and (friendly["status"], friendly["score"]) == ("needs_review", 0)
    assert len(judge_provider.received) == 1 + RETRIES

    [item] = ReviewItem.objects.filter(attempt=attempt, resolved_at=None)
    assert (item.criterion_id, item.reason) == ("friendly", ReviewItem.NEEDS_REVIEW)
    queue = ines_client.get("/teach/review/").content.decode()
    assert re.findall(r'data-item="(\d+)"', queue) == [str(item.pk)]
    assert Client().get("/teach/review/").status_code == 302  # anonymous: to the login
