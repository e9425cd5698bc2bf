"""Criterion kinds that read the output as structured data: JSON, XML-style tags, markdown.

JSON kinds parse the output as written (only stripped): case-folding "{"Name": 1}" would
change its keys. Normalisation options apply to strings they compare.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import jsonschema
import referencing
import referencing.exceptions

from graders.context import Context
from graders.kinds import ParamError, excerpt, short
from graders.results import OK, Check, worst_status

if TYPE_CHECKING:
    from graders.rubric import Criterion

MAX_JSON_CHARS = 200_000
MAX_SCHEMA_CHARS = 50_000
FENCE = "```"


def parse_json(text: str) -> tuple[Any, str]:
    """Return (value, "") for JSON text, or (None, reason) when it is not JSON.

    Deep nesting is a reason, not a crash:

    >>> parse_json("[" * 100_000)[1]
    'the JSON is nested too deeply to read'
    """
    if len(text) > MAX_JSON_CHARS:
        return None, f"the output is longer than {MAX_JSON_CHARS} characters"
    try:
        return json.loads(text), ""
    except RecursionError:
        return None, "the JSON is nested too deeply to read"
    except ValueError as e:
        msg = getattr(e, "msg", str(e))
        where = (
            f" at line {e.lineno}, column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
        )
        return None, f"not valid JSON ({msg}{where})"


def fenced_block(text: str) -> str | None:
    """Return the body of the first ``` fenced block (any language tag), or None.

    >>> fenced_block('Here:\\n```json\\n{"a": 1}\\n```\\nDone.')
    '{"a": 1}'
    """
    start = text.find(FENCE)
    if start < 0:
        return None
    body_start = text.find("\n", start)
    if body_start < 0:
        return None
    end = text.find(FENCE, body_start)
    if end < 0:
        return None
    return text[body_start + 1 : end].strip()


def json_text(params: Mapping[str, Any], ctx: Context) -> tuple[str, str]:
    """Return (the text to parse, where it came from)."""
    raw = ctx.raw.strip()
    if params.get("allow_fence"):
        block = fenced_block(raw)
        if block is not None:
            return block, "the fenced block"
    return raw, "the output"


def load_output_json(params: Mapping[str, Any], ctx: Context) -> tuple[Any, str, str]:
    """Return (value, where, error) for the output's JSON."""
    text, where = json_text(params, ctx)
    parsed = ctx.parsed
    if parsed is None:
        value, error = parse_json(text)
    else:
        found = parsed.get(text)
        if found is None:
            found = parsed[text] = parse_json(text)
        value, error = found
    if error:
        return None, where, f"expected JSON in {where}, found {excerpt(text)}: {error}"
    return value, where, ""


def valid_json(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    _, where, error = load_output_json(params, ctx)
    if error:
        return Check(False, error)
    return Check(True, f"{where} is valid JSON")


def remote_refs(schema: Any) -> list[str]:
    """Return every $ref in the schema that points outside it (only "#…" refs are allowed)."""
    found: list[str] = []
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            for key, value in node.items():
                if (
                    key in ("$ref", "$dynamicRef")
                    and isinstance(value, str)
                    and not value.startswith("#")
                ):
                    found.append(value)
                stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return found


def refuse_retrieval(uri: str) -> referencing.Resource:
    raise referencing.exceptions.NoSuchResource(ref=uri)


def check_schema(params: dict[str, Any]) -> None:
    schema = params["schema"]
    try:
        size = len(json.dumps(schema))
    except (TypeError, ValueError, RecursionError):
        raise ParamError("schema", "must be plain JSON data") from None
    if size > MAX_SCHEMA_CHARS:
        raise ParamError("schema", f"is longer than {MAX_SCHEMA_CHARS} characters as JSON")
    remote = remote_refs(schema)
    if remote:
        raise ParamError("schema", f'a remote $ref is not allowed ({remote[0]!r}); use "#/$defs/…"')
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as e:
        path = "/".join(map(str, e.absolute_path)) or "(top)"
        raise ParamError("schema", f"is not a valid JSON Schema at {path}: {e.message}") from None


def prepare_schema(params: Mapping[str, Any], criterion: Criterion) -> Any:
    schema = params["schema"]
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    # An empty registry that refuses retrieval: no schema ever triggers a network fetch.
    return cls(schema, registry=referencing.Registry(retrieve=refuse_retrieval))


def json_schema(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    value, where, error = load_output_json(params, ctx)
    if error:
        return Check(False, error)
    validator = ctx.compiled or prepare_schema(params, None)  # type: ignore[arg-type]
    try:
        if validator.is_valid(value):
            return Check(True, f"{where} matches the schema")
        best = jsonschema.exceptions.best_match(validator.iter_errors(value))
    except RecursionError:
        return Check(False, f"{where} is nested too deeply to check against the schema")
    except referencing.exceptions.Unresolvable as e:
        return Check(False, f"the schema refers to {e.ref!r}, which is not in the schema")
    path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in best.absolute_path)
    return Check(False, f"expected {where} to match the schema; at {path}: {best.message[:200]}")


PATH_STEP = re.compile(r"""\.([A-Za-z_][\w-]*)|\[(\d+)\]|\["([^"\\]*)"\]|\['([^'\\]*)'\]""")


def parse_path(path: str) -> list[str | int]:
    """Return the steps of a JSON path such as `$.items[0].name` or `$["odd key"]`.

    >>> parse_path('$.order.items[2]["unit price"]')
    ['order', 'items', 2, 'unit price']
    """
    rest = (
        path[1:] if path.startswith("$") else "." + path if path and path[0] not in ".[" else path
    )
    steps: list[str | int] = []
    at = 0
    while at < len(rest):
        match = PATH_STEP.match(rest, at)
        if not match:
            raise ValueError(f"cannot read {path!r} at {rest[at : at + 10]!r}")
        name, index, dq, sq = match.groups()
        steps.append(
            int(index) if index is not None else next(s for s in (name, dq, sq) if s is not None)
        )
        at = match.end()
    return steps


def check_path(params: dict[str, Any]) -> None:
    try:
        parse_path(params["path"])
    except ValueError as e:
        raise ParamError(
            "path", f'{e}; write paths like $.a.b[0] or $["key with spaces"]'
        ) from None


MISSING = object()


def follow(value: Any, steps: list[str | int]) -> Any:
    for step in steps:
        if isinstance(step, int) and isinstance(value, list) and step < len(value):
            value = value[step]
        elif isinstance(step, str) and isinstance(value, dict) and step in value:
            value = value[step]
        else:
            return MISSING
    return value


def json_path_exists(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    value, where, error = load_output_json(params, ctx)
    if error:
        return Check(False, error)
    found = follow(value, parse_path(params["path"]))
    if found is MISSING:
        return Check(False, f"expected {params['path']} in {where}, found no such value")
    return Check(True, f"{params['path']} is {short(json.dumps(found), 40)}")


def same_json(found: Any, expected: Any, ctx: Context) -> bool:
    if isinstance(found, str) and isinstance(expected, str):
        return ctx.normalize(found) == ctx.normalize(expected)
    if isinstance(found, bool) or isinstance(expected, bool):
        return type(found) is type(expected) and found == expected
    return bool(found == expected)


def json_path_equals(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    value, where, error = load_output_json(params, ctx)
    if error:
        return Check(False, error)
    found = follow(value, parse_path(params["path"]))
    expected = params["value"]
    wanted = short(json.dumps(expected), 40)
    if found is MISSING:
        return Check(False, f"expected {params['path']} = {wanted}, found no such value in {where}")
    if same_json(found, expected, ctx):
        return Check(True, f"{params['path']} is {wanted}")
    return Check(
        False, f"expected {params['path']} = {wanted}, found {short(json.dumps(found), 40)}"
    )


TAG_NAME = re.compile(r"[A-Za-z_][\w.-]{0,63}")


def check_tag(params: dict[str, Any]) -> None:
    if not TAG_NAME.fullmatch(params["tag"]):
        raise ParamError("tag", f"{params['tag']!r} is not a tag name (write answer, not <answer>)")


def extract_tag(text: str, tag: str, occurrence: str) -> tuple[str | None, str]:
    """Return (the text inside <tag>…</tag>, note), or (None, why) when there is no such tag.

    A missing closing tag reads to the end, because `</answer>` is often the stop sequence:

    >>> extract_tag("Thinking… <answer>Paris", "answer", "first")
    ('Paris', ' (no closing tag)')
    """
    opening = re.compile(rf"<{re.escape(tag)}(?:\s[^<>]*)?>")
    closing = f"</{tag}>"
    matches = list(opening.finditer(text)) if occurrence == "last" else [opening.search(text)]
    start = matches[-1] if matches else None
    if start is None:
        return None, f"expected a <{tag}> tag, found {excerpt(text)}"
    end = text.find(closing, start.end())
    if end < 0:
        return text[start.end() :].strip(), " (no closing tag)"
    return text[start.end() : end].strip(), ""


def xml_tag(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    inner, note = extract_tag(ctx.raw, params["tag"], params["occurrence"])
    if inner is None:
        return Check(False, note)
    tag = f"<{params['tag']}>"
    if not ctx.children or ctx.grade_child is None:
        return Check(True, f"found {tag}{note}: {excerpt(inner)}")
    results = [ctx.grade_child(child, inner) for child in ctx.children]
    failed = [r for r in results if not r.passed]
    injection = any(r.suspected_injection for r in results)
    if not failed:
        return Check(
            True,
            f"in {tag}{note}: " + "; ".join(r.detail for r in results),
            suspected_injection=injection,
        )
    status = worst_status([r.status for r in failed])
    if any(r.status == OK for r in failed):
        status = OK  # a real failure decides; an unavailable sibling cannot turn it into a pass
    return Check(
        False,
        f"in {tag}{note}: " + "; ".join(r.detail for r in failed),
        status=status,
        suspected_injection=injection,
    )


LIST_ITEM = re.compile(r"\s{0,8}(?:([-*+])|(\d{1,9})[.)])\s+\S")


def markdown_list(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    ordered = params["ordered"]
    count = 0
    for line in ctx.raw.splitlines():
        match = LIST_ITEM.match(line)
        if match and (ordered is None or ordered == (match.group(2) is not None)):
            count += 1
    kind = {None: "list", True: "numbered list", False: "bulleted list"}[ordered]
    wanted = params["min_items"]
    if count >= wanted:
        return Check(True, f"found a markdown {kind} with {count} items")
    return Check(
        False,
        f"expected a markdown {kind} of at least {wanted} items, "
        f"found {count} in {excerpt(ctx.raw)}",
    )


def is_separator_row(line: str) -> bool:
    if "|" not in line or "-" not in line:
        return False
    cells = line.strip().strip("|").split("|")
    return all(cell.strip().strip(":") and set(cell.strip().strip(":")) == {"-"} for cell in cells)


def markdown_table(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    lines = ctx.raw.splitlines()
    best_rows = best_columns = 0
    for i in range(1, len(lines)):
        if "|" in lines[i - 1] and is_separator_row(lines[i]):
            columns = len(lines[i].strip().strip("|").split("|"))
            rows = 0
            for line in lines[i + 1 :]:
                if "|" not in line:
                    break
                rows += 1
            if columns >= params["min_columns"] and rows >= params["min_rows"]:
                return Check(True, f"found a markdown table of {columns} columns and {rows} rows")
            best_rows, best_columns = max(best_rows, rows), max(best_columns, columns)
    if not best_columns:
        return Check(
            False, f"expected a markdown table (a header row, then |---|), found {excerpt(ctx.raw)}"
        )
    return Check(
        False,
        f"expected a table of at least {params['min_columns']} columns "
        f"and {params['min_rows']} rows, "
        f"found {best_columns} columns and {best_rows} rows",
    )
