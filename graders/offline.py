"""What the offline stub model answers to a prompt it has no rules for: not a model's answer
but, in a few labelled lines, what a model would read in the prompt (its task, role, the
format asked for, whether pasted input is set apart, placeholders left unfilled), so that
two prompts compared offline show their differences.
"""

from __future__ import annotations

import re

from graders.placeholders import braced, placeholders
from graders.prompt import OPENING_TAG, QUOTE_FENCES, estimate_tokens

HEAD = (
    "Offline stub model: it has no rules for this prompt, so instead of answering it tells "
    "you what it read in it."
)
SENTENCE_END = re.compile(r"(?<=[.!?:])\s|\n")
FORMATS = (
    (re.compile(r"\bjson\b", re.I), "JSON"),
    (re.compile(r"\b(?:bullet|bulleted|numbered|list)\b", re.I), "a list"),
    (re.compile(r"\btable\b", re.I), "a table"),
    (re.compile(r"\bone (word|sentence|line|paragraph)\b", re.I), "one {0}"),
    (
        re.compile(
            r"\b(?:at most|under|no more than|max(?:imum)?|within|in)\s+(\d+)\s+"
            r"(words|sentences|lines|characters|bullets|bullet points)\b",
            re.I,
        ),
        "at most {0} {1}",
    ),
)


def first_sentence(text: str, limit: int = 140) -> str:
    sentence = SENTENCE_END.split(text.strip(), maxsplit=1)[0].strip()
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def formats(text: str) -> list[str]:
    """Return the shapes of answer the prompt asks for, in the order FORMATS lists them."""
    found = []
    for pattern, label in FORMATS:
        match = pattern.search(text)
        if match:
            found.append(label.format(*(g.lower() for g in match.groups())))
    return found


def set_apart(text: str) -> str:
    """Return how pasted input is set apart from the instructions, or ""."""
    for line in text.splitlines():
        tag = OPENING_TAG.search(line.strip())
        if tag and f"</{tag.group(1)}>" in text:
            return f"<{tag.group(1)}>…</{tag.group(1)}>"
        fence = next((f for f in QUOTE_FENCES if line.strip().startswith(f)), None)
        if fence and text.count(fence) >= 2:
            return f"{fence} fences"
    return ""


def answer(system: str, user: str) -> str:
    """Return the stub's labelled reading of a prompt: the same prompt gives the same lines."""
    text = f"{system}\n{user}"
    task = first_sentence(user)
    shape = formats(text)
    apart = set_apart(text)
    leftover = braced(sorted(placeholders(text)))
    lines = [
        HEAD,
        f"- Task: “{task}”" if task else "- Task: none (the user prompt holds no sentence).",
        f"- Role: “{first_sentence(system)}”"
        if system.strip()
        else "- Role: none (a system prompt would set one, with the rules to follow).",
        f"- Answer shape asked for: {', '.join(shape)}."
        if shape
        else "- Answer shape asked for: none (say what to return: a list, JSON, a word limit).",
        f"- Pasted input set apart: yes, inside {apart}."
        if apart
        else "- Pasted input set apart: no (wrap it in a tag or ``` fences).",
    ]
    if leftover:
        lines.append(f"- Left as written (no variable of that name): {', '.join(leftover)}.")
    words = len(text.split())
    tokens = estimate_tokens(text.strip())
    lines.append(f"- Length: {words} words (a real model would count about {tokens} tokens).")
    return "\n".join(lines)
