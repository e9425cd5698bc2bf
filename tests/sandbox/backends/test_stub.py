"""The offline stub backend and its scripts. No database, no Django settings."""

from __future__ import annotations

import time

import pytest

from sandbox.backends import BACKENDS, BackendError, CompletionRequest, backend_class
from sandbox.backends.stub import StubBackend, StubRuleError, parse_script


def request(user: str, model: str = "scripted", system: str = "", **fields) -> CompletionRequest:
    return CompletionRequest(
        model=model, system=system, messages=({"role": "user", "content": user},), **fields
    )


def reply(script: dict, user: str, **fields) -> str:
    return StubBackend(script=parse_script(script)).complete(request(user, **fields)).text


def test_it_is_registered_as_the_stub_backend():
    assert "stub" in BACKENDS
    assert backend_class("stub") is StubBackend


def test_echo_returns_the_prompt():
    completion = StubBackend().complete(request("Hi there", model="echo", system="Be brief."))
    assert completion.text == "[system]\nBe brief.\n\n[user]\nHi there"
    assert completion.model == "echo"


def test_it_counts_a_word_as_a_token():
    completion = StubBackend().complete(request("one two three", model="echo"))
    assert completion.input_tokens == 4  # "[user]" and three words
    assert completion.output_tokens == 4


def test_the_first_matching_rule_wins():
    script = {
        "rules": [{"if": "hello", "reply": "first"}, {"if": "hello", "reply": "second"}],
        "default": "none",
    }
    assert reply(script, "hello") == "first"


def test_every_pattern_of_an_if_list_must_match():
    script = {"rules": [{"if": ["alpha", "beta"], "reply": "both"}], "default": "none"}
    assert reply(script, "alpha only") == "none"
    assert reply(script, "beta only") == "none"
    assert reply(script, "beta and alpha") == "both"


def test_an_unless_pattern_vetoes_a_rule():
    script = {
        "rules": [
            {"if": "alpha", "unless": ["beta", "gamma"], "reply": "alpha alone"},
            {"if": "alpha", "reply": "alpha with company"},
        ],
    }
    assert reply(script, "alpha") == "alpha alone"
    assert reply(script, "alpha gamma") == "alpha with company"


def test_it_replies_with_the_default_when_no_rule_matches():
    assert reply({"rules": [{"if": "x{3}", "reply": "xs"}], "default": "dunno"}, "xx") == "dunno"


def test_with_no_rules_it_says_what_it_read_in_the_prompt():
    completion = StubBackend().complete(
        request("Summarise {email} in one line.", system="Be kind.")
    )
    lines = completion.text.splitlines()
    assert lines[0].startswith("Offline stub model: it has no rules for this prompt")
    assert "- Task: “Summarise {email} in one line.”" in lines
    assert "- Role: “Be kind.”" in lines
    assert "- Answer shape asked for: one line." in lines
    assert "- Left as written (no variable of that name): {email}." in lines
    assert completion.output_tokens == len(completion.text.split())


def test_rules_that_do_not_match_with_no_default_reply_with_nothing():
    assert reply({"rules": [{"if": "x{3}", "reply": "xs"}]}, "anything") == ""


@pytest.mark.parametrize("model", ["judge", "obedient"])
def test_a_judge_says_why_it_has_nothing_to_say_to_a_free_prompt(model):
    text = StubBackend().complete(request("Say hello.", model=model)).text
    assert text.startswith("Offline stub judge: it only answers the grading calls")


def test_patterns_ignore_case():
    script = {"rules": [{"if": "Say HELLO", "reply": "Hello!"}]}
    assert reply(script, "please say hello") == "Hello!"


def test_patterns_match_the_system_prompt_too():
    script = {"rules": [{"if": "pirate", "reply": "Arr"}]}
    assert reply(script, "hi", system="You are a pirate.") == "Arr"


@pytest.mark.parametrize(
    "script, field",
    [
        pytest.param(
            {"rules": [{"if": "(?=x)", "reply": "r"}]}, "stub.rules[0].if[0]", id="lookahead"
        ),
        pytest.param(
            {"rules": [{"if": r"(\w)\1", "reply": "r"}]}, "stub.rules[0].if[0]", id="backref"
        ),
        pytest.param(
            {"rules": [{"if": ["ok", "(unclosed"], "reply": "r"}]},
            "stub.rules[0].if[1]",
            id="syntax",
        ),
        pytest.param(
            {"rules": [{"if": "ok", "unless": "(?!x)", "reply": "r"}]},
            "stub.rules[0].unless[0]",
            id="bad-unless",
        ),
        pytest.param({"rules": [{"if": "", "reply": "r"}]}, "stub.rules[0].if[0]", id="empty"),
        pytest.param({"rules": [{"if": "ok"}]}, "stub.rules[0]", id="missing-reply"),
        pytest.param({"rules": [{"reply": "r"}]}, "stub.rules[0]", id="missing-if"),
        pytest.param(
            {"rules": [{"if": "ok", "reply": 3}]}, "stub.rules[0].reply", id="reply-not-text"
        ),
        pytest.param(
            {"rules": [{"if": "ok", "reply": "r", "colour": "red"}]},
            "stub.rules[0].colour",
            id="unknown-rule-field",
        ),
        pytest.param({"default": "d", "replies": []}, "stub.replies", id="unknown-field"),
        pytest.param({"default": 1}, "stub.default", id="default-not-text"),
        pytest.param({"rules": "if hello"}, "stub.rules", id="rules-not-a-list"),
        pytest.param(["not", "a", "mapping"], "stub", id="not-a-mapping"),
    ],
)
def test_it_rejects_an_invalid_script_naming_the_field(script, field):
    with pytest.raises(StubRuleError) as e:
        parse_script(script)
    assert e.value.field == field
    assert str(e.value).startswith(f"{field}: ")


def test_it_names_the_unsupported_pattern():
    with pytest.raises(StubRuleError) as e:
        parse_script({"rules": [{"if": "(?=x)", "reply": "r"}]})
    assert "'(?=x)'" in e.value.message
    assert "RE2" in e.value.message


def test_max_tokens_cuts_the_reply_and_keeps_its_newlines():
    script = {"default": "one two\nthree four\nfive six"}
    assert reply(script, "hi", max_tokens=3) == "one two\nthree"
    assert reply(script, "hi", max_tokens=100) == "one two\nthree four\nfive six"


def test_max_tokens_cuts_echo_too():
    completion = StubBackend().complete(request("a b c d e", model="echo", max_tokens=3))
    assert completion.text == "[user]\na b"
    assert completion.output_tokens == 3


def test_it_waits_for_the_configured_latency():
    backend = StubBackend(latency_ms=60)
    started = time.monotonic()
    completion = backend.complete(request("hi", model="echo"))
    assert time.monotonic() - started >= 0.06
    assert completion.latency_ms >= 60


def test_it_answers_at_once_without_latency():
    started = time.monotonic()
    StubBackend().complete(request("hi", model="echo"))
    assert time.monotonic() - started < 0.05


def test_a_failure_rate_of_one_raises_a_transient_error():
    with pytest.raises(BackendError) as e:
        StubBackend(failure_rate=1).complete(request("hi"))
    assert e.value.permanent is False
    assert e.value.message == "The stub model simulated a temporary failure."


def test_a_failure_rate_of_zero_never_fails():
    backend = StubBackend(failure_rate=0)
    for _ in range(50):
        backend.complete(request("hi"))


def test_an_unknown_model_raises_a_permanent_error():
    with pytest.raises(BackendError) as e:
        StubBackend().complete(request("hi", model="nope"))
    assert e.value.permanent is True
    assert "'nope'" in e.value.message
    assert "echo" in e.value.message and "scripted" in e.value.message
