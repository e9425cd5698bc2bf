"""Render an exercise's prompt fields into chat messages. Pure functions, no Django.

Variables are written `{name}` in a template. Only declared variable names are
replaced, so other braces (a JSON example in the prompt) stay as written:

    >>> render_template('Reply as {"label": ...} for: {email}', {"email": "Hi"})
    'Reply as {"label": ...} for: Hi'
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PROMPT_FIELDS = ("system", "user", "prefill")
VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render_template(template: str, variables: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(variables[name]) if name in variables else match.group(0)

    return VARIABLE.sub(replace, template)


def variables_used(template: str) -> set[str]:
    return set(VARIABLE.findall(template))


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

    def as_text(self) -> str:
        """Return the prompt as one text, as shown to learners and read by stub rules."""
        parts = []
        if self.system:
            parts.append(f"[system]\n{self.system}")
        parts += [f"[{role}]\n{text}" for role, text in self.examples]
        parts.append(f"[user]\n{self.user}")
        if self.prefill:
            parts.append(f"[assistant]\n{self.prefill}")
        return "\n\n".join(parts)


def render_prompt(
    fields: Mapping[str, str],
    variables: Mapping[str, str],
    examples: Sequence[Sequence[str]] = (),
) -> RenderedPrompt:
    return RenderedPrompt(
        system=render_template(fields.get("system", ""), variables),
        user=render_template(fields.get("user", ""), variables),
        prefill=render_template(fields.get("prefill", ""), variables),
        examples=tuple((role, render_template(text, variables)) for role, text in examples),
    )


def join_slots(texts: Sequence[str]) -> str:
    """Return the user prompt made of named slots: the non-empty ones, in order."""
    return "\n\n".join(t.strip("\n") for t in texts if t.strip())


@dataclass(frozen=True)
class FieldDiff:
    name: str
    lines: tuple[tuple[str, str], ...]  # (" " | "+" | "-", line)


def prompt_diff(before: Mapping[str, str], after: Mapping[str, str]) -> list[FieldDiff]:
    """Return, per prompt field that changed, its lines marked kept, added or removed.

    >>> prompt_diff({"user": "Say hi.\nBe brief."}, {"user": "Say hello.\nBe brief."})[0].lines
    (('-', 'Say hi.'), ('+', 'Say hello.'), (' ', 'Be brief.'))
    """
    diffs = []
    for name in PROMPT_FIELDS:
        old, new = before.get(name, ""), after.get(name, "")
        if old == new:
            continue
        lines = tuple(
            (line[0], line[2:])
            for line in difflib.ndiff(old.splitlines(), new.splitlines())
            if not line.startswith("?")
        )
        diffs.append(FieldDiff(name, lines))
    return diffs
