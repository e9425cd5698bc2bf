"""CassetteBackend: record a backend's completions to JSON files, replay them offline."""

from __future__ import annotations

import dataclasses
import json

import pytest

from sandbox.backends import Backend, BackendError, Completion, CompletionRequest
from sandbox.backends.cassette import CassetteBackend, cassette_key
from sandbox.backends.openai import OpenAIBackend
from tests.fakeprovider import FAKE_KEY, status, success

REQUEST = CompletionRequest(
    model="gpt-test",
    system="You are terse.",
    messages=({"role": "user", "content": "Say hello."}, {"role": "assistant", "content": "Hi"}),
    temperature=0.0,
    max_tokens=42,
    stop=("END",),
)
COMPLETION = Completion(
    text=" there!",
    input_tokens=30,
    output_tokens=9,
    cached_tokens=16,
    reasoning_tokens=4,
    latency_ms=120,
    model="gpt-test-2026",
    request_id="req_1",
)


class Counting(Backend):
    """Answer COMPLETION, or raise `error`, and count the calls."""

    def __init__(self, error: BackendError | None = None) -> None:
        self.calls = 0
        self.error = error

    def complete(self, request: CompletionRequest) -> Completion:
        self.calls += 1
        if self.error:
            raise self.error
        return COMPLETION


def same_reply(a: Completion, b: Completion) -> bool:
    fields = ("text", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens", "model")
    return all(getattr(a, f) == getattr(b, f) for f in fields)


def test_it_records_then_replays_the_same_completion_without_calling_the_backend(tmp_path):
    inner = Counting()
    recorded = CassetteBackend(inner, tmp_path, "record", backend="openai").complete(REQUEST)
    assert recorded == COMPLETION
    assert inner.calls == 1

    replayed = CassetteBackend(None, tmp_path, "replay", backend="openai").complete(REQUEST)
    assert same_reply(replayed, COMPLETION)
    assert inner.calls == 1


def test_it_stores_one_small_json_file_named_by_the_key(tmp_path):
    CassetteBackend(Counting(), tmp_path, "record", backend="openai").complete(REQUEST)
    [path] = tmp_path.iterdir()
    assert path.name == f"{cassette_key('openai', REQUEST)}.json"
    data = json.loads(path.read_text())
    assert data["text"] == " there!"
    assert (data["input_tokens"], data["output_tokens"]) == (30, 9)
    assert data["model"] == "gpt-test-2026"
    assert data["request"]["messages"] == [dict(m) for m in REQUEST.messages]


def test_it_records_a_real_provider_over_http_and_replays_it_offline(tmp_path, fake_provider):
    fake_provider.queue(success("Hello!", input_tokens=5, output_tokens=2))
    inner = OpenAIBackend(FAKE_KEY, base_url=fake_provider.openai_url)
    recorded = CassetteBackend(inner, tmp_path, "record", backend="openai").complete(REQUEST)
    replayed = CassetteBackend(None, tmp_path, "replay", backend="openai").complete(REQUEST)
    assert same_reply(replayed, recorded)
    assert len(fake_provider.received) == 1
    assert FAKE_KEY not in next(tmp_path.iterdir()).read_text()


def test_a_replay_miss_is_a_permanent_not_found(tmp_path):
    with pytest.raises(BackendError) as info:
        CassetteBackend(None, tmp_path, "replay").complete(REQUEST)
    assert (info.value.code, info.value.permanent) == ("not_found", True)
    assert info.value.message == (
        "This prompt has no recording; offline replay can only answer recorded prompts."
    )


def test_it_does_not_record_errors(tmp_path):
    error = BackendError("The provider is overloaded right now.", code="overloaded")
    inner = Counting(error)
    with pytest.raises(BackendError) as info:
        CassetteBackend(inner, tmp_path, "record").complete(REQUEST)
    assert info.value is error
    assert list(tmp_path.iterdir()) == []


def test_it_does_not_record_a_provider_error_over_http(tmp_path, fake_provider):
    fake_provider.queue(status(500))
    inner = OpenAIBackend(FAKE_KEY, base_url=fake_provider.openai_url)
    with pytest.raises(BackendError):
        CassetteBackend(inner, tmp_path, "record").complete(REQUEST)
    assert list(tmp_path.iterdir()) == []


def test_it_reports_a_damaged_recording_as_a_permanent_error(tmp_path):
    (tmp_path / f"{cassette_key('', REQUEST)}.json").write_text('{"text": "half')
    with pytest.raises(BackendError) as info:
        CassetteBackend(None, tmp_path, "replay").complete(REQUEST)
    assert info.value.permanent


@pytest.mark.parametrize("text", [5, None, ["Hello"]])
def test_a_recording_whose_text_is_not_text_is_damaged(tmp_path, text):
    recording = {"text": text, "input_tokens": 3, "output_tokens": 2, "model": "m"}
    (tmp_path / f"{cassette_key('', REQUEST)}.json").write_text(json.dumps(recording))
    with pytest.raises(BackendError) as info:
        CassetteBackend(None, tmp_path, "replay").complete(REQUEST)
    assert info.value.permanent


def test_it_leaves_no_temporary_files_behind(tmp_path):
    cassette = CassetteBackend(Counting(), tmp_path, "record")
    cassette.complete(REQUEST)
    cassette.complete(REQUEST)
    assert [p.suffix for p in tmp_path.iterdir()] == [".json"]


def test_it_creates_the_folder_when_recording(tmp_path):
    folder = tmp_path / "cassettes" / "openai"
    CassetteBackend(Counting(), folder, "record").complete(REQUEST)
    assert len(list(folder.iterdir())) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"model": "gpt-other"},
        {"temperature": 0.5},
        {"max_tokens": 43},
        {"stop": ("END", "STOP")},
        {"system": "You are verbose."},
        {"messages": ({"role": "user", "content": "Say hello."},)},
        {"messages": ({"role": "user", "content": "Say hi."}, REQUEST.messages[1])},
    ],
)
def test_the_key_changes_when_any_request_field_changes(change):
    changed = dataclasses.replace(REQUEST, **change)
    assert cassette_key("openai", changed) != cassette_key("openai", REQUEST)


def test_the_key_changes_with_the_backend_name():
    assert cassette_key("openai", REQUEST) != cassette_key("anthropic", REQUEST)


def test_the_key_does_not_depend_on_how_the_temperature_is_written():
    assert cassette_key("x", dataclasses.replace(REQUEST, temperature=0)) == cassette_key(
        "x", dataclasses.replace(REQUEST, temperature=0.0)
    )


def test_recording_needs_a_backend(tmp_path):
    with pytest.raises(ValueError):
        CassetteBackend(None, tmp_path, "record")


def test_it_rejects_an_unknown_mode(tmp_path):
    with pytest.raises(ValueError):
        CassetteBackend(Counting(), tmp_path, "rewind")  # type: ignore[arg-type]
