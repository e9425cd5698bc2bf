"""Verdict reuse: a criterion that calls a model is asked again only when what it read changed.

Grading stored outputs again (a regrade after a rubric edit) should not pay for a judge
call whose answer cannot have changed. Each top-level criterion that calls a model (an
llm_judge, or a composite with one among its sub-criteria) gets a fingerprint,
"<definition>:<inputs>":

- definition: sha256 of the canonical JSON of the criterion as the rubric defines it (with
  its sub-criteria, and the rubric's with_prefill, which it inherits), less what does not
  change its verdict: its weight, feedback and visibility, which a reused result takes from
  the rubric as it now is;
- inputs: sha256 of everything else its verdict was computed from: the output, the prefill
  when it grades prefill + continuation, the test case's values when a sub-criterion reads
  them (from_case params, the reference answer), and the prompt when one reads the prompt.

A stored result is reused, as it was, when its fingerprint equals the new one and its
status is "ok". A result stored without a fingerprint (older data) is never reused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from graders.context import Case, Submission
from graders.judge import CALLS_PER_ASK
from graders.results import OK, CriterionResult
from graders.rubric import Criterion, Rubric

# Raise when what a fingerprint covers changes: older ones then never match. 2: the judge
# checks whether it was steered (graders.judge), so verdicts of the old protocol are asked again.
VERSION = 2
# Ends the fingerprint of a result stored without asking the judge (its `requires` did not
# pass): same definition, but never a verdict to reuse.
UNJUDGED = ":unjudged"
# A criterion's fields its verdict ignores.
PRESENTATION = ("weight", "feedback", "visible", "title")


@dataclass(frozen=True)
class ModelCriterion:
    """A top-level criterion that calls a model, and what besides the output it reads."""

    definition: str
    reads_prefill: bool
    reads_case: bool
    reads_prompt: bool
    # The most calls it can make: each llm_judge in it makes up to three calls (graders.judge),
    # each asked again up to `retries` times after a bad answer.
    most_calls: int = 1


def canonical_hash(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def subtree(criterion: Criterion) -> list[Criterion]:
    nodes, pending = [], [criterion]
    while pending:
        node = pending.pop()
        nodes.append(node)
        pending.extend(node.children)
    return nodes


def model_criteria(rubric: Rubric) -> dict[str, ModelCriterion]:
    """Return, by id, the rubric's top-level criteria that call a model (usually none)."""
    from graders.engine import CRITERIA, REFERENCE

    found: dict[str, ModelCriterion] = {}
    for criterion in rubric.criteria:
        nodes = subtree(criterion)
        if not any(node.kind == "llm_judge" for node in nodes):
            continue
        prefill = case = prompt = False
        inherited = {id(criterion): rubric.with_prefill}  # each node's with_prefill default
        for node in nodes:
            kind = CRITERIA[node.kind]
            reads_prompt = kind.reads == "prompt" or node.target == "prompt"
            prompt = prompt or reads_prompt
            with_prefill = (
                node.with_prefill if node.with_prefill is not None else inherited[id(node)]
            )
            inherited.update((id(child), with_prefill) for child in node.children)
            prefill = prefill or (with_prefill and not reads_prompt)
            case = case or bool(
                node.case_params or (REFERENCE in kind.params and node.params["reference"] is None)
            )
        verdict = {k: v for k, v in criterion.to_dict().items() if k not in PRESENTATION}
        verdict["params"] = {k: v for k, v in verdict["params"].items() if k != "labelled"}
        definition = canonical_hash(
            {"v": VERSION, "criterion": verdict, "with_prefill": rubric.with_prefill}
        )
        most_calls = sum(
            CALLS_PER_ASK * (1 + int(node.params.get("retries", 0)))
            for node in nodes
            if node.kind == "llm_judge"
        )
        found[criterion.id] = ModelCriterion(definition, prefill, case, prompt, most_calls)
    return found


def fingerprint(model: ModelCriterion, output: str, case: Case, submission: Submission) -> str:
    """Return the fingerprint of a model-calling criterion graded on this output."""
    inputs: dict[str, Any] = {"output": output}
    if model.reads_prefill:
        inputs["prefill"] = submission.rendered_field("prefill")
    if model.reads_case or model.reads_prompt:
        inputs["case"] = {
            "variables": dict(case.variables),
            "reference": case.reference,
            "expected": dict(case.expected),
        }
    if model.reads_prompt:
        inputs["prompt"] = {
            "fields": dict(submission.fields),
            "rendered_fields": dict(submission.rendered_fields),
            "starter": dict(submission.starter),
            "editable": list(submission.editable),
            "variables": list(submission.variables),
            "rendered": submission.rendered,
            "examples": [list(turn) for turn in submission.examples],
            "fixed_variables": dict(submission.fixed_variables),
        }
    return f"{model.definition}:{canonical_hash(inputs)}"


def version(fingerprint: str) -> str:
    """Return the short name of the definition a fingerprint (or a bare definition) holds:
    one version of a model-calling criterion, as instructors' decisions and calibrations
    are kept under it."""
    return fingerprint.partition(":")[0][:12]


def reused(criterion: Criterion, stored: Mapping[str, Any]) -> CriterionResult:
    """Return a stored verdict, with the weight, feedback and visibility the rubric now gives."""
    result = CriterionResult.from_dict(stored)
    return replace(
        result,
        weight=criterion.weight,
        feedback=criterion.on_pass if result.passed else criterion.on_fail,
        visible=criterion.visible,
    )


def reusable(stored: Mapping[str, Any] | None, fingerprint: str, any_status: bool = False) -> bool:
    """Return whether a stored result (CriterionResult.to_dict()) may stand for a new one:
    its fingerprint is the new one, and its status "ok" (or any, with any_status)."""
    return (
        stored is not None
        and bool(fingerprint)
        and (any_status or stored.get("status") == OK)
        and stored.get("fingerprint") == fingerprint
    )


def same_definition(stored: Mapping[str, Any] | None, model: ModelCriterion) -> bool:
    """Return whether a stored result was an "ok" verdict of this very criterion definition
    (what judge_calls_needed can know without the outputs and test cases)."""
    if stored is None or stored.get("status") != OK:
        return False
    stored_fingerprint = stored.get("fingerprint")
    return (
        isinstance(stored_fingerprint, str)
        and stored_fingerprint.partition(":")[0] == model.definition
        and not stored_fingerprint.endswith(UNJUDGED)
    )
