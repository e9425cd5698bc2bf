"""A rubric is data: weighted criteria and a pass threshold, validated on load.

>>> rubric = load_rubric({
...     "pass_threshold": 0.75,
...     "criteria": [{"id": "short", "kind": "word_count", "params": {"max": 12}}],
... })
>>> rubric.criteria[0].kind
'word_count'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from graders import limits

if TYPE_CHECKING:
    from graders.kinds import Kind
    from graders.reuse import ModelCriterion

TARGETS = ("output", "prompt")
PROMPT_FIELDS = ("system", "user", "prefill", "examples")
NORMALIZE_OPTIONS = ("strip", "ignore_case", "collapse_whitespace")
UNAVAILABLE_POLICIES = ("fail", "skip")


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
    strip: bool | None = None  # None: the kind's default (Kind.strip)
    ignore_case: bool = False
    collapse_whitespace: bool = False
    with_prefill: bool | None = None  # None: the rubric's with_prefill decides
    title: str = ""  # what learners call it; "" = graders.names reads one from kind and params
    # Sub-criteria of all_of / any_of / none_of / xml_tag, loaded from params["criteria"].
    children: tuple[Criterion, ...] = field(default=(), compare=False, repr=False)
    # A criterion reading the prompt reads this field only; "" = all of it. (Declared last:
    # the name shadows dataclasses.field in the class body.)
    field: str = ""

    def to_dict(self) -> dict[str, Any]:
        params = dict(self.params)
        if self.children:
            params["criteria"] = [c.to_dict() for c in self.children]
        data: dict[str, Any] = {"id": self.id, "kind": self.kind, "params": params}
        defaults = Criterion(id="", kind="")
        for name in (
            "weight",
            "negate",
            "target",
            "visible",
            "strip",
            "ignore_case",
            "collapse_whitespace",
            "with_prefill",
            "title",
            "field",
        ):
            if getattr(self, name) != getattr(defaults, name):
                data[name] = getattr(self, name)
        feedback = {k: v for k, v in (("pass", self.on_pass), ("fail", self.on_fail)) if v}
        if feedback:
            data["feedback"] = feedback
        return data

    @property
    def strips(self) -> bool:
        from graders.engine import CRITERIA

        return CRITERIA[self.kind].strip if self.strip is None else self.strip

    # Built once per criterion on first use, so grading 1,000 outputs compiles nothing twice.
    @cached_property
    def normalize(self) -> Callable[[str], str]:
        from graders.engine import normalizer

        return normalizer(self)

    @cached_property
    def compiled(self) -> Any:
        from graders.engine import CRITERIA

        kind = CRITERIA[self.kind]
        if kind.prepare is None or self.case_params:
            return None
        return kind.prepare(self.params, self)

    @cached_property
    def case_params(self) -> tuple[str, ...]:
        from graders.engine import CRITERIA

        return CRITERIA[self.kind].case_params(self.params)


@dataclass(frozen=True)
class Rubric:
    criteria: tuple[Criterion, ...]
    pass_threshold: float = 1.0
    require_all_cases: bool = False
    unavailable: str = "fail"  # how an unavailable criterion counts: "fail" (as 0) or "skip"
    with_prefill: bool = False  # grade prefill + continuation, unless a criterion says otherwise
    samples: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "pass_threshold": self.pass_threshold,
            "criteria": [c.to_dict() for c in self.criteria],
        }
        if self.require_all_cases:
            data["require_all_cases"] = True
        if self.unavailable != "fail":
            data["unavailable"] = self.unavailable
        if self.with_prefill:
            data["with_prefill"] = True
        if self.samples:
            data["samples"] = {k: list(v) for k, v in self.samples.items()}
        return data

    def calls_a_model(self) -> bool:
        """Return whether grading with this rubric calls a model (an llm_judge criterion,
        at any depth): then grading an output waits on the network, not on the CPU."""
        return bool(self.model_criteria)

    @cached_property
    def model_criteria(self) -> dict[str, ModelCriterion]:
        """Return, by id, the top-level criteria that call a model, with their definition's
        fingerprint (graders.reuse); built once per rubric."""
        from graders.reuse import model_criteria

        return model_criteria(self)


# Review items, decisions and calibrations keep a criterion's id in a column this wide.
MAX_ID_CHARS = 100
MAX_WEIGHT = 1_000_000  # far past any sensible share; keeps sums of weights finite


def _number(value: Any, criterion: str, name: str, low: float, high: float | None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RubricError(f"must be a number, not {value!r}", criterion, name)
    if not math.isfinite(value) or value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise RubricError(f"must be {bounds}, not {value}", criterion, name)
    return float(value)


def _flag(data: Mapping[str, Any], name: str, default: bool | None, criterion: str) -> Any:
    """Return a true-or-false field; a None default leaves it unset when it is not given."""
    value = data.get(name, default)
    if not isinstance(value, bool) and not (value is None and default is None):
        raise RubricError(f"must be true or false, not {value!r}", criterion, name)
    return value


CRITERION_FIELDS = {
    "id",
    "kind",
    "params",
    "weight",
    "feedback",
    "negate",
    "target",
    "visible",
    "with_prefill",
    "title",
    "field",
    *NORMALIZE_OPTIONS,
}
RUBRIC_FIELDS = {
    "criteria",
    "pass_threshold",
    "require_all_cases",
    "unavailable",
    "with_prefill",
    "samples",
}


def load_criterion(data: Any, position: int, parent: str = "", depth: int = 0) -> Criterion:
    """Return a validated Criterion; sub-criteria are named "<parent>.<id>" in errors."""
    from graders.engine import CRITERIA

    label = f"{parent}.criteria[{position}]" if parent else f"criterion {position + 1}"
    if not isinstance(data, Mapping):
        raise RubricError(
            f"{label} must be a mapping, not {type(data).__name__}",
            parent,
            "criteria" if parent else "",
        )
    cid = data.get("id", str(position + 1) if parent else None)
    if not isinstance(cid, str) or not cid.strip():
        raise RubricError(f"{label} needs an id (a non-empty string)", parent, "id")
    if len(cid) > MAX_ID_CHARS:
        raise RubricError(
            f"{label}'s id is {len(cid)} characters; at most {MAX_ID_CHARS}", parent, "id"
        )
    where = f"{parent}.{cid}" if parent else cid
    unknown = sorted(set(data) - CRITERION_FIELDS)
    if unknown:
        raise RubricError(
            f"unknown field(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(CRITERION_FIELDS))}",
            where,
            unknown[0],
        )
    kind_name = data.get("kind")
    if not isinstance(kind_name, str) or kind_name not in CRITERIA:
        raise RubricError(
            f"unknown kind {kind_name!r}; valid kinds: {', '.join(sorted(CRITERIA))}", where, "kind"
        )
    kind = CRITERIA[kind_name]
    params = data.get("params", {})
    if not isinstance(params, Mapping):
        raise RubricError("must be a mapping", where, "params")
    params = kind.validate(dict(params), where)
    children: tuple[Criterion, ...] = ()
    if kind.nested:
        if depth >= limits.MAX_DEPTH:
            raise RubricError(
                f"criteria nest more than {limits.MAX_DEPTH} levels deep", where, "params.criteria"
            )
        children = tuple(
            load_criterion(sub, i, where, depth + 1) for i, sub in enumerate(params["criteria"])
        )
        ids = [c.id for c in children]
        if len(set(ids)) != len(ids):
            raise RubricError("two sub-criteria share an id", where, "params.criteria")
        params["criteria"] = [c.to_dict() for c in children]
    target = data.get("target", "output")
    if target not in TARGETS:
        raise RubricError(f"must be one of {', '.join(TARGETS)}, not {target!r}", where, "target")
    if kind.nested and target != "output":
        raise RubricError(
            "set target on each sub-criterion: they read it, not the group", where, "target"
        )
    negate = _flag(data, "negate", False, where)
    if negate and not kind.negatable:
        raise RubricError(f"a {kind_name} criterion cannot be negated", where, "negate")
    prompt_field = load_field(data, kind, target, where)
    title = data.get("title", "")
    if not isinstance(title, str) or len(title) > limits.MAX_TITLE_CHARS:
        raise RubricError(
            f"must be text of at most {limits.MAX_TITLE_CHARS} characters", where, "title"
        )
    feedback = data.get("feedback", {})
    if not isinstance(feedback, Mapping) or not all(
        k in ("pass", "fail") and isinstance(v, str) for k, v in feedback.items()
    ):
        raise RubricError(
            "must be a mapping with optional 'pass' and 'fail' strings", where, "feedback"
        )
    return Criterion(
        id=cid,
        kind=kind_name,
        params=params,
        weight=_number(data.get("weight", 1), where, "weight", 0, MAX_WEIGHT),
        on_pass=feedback.get("pass", ""),
        on_fail=feedback.get("fail", ""),
        negate=negate,
        target=target,
        visible=_flag(data, "visible", True, where),
        strip=_flag(data, "strip", None, where),
        ignore_case=_flag(data, "ignore_case", False, where),
        collapse_whitespace=_flag(data, "collapse_whitespace", False, where),
        with_prefill=_flag(data, "with_prefill", None, where),
        title=title.strip(),
        field=prompt_field,
        children=children,
    )


def load_field(data: Mapping[str, Any], kind: Kind, target: str, where: str) -> str:
    """Return the one prompt field a criterion reads ("" = the whole prompt), refused where
    it cannot apply."""
    value = data.get("field", "")
    if value == "":
        return ""
    if kind.reads != "prompt" and target != "prompt":
        raise RubricError("reads one field of the prompt: add target: prompt", where, "field")
    if value not in kind.fields:
        allowed = ", ".join(kind.fields) or "none (it compares every field)"
        raise RubricError(f"must be one of {allowed}, not {value!r}", where, "field")
    return str(value)


SAMPLE_FIELDS = {"output", "expected", "reference", "variables", "prefill"}
CASE_VALUES = {"expected": Mapping, "variables": Mapping, "reference": str, "prefill": str}


def output_mapping(item: Any, allowed: set[str]) -> bool:
    """Return whether item is a mapping with "output" (text), no field outside `allowed`, and
    the test case values among them of the right type: what a rubric's samples and a
    judge's labelled outputs are."""
    return (
        isinstance(item, Mapping)
        and isinstance(item.get("output"), str)
        and not set(item) - allowed
        and all(isinstance(item[k], kind) for k, kind in CASE_VALUES.items() if k in item)
    )


def load_samples(data: Any) -> dict[str, tuple[Any, ...]]:
    """Return known-good and known-bad outputs: each a string, or a mapping with "output" and
    the test case values it needs ("expected", "reference", "variables", "prefill")."""
    if not isinstance(data, Mapping) or set(data) - {"good", "bad"}:
        raise RubricError("must be a mapping with 'good' and/or 'bad' lists", field="samples")
    samples: dict[str, tuple[Any, ...]] = {}
    for key in ("good", "bad"):
        items = data.get(key, [])
        if not isinstance(items, list) or len(items) > limits.MAX_SAMPLES:
            raise RubricError(
                f"must be a list of at most {limits.MAX_SAMPLES} outputs", field=f"samples.{key}"
            )
        for i, item in enumerate(items):
            if not (isinstance(item, str) or output_mapping(item, SAMPLE_FIELDS)):
                raise RubricError(
                    "must be an output string, or a mapping with 'output' and optional "
                    "'expected', 'reference', 'variables', 'prefill'",
                    field=f"samples.{key}[{i}]",
                )
        if items:
            samples[key] = tuple(items)
    return samples


def check_requirements(criteria: tuple[Criterion, ...]) -> None:
    """An llm_judge's `requires` names top-level criteria before it that call no model."""
    from graders.reuse import subtree

    earlier: dict[str, Criterion] = {}
    for criterion in criteria:
        nested = next((n for n in subtree(criterion)[1:] if n.params.get("requires")), None)
        if nested is not None:
            raise RubricError(
                "requires works on top-level criteria only", nested.id, "params.requires"
            )
        for required in criterion.params.get("requires", []):
            if required not in earlier:
                raise RubricError(
                    f"requires {required!r}, which is not a criterion before this one",
                    criterion.id,
                    "params.requires",
                )
            if any(node.kind == "llm_judge" for node in subtree(earlier[required])):
                raise RubricError(
                    f"requires {required!r}, which calls a model too: name cheaper criteria",
                    criterion.id,
                    "params.requires",
                )
        earlier[criterion.id] = criterion


def load_rubric(data: Any) -> Rubric:
    """Return a validated Rubric, or raise RubricError naming what is wrong."""
    if not isinstance(data, Mapping):
        raise RubricError("a rubric must be a mapping with 'criteria' and 'pass_threshold'")
    unknown = sorted(set(data) - RUBRIC_FIELDS)
    if unknown:
        raise RubricError(
            f"unknown rubric field(s): {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(RUBRIC_FIELDS))}",
            field=unknown[0],
        )
    raw = data.get("criteria")
    if not isinstance(raw, list) or not raw:
        raise RubricError("needs at least one criterion", field="criteria")
    criteria = tuple(load_criterion(c, i) for i, c in enumerate(raw))
    seen: set[str] = set()
    for c in criteria:
        if c.id in seen:
            raise RubricError("the id is used twice", c.id, "id")
        seen.add(c.id)
    check_requirements(criteria)
    if sum(c.weight for c in criteria) <= 0:
        raise RubricError("at least one criterion needs a weight above 0", field="criteria")
    unavailable = data.get("unavailable", "fail")
    if unavailable not in UNAVAILABLE_POLICIES:
        raise RubricError(
            f"must be one of {', '.join(UNAVAILABLE_POLICIES)}, not {unavailable!r}",
            field="unavailable",
        )
    return Rubric(
        criteria=criteria,
        pass_threshold=_number(data.get("pass_threshold", 1.0), "", "pass_threshold", 0, 1),
        require_all_cases=_flag(data, "require_all_cases", False, ""),
        unavailable=unavailable,
        with_prefill=_flag(data, "with_prefill", False, ""),
        samples=load_samples(data["samples"]) if "samples" in data else {},
    )
