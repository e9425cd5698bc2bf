"""POST /teach/courses/<course>/preview/: lesson markdown, sanitized like the learner page."""

from __future__ import annotations

import re

import pytest

from lessons.markdown import render_markdown

URL = "/teach/courses/basics/preview/"
PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    '"><svg onload=alert(1)>',
    '<a href="data:text/html,<script>alert(1)</script>">y</a>',
    "[z](data:text/html;base64,PHNjcmlwdD4=)",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_it_never_returns_live_html_from_the_markdown(ines_client, payload):
    html = ines_client.post(URL, {"body": f"# Title\n\n{payload}\n"}).content.decode()
    assert "<h1>Title</h1>" in html
    # The payload may show as escaped text; it must never be a live tag or attribute.
    assert "<script" not in html
    assert "<svg" not in html and "<img" not in html
    assert not re.search(r"<[a-z][^>]*\son\w+=", html)
    assert not re.search(r'<a [^>]*href="(javascript|data):', html)


def test_it_renders_exactly_as_the_learner_page_does(ines_client):
    text = "Some **bold**, a [link](https://example.com) and `code`."
    html = ines_client.post(URL, {"body": text}).content.decode()
    assert str(render_markdown(text)) in html


def test_it_previews_exercise_instructions_too(ines_client):
    html = ines_client.post(URL, {"instructions": "*hi*"}).content.decode()
    assert "<em>hi</em>" in html
