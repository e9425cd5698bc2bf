"""How a criterion kind declares its parameters, and how they are checked."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graders.context import Context
from graders.results import Check
from graders.rubric import RubricError

CheckFn = Callable[[Mapping[str, Any], str, Context], Check]


@dataclass(frozen=True)
class Param:
    name: str
    types: tuple[type, ...]
    required: bool = True
    default: Any = None
    help: str = ""


class ParamError(ValueError):
    """Raised by a kind's extra validation: which parameter, and what is wrong with it."""

    def __init__(self, param: str, message: str) -> None:
        self.param = param
        self.message = message
        super().__init__(message)


TYPE_NAMES = {str: "text", int: "a whole number", float: "a number", bool: "true or false",
              list: "a list", dict: "a mapping"}


@dataclass(frozen=True)
class Kind:
    check: CheckFn
    params: tuple[Param, ...]
    summary: str
    extra: Callable[[dict[str, Any]], None] | None = None

    def validate(self, params: dict[str, Any], criterion: str) -> dict[str, Any]:
        """Return params with defaults filled in, or raise RubricError naming the bad field."""
        known = {p.name: p for p in self.params}
        for name in params:
            if name not in known:
                allowed = ", ".join(known) or "none"
                raise RubricError(f"unknown parameter; allowed: {allowed}", criterion, f"params.{name}")
        clean: dict[str, Any] = {}
        for p in self.params:
            if p.name not in params:
                if p.required:
                    raise RubricError("is required", criterion, f"params.{p.name}")
                clean[p.name] = p.default
                continue
            value = params[p.name]
            bad_bool = isinstance(value, bool) and bool not in p.types
            if bad_bool or not isinstance(value, p.types):
                wanted = " or ".join(TYPE_NAMES.get(t, t.__name__) for t in p.types)
                raise RubricError(f"must be {wanted}, not {value!r}", criterion, f"params.{p.name}")
            clean[p.name] = value
        if self.extra:
            try:
                self.extra(clean)
            except ParamError as e:
                raise RubricError(e.message, criterion, f"params.{e.param}") from None
        return clean


def excerpt(text: str, at: int = 0, width: int = 60) -> str:
    """Return a quoted piece of text around position `at`, with ellipses where it was cut.

    >>> excerpt("x" * 100 + "HERE" + "y" * 100, at=100, width=10)
    '"…xxxxxHEREy…"'
    """
    if len(text) <= width:
        return repr_text(text)
    start = max(0, at - width // 2)
    end = min(len(text), start + width)
    start = max(0, end - width)
    piece = text[start:end]
    return repr_text(("…" if start else "") + piece + ("…" if end < len(text) else ""))


def repr_text(text: str) -> str:
    return '"' + text.replace("\n", "\\n") + '"'
