"""GET /attempts/<uuid>/: the attempt page, and with htmx its status block (polled until final)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from unittest.mock import patch

import pytest

from sandbox import calls
from sandbox.backends import Completion
from sandbox.models import Attempt
from tests.conftest import (
    HTMX,
    graded_with_a_hidden_case,
    make_attempt,
    make_exercise,
    make_few_shot_exercise,
    make_run,
    run_queued,
)

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
]


def url(attempt) -> str:
    return f"/attempts/{attempt.id}/"


def graded(attempt, score=1.0, passed=True) -> Attempt:
    Attempt.objects.filter(id=attempt.id).update(status=Attempt.GRADED, score=score, passed=passed)
    attempt.refresh_from_db()
    return attempt


def test_it_shows_the_attempt_to_its_owner(alice_client, learner, exercise):
    attempt = make_attempt(learner, exercise, system_prompt="Be brief.")
    r = alice_client.get(url(attempt))
    html = r.content.decode()
    assert r.status_code == 200
    assert "Greet someone" in html
    assert "Please say hello to Ada." in html
    assert "Be brief." in html
    assert 'id="attempt-status"' in html


def test_it_returns_404_to_another_learner(bob_client, learner, exercise):
    attempt = make_attempt(learner, exercise)
    r = bob_client.get(url(attempt))
    assert r.status_code == 404
    assert "say hello" not in r.content.decode()


def test_it_returns_404_to_another_learner_using_htmx(bob_client, learner, exercise):
    attempt = graded(make_attempt(learner, exercise))
    r = bob_client.get(url(attempt), headers=HTMX)
    assert r.status_code == 404


def test_it_requires_login(client, learner, exercise):
    attempt = make_attempt(learner, exercise)
    r = client.get(url(attempt))
    assert r.status_code == 302
    assert r["Location"] == f"/accounts/login/?next={url(attempt)}"


def test_it_rejects_post(alice_client, learner, exercise):
    attempt = make_attempt(learner, exercise)
    assert alice_client.post(url(attempt)).status_code == 405


def test_it_returns_404_for_an_unknown_attempt(alice_client, db):
    r = alice_client.get("/attempts/00000000-0000-0000-0000-000000000000/")
    assert r.status_code == 404


def test_it_keeps_polling_a_queued_attempt(alice_client, learner, exercise):
    attempt = make_attempt(learner, exercise)
    r = alice_client.get(url(attempt), headers=HTMX)
    html = r.content.decode()
    assert r.status_code == 200
    assert 'id="attempt-status"' in html
    assert f'hx-get="/attempts/{attempt.id}/"' in html
    assert 'hx-trigger="every' in html
    assert "Queued" in html
    assert "<html" not in html


def test_it_keeps_polling_a_running_attempt(alice_client, learner, exercise):
    attempt = make_attempt(learner, exercise, status=Attempt.RUNNING)
    r = alice_client.get(url(attempt), headers=HTMX)
    assert r.status_code == 200
    assert 'hx-trigger="every' in r.content.decode()


def test_it_stops_polling_a_graded_attempt_and_shows_the_feedback(alice_client, learner, exercise):
    attempt = graded(make_attempt(learner, exercise), score=0.5, passed=False)
    make_run(
        attempt,
        case_name="Ada",
        output="Hi Ada, how are you today?",
        score=0.5,
        passed=False,
        criteria=[
            {
                "id": "greets",
                "passed": False,
                "visible": True,
                "feedback": "Ask it to say hello.",
                "detail": "'hello' not found",
            },
            {
                "id": "short",
                "passed": True,
                "visible": True,
                "feedback": "Short enough.",
                "detail": "6 words, at most 5",
            },
            {
                "id": "secret-check",
                "passed": False,
                "visible": False,
                "feedback": "Invisible feedback.",
                "detail": "invisible detail",
            },
        ],
    )
    r = alice_client.get(url(attempt), headers=HTMX)
    html = r.content.decode()
    assert r.status_code == 286
    assert "hx-trigger" not in html
    assert 'data-score="50"' in html
    assert "50%" in html
    assert "Not yet" in html
    assert "Hi Ada, how are you today?" in html
    assert "Ask it to say hello." in html
    assert "Short enough." in html
    assert "Invisible feedback." not in html


def test_it_stops_polling_an_attempt_in_error_and_shows_the_reason(alice_client, learner, exercise):
    attempt = make_attempt(learner, exercise)
    attempt.fail("provider", "The model failed: it is on fire.")
    r = alice_client.get(url(attempt), headers=HTMX)
    assert r.status_code == 286
    assert "The model failed: it is on fire." in r.content.decode()


def test_it_shows_a_passed_attempt(alice_client, learner, exercise):
    attempt = graded(make_attempt(learner, exercise))
    make_run(attempt, case_name="Ada", score=1.0, passed=True)
    html = alice_client.get(url(attempt)).content.decode()
    assert "Passed" in html
    assert 'data-score="100"' in html


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_it_escapes_model_output(client, learner, payload):
    exercise = make_exercise(stub={"default": payload})
    attempt = make_attempt(learner, exercise)
    run_queued()
    attempt.refresh_from_db()
    assert attempt.status == Attempt.GRADED, attempt.error
    assert attempt.runs.get().output == payload

    client.force_login(learner)
    for r in (client.get(url(attempt)), client.get(url(attempt), headers=HTMX)):
        html = r.content.decode()
        assert payload not in html
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "<svg onload" not in html
        assert payload.replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;") in html


def test_it_escapes_a_submitted_prompt(alice_client, learner, exercise):
    attempt = make_attempt(learner, exercise, user_prompt="<script>alert(1)</script> {name}")
    html = alice_client.get(url(attempt)).content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Ada" in html


def test_it_shows_only_pass_or_fail_for_hidden_cases(client, learner):
    attempt = graded_with_a_hidden_case(learner)
    assert "Zanzibar" in attempt.runs.get(hidden=True).output

    client.force_login(learner)
    for r in (client.get(url(attempt)), client.get(url(attempt), headers=HTMX)):
        html = r.content.decode()
        assert "hello Ada" in html
        assert "Hidden case 2: passed" in html
        assert "Zanzibar" not in html
        assert "Secret case" not in html


def skipped_headings(html: str) -> list[str]:
    """Return each heading that comes more than one level below the heading before it."""
    levels = [int(level) for level in re.findall(r"<h([1-6])\b", html)]
    return [f"h{b} after h{a}" for a, b in zip(levels, levels[1:], strict=False) if b > a + 1]


def test_a_result_skips_no_heading_level(client, learner):
    """A case's "Model output" comes under the result's heading, on the exercise page (a
    visible "Result") and on the attempt page (one for screen readers), not two levels down."""
    attempt = graded_with_a_hidden_case(learner)
    client.force_login(learner)
    exercise_page = client.get(attempt.exercise.get_absolute_url()).content.decode()
    attempt_page = client.get(url(attempt)).content.decode()
    for html in (exercise_page, attempt_page):
        assert "Model output" in html
        assert skipped_headings(html) == []
    assert '<h2 id="result-heading" class="visually-hidden">Result</h2>' in attempt_page


def test_it_says_a_hidden_case_failed(alice_client, learner, exercise):
    attempt = graded(make_attempt(learner, exercise), score=0.0, passed=False)
    make_run(
        attempt,
        hidden=True,
        case_name="Secret case",
        output="the hidden output",
        score=0.0,
        passed=False,
        criteria=[
            {
                "id": "greets",
                "passed": False,
                "visible": True,
                "feedback": "Ask it to say hello.",
                "detail": "hidden detail",
            }
        ],
    )
    html = alice_client.get(url(attempt)).content.decode()
    assert "Hidden case 1: failed" in html
    assert "the hidden output" not in html
    assert "hidden detail" not in html
    assert "Secret case" not in html


def test_it_shows_what_changed_since_the_previous_attempt(alice_client, learner, exercise):
    make_attempt(learner, exercise, user_prompt="Talk to {name}.")
    latest = make_attempt(learner, exercise, user_prompt="Please say hello to {name}.")
    html = alice_client.get(f"/attempts/{latest.id}/").content.decode()
    assert "Changes since" in html
    assert '<td class="side old"><del>Talk</del> to {name}.</td>' in html
    assert '<td class="side new"><ins>Please say hello</ins> to {name}.</td>' in html


@pytest.mark.django_db
def test_an_instructors_override_is_shown_with_its_reason(alice_client, learner, instructor):
    from lessons.review.decisions import override

    attempt = graded(make_attempt(learner, make_exercise()), score=0.5, passed=False)
    make_run(attempt)
    assert "data-override" not in alice_client.get(url(attempt)).content.decode()
    override(attempt, 1.0, "Your answer is right <b>too</b>.", instructor)
    html = alice_client.get(url(attempt)).content.decode()
    assert 'data-score="100"' in html and "The rubric gave 50%" in html
    assert "Your answer is right &lt;b&gt;too&lt;/b&gt;." in html


@pytest.mark.django_db
def test_a_case_with_one_hidden_sample_shows_no_sample_of_it(alice_client, learner):
    exercise = make_exercise(
        samples=2,
        cases=[{"name": "Ada", "variables": {"name": "Ada"}, "visibility": "hide_if_fail"}],
    )
    attempt = graded(make_attempt(learner, exercise), score=0.5, passed=False)
    case = exercise.cases.get()
    make_run(attempt, 0, case=case, case_name="Ada", sample=0, passed=True, output="SHOWN-PASS")
    make_run(attempt, 1, case=case, case_name="Ada", sample=1, hidden=True, output="HIDDEN-FAIL")
    html = alice_client.get(url(attempt)).content.decode()
    assert "HIDDEN-FAIL" not in html and "SHOWN-PASS" not in html


def test_what_you_submitted_is_the_conversation_the_model_received(client, learner):
    hidden = {"name": "Secret", "variables": {"change": "Hidden input"}, "visibility": "hide"}
    exercise = make_few_shot_exercise(
        cases=[hidden, {"name": "Feature", "variables": {"change": "Added CSV export"}}]
    )
    fields, examples = exercise.compose({})
    attempt = make_attempt(
        learner,
        exercise,
        system_prompt=fields["system"],
        user_prompt=fields["user"],
        examples=examples,
    )
    run_queued()
    sent = attempt.runs.get(case_name="Feature").messages
    client.force_login(learner)
    html = client.get(url(attempt)).content.decode()
    section = html[html.index("What you submitted") : html.index('id="attempt-status"')]
    received = [m for m in sent if m["content"]]
    assert [m["role"] for m in received] == ["system", "user", "assistant", "user"]
    shown = "\n\n".join(f'<span class="role">{m["role"]}</span>\n{m["content"]}' for m in received)
    assert shown in section
    assert "for “Feature”" in section
    assert "{change}" not in section and "Hidden input" not in section


@pytest.mark.django_db
def test_the_changes_diff_each_cases_first_output_as_well_as_the_prompt(alice_client, learner):
    exercise = make_exercise(samples=2)
    before = graded(make_attempt(learner, exercise, user_prompt="Talk to {name}."), 0.0, False)
    after = graded(make_attempt(learner, exercise))
    for attempt, output in ((before, "Hi Ada."), (after, "Hello Ada!")):
        make_run(attempt, 0, case_name="Ada", sample=0, output=output)
        make_run(attempt, 1, case_name="Ada", sample=1, output=f"{output} (second sample)")
    html = alice_client.get(url(after)).content.decode()
    outputs = html[html.index('<h3 class="label">Outputs</h3>') : html.index('id="attempt-status"')]
    assert '<h4 class="label">Ada</h4>' in outputs
    assert '<td class="side old"><del>Hi</del> Ada<del>.</del></td>' in outputs
    assert '<td class="side new"><ins>Hello</ins> Ada<ins>!</ins></td>' in outputs
    assert "second sample" not in outputs


def test_the_changes_leave_out_a_hidden_cases_output(alice_client, learner, exercise):
    before = graded(make_attempt(learner, exercise, user_prompt="Talk to {name}."), 0.0, False)
    after = graded(make_attempt(learner, exercise))
    for attempt, output in ((before, "old secret"), (after, "new secret")):
        make_run(attempt, 0, case_name="Secret", hidden=True, output=output)
    html = alice_client.get(url(after)).content.decode()
    assert "secret" not in html
    assert "No outputs to compare yet." in html


def test_it_says_when_the_attempt_was_submitted_to_the_second(alice_client, learner, exercise):
    at = datetime(2026, 12, 1, 23, 18, 7, tzinfo=UTC)
    attempt = make_attempt(learner, exercise, created_at=at)
    html = alice_client.get(url(attempt)).content.decode()
    assert f'Submitted <time datetime="{at.isoformat()}">Dec 1, 2026, 23:18:07</time>' in html


def test_an_attempt_on_an_exercise_back_in_draft_opens_without_links_to_it(
    alice_client, learner, exercise
):
    attempt = graded(make_attempt(learner, exercise))
    exercise_url, course_url = (
        exercise.get_absolute_url(),
        exercise.lesson.course.get_absolute_url(),
    )
    html = alice_client.get(url(attempt)).content.decode()
    assert f'href="{exercise_url}"' in html and f'href="{course_url}"' in html
    exercise.lesson.course.published = False
    exercise.lesson.course.save()
    r = alice_client.get(url(attempt))
    html = r.content.decode()
    assert r.status_code == 200 and exercise.title in html
    assert f'href="{exercise_url}"' not in html and f'href="{course_url}"' not in html
    assert "This exercise is closed for now." in html
    assert alice_client.get(exercise_url).status_code == 404  # the link would have been a 404


def test_a_case_failed_by_one_sample_hides_every_sample_and_its_changes(alice_client, learner):
    exercise = make_exercise(
        samples=2,
        sample_rule="all",
        rubric={"criteria": [{"id": "ok", "kind": "contains", "params": {"text": "SECRET"}}]},
        cases=[{"name": "Secret case", "variables": {"name": "Z"}, "visibility": "hide_if_fail"}],
    )

    def complete(backend, request, name, deadline, sample=0, **kwargs):  # sample 1 fails
        text = f"SECRET output {request.messages}" if sample == 0 else "nope"
        return calls.CallOutcome(completion=Completion(text=text, input_tokens=1, output_tokens=1))

    with patch("sandbox.runs.calls.complete", side_effect=complete):
        for n in range(2):
            make_attempt(learner, exercise, user_prompt=f"hello {{name}} {n}")
            run_queued()
    latest = Attempt.objects.order_by("-created_at").first()
    assert [(run.passed, run.hidden) for run in latest.runs.order_by("sample")] == [
        (True, True),
        (False, True),
    ]
    page = alice_client.get(url(latest)).content.decode()
    assert "Hidden case 1" in page and "SECRET" not in page


def test_the_migration_hides_every_sample_of_a_case_one_hidden_sample_hid(learner):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("sandbox.migrations.0005_hide_test_cases_whole")
    exercise = make_exercise(
        cases=[
            {"name": "Ada", "variables": {"name": "Ada"}},
            {"name": "Ada", "variables": {"name": "Ada II"}},  # names need not be unique
        ]
    )
    first, second = exercise.cases.all()
    attempt = make_attempt(learner, exercise)
    rows = [
        (first, "Ada", 0, False),
        (first, "Ada", 1, True),
        (second, "Ada", 0, False),
        (None, "Gone", 0, False),
        (None, "Gone", 1, True),
    ]
    for position, (case, name, sample, hidden) in enumerate(rows):
        make_run(attempt, position, case=case, case_name=name, sample=sample, hidden=hidden)
    migration.hide_cases_whole(apps, None)
    hidden = [r.hidden for r in attempt.runs.order_by("position")]
    assert hidden == [True, True, False, True, True]
