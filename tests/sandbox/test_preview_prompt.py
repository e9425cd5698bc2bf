"""POST /exercises/<id>/preview/: the prompt as the model will see it for the first visible case."""

from __future__ import annotations

import re

from django.test import Client

from sandbox.models import Attempt
from tests.conftest import HTMX, make_exercise, make_few_shot_exercise, run_queued


def preview_url(exercise) -> str:
    return f"/exercises/{exercise.id}/preview/"


def test_it_renders_the_fields_with_the_first_visible_case(alice_client):
    exercise = make_exercise(
        cases=[
            {"name": "Hidden", "variables": {"name": "Zanzibar"}, "visibility": "hide"},
            {"name": "Ada", "variables": {"name": "Ada"}},
            {"name": "Grace", "variables": {"name": "Grace"}},
        ]
    )
    r = alice_client.post(
        preview_url(exercise),
        {"system": "Greet {name} warmly.", "user": "Say hello to {name}."},
        headers=HTMX,
    )
    html = r.content.decode()
    assert r.status_code == 200
    assert 'id="preview"' in html
    assert "Greet Ada warmly." in html
    assert "Say hello to Ada." in html
    assert "Grace" not in html
    assert "Zanzibar" not in html
    assert "<html" not in html


def test_it_uses_the_starter_text_for_fields_that_are_not_editable(alice_client):
    exercise = make_exercise(
        editable_fields=["user"], starter_system="You greet {name}.", starter_prefill="Dear"
    )
    r = alice_client.post(
        preview_url(exercise), {"user": "Hi {name}", "system": "Ignore that.", "prefill": "No"}
    )
    html = r.content.decode()
    assert "You greet Ada." in html
    assert "Hi Ada" in html
    assert "Dear" in html
    assert "Ignore that." not in html


def test_it_leaves_variables_as_written_when_there_is_no_visible_case(alice_client):
    hidden = {"name": "H", "variables": {"name": "Zed"}, "visibility": "hide"}
    exercise = make_exercise(cases=[hidden])
    r = alice_client.post(preview_url(exercise), {"user": "Hi {name}"})
    html = r.content.decode()
    assert r.status_code == 200
    assert "Hi {name}" in html
    assert "Zed" not in html


def test_it_escapes_the_prompt(alice_client, exercise):
    r = alice_client.post(preview_url(exercise), {"user": "<script>alert(1)</script>{name}"})
    html = r.content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;Ada" in html


def test_it_saves_nothing(alice_client, exercise):
    alice_client.post(preview_url(exercise), {"user": "Say hello to {name}."})
    assert Attempt.objects.count() == 0


def test_it_rejects_get(alice_client, exercise):
    assert alice_client.get(preview_url(exercise)).status_code == 405


def test_it_requires_login(client, exercise):
    r = client.post(preview_url(exercise), {"user": "Hi"})
    assert r.status_code == 302
    assert r["Location"] == f"/accounts/login/?next={preview_url(exercise)}"


def test_it_requires_a_csrf_token(learner, exercise):
    client = Client(enforce_csrf_checks=True)
    client.force_login(learner)
    assert client.post(preview_url(exercise), {"user": "Hi"}).status_code == 403


def test_it_returns_404_for_an_unknown_exercise(alice_client, exercise):
    r = alice_client.post(f"/exercises/{exercise.id + 1000}/preview/", {"user": "Hi"})
    assert r.status_code == 404


def test_it_shows_the_whole_conversation_with_the_learners_example_turns(alice_client):
    exercise = make_few_shot_exercise(editable_fields=["user"], starter_prefill="Commit:")
    r = alice_client.post(
        preview_url(exercise),
        {"user": "{change}", "example_0": "Added dark mode", "example_1": "feat: add dark mode"},
    )
    html = r.content.decode()
    turns = [
        ("system", "You write commit messages."),
        ("user", "Added dark mode"),
        ("assistant", "feat: add dark mode"),
        ("user", "Added CSV export"),
        ("assistant (prefill)", "Commit:"),
    ]
    expected = "\n\n".join(f'<span class="role">{role}</span>\n{text}' for role, text in turns)
    assert expected in html
    assert "I added dark mode." not in html
    assert "{change}" not in html


def test_it_warns_of_a_placeholder_the_exercise_does_not_declare(alice_client):
    exercise = make_exercise(variables=["notes", "audience"])
    r = alice_client.post(preview_url(exercise), {"user": "Summarise {notez} for {audience}."})
    html = r.content.decode()
    assert r.status_code == 200
    assert 'id="prompt-warnings"' in html and 'hx-swap-oob="innerHTML"' in html
    assert (
        "<strong>User prompt:</strong> {notez} is not a variable of this exercise; "
        "its variables are {notes}, {audience}."
    ) in html
    assert "Summarise {notez} for" in html  # the preview still shows what was typed
    assert Attempt.objects.count() == 0


def test_it_clears_the_warning_once_the_placeholders_are_declared(alice_client, exercise):
    r = alice_client.post(preview_url(exercise), {"user": 'Reply as {"greeting": 1} to {name}'})
    html = r.content.decode()
    assert 'id="prompt-warnings"' in html
    assert "is not a variable" not in html


def test_it_shows_what_the_runner_then_sends(alice_client, delay):
    exercise = make_few_shot_exercise(editable_fields=["user"], starter_prefill="Commit:")
    values = {
        "user": "Change: {change}",
        "example_0": "Fixed a typo",
        "example_1": "docs: fix typo",
    }
    html = alice_client.post(preview_url(exercise), values).content.decode()
    alice_client.post(f"/exercises/{exercise.id}/submit/", values)
    run_queued()
    sent = Attempt.objects.get().runs.get().messages
    shown = re.findall(r'<span class="role">([^<]+)</span>\n([^<]*)', html)
    roles = [role.removesuffix(" (prefill)") for role, _ in shown]
    assert list(zip(roles, [text.rstrip("\n") for _, text in shown], strict=True)) == [
        (m["role"], m["content"]) for m in sent if m["content"]
    ]


def test_it_shows_a_prompt_the_submit_refuses_as_too_long_not_the_starter(alice_client, settings):
    # A field that fails its own checks (too long, a NUL) used to drop out of the preview,
    # which then showed the starter text ("Talk to Ada.") the learner had replaced.
    exercise = make_exercise(editable_fields=["user"])
    typed = "Greet {name} " + "x" * settings.MAX_PROMPT_CHARS
    html = alice_client.post(preview_url(exercise), {"user": typed}).content.decode()
    assert "Greet Ada xxx" in html
    assert "Talk to Ada." not in html
