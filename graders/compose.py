"""Criteria made of other criteria: all-of, any-of, none-of.

    "(contains `refund` or matches `money.back`) and not contains `guarantee`"

is one criterion with one feedback line:

    kind: all_of
    params:
      criteria:
        - {kind: any_of, params: {criteria: [
            {kind: contains, params: {text: refund}, ignore_case: true},
            {kind: regex, params: {pattern: "money.back"}}]}}
        - {kind: not_contains, params: {text: guarantee}}

Each sub-criterion keeps its own options (normalisation, negate, target, prefill).
A sub-criterion that could not run (no judge, no embedding model) never counts as passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graders import limits
from graders.context import Context
from graders.results import OK, Check, CriterionResult, worst_status


def check_children(params: dict[str, Any]) -> None:
    from graders.kinds import ParamError

    if not params["criteria"]:
        raise ParamError("criteria", "needs at least one sub-criterion")
    if len(params["criteria"]) > limits.MAX_CHILDREN:
        raise ParamError("criteria", f"has more than {limits.MAX_CHILDREN} sub-criteria")


def grade_children(ctx: Context) -> list[CriterionResult]:
    assert ctx.grade_child is not None
    return [ctx.grade_child(child, None) for child in ctx.children]


def mark(result: CriterionResult, wanted: bool) -> str:
    """Mark a sub-criterion ✓ when it came out as its parent wants: under none_of, a match
    (a forbidden phrase found) is the failure."""
    sign = "?" if result.status != OK else "✓" if result.passed == wanted else "✗"
    return f"{sign} {result.detail}"


def summary(label: str, results: list[CriterionResult], wanted: bool = True) -> str:
    return f"{label}: " + "; ".join(mark(r, wanted) for r in results)


def injected(results: list[CriterionResult]) -> bool:
    return any(r.suspected_injection for r in results)


def all_of(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    results = grade_children(ctx)
    if all(r.passed for r in results):
        return Check(True, summary("all of", results), suspected_injection=injected(results))
    # A sub-criterion that really failed decides; otherwise one could not run, and says so.
    status = (
        OK
        if any(not r.passed and r.status == OK for r in results)
        else worst_status([r.status for r in results])
    )
    return Check(
        False,
        summary("expected all of", results),
        status=status,
        suspected_injection=injected(results),
    )


def any_of(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    results = grade_children(ctx)
    if any(r.passed for r in results):
        return Check(True, summary("any of", results), suspected_injection=injected(results))
    return Check(
        False,
        summary("expected any of", results),
        status=worst_status([r.status for r in results]),
        suspected_injection=injected(results),
    )


def none_of(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    results = grade_children(ctx)
    if any(r.passed for r in results):
        return Check(
            False,
            summary("expected none of", results, wanted=False),
            suspected_injection=injected(results),
        )
    status = worst_status([r.status for r in results])
    return Check(
        status == OK,
        summary("none of", results, wanted=False),
        status=status,
        suspected_injection=injected(results),
    )
