from __future__ import annotations

from django import template

from lessons.markdown import render_markdown

register = template.Library()


@register.filter
def markdown(text: str):
    return render_markdown(text)
