"""L9: a test case's reference answer never reaches the learner, not whole and not as any
30-character stretch of it, in what their pages show of the criteria that read it; the
instructor's drill-down shows the full rationale, reference included."""

from __future__ import annotations

import html

import pytest

from lessons.models import Course
from lessons.review.models import Cohort, Membership
from sandbox.models import Attempt
from tests.conftest import HTMX, make_attempt, make_exercise, run_queued

pytestmark = pytest.mark.django_db

REFERENCE = "Your refund of 42 euros was sent to your card on Monday, 3 March, at 09:14."
WINDOW = 30
# Criteria that read the test case's answers, never written in the rubric itself (a
# criterion's learner-facing name is read from its params).
RUBRIC = {
    "criteria": [
        {"id": "exact", "kind": "equals", "params": {"text": {"from_case": "answer"}}},
        {"id": "part", "kind": "contains", "params": {"text": {"from_case": "part"}}},
        {"id": "close", "kind": "levenshtein", "params": {"threshold": 0.9}},
    ]
}
EXPECTED = {"answer": REFERENCE, "part": REFERENCE[10:52]}


def windows(text: str) -> set[str]:
    folded = text.casefold()
    return {folded[i : i + WINDOW] for i in range(len(folded) - WINDOW + 1)}


def leaked(page: str) -> set[str]:
    return windows(REFERENCE) & windows(html.unescape(page))


@pytest.fixture
def attempt(learner, instructor) -> Attempt:
    exercise = make_exercise(
        rubric=RUBRIC,
        stub={"default": "We will look into your refund soon."},
        cases=[
            {
                "name": "Refund",
                "variables": {"name": "Ada"},
                "reference": REFERENCE,
                "expected": EXPECTED,
            }
        ],
    )
    cohort = Cohort.objects.create(course=Course.objects.get(slug="basics"), name="Spring")
    Membership.objects.create(cohort=cohort, learner=learner)
    attempt = make_attempt(learner, exercise)
    run_queued()
    attempt.refresh_from_db()
    assert attempt.status == Attempt.GRADED, attempt.error
    return attempt


def test_the_learner_never_reads_the_reference_answer(attempt, alice_client):
    pages = [
        alice_client.get(f"/attempts/{attempt.id}/"),
        alice_client.get(f"/attempts/{attempt.id}/", headers=HTMX),
        alice_client.get(attempt.exercise.get_absolute_url()),
        alice_client.get("/progress/basics/"),
        alice_client.get(f"/progress/basics/{attempt.exercise.pk}/"),
    ]
    for response in pages:
        assert response.status_code in (200, 286)
        page = response.content.decode()
        assert REFERENCE not in html.unescape(page)
        assert leaked(page) == set(), response.request["PATH_INFO"]
    assert "[reference answer hidden]" in pages[0].content.decode()


def test_the_instructor_reads_the_full_rationale(attempt, ines_client, learner):
    cohort = Cohort.objects.get()
    url = f"/teach/cohorts/{cohort.pk}/learners/{learner.pk}/exercises/{attempt.exercise.pk}/"
    page = html.unescape(ines_client.get(url).content.decode())
    assert f'expected "{REFERENCE[:60]}' in page
    assert f'"{REFERENCE[10:52]}"' in page
    assert "[reference answer hidden]" not in page
