"""Criterion kinds that read the learner's prompt rather than the model's output.

The template fields (Submission.fields) hold placeholders such as `{ticket}` (or
`{{ ticket }}`); the rendered
prompt (Submission.rendered) holds this test case's values in their place.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from graders.context import Context, Submission
from graders.kinds import ParamError, excerpt, short
from graders.placeholders import TOKEN
from graders.results import Check
from graders.similarity import levenshtein_distance


def placeholder_spans(name: str, text: str) -> list[tuple[int, int]]:
    """Return where the text holds a placeholder of the variable, `{name}`, as the renderer
    reads it (graders.placeholders): not the escape `{{name}}`, which renders as text."""
    return [m.span() for m in TOKEN.finditer(text) if m.group(2) == name]


TEXT_FIELDS = ("system", "user", "prefill")


def template_texts(submission: Submission, field: str = "") -> list[str]:
    """Return what the learner wrote: the three fields, then the example turns; or one field
    ("examples": the turns)."""
    texts = {name: [submission.fields.get(name, "")] for name in TEXT_FIELDS}
    texts["examples"] = [text for _, text in submission.examples]
    return texts[field] if field else [text for group in texts.values() for text in group]


def template_text(submission: Submission, field: str = "") -> str:
    return "\n".join(template_texts(submission, field))


def rendered_text(submission: Submission, field: str = "") -> str:
    """Return the prompt as the model received it, or one field of it (the example turns
    as written)."""
    if not field:
        return submission.rendered
    if field == "examples":
        return template_text(submission, field)
    return submission.rendered_field(field)


def variable_values(ctx: Context) -> dict[str, str]:
    """Return this test case's variable values, the exercise's fixed ones included."""
    return {**ctx.submission.fixed_variables, **ctx.case.variables}


def is_fixed(name: str, ctx: Context) -> bool:
    """Return whether a variable has the value every test case shares."""
    fixed = ctx.submission.fixed_variables
    return name in fixed and ctx.case.variables.get(name, fixed[name]) == fixed[name]


def uses_variable(name: str, ctx: Context) -> bool:
    """Return whether the prompt uses a variable: a placeholder, or its value rendered.

    A value pasted in place of the placeholder is rendered only for its own test case, so it
    fails on the others; but a fixed variable's value is the same in every case, so for it
    only the placeholder counts.
    """
    if placeholder_spans(name, template_text(ctx.submission, ctx.field)):
        return True
    if is_fixed(name, ctx):
        return False
    value = ctx.case.variables.get(name, "")
    return bool(value) and value in rendered_text(ctx.submission, ctx.field)


def declared_variables(ctx: Context) -> list[str]:
    """Return the exercise's variables, fixed ones included, or else the case's."""
    names = list(ctx.submission.variables)
    names += [n for n in ctx.submission.fixed_variables if n not in names]
    return names or list(ctx.case.variables)


def uses_variables(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    names = params["variables"] or declared_variables(ctx)
    if not names:
        return Check(True, "the exercise declares no variables")
    missing = [n for n in names if not uses_variable(n, ctx)]
    if missing:
        listed = ", ".join("{" + n + "}" for n in missing)
        return Check(False, f"expected the prompt to use every variable, found no {listed}")
    return Check(True, f"the prompt uses all {len(names)} variables")


def expected_answers(keys: list[str], ctx: Context) -> list[tuple[str, str]]:
    """Return (key, text) for each expected answer of the case that the prompt must not contain."""
    found: list[tuple[str, str]] = []
    for key in keys:
        value: Any = ctx.case.reference if key == "reference" else ctx.case.expected.get(key, "")
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item.strip():
                found.append((key, item))
    return found


def no_hardcoded_answer(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    """Fail when the prompt contains this test case's expected answer verbatim.

    Short answers are skipped (`min_chars`, default 12): a label such as "refund" belongs in a
    classification prompt's instructions, but a whole reference answer does not. The detail
    names the key only, never the answer, since it may be hidden.
    """
    for key, answer in expected_answers(params["keys"], ctx):
        needle = ctx.normalize(answer)
        if len(needle) >= params["min_chars"] and needle in text:
            return Check(
                False,
                f"expected the prompt not to contain the test case's {key} verbatim, "
                f"found it (in test case {ctx.case.name!r})",
            )
    return Check(True, "the prompt does not contain the test case's expected answer")


WORD_OR_MARK = re.compile(r"\w+|[^\w\s]")


def estimate_tokens(text: str) -> int:
    """Return a rough token count: the larger of words-plus-punctuation and characters / 4.

    An estimate, not a tokenizer: budgets should leave a margin.
    """
    return max(len(WORD_OR_MARK.findall(text)), math.ceil(len(text) / 4))


def check_budget(params: dict[str, Any]) -> None:
    if params["max_chars"] is None and params["max_tokens"] is None:
        raise ParamError("max_chars", "give max_chars, max_tokens or both")


def prompt_budget(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    chars, tokens = len(text), None
    problems = []
    if params["max_chars"] is not None and chars > params["max_chars"]:
        problems.append(f"at most {params['max_chars']} characters, found {chars}")
    if params["max_tokens"] is not None:
        tokens = estimate_tokens(text)
        if tokens > params["max_tokens"]:
            problems.append(f"at most {params['max_tokens']} tokens, found about {tokens}")
    if problems:
        return Check(False, "expected the prompt to use " + " and ".join(problems))
    used = f"{chars} characters" + (f", about {tokens} tokens" if tokens is not None else "")
    return Check(True, f"the prompt is within budget ({used})")


def only_editable_changed(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    """Fail when a field the exercise locks differs from the starter ("only the prefill may
    change")."""
    editable = set(
        params["editable"] if params["editable"] is not None else ctx.submission.editable
    )
    fields, starter = ctx.submission.fields, ctx.submission.starter
    changed = [
        name
        for name in sorted(set(fields) | set(starter))
        if name not in editable
        and ctx.normalize(fields.get(name, "")) != ctx.normalize(starter.get(name, ""))
    ]
    if changed:
        allowed = ", ".join(sorted(editable)) or "nothing"
        return Check(
            False, f"expected only {allowed} to change, found changes in {', '.join(changed)}"
        )
    return Check(True, f"only editable fields changed ({', '.join(sorted(editable)) or 'none'})")


def words_changed(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    """Fail when the learner changed more than `at_most` words of the starter: in one field,
    or summed over system, user and prefill."""
    names = [ctx.field] if ctx.field else list(TEXT_FIELDS)
    fields, starter = ctx.submission.fields, ctx.submission.starter
    changed = sum(
        levenshtein_distance(
            ctx.normalize(fields.get(name, "")).split(),
            ctx.normalize(starter.get(name, "")).split(),
        )
        for name in names
    )
    noun = "word" if changed == 1 else "words"
    return Check(
        changed <= params["at_most"], f"{changed} {noun} changed; at most {params['at_most']}"
    )


QUOTE_FENCES = ('"""', "'''", "```", "~~~", "---", "###", "<<<", ">>>")
OPENING_TAG = re.compile(r"<([A-Za-z_][\w.-]*)(?:\s[^<>]*)?>$")


def delimited_at(text: str, start: int, end: int, tag: str | None) -> bool:
    """Return whether text[start:end] sits inside a delimiter pair (a tag, or a fence line)."""
    before = text[max(0, start - 200) : start].rstrip()
    after = text[end : end + 200].lstrip()
    opening = OPENING_TAG.search(before)
    if opening and (tag is None or opening.group(1) == tag):
        return after.startswith(f"</{opening.group(1)}>")
    if tag is None:
        for fence in QUOTE_FENCES:
            # a fence line may carry a language after it: ```text
            last_line = before.rsplit("\n", 1)[-1].strip()
            if last_line.startswith(fence) and after.startswith(fence):
                return True
    return False


def delimited_input(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    """Pass when every use of the untrusted variable is wrapped in delimiters.

    Accepted: an XML-style tag pair (`<ticket>{{ ticket }}</ticket>`; `tag` may require a name)
    or a fence line before and after ("\"\"\"", ```, ---, ###). Checks the template fields, and
    the rendered prompt where the case's value appears.
    """
    name, tag = params["variable"], params["tag"]
    spans: list[tuple[str, int, int]] = []
    for field_text in template_texts(ctx.submission, ctx.field):
        spans.extend((field_text, start, end) for start, end in placeholder_spans(name, field_text))
    value = variable_values(ctx).get(name, "")
    if not spans and value:
        rendered = rendered_text(ctx.submission, ctx.field)
        at = rendered.find(value)
        while at >= 0 and len(spans) < 50:
            spans.append((rendered, at, at + len(value)))
            at = rendered.find(value, at + 1)
    if not spans:
        return Check(
            False,
            f"expected the prompt to include {{{{ {name} }}}} inside delimiters, "
            "found no use of it",
        )
    bare = [(t, s) for t, s, e in spans if not delimited_at(t, s, e, tag)]
    wanted = f"<{tag}>…</{tag}>" if tag else "delimiters (an XML-style tag or a fence)"
    if bare:
        where, at = bare[0]
        return Check(
            False,
            f"expected {short('{{ ' + name + ' }}')} inside {wanted}, "
            f"found it bare in {excerpt(where, at)}",
        )
    return Check(True, f"every use of {{{{ {name} }}}} is inside {wanted}")
