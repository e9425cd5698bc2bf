"""Criterion kinds that read the output as text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import re2

from graders.context import Context
from graders.kinds import ParamError, excerpt, repr_text
from graders.results import Check

MAX_PATTERN_CHARS = 2000


def contains(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    needle = ctx.normalize(params["text"])
    at = text.find(needle)
    if at >= 0:
        return Check(True, f"found {repr_text(needle)} in {excerpt(text, at)}")
    return Check(False, f"expected {repr_text(needle)}, found {excerpt(text)}")


def not_contains(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    found = contains(params, text, ctx)
    needle = repr_text(ctx.normalize(params["text"]))
    if found.passed:
        return Check(False, f"expected no {needle}, found {found.detail.split(' in ', 1)[1]}")
    return Check(True, f"no {needle} in {excerpt(text)}")


def equals(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    expected = ctx.normalize(params["text"])
    if text == expected:
        return Check(True, f"the output is exactly {repr_text(expected)}")
    mismatch = next(
        (i for i, (a, b) in enumerate(zip(text, expected, strict=False)) if a != b),
        min(len(text), len(expected)),
    )
    return Check(False, f"expected {excerpt(expected, mismatch)}, found {excerpt(text, mismatch)}")


def compile_pattern(pattern: str, ignore_case: bool = False) -> re2._Regexp:
    """Return the RE2 regex for pattern; RE2 runs in linear time, so no output can hang it."""
    options = re2.Options()
    options.case_sensitive = not ignore_case
    options.log_errors = False
    return re2.compile(pattern, options)


def check_pattern(params: dict[str, Any]) -> None:
    pattern = params["pattern"]
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ParamError("pattern", f"is longer than {MAX_PATTERN_CHARS} characters")
    try:
        compile_pattern(pattern)
    except re2.error as e:
        reason = e.args[0].decode() if e.args and isinstance(e.args[0], bytes) else str(e)
        raise ParamError("pattern", f"RE2 cannot compile {pattern!r}: {reason}") from None


def regex(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    match = compile_pattern(params["pattern"], ctx.ignore_case).search(text)
    if match:
        return Check(True, f"/{params['pattern']}/ matched {repr_text(match.group(0)[:80])}")
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


def word_count(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    count = len(text.split())
    low, high = params["min"], params["max"]
    wanted = (
        f"{low} to {high} words" if low is not None and high is not None
        else f"at least {low} words" if low is not None
        else f"at most {high} words"
    )
    ok = (low is None or count >= low) and (high is None or count <= high)
    return Check(ok, f"expected {wanted}, found {count}")
