"""POST ls-teach-override: an instructor sets an attempt's score by hand with a reason, shown
in the drill-down and counted in the learner's progress (what the gradebook reads); clearing
it gives the graded score back. Bad input changes nothing and says why."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from lessons.models import Course
from lessons.review.models import AuditEntry, Cohort, Membership, Override, Progress
from lessons.review.progress import refresh
from sandbox.models import Attempt
from tests.conftest import make_attempt, make_exercise, make_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def cohort(instructor, learner) -> Cohort:
    cohort = Cohort.objects.create(course=Course.objects.get(slug="basics"), name="Spring")
    Membership.objects.create(cohort=cohort, learner=learner)
    return cohort


@pytest.fixture
def attempt(learner, instructor) -> Attempt:
    exercise = make_exercise()
    attempt = make_attempt(learner, exercise, status=Attempt.GRADED, score=0.5, passed=False)
    make_run(attempt, passed=False, score=0.5)
    refresh(learner.pk, exercise.pk)
    return attempt


def override_url(attempt) -> str:
    return reverse("ls-teach-override", args=[attempt.pk])


def drilldown_url(cohort, attempt) -> str:
    return reverse("ls-teach-drilldown", args=[cohort.pk, attempt.learner_id, attempt.exercise_id])


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_an_override_sets_the_score_everywhere_and_clearing_restores_it(
    ines_client, cohort, attempt
):
    here = drilldown_url(cohort, attempt)
    response = ines_client.post(
        override_url(attempt), {"score": "100", "reason": "The case was unfair.", "next": here}
    )
    assert response["Location"] == here and said(response) == ["Score set to 100%."]
    progress = Progress.objects.get()
    assert (progress.best_score, progress.passed) == (1.0, True)
    html = ines_client.get(here).content.decode()
    assert "100% · set by hand" in html and "The case was unfair." in html
    assert "score 50% → 100%" in html  # the audit trail

    response = ines_client.post(override_url(attempt), {"clear": "1", "next": here})
    assert said(response) == ["The override is removed: the attempt has its graded score."]
    assert not Override.objects.exists()
    progress.refresh_from_db()
    assert (progress.best_score, progress.passed) == (0.5, False)
    html = ines_client.get(here).content.decode()
    assert "set by hand" not in html and "50% · not passed" in html
    assert "score 100% → 50% (as graded)" in html
    assert AuditEntry.objects.count() == 2


def test_a_fractional_percent_is_kept(ines_client, cohort, attempt):
    ines_client.post(override_url(attempt), {"score": "87.5", "reason": "Partly right."})
    assert Override.objects.get().score == pytest.approx(0.875)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"score": "150", "reason": "Bonus"}, "Score: Ensure this value is less than or equal"),
        ({"score": "-1", "reason": "Malus"}, "Score: Ensure this value is greater than or equal"),
        ({"score": "abc", "reason": "?"}, "Score: Enter a number."),
        ({"reason": "No score"}, "Score: Give the score, from 0 to 100."),
        ({"score": "80", "reason": "   "}, "Reason: Give a reason"),
        ({"score": "80"}, "Reason: Give a reason"),
        ({"clear": "1"}, "This attempt's score was not overridden."),
    ],
)
def test_bad_input_says_what_is_wrong_and_changes_nothing(
    ines_client, cohort, attempt, fields, problem
):
    response = ines_client.post(override_url(attempt), fields)
    assert response.status_code == 302
    (message,) = said(response)
    assert message.startswith("The score was not changed.") and problem in message
    assert not Override.objects.exists() and not AuditEntry.objects.exists()
    assert Progress.objects.get().best_score == 0.5


def test_an_attempt_not_graded_cannot_be_overridden(ines_client, cohort, learner, attempt):
    queued = make_attempt(learner, attempt.exercise)
    response = ines_client.post(override_url(queued), {"score": "90", "reason": "r"})
    assert "Only a graded attempt" in said(response)[0]
    assert not Override.objects.exists()


def test_only_the_courses_instructors_may_override(
    client, cohort, attempt, learner, other_instructor
):
    for user in (other_instructor, learner):
        client.force_login(user)
        response = client.post(override_url(attempt), {"score": "100", "reason": "mine"})
        assert response.status_code == 404
    assert not Override.objects.exists()
