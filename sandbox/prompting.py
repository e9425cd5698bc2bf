"""Render an exercise's prompt fields into chat messages. Pure functions, no Django.

Variables are written `{name}` in a template, `{{name}}` is the literal `{name}`
(graders.placeholders says exactly what a placeholder is). Only declared variable names are
replaced, so other braces (a JSON example in the prompt) stay as written:

    >>> render_template('Reply as {"label": ...} for: {email}', {"email": "Hi"})
    'Reply as {"label": ...} for: Hi'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from graders.placeholders import fill as render_template

PROMPT_FIELDS = ("system", "user", "prefill")


@dataclass(frozen=True)
class RenderedPrompt:
    system: str
    user: str
    prefill: str
    examples: tuple[tuple[str, str], ...] = ()  # (role, text) turns before the user message

    def messages(self) -> list[dict[str, str]]:
        """Return the chat messages: example turns, the user message, then the prefill as
        a final assistant turn."""
        messages = [{"role": role, "content": text} for role, text in self.examples]
        messages.append({"role": "user", "content": self.user})
        if self.prefill:
            messages.append({"role": "assistant", "content": self.prefill})
        return messages

    def turns(self) -> list[tuple[str, str]]:
        """Return the whole conversation as (role, text): the system prompt, the messages."""
        system = [("system", self.system)] if self.system else []
        return system + [(m["role"], m["content"]) for m in self.messages()]

    def as_text(self) -> str:
        """Return the prompt as one text, as read by stub rules and prompt criteria."""
        return "\n\n".join(f"[{role}]\n{text}" for role, text in self.turns())


def render_prompt(
    fields: Mapping[str, str],
    variables: Mapping[str, str],
    examples: Sequence[Sequence[str]] = (),
) -> RenderedPrompt:
    system, user, prefill = (render_template(fields.get(f, ""), variables) for f in PROMPT_FIELDS)
    turns = tuple((role, render_template(text, variables)) for role, text in examples)
    return RenderedPrompt(system, user, prefill, turns)


def join_slots(texts: Sequence[str]) -> str:
    """Return the user prompt made of named slots: the non-empty ones, in order."""
    return "\n\n".join(t.strip("\n") for t in texts if t.strip())
