"""What would surprise an exercise's author only once learners meet it, written once for
course import, the exercise editor and its publish page:

- errors: a prompt part naming a `{placeholder}` the exercise does not declare (the model
  would read it as written, braces and all);
- warnings: settings this site changes or does not send (max_tokens above the ceiling, a
  model or an llm_judge's judge not on the allowlist, a setting the provider's backend
  leaves out), each naming what to change.

Both return (field, message) pairs, the field named as in the course files ("prompt.user",
"stub.rules[0].if[1]", "model.max_tokens"), so import reports the file's line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from django.conf import settings

from graders.placeholders import undeclared_message
from sandbox.backends import BACKENDS, Backend, backend_class
from sandbox.prompting import PROMPT_FIELDS
from sandbox.providers import allowed_models

MAX_TOKENS = 32000  # the most an exercise may ask for; MAX_TOKENS_CEILING may cut it further


def placeholder_errors(exercise: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return (field, message) for each prompt part naming an undeclared placeholder.

    `exercise` holds Exercise fields as import reads them and the editor cleans them:
    starter_system/user/prefill, slots, examples, stub, solution, variables and
    fixed_variables. Checked: the starter and locked parts, slots, example turns, the
    reference solution, and the stub rules' patterns (one that names an undeclared
    placeholder can only match a prompt whose placeholder reached the model unfilled).
    """
    names = [*exercise.get("variables", []), *exercise.get("fixed_variables", {})]
    declared = list(dict.fromkeys(names))
    texts = [(f"prompt.{name}", exercise.get(f"starter_{name}")) for name in PROMPT_FIELDS]
    for key in ("slots", "examples"):
        parts = exercise.get(key) or []
        texts += [(f"prompt.{key}[{i}].text", part.get("text")) for i, part in enumerate(parts)]
    solution = exercise.get("solution") or {}
    texts += [(f"solution.{name}", solution.get(name)) for name in PROMPT_FIELDS]
    for key in ("slots", "examples"):
        texts += [(f"solution.{key}.{k}", text) for k, text in (solution.get(key) or {}).items()]
    texts += stub_patterns(exercise.get("stub"))
    found = [
        (field, undeclared_message(text, declared))
        for field, text in texts
        if isinstance(text, str)
    ]
    return [(field, message) for field, message in found if message]


def stub_patterns(stub: Any) -> list[tuple[str, Any]]:
    """Return (field, pattern) for every `if` and `unless` pattern of the stub's rules."""
    rules = stub.get("rules") if isinstance(stub, Mapping) else None
    found: list[tuple[str, Any]] = []
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        for key in ("if", "unless"):
            value = rule.get(key) if isinstance(rule, Mapping) else None
            if isinstance(value, list):
                found += [(f"stub.rules[{i}].{key}[{j}]", p) for j, p in enumerate(value)]
            else:
                found.append((f"stub.rules[{i}].{key}", value))
    return found


def setting_warnings(exercise: Any) -> list[tuple[str, str]]:
    """Return (field, message) for each model setting of the exercise (an Exercise, saved or
    not) that will not reach the provider as written, naming the setting to change."""
    warnings = []
    ceiling = settings.MAX_TOKENS_CEILING
    if exercise.max_tokens > ceiling:
        warnings.append(
            (
                "model.max_tokens",
                f"max_tokens {exercise.max_tokens} is cut to {ceiling}: this site's "
                f"MAX_TOKENS_CEILING is {ceiling}. Ask your operator to raise it, or lower "
                "max_tokens.",
            )
        )
    key = f"{exercise.backend}:{exercise.model_name}"
    allowed = allowed_models()
    if key not in allowed:
        warnings.append(
            (
                "model.name",
                f"{key} is not on this site's list of allowed models (SANDBOX_MODELS), so "
                "every attempt fails. Ask your operator to add it to SANDBOX_MODELS, or use "
                f"one of {', '.join(allowed)}.",
            )
        )
    warnings += judge_warnings(exercise, allowed)
    if exercise.backend not in BACKENDS:
        return warnings  # import reports the unknown backend as an error
    backend = cast(type[Backend], backend_class(exercise.backend))
    warnings += [
        (
            f"model.{setting}",
            f"{setting} is not sent to {backend.label} ({why}), so the model uses its own "
            f"default. Use another backend if the exercise depends on {setting}.",
        )
        for setting, why in backend.unsent.items()
    ]
    return warnings


def judge_warnings(exercise: Any, allowed: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return (field, message) for each llm_judge criterion, at any depth, whose judge is not
    `allowed`: the judge is never called, so each of its verdicts waits for review."""
    warnings = []
    for field, criterion in rubric_criteria(exercise.rubric, "rubric"):
        params = criterion.get("params")
        model = params.get("model") if isinstance(params, Mapping) else None
        if criterion.get("kind") != "llm_judge" or not isinstance(model, str):
            continue
        backend, name = exercise.judge_model(model)
        if f"{backend}:{name}" not in allowed:
            warnings.append(
                (
                    f"{field}.params.model",
                    f"the judge {backend}:{name} is not on this site's list of allowed models "
                    "(SANDBOX_MODELS), so it is never called and every output this criterion "
                    "grades waits for review. Ask your operator to add it, or judge with one "
                    f"of {', '.join(allowed)}.",
                )
            )
    return warnings


def rubric_criteria(node: Any, path: str) -> list[tuple[str, Mapping[str, Any]]]:
    """Return (field, criterion) for every criterion of a rubric as written, sub-criteria
    (`params.criteria`) included, each named by its path ("rubric.criteria[0]")."""
    criteria = node.get("criteria") if isinstance(node, Mapping) else None
    found: list[tuple[str, Mapping[str, Any]]] = []
    for i, criterion in enumerate(criteria if isinstance(criteria, list) else []):
        if isinstance(criterion, Mapping):
            field = f"{path}.criteria[{i}]"
            found += [
                (field, criterion),
                *rubric_criteria(criterion.get("params"), f"{field}.params"),
            ]
    return found
