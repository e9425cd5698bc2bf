"""End to end: an HTTP submit reaches a real worker process through a real broker and is graded."""

from __future__ import annotations

import pytest

from sandbox.models import Attempt
from tests.conftest import PASSWORD, make_exercise, make_user
from tests.live import Browserless, Stack, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(params=["redis", "embedded"])
def stack(request, tmp_path):
    stack = Stack(workdir=tmp_path, broker=request.param)
    if request.param == "redis":
        import redis

        redis.Redis.from_url(stack.env()["REDIS_URL"]).flushdb()
    with stack.serving():
        yield stack


def submit(stack: Stack, exercise, prompt: str) -> Attempt:
    client = Browserless(stack.url)
    client.login("alice", PASSWORD)
    status, _, page = client.get(exercise.get_absolute_url())
    assert status == 200 and exercise.title in page
    status, attempt_url, _ = client.post(f"/exercises/{exercise.id}/submit/", {"user": prompt})
    assert status == 200 and "/attempts/" in attempt_url
    attempt_id = attempt_url.rstrip("/").rsplit("/", 1)[1]
    return Attempt.objects.get(id=attempt_id)


def test_it_grades_a_submitted_prompt(stack):
    make_user("alice")
    exercise = make_exercise(
        cases=[
            {"name": "Ada", "variables": {"name": "Ada"}},
            {"name": "Grace", "variables": {"name": "Grace"}},
            {"name": "Hidden", "variables": {"name": "Linus"}, "visibility": "hide"},
        ]
    )
    attempt = submit(stack, exercise, "Please say hello to {name}.")

    wait_until(lambda: Attempt.objects.get(id=attempt.id).is_final, 30, "the attempt to be graded")
    attempt.refresh_from_db()
    assert attempt.status == Attempt.GRADED, attempt.error
    assert attempt.score == 1.0 and attempt.passed
    assert attempt.runs.count() == 3


def test_it_gives_partial_credit_to_a_poor_prompt(stack):
    make_user("alice")
    exercise = make_exercise()
    attempt = submit(stack, exercise, "Talk to {name}.")

    wait_until(lambda: Attempt.objects.get(id=attempt.id).is_final, 30, "the attempt to be graded")
    attempt.refresh_from_db()
    assert attempt.status == Attempt.GRADED
    assert attempt.score == 0.0 and not attempt.passed
    criteria = attempt.runs.get().criteria
    assert [c["passed"] for c in criteria] == [False, False]
    assert criteria[0]["feedback"] == "Ask it to say hello."
