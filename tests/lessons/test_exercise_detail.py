"""GET /courses/<course>/<lesson>/<exercise>/: the task, the prompt editor, my attempts, hints."""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone

from sandbox.models import Attempt
from tests.conftest import (
    graded_with_a_hidden_case,
    make_attempt,
    make_exercise,
    make_few_shot_exercise,
    make_run,
)

URL = "/courses/basics/first/greet/"
HINT_1 = "Say what to say."
HINT_2 = "Use the words"


def textarea(html: str, name: str) -> str | None:
    """Return the text of the named textarea, or None if the page has none."""
    match = re.search(rf'<textarea name="{name}"[^>]*>(.*?)</textarea>', html, re.DOTALL)
    return match.group(1) if match else None


def preview(html: str) -> str:
    match = re.search(r'<pre id="preview"[^>]*>(.*?)</pre>', html, re.DOTALL)
    assert match, "no preview"
    return match.group(1)


def failed_attempt(learner, exercise) -> Attempt:
    return make_attempt(learner, exercise, status=Attempt.GRADED, score=0.5, passed=False)


def test_it_shows_the_instructions_as_markdown(alice_client, exercise):
    r = alice_client.get(URL)
    html = r.content.decode()
    assert r.status_code == 200
    assert "<h1>Greet someone</h1>" in html
    assert "Make the model <strong>greet</strong> <code>{name}</code>." in html


def test_it_prefills_the_editable_fields_with_the_starter_text(alice_client):
    make_exercise(
        editable_fields=["system", "user"],
        starter_system="You are <polite>.",
        starter_prefill="Dear",
    )
    html = alice_client.get(URL).content.decode()
    assert textarea(html, "user") == "Talk to {name}."
    assert textarea(html, "system") == "You are &lt;polite&gt;."
    assert textarea(html, "prefill") is None  # not editable


def test_it_opens_on_my_last_prompt_not_the_starter(alice_client, learner, other_learner):
    """A reload, the back button or a return the next day showed the starter text again,
    beside the result of a prompt that was no longer anywhere on the page."""
    exercise = make_exercise(starter_system="Be kind.")
    make_attempt(learner, exercise, user_prompt="Old: hello {name}.")
    make_attempt(learner, exercise, system_prompt="Be brief.", user_prompt="Say hi to {name}.")
    make_attempt(other_learner, exercise, user_prompt="Not mine, {name}.")
    html = alice_client.get(URL).content.decode()
    assert textarea(html, "user") == "Say hi to {name}."
    assert textarea(html, "system") == "Be brief."
    assert "Say hi to Ada." in preview(html) and "Be brief." in preview(html)


def test_a_link_beside_my_last_prompt_starts_again_from_the_starter(alice_client, learner):
    exercise = make_exercise(starter_system="Be kind.")
    fresh = alice_client.get(URL)
    assert fresh.status_code == 200 and "data-last-prompt" not in fresh.content.decode()
    make_attempt(learner, exercise, system_prompt="Be brief.", user_prompt="Say hi to {name}.")
    html = alice_client.get(URL).content.decode()
    assert 'href="?start=over#prompt-heading">Start again from the starter prompt</a>' in html
    html = alice_client.get(URL + "?start=over").content.decode()
    assert textarea(html, "system") == "Be kind."
    assert textarea(html, "user") == exercise.starter_user
    assert "data-last-prompt" not in html
    assert "Be kind." in preview(html)


def test_it_opens_on_my_last_example_turns(alice_client, learner):
    exercise = make_few_shot_exercise()
    examples = [["user", "Fixed the login bug"], ["assistant", "Fix login."]]
    make_attempt(learner, exercise, user_prompt="{change}", examples=examples)
    html = alice_client.get(URL).content.decode()
    assert textarea(html, "example_0") == "Fixed the login bug"
    assert textarea(html, "example_1") == "Fix login."


def test_the_form_posts_to_submit_with_a_csrf_token(alice_client, exercise):
    html = alice_client.get(URL).content.decode()
    assert f'action="/exercises/{exercise.id}/submit/"' in html
    assert f'hx-post="/exercises/{exercise.id}/preview/"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'hx-headers=\'{"X-CSRFToken": "' in html


def test_it_renders_the_prompt_for_the_first_visible_case(alice_client):
    make_exercise(
        starter_system="You greet {name}.",
        cases=[
            {"name": "Secret", "variables": {"name": "Zanzibar"}, "visibility": "hide"},
            {"name": "Ada", "variables": {"name": "Ada"}},
            {"name": "Grace", "variables": {"name": "Grace"}},
        ],
    )
    html = alice_client.get(URL).content.decode()
    rendered = preview(html)
    assert "You greet Ada." in rendered
    assert "Talk to Ada." in rendered
    assert "Grace" not in rendered
    assert "for “Ada”" in html


def test_it_never_shows_hidden_case_inputs(client, learner):
    graded_with_a_hidden_case(learner)

    client.force_login(learner)
    html = client.get(URL).content.decode()
    assert "Plus 1 hidden test case" in html
    assert "Your latest attempt:" in html
    assert "hello Ada" in html
    assert "Hidden case 2: passed" in html
    assert "Zanzibar" not in html
    assert "Secret case" not in html


def test_it_shows_no_hint_before_a_failed_attempt(alice_client, exercise):
    html = alice_client.get(URL).content.decode()
    assert HINT_1 not in html
    assert HINT_2 not in html
    assert "2 more hints unlock" in html


def test_it_shows_hint_one_after_one_failed_attempt(alice_client, learner, exercise):
    failed_attempt(learner, exercise)
    html = alice_client.get(URL).content.decode()
    assert HINT_1 in html
    assert HINT_2 not in html
    assert "1 more hint unlocks" in html


def test_it_shows_hint_two_after_two_failed_attempts(alice_client, learner, exercise):
    failed_attempt(learner, exercise)
    failed_attempt(learner, exercise)
    html = alice_client.get(URL).content.decode()
    assert HINT_1 in html
    assert HINT_2 in html
    assert "more hint" not in html


def test_only_graded_failures_unlock_hints(alice_client, learner, other_learner, exercise):
    make_attempt(learner, exercise)  # queued
    make_attempt(learner, exercise, status=Attempt.RUNNING)
    make_attempt(learner, exercise, status=Attempt.ERROR, error="The model failed.")
    make_attempt(learner, exercise, status=Attempt.GRADED, score=1.0, passed=True)
    failed_attempt(other_learner, exercise)
    html = alice_client.get(URL).content.decode()
    assert HINT_1 not in html
    assert "2 more hints unlock" in html


def test_it_lists_my_attempts_and_not_another_learners(
    alice_client, learner, other_learner, exercise
):
    mine = [failed_attempt(learner, exercise), make_attempt(learner, exercise)]
    theirs = make_attempt(other_learner, exercise, user_prompt="Bob's secret prompt")
    html = alice_client.get(URL).content.decode()
    for attempt in mine:
        assert f'href="/attempts/{attempt.id}/"' in html
    assert str(theirs.id) not in html
    assert "Bob" not in html
    assert '<span class="badge fail">50%</span>' in html
    assert '<span class="badge neutral">Queued</span>' in html


def test_it_polls_my_latest_attempt_while_it_runs(alice_client, learner, exercise):
    failed_attempt(learner, exercise)
    latest = make_attempt(learner, exercise)
    html = alice_client.get(URL).content.decode()
    assert f'hx-get="/attempts/{latest.id}/"' in html
    assert 'hx-trigger="every' in html


def test_it_says_none_yet_without_attempts(alice_client, exercise):
    html = alice_client.get(URL).content.decode()
    assert "None yet." in html
    assert "Submit your prompt to see" in html


def test_it_returns_404_for_an_unknown_exercise(alice_client, exercise):
    assert alice_client.get("/courses/basics/first/nope/").status_code == 404
    assert alice_client.get("/courses/basics/nope/greet/").status_code == 404
    assert alice_client.get("/courses/nope/first/greet/").status_code == 404


def test_it_requires_login(client, exercise):
    r = client.get(URL)
    assert r.status_code == 302
    assert r["Location"] == f"/accounts/login/?next={URL}"


def test_it_rejects_post(alice_client, exercise):
    assert alice_client.post(URL).status_code == 405


def test_history_tells_attempts_seconds_apart_by_their_time(alice_client, learner, exercise):
    now = timezone.now()
    for seconds in (5, 50, 3 * 60):
        make_attempt(learner, exercise, created_at=now - timedelta(seconds=seconds))
    html = alice_client.get(URL).content.decode()
    times = re.findall(r'<time datetime="([^"]+)" title="([^"]+)">([^<]+)</time>', html)
    shown = [text.replace("\xa0", " ") for _, _, text in times]
    assert re.fullmatch(r"[5-9] seconds ago", shown[0]), shown  # a slow run adds a second
    assert re.fullmatch(r"5[0-4] seconds ago", shown[1]), shown
    assert shown[2] == "3 minutes ago"
    exact = now - timedelta(seconds=5)
    assert times[0][:2] == (exact.isoformat(), exact.strftime("%b %-d, %Y, %H:%M:%S"))


def test_the_prompt_fields_do_not_inherit_the_submit_buttons_disabling(alice_client, exercise):
    html = alice_client.get(URL).content.decode()
    form = re.search(r'<form id="prompt-form"[^>]*>', html)
    assert form and 'hx-disinherit="hx-disabled-elt"' in form.group(0)
    assert '<script src="/static/lessons/exercise.js" defer></script>' in html
    assert "<kbd>Ctrl</kbd>+<kbd>Enter</kbd>" in html


def test_it_lists_what_will_be_checked_by_name_before_any_attempt(alice_client, db):
    criteria = [
        {"id": "expect-icontains", "kind": "contains", "params": {"text": "hello"}},
        {"id": "answers", "kind": "length", "params": {"unit": "characters", "min": 1}},
        {"id": "secret", "kind": "valid_json", "visible": False},
        {"id": "tone", "kind": "regex", "params": {"pattern": "!"}, "title": "Sounds glad"},
    ]
    make_exercise(rubric={"pass_threshold": 1.0, "criteria": criteria})
    html = alice_client.get(URL).content.decode()
    checks = re.search(r'<ul class="checks"[^>]*>(.*?)</ul>', html, re.DOTALL)
    assert checks, "no list of checks"
    items = re.findall(r"<li>(.*?)</li>", checks.group(1))
    assert items == ["Mentions “hello”", "At least 1 character", "Sounds glad"]
    assert "expect-icontains" not in html and "Valid JSON" not in html


def test_my_latest_result_opens_with_its_summary(alice_client, learner, exercise):
    attempt = make_attempt(learner, exercise, status=Attempt.GRADED, score=1.0, passed=True)
    make_run(attempt, case=exercise.cases.get(), case_name="Ada", score=1.0, passed=True)
    html = alice_client.get(URL).content.decode()
    assert "1 of 1 test case passed</strong> · 100&nbsp;%" in html
