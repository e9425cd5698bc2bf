"""AnthropicBackend driven through the real anthropic SDK, over HTTP, against tests.fakeprovider."""

from __future__ import annotations

import dataclasses

import pytest

from sandbox.backends import BackendError, CompletionRequest, backend_class
from sandbox.backends.anthropic import AnthropicBackend
from tests import fakeprovider
from tests.fakeprovider import ANTHROPIC_PATH, FAKE_KEY, FakeProvider, raw, status, success

REQUEST = dataclasses.replace(fakeprovider.REQUEST, model="claude-test")


def backend(fake: FakeProvider, key: str = FAKE_KEY, timeout: float = 5.0) -> AnthropicBackend:
    return AnthropicBackend(key, base_url=fake.anthropic_url, timeout=timeout)


def failure(fake: FakeProvider, request: CompletionRequest = REQUEST, **kwargs) -> BackendError:
    with pytest.raises(BackendError) as info:
        backend(fake, **kwargs).complete(request)
    return info.value


def test_it_is_registered_as_anthropic():
    assert backend_class("anthropic") is AnthropicBackend


def test_it_returns_the_reply_with_usage_and_request_id(fake_provider):
    fake_provider.queue(
        success(
            "Hello!",
            input_tokens=30,
            output_tokens=9,
            cached_tokens=16,
            reasoning_tokens=4,
            request_id="req_011abc",
        )
    )
    completion = backend(fake_provider).complete(REQUEST)
    assert completion.text == "Hello!"
    assert (completion.input_tokens, completion.output_tokens) == (30, 9)
    assert completion.cached_tokens == 16  # from cache_read_input_tokens
    assert completion.reasoning_tokens == 4  # from output_tokens_details.thinking_tokens
    assert completion.model == "claude-test"
    assert completion.request_id == "req_011abc"
    assert completion.extra == {"stop_reason": "end_turn", "cache_creation_input_tokens": 0}


def test_it_counts_cache_reads_and_writes_among_the_input_tokens(fake_provider):
    # Anthropic reports input_tokens without the tokens read from or written to its prompt
    # cache; the ledger counts every prompt token, as OpenAI's prompt_tokens does.
    fake_provider.queue(success(input_tokens=50, cached_tokens=16, cache_creation_tokens=8))
    completion = backend(fake_provider).complete(REQUEST)
    assert (completion.input_tokens, completion.cached_tokens) == (50, 16)
    assert completion.extra["cache_creation_input_tokens"] == 8


def test_it_sends_the_system_prompt_as_system_not_as_a_message(fake_provider):
    backend(fake_provider).complete(REQUEST)
    [call] = fake_provider.calls(ANTHROPIC_PATH)
    assert call.body["system"] == "You are terse."
    assert call.body["messages"] == [{"role": "user", "content": "Say hello."}]


def test_it_leaves_system_out_when_there_is_no_system_prompt(fake_provider):
    backend(fake_provider).complete(CompletionRequest(model="m", messages=REQUEST.messages))
    [call] = fake_provider.calls()
    assert "system" not in call.body


def test_it_sends_a_prefill_as_the_final_assistant_turn_and_returns_the_continuation(
    fake_provider,
):
    fake_provider.queue(success(" world!"))
    request = CompletionRequest(
        model="m",
        messages=({"role": "user", "content": "Greet."}, {"role": "assistant", "content": "Hello"}),
    )
    completion = backend(fake_provider).complete(request)
    assert completion.text == " world!"
    [call] = fake_provider.calls()
    assert call.body["messages"][-1] == {"role": "assistant", "content": "Hello"}


def test_it_strips_trailing_whitespace_from_a_prefill_which_the_api_rejects(fake_provider):
    request = CompletionRequest(
        model="m",
        messages=({"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Answer: "}),
    )
    backend(fake_provider).complete(request)
    [call] = fake_provider.calls()
    assert call.body["messages"][-1] == {"role": "assistant", "content": "Answer:"}


def test_it_drops_a_blank_prefill(fake_provider):
    request = CompletionRequest(
        model="m",
        messages=({"role": "user", "content": "Hi"}, {"role": "assistant", "content": "  \n"}),
    )
    backend(fake_provider).complete(request)
    [call] = fake_provider.calls()
    assert call.body["messages"] == [{"role": "user", "content": "Hi"}]


def test_it_sends_max_tokens_and_stop_sequences_but_not_temperature(fake_provider):
    request = CompletionRequest(
        model="m", messages=REQUEST.messages, max_tokens=17, temperature=0.7, stop=("END", "##")
    )
    backend(fake_provider).complete(request)
    [call] = fake_provider.calls()
    assert call.body["model"] == "m"
    assert call.body["max_tokens"] == 17
    assert call.body["stop_sequences"] == ["END", "##"]
    # The API version SDK 2.x speaks answers 400 to any sampling parameter.
    assert "temperature" not in call.body


def test_it_leaves_stop_sequences_out_when_there_are_none(fake_provider):
    backend(fake_provider).complete(REQUEST)
    [call] = fake_provider.calls()
    assert "stop_sequences" not in call.body


def test_it_refuses_to_call_anthropic_without_a_key(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-the-environment")
    with pytest.raises(BackendError) as info:
        AnthropicBackend("").complete(REQUEST)
    assert (info.value.code, info.value.permanent) == ("config", True)


def test_it_does_not_retry_even_when_the_provider_asks_it_to(fake_provider):
    fake_provider.queue(status(529, headers={"x-should-retry": "true"}), success())
    assert failure(fake_provider).code == "overloaded"
    assert len(fake_provider.received) == 1


def test_it_passes_on_retry_after(fake_provider):
    fake_provider.queue(status(429, headers={"retry-after": "3"}))
    error = failure(fake_provider)
    assert error.retry_after == 3.0
    assert error.message == "The provider is rate-limiting requests; try again in 3 seconds."


def test_it_quotes_the_providers_reason_for_a_rejected_prefill(fake_provider):
    fake_provider.queue(
        status(400, message="Prefilling assistant messages is not supported for this model.")
    )
    error = failure(fake_provider)
    assert error.message == (
        "The provider rejected the request (HTTP 400): "
        "Prefilling assistant messages is not supported for this model."
    )


@pytest.mark.parametrize(
    "answer",
    [
        raw(b'{"id": "msg_1", "type": "message", "cont'),
        raw(b'{"id": "msg_1", "type": "message"}'),
        raw(b'{"id": "msg_1", "content": "not blocks", "usage": {}}'),
        raw(b"<html>Welcome to nginx</html>", content_type="text/html"),
    ],
    ids=["truncated", "missing-fields", "wrong-types", "html"],
)
def test_it_reports_an_unreadable_reply_as_bad_response(fake_provider, answer):
    fake_provider.queue(answer)
    error = failure(fake_provider)
    assert (error.code, error.permanent) == ("bad_response", False)
    assert len(fake_provider.received) == 1


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422, 429, 529])
def test_it_never_shows_key_material_even_when_the_provider_echoes_it(fake_provider, code):
    key = "sk-ant-api03-" + "x" * 40
    fake_provider.queue(status(code, message=f"invalid x-api-key: {key}"))
    error = failure(fake_provider, key=key)
    for shown in (error.message, str(error), repr(error)):
        assert "sk-" not in shown
        assert key not in shown
    assert error.__cause__ is None and error.__suppress_context__
