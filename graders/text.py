"""Criterion kinds that read the output as text.

Every function receives the text already normalised by the criterion's options (strip,
ignore_case, collapse_whitespace) and normalises its own needles the same way, so
`{"text": "Refund"}` with `ignore_case: true` finds "REFUND".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import re2

from graders import limits
from graders.context import Context
from graders.kinds import ParamError, excerpt, short
from graders.results import Check

if TYPE_CHECKING:
    from graders.rubric import Criterion


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def contains(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    needle = ctx.normalize(params["text"])
    at = text.find(needle)
    if at >= 0:
        return Check(True, f"found {short(needle)} in {excerpt(text, at)}")
    return Check(False, f"expected {short(needle)}, found {excerpt(text)}")


def not_contains(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    needle = ctx.normalize(params["text"])
    at = text.find(needle)
    if at >= 0:
        return Check(False, f"expected no {short(needle)}, found {excerpt(text, at)}")
    return Check(True, f"no {short(needle)} in {excerpt(text)}")


def contains_any(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    needles = [ctx.normalize(t) for t in params["texts"]]
    for needle in needles:
        at = text.find(needle)
        if at >= 0:
            return Check(True, f"found {short(needle)} in {excerpt(text, at)}")
    wanted = ", ".join(short(n, 30) for n in needles)
    return Check(False, f"expected one of {wanted}, found {excerpt(text)}")


def contains_all(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    needles = [ctx.normalize(t) for t in params["texts"]]
    missing = [n for n in needles if n not in text]
    if missing:
        found = len(needles) - len(missing)
        gone = ", ".join(short(n, 30) for n in missing)
        return Check(
            False,
            f"expected all {len(needles)} texts, found {found}; missing {gone} in {excerpt(text)}",
            score=None,
        )
    return Check(True, f"found all {len(needles)} texts")


def check_needles(params: dict[str, Any]) -> None:
    for name in ("texts", "labels", "words"):
        if name in params:
            if not params[name]:
                raise ParamError(name, "needs at least one item")
            if len(params[name]) > limits.MAX_NEEDLES:
                raise ParamError(name, f"has more than {limits.MAX_NEEDLES} items")
            if any(not item for item in params[name]):
                raise ParamError(name, "must not contain an empty text")
    if "text" in params and isinstance(params["text"], list) and not params["text"]:
        raise ParamError("text", "needs at least one item")


def equals(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    """Pass when the text is exactly the expected text, or one of several.

    The mismatch is shown where it starts, so a long output is excerpted there:

    >>> equals({"text": "Answer: 42"}, "Answer: 41", Context()).detail
    'expected "Answer: 42", found "Answer: 41" (they differ at character 10)'
    """
    options = [ctx.normalize(t) for t in as_list(params["text"])]
    if text in options:
        return Check(True, f"the output is exactly {short(text)}")
    if len(options) > 1:
        wanted = ", ".join(short(o, 30) for o in options[:5])
        return Check(False, f"expected exactly one of {wanted}, found {excerpt(text)}")
    expected = options[0]
    mismatch = next(
        (i for i, (a, b) in enumerate(zip(text, expected, strict=False)) if a != b),
        min(len(text), len(expected)),
    )
    return Check(
        False,
        f"expected {excerpt(expected, mismatch)}, found {excerpt(text, mismatch)} "
        f"(they differ at character {mismatch + 1})",
    )


def starts_with(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    options = [ctx.normalize(t) for t in as_list(params["text"])]
    for option in options:
        if text.startswith(option):
            return Check(True, f"the output starts with {short(option)}")
    wanted = " or ".join(short(o, 30) for o in options[:5])
    return Check(False, f"expected the output to start with {wanted}, found {excerpt(text)}")


def ends_with(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    options = [ctx.normalize(t) for t in as_list(params["text"])]
    for option in options:
        if text.endswith(option):
            return Check(True, f"the output ends with {short(option)}")
    wanted = " or ".join(short(o, 30) for o in options[:5])
    return Check(
        False, f"expected the output to end with {wanted}, found {excerpt(text, len(text))}"
    )


def one_of(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    """Pass when the whole text is one of the labels: a classification answer.

    "positive." is not the label "positive": add `collapse_whitespace` or `strip` to
    forgive spacing, never punctuation, so learners learn to constrain the format.
    """
    labels = [ctx.normalize(label) for label in params["labels"]]
    if text in labels:
        return Check(True, f"the output is the label {short(text)}")
    wanted = ", ".join(short(label, 30) for label in labels[:10])
    return Check(False, f"expected exactly one of the labels {wanted}, found {excerpt(text)}")


UNSUPPORTED_CONSTRUCTS = (
    (re.compile(r"\\[1-9]|\\k<|\(\?P="), "backreferences (\\1, \\k<name>)"),
    (re.compile(r"\(\?<?[=!]"), "lookaround ((?=…), (?!…), (?<=…), (?<!…))"),
    (re.compile(r"\(\?>"), "atomic groups ((?>…))"),
    (re.compile(r"[*+?}]\+"), "possessive quantifiers (*+, ++, ?+)"),
    (re.compile(r"\(\?\("), "conditionals ((?(1)…))"),
    (re.compile(r"\(\?R\)|\(\?[0-9]+\)"), "recursion ((?R))"),
)


def compile_pattern(pattern: str, ignore_case: bool = False) -> re2._Regexp:
    """Return the RE2 regex for pattern; RE2 runs in linear time, so no output can hang it."""
    options = re2.Options()
    options.case_sensitive = not ignore_case
    options.log_errors = False
    return re2.compile(pattern, options)


def re2_reason(error: re2.error) -> str:
    """Return RE2's own message for a pattern it cannot compile (it gives bytes)."""
    first = error.args[0] if error.args else ""
    return first.decode() if isinstance(first, bytes) else str(error)


def as_written(pattern: str) -> str:
    """Return a pattern quoted as its author wrote it (repr would double each backslash)."""
    return f"'{pattern}'"


def check_pattern(params: dict[str, Any]) -> None:
    """Refuse a pattern RE2 cannot compile, naming the construct; never fall back to `re`.

    `(\\w)\\1` is refused with "backreferences (\\1, \\k<name>) are not supported", and
    `(?=x)` with "lookaround … are not supported", each followed by RE2's own message.
    """
    pattern = params["pattern"]
    if len(pattern) > limits.MAX_PATTERN_CHARS:
        raise ParamError("pattern", f"is longer than {limits.MAX_PATTERN_CHARS} characters")
    try:
        compile_pattern(pattern)
    except re2.error as e:
        reason = re2_reason(e)
        construct = next(
            (name for found, name in UNSUPPORTED_CONSTRUCTS if found.search(pattern)), ""
        )
        named = f"{construct} are not supported ({reason})" if construct else reason
        raise ParamError("pattern", f"RE2 cannot compile {as_written(pattern)}: {named}") from None


def prepare_pattern(params: Mapping[str, Any], criterion: Criterion) -> re2._Regexp:
    return compile_pattern(params["pattern"], criterion.ignore_case)


def regex(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    compiled = ctx.compiled or compile_pattern(params["pattern"], ctx.ignore_case)
    match = compiled.search(text)
    if match:
        return Check(True, f"/{params['pattern']}/ matched {short(match.group(0), 80)}")
    return Check(False, f"expected a match for /{params['pattern']}/, found {excerpt(text)}")


def check_range(params: dict[str, Any]) -> None:
    low, high = params["min"], params["max"]
    if low is None and high is None:
        raise ParamError("min", "give min, max or both")
    for name in ("min", "max"):
        if params[name] is not None and params[name] < 0:
            raise ParamError(name, "must not be negative")
    if low is not None and high is not None and low > high:
        raise ParamError("min", f"is above max ({low} > {high})")


def describe_range(low: float | None, high: float | None, unit: str) -> str:
    """Return "at most 60 words", "2 to 3 sentences" or "at least 1 character" (a plural
    unit, made singular after 1)."""
    last = high if high is not None else low
    unit = unit.removesuffix("s") if last == 1 else unit
    if low is not None and high is not None:
        return f"{low:g} to {high:g} {unit}"
    if low is not None:
        return f"at least {low:g} {unit}"
    return f"at most {high:g} {unit}"


def word_count(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    count = len(text.split())
    low, high = params["min"], params["max"]
    ok = (low is None or count >= low) and (high is None or count <= high)
    return Check(ok, f"expected {describe_range(low, high, 'words')}, found {count}")


SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
LENGTH_UNITS = ("characters", "words", "lines", "sentences")


def measure(text: str, unit: str, count_blank: bool = False) -> int:
    """Return the length of text in unit.

    Lines count only non-blank lines unless count_blank; sentences end at ., ! or ? followed
    by space:

    >>> measure("One. Two! Three", "sentences"), measure("a\\n\\nb\\n", "lines")
    (3, 2)
    >>> measure("a\\n\\nb\\n", "lines", count_blank=True)
    3
    """
    if unit == "characters":
        return len(text)
    if unit == "words":
        return len(text.split())
    if unit == "lines":
        lines = text.splitlines()
        return len(lines) if count_blank else sum(1 for line in lines if line.strip())
    return sum(1 for piece in SENTENCE_END.split(text) if piece.strip())


def length(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    unit = params["unit"]
    count = measure(text, unit, params["count_blank"])
    low, high = params["min"], params["max"]
    ok = (low is None or count >= low) and (high is None or count <= high)
    return Check(ok, f"expected {describe_range(low, high, unit)}, found {count}")


def prepare_words(params: Mapping[str, Any], criterion: Criterion) -> re.Pattern[str]:
    from graders.engine import normalizer

    normalize = normalizer(criterion)
    words = sorted({normalize(w) for w in params["words"]}, key=len, reverse=True)
    # Escaped literals only, so the standard engine cannot backtrack badly here.
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)")


def forbidden_words(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    """Fail when any forbidden word or phrase appears as a whole word.

    "class" is not found inside "classify"; "as an AI" is found as a phrase.
    """
    compiled = ctx.compiled
    found: dict[str, int] = {}
    for match in compiled.finditer(text):
        found.setdefault(match.group(0), match.start())
    if found:
        first = min(found.values())
        words = ", ".join(short(w, 30) for w in found)
        return Check(
            False, f"expected none of the forbidden words, found {words} in {excerpt(text, first)}"
        )
    return Check(True, f"none of the {len(params['words'])} forbidden words appear")
