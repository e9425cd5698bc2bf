from __future__ import annotations

from django import template

from lessons.markdown import render_markdown, render_markdown_inline

register = template.Library()


@register.filter
def markdown(text: str):
    return render_markdown(text)


@register.filter
def markdown_inline(text: str):
    return render_markdown_inline(text)
