"""Markdown to safe HTML: the one module allowed to mark HTML as safe.

Lesson and instruction markdown is written by instructors, but is still
sanitized with nh3 (an allowlist of tags, attributes and URL schemes), so a
pasted `<script>` or `javascript:` link never reaches a learner's browser.
"""

from __future__ import annotations

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

RENDERER = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
ALLOWED_TAGS = {
    "a",
    "blockquote",
    "br",
    "code",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
    "del",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "code": {"class"}}


def render_markdown(text: str) -> SafeString:
    return sanitized(RENDERER.render(text or ""))


def render_markdown_inline(text: str) -> SafeString:
    """Return one line of Markdown (a hint, a criterion's feedback) without a paragraph."""
    return sanitized(RENDERER.renderInline(text or ""))


def sanitized(html: str) -> SafeString:
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        # A code block scrolls sideways (it keeps its lines): focusable, a keyboard scrolls it.
        set_tag_attribute_values={"pre": {"tabindex": "0"}},
    )
    return mark_safe(clean)  # noqa: S308 - nh3 has just sanitized it
