"""sandbox.backends.errors: the provider-failure wording and the retry-after parsing."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from sandbox.backends.errors import for_status, redact, retry_after


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),
        ({"retry-after": formatdate(time.time() - 60, usegmt=True)}, 0.0),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after": "tomorrow"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "1e400"}, None),
        ({"retry-after-ms": "Infinity", "retry-after": "2"}, 2.0),
        ({"retry-after-ms": "NaN"}, None),
        ({}, None),
    ],
)
def test_retry_after_reads_seconds_milliseconds_and_dates(headers, expected):
    assert retry_after(headers) == expected


def test_retry_after_reads_a_future_http_date():
    assert 55 <= retry_after({"retry-after": formatdate(time.time() + 60, usegmt=True)}) <= 61


def test_redact_blanks_out_keys_and_auth_headers():
    text = "key sk-proj-abc123 and sk-ant-api03-xyz, Bearer tok123, x-api-key: k9 and mysecret"
    shown = redact(text, secret="mysecret")
    assert shown == "key [redacted] and [redacted], [redacted] [redacted] and [redacted]"


def test_redact_keeps_a_long_reason_to_one_short_line():
    shown = redact("too\nlong " * 100)
    assert "\n" not in shown and len(shown) == 200 and shown.endswith("…")


def test_an_unknown_client_error_is_a_permanent_rejection():
    error = for_status(413, {}, body={"error": {"message": "Request too large"}})
    assert (error.code, error.permanent) == ("rejected", True)
    assert error.message == "The provider rejected the request (HTTP 413): Request too large"


def test_a_rejection_without_a_reason_still_reads_as_a_sentence():
    assert (
        for_status(400, {}, body="<html>").message
        == "The provider rejected the request (HTTP 400)."
    )


def test_any_5xx_is_a_transient_server_error():
    error = for_status(504, {"retry-after": "4"})
    assert (error.code, error.permanent, error.retry_after) == ("server_error", False, 4.0)
