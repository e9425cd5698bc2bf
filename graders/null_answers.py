"""Null answers: outputs that hold no answer, and so earn nothing on any output criterion.

A "master key" for a rubric of constraints is an output too empty to break one: "" is
shorter than any word limit, ":" contains no forbidden word. grade_case scores every
criterion on the output 0 when null_answer() gives a reason, before any judge is asked.
"""

from __future__ import annotations

import re

# A lead-in that announces working, and nothing after it: "Let's solve this problem step by
# step.", "I will think it through:". Our own fixed pattern, on one short line.
ANNOUNCEMENT = re.compile(
    r"(let'?s|let us|i'?ll|i will|i am going to|we'?ll|we will|sure,?|ok(ay)?,?)\b[^.!?:\n]{0,60}"
    r"\b(step[- ]by[- ]step|think|solve|work (it|this) out|break (it|this) down)\b"
    r"[^.!?:\n]{0,40}[.!:]?",
    re.IGNORECASE,
)
LEAD_IN_WORDS = 6
# What prose ends or opens with; not brackets, which a JSON answer ("[]", "{}") is made of.
PUNCTUATION = ".,:;!?…-–—*#_'\"` \t\r\n"


def null_answer(output: str) -> str:
    """Return why the output holds no answer, or "" when it may hold one.

    >>> [null_answer(text) != "" for text in ("", ":", "Thought process:", "Let's think.")]
    [True, True, True, True]
    >>> null_answer("Grind fresh. Brew better.") or null_answer("Summary: it broke.")
    ''
    """
    text = output.strip()
    if not text:
        return "the output is empty"
    if not text.strip(PUNCTUATION):
        return "the output is only punctuation"
    if "\n" not in text and text.endswith(":") and len(text.split()) <= LEAD_IN_WORDS:
        return "the output only introduces an answer it never gives"
    if ANNOUNCEMENT.fullmatch(text):
        return "the output only announces an answer it never gives"
    return ""
