"""Criterion kinds that read the output as structured data."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from graders.context import Context
from graders.kinds import excerpt
from graders.results import Check

MAX_JSON_CHARS = 200_000


def parse_json(text: str) -> tuple[Any, str]:
    """Return (value, "") for JSON text, or (None, reason) when it is not JSON.

    Deep nesting is a reason, not a crash:

    >>> parse_json("[" * 100_000)[1]
    'the JSON is nested too deeply to read'
    """
    if len(text) > MAX_JSON_CHARS:
        return None, f"the output is longer than {MAX_JSON_CHARS} characters"
    try:
        return json.loads(text), ""
    except RecursionError:
        return None, "the JSON is nested too deeply to read"
    except ValueError as e:
        return None, f"not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})"


def valid_json(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    _, error = parse_json(text)
    if error:
        return Check(False, f"expected JSON, found {excerpt(text)}: {error}")
    return Check(True, "the output is valid JSON")
