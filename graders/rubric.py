"""A rubric is data: weighted criteria and a pass threshold, validated on load.

    >>> rubric = load_rubric({
    ...     "pass_threshold": 0.75,
    ...     "criteria": [{"id": "short", "kind": "word_count", "params": {"max": 12}}],
    ... })
    >>> rubric.criteria[0].kind
    'word_count'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TARGETS = ("output", "prompt")
NORMALIZE_OPTIONS = ("strip", "ignore_case", "collapse_whitespace")


class RubricError(ValueError):
    """A rubric that cannot be used, naming the criterion and the field at fault."""

    def __init__(self, message: str, criterion: str = "", field: str = "") -> None:
        self.criterion = criterion
        self.field = field
        self.message = message
        where = ".".join(p for p in (f"criterion {criterion!r}" if criterion else "", field) if p)
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class Criterion:
    id: str
    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)
    weight: float = 1.0
    on_pass: str = ""
    on_fail: str = ""
    negate: bool = False
    target: str = "output"
    visible: bool = True
    strip: bool = True
    ignore_case: bool = False
    collapse_whitespace: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "kind": self.kind, "params": dict(self.params)}
        defaults = Criterion(id="", kind="")
        for name in (
            "weight", "negate", "target", "visible", "strip", "ignore_case", "collapse_whitespace"
        ):
            if getattr(self, name) != getattr(defaults, name):
                data[name] = getattr(self, name)
        feedback = {k: v for k, v in (("pass", self.on_pass), ("fail", self.on_fail)) if v}
        if feedback:
            data["feedback"] = feedback
        return data


@dataclass(frozen=True)
class Rubric:
    criteria: tuple[Criterion, ...]
    pass_threshold: float = 1.0
    require_all_cases: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "pass_threshold": self.pass_threshold,
            "criteria": [c.to_dict() for c in self.criteria],
        }
        if self.require_all_cases:
            data["require_all_cases"] = True
        return data


def _number(value: Any, criterion: str, name: str, low: float, high: float | None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RubricError(f"must be a number, not {value!r}", criterion, name)
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise RubricError(f"must be {bounds}, not {value}", criterion, name)
    return float(value)


def _flag(data: Mapping[str, Any], name: str, default: bool, criterion: str) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise RubricError(f"must be true or false, not {value!r}", criterion, name)
    return value


CRITERION_FIELDS = {
    "id", "kind", "params", "weight", "feedback", "negate", "target", "visible",
    *NORMALIZE_OPTIONS,
}


def load_criterion(data: Any, position: int) -> Criterion:
    from graders.engine import CRITERIA

    if not isinstance(data, Mapping):
        raise RubricError(f"criterion {position + 1} must be a mapping, not {type(data).__name__}")
    cid = data.get("id")
    if not isinstance(cid, str) or not cid.strip():
        raise RubricError(f"criterion {position + 1} needs an id (a non-empty string)", field="id")
    unknown = sorted(set(data) - CRITERION_FIELDS)
    if unknown:
        raise RubricError(
            f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(CRITERION_FIELDS))}",
            cid,
            unknown[0],
        )
    kind_name = data.get("kind")
    if kind_name not in CRITERIA:
        raise RubricError(
            f"unknown kind {kind_name!r}; valid kinds: {', '.join(sorted(CRITERIA))}", cid, "kind"
        )
    params = data.get("params", {})
    if not isinstance(params, Mapping):
        raise RubricError("must be a mapping", cid, "params")
    params = CRITERIA[kind_name].validate(dict(params), cid)
    target = data.get("target", "output")
    if target not in TARGETS:
        raise RubricError(f"must be one of {', '.join(TARGETS)}, not {target!r}", cid, "target")
    feedback = data.get("feedback", {})
    if not isinstance(feedback, Mapping) or not all(
        k in ("pass", "fail") and isinstance(v, str) for k, v in feedback.items()
    ):
        raise RubricError("must be a mapping with optional 'pass' and 'fail' strings", cid, "feedback")
    return Criterion(
        id=cid,
        kind=kind_name,
        params=params,
        weight=_number(data.get("weight", 1), cid, "weight", 0, None),
        on_pass=feedback.get("pass", ""),
        on_fail=feedback.get("fail", ""),
        negate=_flag(data, "negate", False, cid),
        target=target,
        visible=_flag(data, "visible", True, cid),
        strip=_flag(data, "strip", True, cid),
        ignore_case=_flag(data, "ignore_case", False, cid),
        collapse_whitespace=_flag(data, "collapse_whitespace", False, cid),
    )


def load_rubric(data: Any) -> Rubric:
    """Return a validated Rubric, or raise RubricError naming what is wrong."""
    if not isinstance(data, Mapping):
        raise RubricError("a rubric must be a mapping with 'criteria' and 'pass_threshold'")
    unknown = sorted(set(data) - {"criteria", "pass_threshold", "require_all_cases"})
    if unknown:
        raise RubricError(f"unknown rubric field(s): {', '.join(unknown)}", field=unknown[0])
    raw = data.get("criteria")
    if not isinstance(raw, list) or not raw:
        raise RubricError("needs at least one criterion", field="criteria")
    criteria = tuple(load_criterion(c, i) for i, c in enumerate(raw))
    seen: set[str] = set()
    for c in criteria:
        if c.id in seen:
            raise RubricError("the id is used twice", c.id, "id")
        seen.add(c.id)
    if sum(c.weight for c in criteria) <= 0:
        raise RubricError("at least one criterion needs a weight above 0", field="criteria")
    return Rubric(
        criteria=criteria,
        pass_threshold=_number(data.get("pass_threshold", 1.0), "", "pass_threshold", 0, 1),
        require_all_cases=_flag(data, "require_all_cases", False, ""),
    )
