"""What a criterion can look at besides the output: the test case and the learner's prompt."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Case:
    """One test case: its variable values, an optional reference answer, per-case expectations."""

    name: str = "case"
    variables: Mapping[str, str] = field(default_factory=dict)
    reference: str = ""
    expected: Mapping[str, Any] = field(default_factory=dict)
    weight: float = 1.0


@dataclass(frozen=True)
class Submission:
    """The prompt the learner wrote, rendered for one test case, beside the exercise's starter."""

    fields: Mapping[str, str] = field(default_factory=dict)
    starter: Mapping[str, str] = field(default_factory=dict)
    editable: tuple[str, ...] = ()
    variables: tuple[str, ...] = ()
    rendered: str = ""


def identity(text: str) -> str:
    return text


@dataclass(frozen=True)
class Context:
    case: Case = field(default_factory=Case)
    submission: Submission = field(default_factory=Submission)
    normalize: Callable[[str], str] = identity
    ignore_case: bool = False
