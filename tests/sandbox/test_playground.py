"""GET/POST /playground/: a free prompt (or two) on one or two allowed models, with variables,
through the same queue; and what the offline stub answers there."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client

from sandbox.models import Attempt, Run, UsageRecord
from tests.conftest import HTMX, run_queued

URL = "/playground/"


def run_form(*models: str, **fields) -> dict:
    data = {"system": "", "user": "Say hello.", "temperature": "0", "max_tokens": "64"}
    data.update(fields)
    data["models"] = list(models or ["stub:echo"])
    return data


@pytest.fixture(autouse=True)
def no_provider_keys(settings):
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = ""
    settings.ANTHROPIC_API_KEY = ""
    settings.ANTHROPIC_BASE_URL = ""
    settings.CASSETTE_MODE = "off"
    settings.SANDBOX_MODELS = "openai:gpt-4o-mini:0.15:0.60"


def test_it_shows_the_form_with_the_allowed_models(alice_client):
    r = alice_client.get(URL)
    assert r.status_code == 200
    page = r.content.decode()
    assert 'value="stub:echo"' in page
    assert 'value="stub:scripted"' in page
    assert "Offline stub · echo" in page
    assert 'name="user"' in page


def test_it_lists_a_model_without_a_key_as_unavailable_and_offers_no_checkbox(alice_client):
    page = alice_client.get(URL).content.decode()
    assert 'value="openai:gpt-4o-mini"' not in page
    assert "Not available on this server" in page
    assert "no OPENAI_API_KEY" in page


def test_it_offers_a_model_once_its_key_is_configured(alice_client, settings):
    settings.OPENAI_API_KEY = "sk-test-abc123"
    page = alice_client.get(URL).content.decode()
    assert 'value="openai:gpt-4o-mini"' in page
    assert "sk-test" not in page


def test_it_queues_one_attempt_after_commit(
    alice_client, learner, delay, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        r = alice_client.post(URL, run_form("stub:echo", system="Be brief.", temperature="0.5"))
        delay.assert_not_called()
    attempt = Attempt.objects.get()
    assert r.status_code == 302
    assert r["Location"] == f"/attempts/{attempt.id}/"
    assert attempt.learner == learner
    assert attempt.exercise is None
    assert attempt.playground_models == [
        {"model": "stub:echo", "label": "", "system": "Be brief.", "user": "Say hello."}
    ]
    assert attempt.system_prompt == "Be brief."
    assert attempt.user_prompt == "Say hello."
    assert attempt.temperature == 0.5
    assert attempt.max_tokens == 64
    assert attempt.status == Attempt.QUEUED

    assert len(callbacks) == 1
    callbacks[0]()
    delay.assert_called_once_with(str(attempt.id))


def test_it_queues_one_attempt_for_two_models(
    alice_client, delay, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        r = alice_client.post(URL, run_form("stub:echo", "stub:scripted"))
    assert r.status_code == 302
    attempt = Attempt.objects.get()
    assert [c["model"] for c in attempt.playground_models] == ["stub:echo", "stub:scripted"]
    delay.assert_called_once_with(str(attempt.id))


def test_it_fills_the_variables_into_both_prompts(
    alice_client, delay, django_capture_on_commit_callbacks
):
    form = run_form(
        "stub:echo",
        system="You write for {audience}.",
        user="Summarise: {email} ({missing})",
        user_b="Reply to {email}",
        variables="audience = support staff\nemail=Hi,\nmy order is late.\n\n",
    )
    with django_capture_on_commit_callbacks(execute=True):
        r = alice_client.post(URL, form)
    assert r.status_code == 302
    attempt = Attempt.objects.get()
    # The exercises' rule: declared names are filled in, other braces stay as written.
    assert attempt.playground_models == [
        {
            "model": "stub:echo",
            "label": "Prompt A",
            "system": "You write for support staff.",
            "user": "Summarise: Hi,\nmy order is late. ({missing})",
        },
        {
            "model": "stub:echo",
            "label": "Prompt B",
            "system": "",
            "user": "Reply to Hi,\nmy order is late.",
        },
    ]
    assert attempt.user_prompt == "Summarise: Hi,\nmy order is late. ({missing})"


def test_it_refuses_a_variable_line_without_a_name(alice_client, delay):
    r = alice_client.post(URL, run_form(variables="just some text\nname=Ada"))
    assert r.status_code == 422
    assert "Line 1 needs the form name=value" in r.content.decode()
    assert Attempt.objects.count() == 0


def test_it_refuses_two_prompts_on_two_models(alice_client, delay):
    r = alice_client.post(URL, run_form("stub:echo", "stub:scripted", user_b="Say hi."))
    assert r.status_code == 422
    assert "Compare two prompts on one model, or one prompt on two models" in r.content.decode()
    assert Attempt.objects.count() == 0


def test_it_refuses_a_system_prompt_b_without_its_user_prompt(alice_client, delay):
    r = alice_client.post(URL, run_form(system_b="Be brief."))
    assert r.status_code == 422
    assert "Write prompt B&#x27;s user prompt" in r.content.decode()
    assert Attempt.objects.count() == 0


def test_the_page_says_what_the_offline_models_answer(alice_client):
    page = alice_client.get(URL).content.decode()
    assert "Prompt A" in page and "Prompt B" in page
    assert 'name="variables"' in page
    assert "<strong>scripted</strong> has no rules here, so it tells you what it read" in page


def test_it_refuses_three_models_with_a_form_error(alice_client, settings, delay):
    settings.OPENAI_API_KEY = "sk-test-abc123"
    r = alice_client.post(URL, run_form("stub:echo", "stub:scripted", "openai:gpt-4o-mini"))
    assert r.status_code == 422
    assert "Pick at most two models to compare." in r.content.decode()
    assert Attempt.objects.count() == 0
    delay.assert_not_called()


def test_a_model_posted_twice_runs_once(alice_client, delay):
    # A body naming it twice (no browser sends one) ran and billed it twice, as two columns.
    r = alice_client.post(URL, run_form("stub:echo", "stub:echo", "stub:scripted"))
    assert r.status_code == 302
    models = [column["model"] for column in Attempt.objects.get().playground_models]
    assert models == ["stub:echo", "stub:scripted"]


def test_it_refuses_no_model(alice_client, delay):
    data = run_form()
    del data["models"]
    r = alice_client.post(URL, data)
    assert r.status_code == 422
    assert "Pick one or two models." in r.content.decode()
    assert Attempt.objects.count() == 0


def test_it_refuses_a_model_that_is_not_available(alice_client, delay):
    r = alice_client.post(URL, run_form("openai:gpt-4o-mini"))
    assert r.status_code == 422
    assert Attempt.objects.count() == 0
    delay.assert_not_called()


def test_it_refuses_a_model_outside_the_allowlist(alice_client, settings, delay):
    settings.OPENAI_API_KEY = "sk-test-abc123"
    r = alice_client.post(URL, run_form("openai:gpt-4-32k"))
    assert r.status_code == 422
    assert Attempt.objects.count() == 0


@pytest.mark.parametrize("prompt", ["", "   \n\t "])
def test_it_refuses_an_empty_user_prompt(alice_client, delay, prompt):
    r = alice_client.post(URL, run_form(user=prompt))
    assert r.status_code == 422
    assert "Write a user prompt to run." in r.content.decode()
    assert Attempt.objects.count() == 0
    delay.assert_not_called()


def test_it_refuses_more_tokens_than_the_ceiling(alice_client, settings, delay):
    settings.MAX_TOKENS_CEILING = 100
    r = alice_client.post(URL, run_form(max_tokens="101"))
    assert r.status_code == 422
    assert Attempt.objects.count() == 0


def test_it_refuses_a_prompt_over_the_limit(alice_client, settings, delay):
    settings.MAX_PROMPT_CHARS = 50
    r = alice_client.post(URL, run_form(user="x" * 51))
    assert r.status_code == 422
    assert Attempt.objects.count() == 0


def test_it_refuses_a_prompt_its_variables_fill_past_the_limit(alice_client, delay):
    # Each field is under MAX_PROMPT_CHARS as typed; filled in, this one was 21 million
    # characters, sent to the model and shown on the attempt's page.
    form = run_form(system="{a}" * 2666, user="{a}" * 2666, variables="a=" + "y" * 7990)
    r = alice_client.post(URL, form)
    assert r.status_code == 422
    assert Attempt.objects.count() == 0
    assert "With its variables filled in, this prompt is 42,602,680 characters; the most" in (
        r.content.decode()
    )


def test_a_prompt_filled_in_to_the_limit_runs(alice_client, settings, delay):
    settings.MAX_RENDERED_PROMPT_CHARS = 30
    r = alice_client.post(URL, run_form(user="Say {a} {a}.", variables="a=" + "y" * 12))
    assert r.status_code == 302
    assert Attempt.objects.get().user_prompt == f"Say {'y' * 12} {'y' * 12}."


def test_it_answers_429_with_the_reason_when_rate_limited(
    alice_client, learner, settings, delay, django_capture_on_commit_callbacks
):
    settings.SUBMISSIONS_PER_MINUTE = 2
    Attempt.objects.create(learner=learner)
    Attempt.objects.create(learner=learner)
    with django_capture_on_commit_callbacks(execute=True):
        r = alice_client.post(URL, run_form())
    assert r.status_code == 429
    page = r.content.decode()
    assert "You have submitted 2 times in the last minute" in page
    assert "Nothing was sent to the model" in page
    assert Attempt.objects.count() == 2
    delay.assert_not_called()


def test_it_answers_htmx_with_the_status_partial(
    alice_client, delay, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        r = alice_client.post(URL, run_form(), headers=HTMX)
    assert r.status_code == 200
    assert 'id="attempt-status"' in r.content.decode()
    assert "<html" not in r.content.decode()
    assert "attempt-changed" in json.loads(r["HX-Trigger"])
    assert delay.call_count == 1


def test_a_run_after_a_refused_one_clears_its_errors_from_the_form(alice_client, delay):
    """The error of a refused run (an empty prompt) stayed on the field under every run that
    followed: a successful run sends the form again, out of band, as it was posted."""
    r = alice_client.post(URL, run_form(user="Say hi to {who}.", variables="who=Ada"), headers=HTMX)
    assert r.status_code == 200
    page = r.content.decode()
    form = page[page.index('<form id="playground-form"') :]
    assert 'hx-swap-oob="true"' in form[: form.index(">")]
    assert ">Say hi to {who}.</textarea>" in form and ">who=Ada</textarea>" in form
    assert "field-error" not in form and 'id="attempt-status"' in page


def test_it_answers_htmx_with_the_form_partial_when_invalid(alice_client, delay):
    r = alice_client.post(URL, run_form(user=""), headers=HTMX)
    assert r.status_code == 422
    assert r["HX-Retarget"] == "#playground-form"
    assert r["HX-Reswap"] == "outerHTML"
    assert "Write a user prompt to run." in r.content.decode()


def test_it_answers_htmx_with_the_refusal_when_rate_limited(alice_client, learner, settings, delay):
    settings.SUBMISSIONS_PER_MINUTE = 1
    Attempt.objects.create(learner=learner)
    r = alice_client.post(URL, run_form(), headers=HTMX)
    assert r.status_code == 429
    assert "<html" not in r.content.decode()
    assert "You have submitted 1 times in the last minute" in r.content.decode()


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_sends_anonymous_visitors_to_the_login_page(db, client, delay, method):
    r = getattr(client, method)(URL, run_form() if method == "post" else None)
    assert r.status_code == 302
    assert r["Location"] == f"/accounts/login/?next={URL}"
    assert Attempt.objects.count() == 0


def test_it_requires_a_csrf_token(learner, delay, django_capture_on_commit_callbacks):
    client = Client(enforce_csrf_checks=True)
    client.force_login(learner)
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(URL, run_form())
    assert r.status_code == 403
    assert Attempt.objects.count() == 0
    delay.assert_not_called()


def test_it_accepts_the_csrf_token_from_the_form(
    learner, delay, django_capture_on_commit_callbacks
):
    client = Client(enforce_csrf_checks=True)
    client.force_login(learner)
    client.get(URL)
    token = client.cookies["csrftoken"].value
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(URL, {**run_form(), "csrfmiddlewaretoken": token})
    assert r.status_code == 302
    assert Attempt.objects.count() == 1


def test_it_lists_only_the_learners_own_earlier_runs(alice_client, learner, other_learner):
    mine = Attempt.objects.create(learner=learner, playground_models=["stub:echo"])
    theirs = Attempt.objects.create(learner=other_learner, playground_models=["stub:echo"])
    page = alice_client.get(URL).content.decode()
    assert f"/attempts/{mine.id}/" in page
    assert f"/attempts/{theirs.id}/" not in page


# Running a playground attempt


def playground_attempt(learner, *models: str, **fields) -> Attempt:
    fields.setdefault("user_prompt", f"Say hello. ({uuid.uuid4()})")
    fields.setdefault("temperature", 0)
    fields.setdefault("max_tokens", 64)
    return Attempt.objects.create(learner=learner, playground_models=list(models), **fields)


def test_a_playground_attempt_runs_once_per_model_and_has_no_score(learner):
    attempt = playground_attempt(learner, "stub:echo", "stub:scripted")
    run_queued()
    attempt.refresh_from_db()
    assert attempt.status == Attempt.GRADED, attempt.error
    assert attempt.score is None
    assert attempt.passed is None
    rows = list(attempt.runs.order_by("position"))
    assert [r.model_label for r in rows] == ["Offline stub · echo", "Offline stub · scripted"]
    assert [r.case for r in rows] == [None, None]
    assert rows[0].output == f"[user]\n{attempt.user_prompt}"
    assert rows[1].output.startswith("Offline stub model: it has no rules for this prompt")
    assert rows[1].output_tokens > 0
    assert [r.score for r in rows] == [None, None]
    assert UsageRecord.objects.filter(attempt=attempt, cache_hit=False).count() == 2


def test_a_playground_attempt_sends_its_system_prompt_and_parameters(learner):
    attempt = playground_attempt(
        learner, "stub:echo", system_prompt="Be brief.", max_tokens=4, temperature=0.7
    )
    run_queued()
    run = Run.objects.get(attempt=attempt)
    # The echo stub repeats the prompt, cut at max_tokens words.
    assert run.output == "[system]\nBe brief.\n\n[user]"
    assert run.messages[0] == {"role": "system", "content": "Be brief."}


def test_the_playground_result_page_shows_each_models_output(alice_client, learner):
    attempt = playground_attempt(learner, "stub:echo", "stub:scripted")
    run_queued()
    page = alice_client.get(f"/attempts/{attempt.id}/").content.decode()
    assert "Playground run" in page
    assert "Offline stub · echo" in page
    assert "Offline stub · scripted" in page
    assert "Say hello." in page


def test_a_playground_attempt_runs_prompt_a_and_prompt_b_on_one_model(alice_client, learner):
    columns = [
        {"model": "stub:scripted", "label": "Prompt A", "system": "", "user": "Say hello."},
        {
            "model": "stub:scripted",
            "label": "Prompt B",
            "system": "You are a pirate.",
            "user": "Say hello in one sentence. <name>\nAda\n</name>",
        },
    ]
    attempt = playground_attempt(learner, user_prompt="Say hello.")
    attempt.playground_models = columns
    attempt.save()
    run_queued()
    a, b = attempt.runs.order_by("position")
    assert (a.model_label, b.model_label) == (
        "Prompt A · Offline stub · scripted",
        "Prompt B · Offline stub · scripted",
    )
    assert "Role: none" in a.output and "Role: “You are a pirate.”" in b.output
    assert "Answer shape asked for: none" in a.output and "one sentence" in b.output
    assert "set apart: no" in a.output and "inside <name>…</name>" in b.output
    assert b.messages[0] == {"role": "system", "content": "You are a pirate."}
    page = alice_client.get(f"/attempts/{attempt.id}/").content.decode()
    assert "Prompt B · Offline stub · scripted" in page
    assert "Prompt sent" in page
    assert "Prompt A; each run shows the prompt it was sent." in page
    assert "You are a pirate." in page


def test_a_playground_attempt_on_a_model_without_a_key_fails_with_a_reason(learner):
    attempt = playground_attempt(learner, "stub:echo", "openai:gpt-4o-mini")
    run_queued()
    attempt.refresh_from_db()
    assert attempt.status == Attempt.ERROR
    assert attempt.error_code == "config"
    assert "no OPENAI_API_KEY" in attempt.error
    assert UsageRecord.objects.count() == 0


def test_line_ends_reach_the_model_as_the_learner_typed_them(alice_client, delay):
    # A browser posts a textarea's line ends as CRLF; the prompt fields keep them as "\n".
    r = alice_client.post(URL, run_form(user="Say\r\nhello to {who}.", variables="who=Ada\r\n"))
    assert r.status_code == 302
    assert Attempt.objects.get().user_prompt == "Say\nhello to Ada."
