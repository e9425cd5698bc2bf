"""How a criterion kind declares its parameters, and how they are checked."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graders.context import Case, Context
from graders.results import Check
from graders.rubric import PROMPT_FIELDS, RubricError

if TYPE_CHECKING:
    from graders.rubric import Criterion

CheckFn = Callable[[Mapping[str, Any], str, Context], Check]

FROM_CASE = "from_case"


@dataclass(frozen=True)
class Param:
    name: str
    types: tuple[type, ...]
    required: bool = True
    default: Any = None
    help: str = ""
    items: tuple[type, ...] = ()  # for list params: what each item must be
    from_case: bool = False  # may be {"from_case": key}, looked up in the test case when grading
    choices: tuple[Any, ...] = ()


class ParamError(ValueError):
    """Raised by a kind's extra validation: which parameter, and what is wrong with it."""

    def __init__(self, param: str, message: str) -> None:
        self.param = param
        self.message = message
        super().__init__(message)


TYPE_NAMES = {
    str: "text",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a mapping",
    type(None): "null",
}


def type_problem(param: Param, value: Any) -> str:
    """Return what is wrong with value for param, or "" when it fits."""
    bad_bool = isinstance(value, bool) and bool not in param.types
    if bad_bool or not isinstance(value, param.types):
        wanted = " or ".join(TYPE_NAMES.get(t, t.__name__) for t in param.types)
        return f"must be {wanted}, not {value!r}"
    if param.items and isinstance(value, list):
        for item in value:
            if not isinstance(item, param.items) or (
                isinstance(item, bool) and bool not in param.items
            ):
                wanted = " or ".join(TYPE_NAMES.get(t, t.__name__) for t in param.items)
                return f"every item must be {wanted}, not {item!r}"
    if param.choices and value not in param.choices:
        return f"must be one of {', '.join(map(str, param.choices))}, not {value!r}"
    return ""


def is_case_reference(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {FROM_CASE}


@dataclass(frozen=True)
class Kind:
    """One criterion kind: its check function, its params, and how to prepare it once."""

    check: CheckFn
    params: tuple[Param, ...]
    summary: str
    extra: Callable[[dict[str, Any]], None] | None = None
    # Builds something once per criterion (a compiled regex, a schema validator); ctx.compiled.
    prepare: Callable[[Mapping[str, Any], Criterion], Any] | None = None
    negatable: bool = True
    nested: bool = False  # params["criteria"] is a list of sub-criteria
    reads: str = "output"  # "prompt" kinds read the Submission whatever the criterion's target
    strip: bool = True  # the criterion's `strip` when it sets none; exact-match kinds: False
    # What else the kind normalises or ignores (tests/graders/test_kinds.py: every kind says).
    normalises: str = ""
    options: bool = True  # False: strip, ignore_case and collapse_whitespace change nothing
    # The fields of the prompt a criterion reading it may read alone (its `field`).
    fields: tuple[str, ...] = PROMPT_FIELDS

    def normalisation(self) -> str:
        """Return every normalisation the kind applies, on one line: the rubric editor's help
        and docs/graders.md both show it."""
        if not self.options:
            return f"Normalises: {self.normalises}."
        trims = (
            "trims whitespace at both ends (strip: false keeps it)"
            if self.strip
            else "exact, trims nothing (strip: true trims whitespace at both ends)"
        )
        return (
            f"Normalises: {trims}; keeps case and inner spacing unless ignore_case: true or "
            f"collapse_whitespace: true; {self.normalises}."
        )

    def validate(self, params: dict[str, Any], criterion: str) -> dict[str, Any]:
        """Return params with defaults filled in, or raise RubricError naming the bad field."""
        known = {p.name: p for p in self.params}
        for name in params:
            if name not in known:
                allowed = ", ".join(known) or "none"
                raise RubricError(
                    f"unknown parameter; allowed: {allowed}", criterion, f"params.{name}"
                )
        clean: dict[str, Any] = {}
        has_reference = False
        for p in self.params:
            if p.name not in params:
                if p.required:
                    raise RubricError("is required", criterion, f"params.{p.name}")
                clean[p.name] = p.default
                continue
            value = params[p.name]
            if value is None and not p.required and p.default is None:
                clean[p.name] = None  # to_dict writes unset optional params as null
                continue
            if p.from_case and is_case_reference(value):
                key = value[FROM_CASE]
                if not isinstance(key, str) or not key:
                    raise RubricError(
                        "from_case must name a key of the test case's expected values",
                        criterion,
                        f"params.{p.name}.from_case",
                    )
                clean[p.name] = {FROM_CASE: key}
                has_reference = True
                continue
            problem = type_problem(p, value)
            if problem:
                raise RubricError(problem, criterion, f"params.{p.name}")
            clean[p.name] = value
        # Extra checks need real values; a case reference is checked when grading instead.
        if self.extra and not has_reference:
            try:
                self.extra(clean)
            except ParamError as e:
                raise RubricError(e.message, criterion, f"params.{e.param}") from None
        return clean

    def case_params(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        """Return the names of params that refer to the test case."""
        return tuple(
            p.name for p in self.params if p.from_case and is_case_reference(params[p.name])
        )

    def resolve(
        self, params: Mapping[str, Any], names: tuple[str, ...], case: Case
    ) -> dict[str, Any] | str:
        """Return params with case references replaced by the case's values, or what is missing.

        A list param given one string from the case takes it as a one-item list, so
        `expected: {answers: "Paris"}` and `expected: {answers: ["Paris", "Paris, France"]}`
        both work.
        """
        resolved = dict(params)
        by_name = {p.name: p for p in self.params}
        for name in names:
            key = params[name][FROM_CASE]
            if key in case.expected:
                value = case.expected[key]
            elif key == "reference":
                value = case.reference
            else:
                return f"test case {case.name!r} has no expected value {key!r}"
            param = by_name[name]
            if list in param.types and str not in param.types and isinstance(value, str):
                value = [value]
            problem = type_problem(param, value)
            if problem:
                return f"test case {case.name!r}: expected value {key!r} {problem}"
            resolved[name] = value
        if self.extra:
            try:
                self.extra(resolved)
            except ParamError as e:
                return f"test case {case.name!r}: {e.param} {e.message}"
        return resolved


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


def short(text: str, width: int = 60) -> str:
    """Return text quoted, cut to width: for needles and labels inside a sentence."""
    return repr_text(text if len(text) <= width else text[: width - 1] + "…")
