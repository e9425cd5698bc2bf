from __future__ import annotations

from django import template

from lessons.markdown import render_markdown, render_markdown_inline
from lessons.results import UNNAMED

register = template.Library()


@register.filter
def markdown(text: str):
    return render_markdown(text)


@register.filter
def markdown_inline(text: str):
    return render_markdown_inline(text)


@register.filter
def named(criterion_id: str, names: dict[str, str]) -> str:
    """Return a stored criterion result's learner-facing name (lessons.results row "names")."""
    return names.get(criterion_id, UNNAMED)
