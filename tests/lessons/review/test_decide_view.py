"""POST ls-teach-decide: an instructor's decision on a criterion the judge could not decide
regrades the attempt through the one scoring path, updates the learner's progress, resolves
the review item and is in the drill-down's audit trail; bad input changes nothing and says
why."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from lessons.models import Course
from lessons.review.models import AuditEntry, Cohort, Decision, Membership, Progress, ReviewItem
from sandbox.models import Attempt
from tests.conftest import (
    JUDGED_RUBRIC,
    UNDECIDED_JUDGE_STUB,
    make_attempt,
    make_exercise,
    run_queued,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def cohort(instructor, learner) -> Cohort:
    cohort = Cohort.objects.create(course=Course.objects.get(slug="basics"), name="Spring")
    Membership.objects.create(cohort=cohort, learner=learner)
    return cohort


@pytest.fixture
def undecided(learner, instructor) -> Attempt:
    """Graded through the real path: "greets" passes, the judge's "friendly" needs review."""
    attempt = make_attempt(learner, make_exercise(rubric=JUDGED_RUBRIC, stub=UNDECIDED_JUDGE_STUB))
    run_queued()
    attempt.refresh_from_db()
    assert (attempt.status, attempt.score, attempt.passed) == ("graded", 0.5, False)
    return attempt


def decide_url(attempt) -> str:
    return reverse("ls-teach-decide", args=[attempt.pk])


def drilldown_url(cohort, attempt) -> str:
    return reverse("ls-teach-drilldown", args=[cohort.pk, attempt.learner_id, attempt.exercise_id])


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_deciding_met_regrades_updates_progress_resolves_the_item_and_is_audited(
    ines_client, cohort, undecided
):
    run = undecided.runs.get()
    assert ReviewItem.objects.get().resolved_at is None
    here = drilldown_url(cohort, undecided)
    response = ines_client.post(
        decide_url(undecided),
        {"run": run.pk, "criterion": "friendly", "met": "1", "note": "Warm.", "next": here},
    )
    assert response.status_code == 302 and response["Location"] == here
    assert said(response) == ["Saved: friendly on Ada is met."]
    undecided.refresh_from_db()
    assert (undecided.score, undecided.passed) == (1.0, True)
    friendly = {c["id"]: c for c in undecided.runs.get().criteria}["friendly"]
    assert (friendly["status"], friendly["passed"]) == ("ok", True)
    progress = Progress.objects.get()
    assert (progress.best_score, progress.passed, progress.needs_review) == (1.0, True, 0)
    assert ReviewItem.objects.get().resolved_at is not None
    entry = AuditEntry.objects.get()
    assert (entry.score_before, entry.score_after) == (0.5, 1.0)
    html = ines_client.get(here).content.decode()
    assert "friendly on Ada: met" in html and "Warm." in html
    assert "Decided met" in html and "100% · passed" in html


def test_deciding_again_changes_the_verdict(ines_client, cohort, undecided):
    run = undecided.runs.get()
    for met in ("1", "0"):
        ines_client.post(
            decide_url(undecided), {"run": run.pk, "criterion": "friendly", "met": met}
        )
    assert Decision.objects.get().met is False
    undecided.refresh_from_db()
    assert (undecided.score, undecided.passed) == (0.5, False)
    assert AuditEntry.objects.latest("id").summary == "friendly on Ada: not met (was met)"


def test_without_next_it_goes_back_to_the_learners_drilldown(ines_client, cohort, undecided):
    run = undecided.runs.get()
    response = ines_client.post(
        decide_url(undecided),
        {"run": run.pk, "criterion": "friendly", "met": "1", "next": "https://evil.example/"},
    )
    assert response["Location"] == f"{drilldown_url(cohort, undecided)}#attempt-{undecided.pk}"


def test_without_a_cohort_it_goes_back_to_the_review_queue(ines_client, undecided):
    run = undecided.runs.get()
    response = ines_client.post(
        decide_url(undecided), {"run": run.pk, "criterion": "friendly", "met": "0"}
    )
    assert response["Location"] == reverse("ls-teach-review-queue")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"criterion": "friendly"}, "Met: This field is required."),
        ({"criterion": "friendly", "met": "yes"}, "Met: Select a valid choice."),
        ({"met": "1"}, "Criterion: This field is required."),
        ({"criterion": "nope", "met": "1"}, "The rubric has no criterion 'nope'"),
        ({"criterion": "friendly", "met": "1", "note": "x" * 2001}, "Note: Ensure this value"),
    ],
)
def test_bad_input_says_what_is_wrong_and_changes_nothing(
    ines_client, cohort, undecided, fields, problem
):
    run = undecided.runs.get()
    response = ines_client.post(decide_url(undecided), {"run": run.pk, **fields})
    assert response.status_code == 302
    (message,) = said(response)
    assert message.startswith("The decision was not saved.") and problem in message
    assert not Decision.objects.exists() and not AuditEntry.objects.exists()
    undecided.refresh_from_db()
    assert undecided.score == 0.5
    assert ReviewItem.objects.get().resolved_at is None


def test_a_run_of_another_attempt_is_not_found(ines_client, cohort, undecided, learner):
    other = make_attempt(learner, undecided.exercise)
    run_queued()
    response = ines_client.post(
        decide_url(undecided),
        {"run": other.runs.get().pk, "criterion": "friendly", "met": "1"},
    )
    assert response.status_code == 404
    assert not Decision.objects.exists()


def test_only_the_courses_instructors_may_decide(
    client, cohort, undecided, learner, other_instructor
):
    run = undecided.runs.get()
    for user in (other_instructor, learner):
        client.force_login(user)
        response = client.post(
            decide_url(undecided), {"run": run.pk, "criterion": "friendly", "met": "1"}
        )
        assert response.status_code == 404
    assert not Decision.objects.exists()
    assert client.get(decide_url(undecided)).status_code == 405
