"""The exercise editor refuses a prompt part naming an undeclared {placeholder}, at its field,
naming the declared variables; it saves, under a warning banner (on the editor and the
publish page), settings that will not reach the provider as written."""

from __future__ import annotations

import pytest
from django.utils.html import escape

from lessons.models import Exercise
from tests.conftest import make_exercise
from tests.lessons.teach.test_edit_exercise import form_data, url

DECLARED = "its variables are {name}, {tone}."
BANNER = "data-setting-warnings"


@pytest.fixture
def exercise(instructor):
    return make_exercise(status=Exercise.DRAFT)


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("starter_user", "Talk to {nmae}.", "{nmae} is not a variable"),
        ("starter_system", "You are {persona}.", "{persona} is not a variable"),
        ("starter_prefill", "{Name}:", "{Name} is not a variable"),
        ("solution_user", "Say hello to {naem}.", "{naem} is not a variable"),
        (
            "examples",
            "- {role: user, text: 'Greet {who}'}\n",
            "prompt.examples[0].text: {who} is not a variable",
        ),
        ("slots", "- {name: task, text: 'Greet {who}'}\n", "prompt.slots[0].text: {who}"),
        (
            "stub",
            "rules:\n  - if: ['say hello', '\\{nam\\}|{nam}']\n    reply: Hi\n",
            "stub.rules[0].if[1]: {nam} is not a variable",
        ),
    ],
)
def test_an_undeclared_placeholder_is_refused_at_its_field(
    ines_client, exercise, field, value, says
):
    r = ines_client.post(url(exercise), form_data(**{field: value}))
    assert r.status_code == 422
    errors = r.context["form"].errors[field]
    assert any(says in e and e.endswith(DECLARED) for e in errors), errors
    exercise.refresh_from_db()
    assert exercise.title == "Greet someone"  # nothing saved


def test_doubled_braces_are_text_and_save(ines_client, exercise):
    r = ines_client.post(url(exercise), form_data(starter_user="Talk to {name}, not {{nmae}}."))
    assert r.status_code == 302
    exercise.refresh_from_db()
    assert exercise.render({}, exercise.cases.first()).user == "Talk to Ada, not {nmae}."


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        (
            {"max_tokens": "2000"},
            "max_tokens 2000 is cut to 1024: this site's MAX_TOKENS_CEILING is 1024. "
            "Ask your operator to raise it, or lower max_tokens.",
        ),
        (
            {"model": "anthropic:claude-3-5-haiku-latest"},
            "temperature is not sent to Anthropic",
        ),
    ],
)
def test_a_setting_that_will_not_reach_the_provider_saves_under_a_warning(
    ines_client, exercise, settings, changes, says
):
    settings.MAX_TOKENS_CEILING = 1024
    r = ines_client.post(url(exercise), form_data(**changes), follow=True)
    assert "Exercise saved." in r.content.decode()
    html = r.content.decode()
    assert BANNER in html and escape(says) in html
    publish_page = ines_client.post(f"{url(exercise)}publish/", follow=True).content.decode()
    assert BANNER in publish_page and escape(says) in publish_page


def test_a_model_off_the_allowlist_stays_selected_and_is_warned_of(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT, backend="openai", model_name="gpt-9")
    html = ines_client.get(url(exercise)).content.decode()
    assert "openai:gpt-9 is not on this site&#x27;s list of allowed models (SANDBOX_MODELS)" in html
    assert '<option value="openai:gpt-9" selected>' in html
    r = ines_client.post(url(exercise), form_data(model="openai:gpt-9"))
    assert r.status_code == 302


def test_an_exercise_as_written_shows_no_banner(ines_client, exercise):
    assert BANNER not in ines_client.get(url(exercise)).content.decode()
