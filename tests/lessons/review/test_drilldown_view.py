"""The learner drill-down: one learner's attempts on an exercise for an instructor, with the
prompt, what the model received, outputs (hidden cases too), criteria, cost, diffs between
consecutive attempts, decisions and the audit trail, in a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from lessons.models import Course, Lesson
from lessons.review.models import AuditEntry, Cohort, Deadline, Decision, Membership, Override
from sandbox.models import Attempt, UsageRecord
from tests.conftest import make_attempt, make_exercise, make_run, make_user

pytestmark = pytest.mark.django_db

JUDGED = {
    "id": "friendly",
    "kind": "llm_judge",
    "params": {"model": "stub:scripted", "items": ["The reply greets the reader."]},
}


@pytest.fixture
def cohort(instructor, learner) -> Cohort:
    cohort = Cohort.objects.create(course=Course.objects.get(slug="basics"), name="Spring")
    Membership.objects.create(cohort=cohort, learner=learner)
    return cohort


@pytest.fixture
def judged(instructor):
    return make_exercise(
        rubric={
            "pass_threshold": 1.0,
            "criteria": [
                {"id": "greets", "kind": "contains", "params": {"text": "hello"}},
                JUDGED,
            ],
        }
    )


def drilldown_url(cohort, learner, exercise) -> str:
    return reverse("ls-teach-drilldown", args=[cohort.pk, learner.pk, exercise.pk])


def graded(learner, exercise, minutes: int, prompt: str, *outputs: str, **fields) -> Attempt:
    fields.setdefault("score", 0.5)
    fields.setdefault("passed", False)
    attempt = make_attempt(
        learner,
        exercise,
        status=Attempt.GRADED,
        user_prompt=prompt,
        created_at=timezone.now() - timedelta(minutes=minutes),
        **fields,
    )
    for position, output in enumerate(outputs):
        make_run(
            attempt,
            position,
            case_name=f"Case {position + 1}",
            output=output,
            messages=[
                {"role": "system", "content": ""},
                {"role": "user", "content": f"{prompt} (sent)"},
            ],
            criteria=[
                {
                    "id": "greets",
                    "kind": "contains",
                    "passed": True,
                    "score": 1.0,
                    "status": "ok",
                    "detail": "found it",
                    "visible": True,
                },
                {
                    "id": "friendly",
                    "kind": "llm_judge",
                    "passed": False,
                    "score": 0.0,
                    "status": "needs_review",
                    "detail": "The judge's answer was unusable.",
                    "visible": True,
                },
            ],
        )
    return attempt


def test_the_drilldown_shows_each_attempt_with_its_prompt_outputs_and_criteria(
    ines_client, cohort, learner, judged
):
    first = graded(learner, judged, 10, "Greet {name}.", "Hi.")
    second = graded(learner, judged, 5, "Please say hello to {name}.", "Hello there!")
    UsageRecord.objects.create(
        learner=learner,
        attempt=second,
        backend="stub",
        model="scripted",
        input_tokens=12,
        output_tokens=3,
        cost_usd=Decimal("0.0012"),
    )
    html = ines_client.get(drilldown_url(cohort, learner, judged)).content.decode()
    assert html.index(f'id="attempt-{second.pk}"') < html.index(f'id="attempt-{first.pk}"')
    assert "Attempt 2" in html and "Attempt 1" in html
    assert second.created_at.strftime("%H:%M:%S") in html  # with seconds
    assert "Please say hello to {name}. (sent)" in html  # what the model received
    assert "Hello there!" in html and "found it" in html
    assert "needs review" in html and "waiting for review" in html
    assert "12 tokens in · 3 out" in html and "$0.0012" in html
    # The diff of attempt 2 against attempt 1: the prompt's changed words, the output's.
    assert "Changes since attempt 1" in html
    assert "<del>Greet</del>" in html and "<ins>Please say hello to</ins>" in html
    assert "<del>Hi.</del>" in html and "<ins>Hello there!</ins>" in html
    # A decision form for the judge's criterion, none for the contains one.
    assert html.count('name="criterion" value="friendly"') == 2
    assert 'name="criterion" value="greets"' not in html
    assert html.count(f'action="{reverse("ls-teach-decide", args=[second.pk])}"') == 1


def test_a_deactivated_learners_drilldown_says_the_account_is_deactivated(
    ines_client, cohort, learner
):
    exercise = make_exercise()
    address = drilldown_url(cohort, learner, exercise)
    assert "account deactivated" not in ines_client.get(address).content.decode()
    learner.is_active = False
    learner.save(update_fields=["is_active"])
    assert "account deactivated" in ines_client.get(address).content.decode()


def test_hidden_cases_are_shown_to_the_instructor_marked_hidden(ines_client, cohort, learner):
    exercise = make_exercise(
        model_name="echo",
        cases=[
            {"name": "Ada", "variables": {"name": "Ada"}},
            {"name": "Secret case", "variables": {"name": "Zanzibar"}, "visibility": "hide"},
        ],
    )
    attempt = make_attempt(learner, exercise, status=Attempt.GRADED, score=1, passed=True)
    make_run(attempt, 0, case_name="Ada", output="hello Ada")
    make_run(attempt, 1, case_name="Secret case", output="hello Zanzibar", hidden=True)
    html = ines_client.get(drilldown_url(cohort, learner, exercise)).content.decode()
    assert "Secret case" in html and "hello Zanzibar" in html
    assert "hidden from the learner" in html


def test_late_attempts_are_marked_against_the_cohorts_deadline(
    ines_client, cohort, learner, judged
):
    Deadline.objects.create(
        cohort=cohort, exercise=judged, due_at=timezone.now() - timedelta(minutes=7)
    )
    graded(learner, judged, 10, "early", "Hi.")
    graded(learner, judged, 5, "late", "Hi.")
    html = ines_client.get(drilldown_url(cohort, learner, judged)).content.decode()
    assert html.count('class="badge late"') == 1


def test_decisions_overrides_and_the_audit_trail_are_shown(
    ines_client, cohort, learner, judged, instructor
):
    attempt = graded(learner, judged, 5, "p", "Hello!")
    run = attempt.runs.get()
    Decision.objects.create(
        run=run,
        criterion_id="friendly",
        met=True,
        note="Warm.",
        judge_status="needs_review",
        decided_by=instructor,
    )
    Override.objects.create(
        attempt=attempt, score=0.9, passed=False, reason="Close enough", by=instructor
    )
    AuditEntry.objects.create(
        attempt=attempt,
        actor=instructor,
        action=AuditEntry.OVERRIDE,
        summary="score 50% → 90%",
        note="Close enough",
    )
    html = ines_client.get(drilldown_url(cohort, learner, judged)).content.decode()
    assert "Decided met" in html and "Warm." in html
    assert "90% · set by hand" in html and "Close enough" in html
    assert "Audit trail" in html and "score 50% → 90%" in html
    assert "Remove the override (50% as graded)" in html


def test_learner_text_is_escaped_in_outputs_prompts_and_diffs(ines_client, cohort, learner, judged):
    graded(learner, judged, 10, "Say <b>hi</b>", "fine")
    graded(learner, judged, 5, "Say <script>alert(1)</script>", "<script>alert(2)</script>")
    html = ines_client.get(drilldown_url(cohort, learner, judged)).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "<ins>&lt;script&gt;" in html  # inside the diff, escaped too


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_drilldown_makes_the_same_queries_for_two_attempts_or_many(
    ines_client, cohort, learner, judged, instructor
):
    url = drilldown_url(cohort, learner, judged)
    for minutes in (1, 2):
        graded(learner, judged, minutes, f"prompt {minutes}", "a", "b")
    two = queries_for(ines_client, url)
    for minutes in range(3, 30):
        attempt = graded(learner, judged, minutes, f"prompt {minutes}", "a", "b", "c")
        Decision.objects.create(
            run=attempt.runs.first(), criterion_id="friendly", met=True, decided_by=instructor
        )
        Override.objects.create(attempt=attempt, score=1, passed=True, reason="r", by=instructor)
        AuditEntry.objects.create(
            attempt=attempt, actor=instructor, action=AuditEntry.OVERRIDE, summary="s"
        )
        UsageRecord.objects.create(learner=learner, attempt=attempt, backend="stub", model="m")
    assert queries_for(ines_client, url) == two
    assert queries_for(ines_client, url + "?page=2") == two


def test_attempts_are_paginated_twenty_to_a_page(ines_client, cohort, learner, judged):
    for minutes in range(25):
        graded(learner, judged, minutes, f"prompt {minutes}", "a")
    url = drilldown_url(cohort, learner, judged)
    first = ines_client.get(url).content.decode()
    assert first.count('class="card dd-attempt"') == 20 and "Older attempts" in first
    second = ines_client.get(url + "?page=2").content.decode()
    assert second.count('class="card dd-attempt"') == 5 and "Attempt 1<" in second
    # The oldest on page 1 is still diffed against the newest on page 2.
    assert first.count("Changes since") == 20
    assert ines_client.get(url + "?page=3").status_code == 404


def test_someone_elses_drilldown_does_not_exist(
    client, cohort, learner, other_learner, judged, other_instructor
):
    url = drilldown_url(cohort, learner, judged)
    client.force_login(other_instructor)
    assert client.get(url).status_code == 404
    client.force_login(learner)
    assert client.get(url).status_code == 404
    # A learner of the course who is not in this cohort, an exercise of another course.
    stranger = make_user("carol")
    client.force_login(Course.objects.get(slug="basics").instructors.get())
    assert client.get(drilldown_url(cohort, stranger, judged)).status_code == 404
    foreign = make_exercise(slug="foreign")
    foreign.lesson = Lesson.objects.create(course=Course.objects.get(slug="other"), slug="x")
    foreign.save()
    assert client.get(drilldown_url(cohort, learner, foreign)).status_code == 404


def test_a_page_number_past_any_history_gives_a_page_not_an_error(ines_client, cohort, learner):
    exercise = make_exercise()
    graded(learner, exercise, 1, "Say hello", "Hello!")
    response = ines_client.get(drilldown_url(cohort, learner, exercise) + "?page=" + "9" * 25)
    assert response.status_code in (200, 404)


def test_an_attempt_that_ended_in_error_says_its_code_and_reason(ines_client, cohort, learner):
    exercise = make_exercise()
    make_attempt(
        learner,
        exercise,
        status=Attempt.ERROR,
        error_code="poison",
        error="Grading this attempt stopped or stalled its worker 3 times.",
    )
    html = ines_client.get(drilldown_url(cohort, learner, exercise)).content.decode()
    assert "Error · <code>poison</code>" in html
    assert "stalled its worker 3 times" in html
