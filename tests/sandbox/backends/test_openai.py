"""OpenAIBackend driven through the real openai SDK, over HTTP, against tests.fakeprovider."""

from __future__ import annotations

import dataclasses
import socket
import time
from email.utils import formatdate

import pytest

from sandbox.backends import BackendError, CompletionRequest, backend_class
from sandbox.backends.openai import OpenAIBackend
from sandbox.backends.sdk import LOCAL_SERVER_KEY
from tests import fakeprovider
from tests.fakeprovider import FAKE_KEY, OPENAI_PATH, FakeProvider, raw, status, success

REQUEST = dataclasses.replace(fakeprovider.REQUEST, model="gpt-test")


def backend(fake: FakeProvider, key: str = FAKE_KEY, timeout: float = 5.0) -> OpenAIBackend:
    return OpenAIBackend(key, base_url=fake.openai_url, timeout=timeout)


def failure(fake: FakeProvider, request: CompletionRequest = REQUEST, **kwargs) -> BackendError:
    with pytest.raises(BackendError) as info:
        backend(fake, **kwargs).complete(request)
    return info.value


def test_it_is_registered_as_openai():
    assert backend_class("openai") is OpenAIBackend


def test_it_returns_the_reply_with_usage_and_request_id(fake_provider):
    fake_provider.queue(
        success(
            "Hello!",
            input_tokens=30,
            output_tokens=9,
            cached_tokens=16,
            reasoning_tokens=4,
            request_id="req_abc123",
        )
    )
    completion = backend(fake_provider).complete(REQUEST)
    assert completion.text == "Hello!"
    assert (completion.input_tokens, completion.output_tokens) == (30, 9)
    assert (completion.cached_tokens, completion.reasoning_tokens) == (16, 4)
    assert completion.model == "gpt-test"
    assert completion.request_id == "req_abc123"
    assert completion.latency_ms >= 0
    assert completion.extra["finish_reason"] == "stop"


def test_it_sends_the_system_prompt_as_the_first_message(fake_provider):
    backend(fake_provider).complete(REQUEST)
    [call] = fake_provider.calls(OPENAI_PATH)
    assert call.body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Say hello."},
    ]


def test_it_sends_no_system_message_when_there_is_no_system_prompt(fake_provider):
    backend(fake_provider).complete(CompletionRequest(model="m", messages=REQUEST.messages))
    [call] = fake_provider.calls()
    assert [m["role"] for m in call.body["messages"]] == ["user"]


def test_it_sends_a_prefill_as_the_final_assistant_message_and_returns_the_continuation(
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


def test_it_sends_max_tokens_temperature_and_stop(fake_provider):
    request = CompletionRequest(
        model="m", messages=REQUEST.messages, max_tokens=17, temperature=0.7, stop=("END", "##")
    )
    backend(fake_provider).complete(request)
    [call] = fake_provider.calls()
    assert call.body["model"] == "m"
    assert call.body["max_tokens"] == 17
    assert call.body["temperature"] == 0.7
    assert call.body["stop"] == ["END", "##"]


def test_it_leaves_stop_out_when_there_are_no_stop_sequences(fake_provider):
    backend(fake_provider).complete(REQUEST)
    [call] = fake_provider.calls()
    assert "stop" not in call.body


def test_it_sends_the_key_as_a_bearer_token(fake_provider):
    backend(fake_provider).complete(REQUEST)
    [call] = fake_provider.calls()
    assert call.headers["authorization"] == f"Bearer {FAKE_KEY}"


def test_it_talks_to_a_local_server_without_a_key(fake_provider):
    completion = backend(fake_provider, key="").complete(REQUEST)
    assert completion.text == "Hello there!"
    [call] = fake_provider.calls()
    assert call.headers["authorization"] == f"Bearer {LOCAL_SERVER_KEY}"


def test_it_refuses_to_call_openai_without_a_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    with pytest.raises(BackendError) as info:
        OpenAIBackend("").complete(REQUEST)
    assert (info.value.code, info.value.permanent) == ("config", True)


def test_it_passes_on_retry_after_in_seconds(fake_provider):
    fake_provider.queue(status(429, headers={"retry-after": "2"}))
    error = failure(fake_provider)
    assert error.retry_after == 2.0
    assert "2 seconds" in error.message


def test_it_passes_on_retry_after_ms(fake_provider):
    fake_provider.queue(status(429, headers={"retry-after-ms": "1500", "retry-after": "9"}))
    assert failure(fake_provider).retry_after == 1.5


def test_it_passes_on_retry_after_as_an_http_date(fake_provider):
    fake_provider.queue(
        status(429, headers={"retry-after": formatdate(time.time() + 30, usegmt=True)})
    )
    assert 25 <= failure(fake_provider).retry_after <= 31


def test_it_names_the_model_it_does_not_know(fake_provider):
    fake_provider.queue(status(404, message="The model `gpt-test` does not exist"))
    assert "'gpt-test'" in failure(fake_provider).message


def test_it_quotes_the_providers_reason_for_a_rejected_request(fake_provider):
    fake_provider.queue(status(400, message="max_tokens is too large: 999999."))
    error = failure(fake_provider)
    assert error.message == (
        "The provider rejected the request (HTTP 400): max_tokens is too large: 999999."
    )


def test_it_reports_a_provider_it_cannot_connect_to():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BackendError) as info:
        OpenAIBackend(FAKE_KEY, base_url=f"http://127.0.0.1:{port}/v1").complete(REQUEST)
    assert (info.value.code, info.value.permanent) == ("connection", False)


@pytest.mark.parametrize(
    "answer",
    [
        raw(b'{"id": "chatcmpl-1", "choices": [{"mess'),
        raw(b'{"id": "chatcmpl-1", "object": "chat.completion"}'),
        raw(b'{"id": "chatcmpl-1", "choices": [], "usage": null}'),
        raw(b"<html>Welcome to nginx</html>", content_type="text/html"),
        raw(
            b'{"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": '
            b'[{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": '
            b'"stop"}], "usage": {"prompt_tokens": Infinity, "completion_tokens": 1}}'
        ),
    ],
    ids=["truncated", "missing-fields", "no-choices", "html", "infinite-tokens"],
)
def test_it_reports_an_unreadable_reply_as_bad_response(fake_provider, answer):
    fake_provider.queue(answer)
    error = failure(fake_provider)
    assert (error.code, error.permanent) == ("bad_response", False)
    assert len(fake_provider.received) == 1


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422, 429, 500])
def test_it_never_shows_key_material_even_when_the_provider_echoes_it(fake_provider, code):
    fake_provider.queue(
        status(code, message=f"Incorrect API key provided: {FAKE_KEY} (Bearer {FAKE_KEY})")
    )
    error = failure(fake_provider)
    for shown in (error.message, str(error), repr(error)):
        assert "sk-" not in shown
        assert FAKE_KEY not in shown
        assert "Traceback" not in shown
    # The SDK's exception (which holds the request and its headers) is not chained for display.
    assert error.__cause__ is None and error.__suppress_context__
