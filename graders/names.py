"""What a learner calls a criterion: its author's title, or a name read from its kind and
params ("Mentions “refund”", "At most 60 words"). Pages never show a criterion's id.

>>> from graders.rubric import load_rubric
>>> rubric = load_rubric({"criteria": [
...     {"id": "expect-icontains", "kind": "contains", "params": {"text": "refund"}},
...     {"id": "short", "kind": "word_count", "params": {"max": 60}},
... ]})
>>> [criterion_name(c) for c in rubric.criteria]
['Mentions “refund”', 'At most 60 words']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graders.kinds import is_case_reference
from graders.rubric import Criterion, Rubric
from graders.text import describe_range

QUOTE_WIDTH = 40
FIELD_NAMES = {
    "system": "the system prompt",
    "user": "the user message",
    "prefill": "the prefill",
    "examples": "the example turns",
}
LISTED = 3  # texts named before "…"


def quoted(value: Any) -> str:
    text = str(value)
    return f"“{text if len(text) <= QUOTE_WIDTH else text[: QUOTE_WIDTH - 1] + '…'}”"


def texts(value: Any, joiner: str, expected: str) -> str:
    """Return '“a”, “b” or “c”' for a text or a list of them, or `expected` for a value the
    test case gives."""
    if is_case_reference(value):
        return expected
    items = [value] if isinstance(value, str) else list(value)
    named = [quoted(v) for v in items[:LISTED]] + (["…"] if len(items) > LISTED else [])
    return named[0] if len(named) == 1 else f"{', '.join(named[:-1])} {joiner} {named[-1]}"


def listing(params: Mapping[str, Any]) -> str:
    ordered = params.get("ordered")
    kind = "A list" if ordered is None else "A numbered list" if ordered else "A bulleted list"
    items = params.get("min_items", 1)
    return kind if items <= 1 else f"{kind} of at least {items} items"


def variables(params: Mapping[str, Any]) -> str:
    names = params.get("variables") or []
    if not names:
        return "Your prompt uses every variable"
    return "Your prompt uses " + ", ".join("{" + n + "}" for n in names)


def budget(params: Mapping[str, Any]) -> str:
    if params.get("max_tokens"):
        return f"Your prompt stays under {params['max_tokens']} tokens"
    return f"Your prompt stays under {params.get('max_chars')} characters"


def delimited(params: Mapping[str, Any]) -> str:
    tag = params.get("tag")
    where = f"<{tag}> tags" if tag else "delimiters"
    return f"Your prompt wraps {{{params.get('variable')}}} in {where}"


def composed(joiner: str, prefix: str = "") -> Callable[[Criterion], str]:
    def name(criterion: Criterion) -> str:
        parts = list(dict.fromkeys(lowered(criterion_name(c)) for c in criterion.children))
        return prefix + joiner.join(parts)

    return name


def lowered(name: str) -> str:
    return name[:1].lower() + name[1:] if name[1:2].islower() else name


# Kind -> its name from params (tests/graders/test_names.py: every kind has one).
NAMES: dict[str, Callable[[Criterion], str]] = {
    "equals": lambda c: "Is exactly " + texts(c.params["text"], "or", "the expected answer"),
    "contains": lambda c: "Mentions " + texts(c.params["text"], "and", "the expected text"),
    "not_contains": lambda c: (
        "Does not mention " + texts(c.params["text"], "or", "the forbidden text")
    ),
    "contains_any": lambda c: (
        "Mentions " + texts(c.params["texts"], "or", "one of the expected answers")
    ),
    "contains_all": lambda c: "Mentions " + texts(c.params["texts"], "and", "every expected point"),
    "starts_with": lambda c: "Starts with " + texts(c.params["text"], "or", "the expected text"),
    "ends_with": lambda c: "Ends with " + texts(c.params["text"], "or", "the expected text"),
    "regex": lambda c: "Matches the expected pattern",
    "one_of": lambda c: "Answers with " + texts(c.params["labels"], "or", "the expected label"),
    "length": lambda c: describe_range(c.params["min"], c.params["max"], c.params["unit"]),
    "word_count": lambda c: describe_range(c.params["min"], c.params["max"], "words"),
    "forbidden_words": lambda c: "Avoids " + texts(c.params["words"], "and", ""),
    "valid_json": lambda c: "Valid JSON",
    "json_schema": lambda c: "Valid JSON matching the schema",
    "json_path_exists": lambda c: f"JSON has {c.params['path']}",
    "json_path_equals": lambda c: (
        f"JSON {c.params['path']} is "
        + (
            "the expected value"
            if is_case_reference(c.params["value"])
            else quoted(c.params["value"])
        )
    ),
    "xml_tag": lambda c: (
        f"Answer inside <{c.params['tag']}> tags" + (": " + composed("; ")(c) if c.children else "")
    ),
    "markdown_list": lambda c: listing(c.params),
    "markdown_table": lambda c: "A table",
    "levenshtein": lambda c: "Close to the reference answer",
    "rouge_l": lambda c: "Close to the reference answer",
    "semantic_similarity": lambda c: "Means the same as the reference answer",
    "uses_variables": lambda c: variables(c.params),
    "no_hardcoded_answer": lambda c: "Your prompt does not give away the answers",
    "prompt_budget": lambda c: budget(c.params),
    "only_editable_changed": lambda c: "Only the parts you may edit changed",
    "words_changed": lambda c: (
        f"At most {c.params['at_most']} {'word' if c.params['at_most'] == 1 else 'words'} "
        f"changed in {FIELD_NAMES.get(c.field, 'your prompt')}"
    ),
    "delimited_input": lambda c: delimited(c.params),
    "all_of": composed("; "),
    "any_of": composed(" or "),
    "none_of": composed("; ", "None of: "),
    "llm_judge": lambda c: " ".join(c.params["items"]),
}


def criterion_name(criterion: Criterion) -> str:
    """Return the criterion's learner-facing name: its title, else one read from its kind."""
    if criterion.title:
        return criterion.title
    name = NAMES[criterion.kind](criterion)
    name = name[:1].upper() + name[1:]  # a group of one kind of part starts with that part
    if criterion.negate:
        name = "Not: " + lowered(name)
    if criterion.target == "prompt" and not name.startswith("Your prompt"):
        where = FIELD_NAMES[criterion.field].removeprefix("the ") if criterion.field else "prompt"
        name = f"Your {where}: " + lowered(name)
    return name


def criterion_names(rubric: Rubric) -> dict[str, str]:
    """Return the learner-facing name of each top-level criterion, by id."""
    return {c.id: criterion_name(c) for c in rubric.criteria}


def checks(rubric: Rubric) -> list[str]:
    """Return the names of the criteria a learner may see, in order: what will be checked."""
    return [criterion_name(c) for c in rubric.criteria if c.visible]
