"""Criterion kinds that read the output as structured data: JSON, XML-style tags, markdown.

JSON kinds parse the output as written (only stripped): case-folding "{"Name": 1}" would
change its keys. Normalisation options apply to strings they compare.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

import jsonschema
import re2
import referencing
import referencing.exceptions
from jsonschema.exceptions import ValidationError

from graders import limits
from graders.context import Context
from graders.kinds import ParamError, excerpt, short
from graders.results import OK, Check, worst_status
from graders.text import UNSUPPORTED_CONSTRUCTS, as_written, compile_pattern, re2_reason

if TYPE_CHECKING:
    from graders.rubric import Criterion

FENCE = "```"


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Return True when value has more than `limit` levels of lists and dicts (no recursion).

    >>> nested_deeper_than([[1]], 2), nested_deeper_than([[[1]]], 2)
    (False, True)
    """
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def deep_json() -> str:
    return f"nested deeper than {limits.MAX_JSON_DEPTH} levels"


def parse_json(text: str) -> tuple[Any, str]:
    """Return (value, "") for JSON text, or (None, reason) when it is not JSON.

    Deep nesting is a reason, not a crash (json.loads itself raises RecursionError at about
    1,000 levels; limits.MAX_JSON_DEPTH is the cap below that):

    >>> parse_json("[" * 100_000)[1]
    'nested deeper than 100 levels'
    """
    if len(text) > limits.MAX_JSON_CHARS:
        return None, f"the output is longer than {limits.MAX_JSON_CHARS} characters"
    try:
        value = json.loads(text)
    except RecursionError:
        return None, deep_json()
    except ValueError as e:
        msg = getattr(e, "msg", str(e))
        where = (
            f" at line {e.lineno}, column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
        )
        return None, f"not valid JSON ({msg}{where})"
    if nested_deeper_than(value, limits.MAX_JSON_DEPTH):
        return None, deep_json()
    return value, ""


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
    if error == deep_json():
        return None, where, f"{where}'s JSON is {error}"
    if error:
        return None, where, f"expected JSON in {where}, found {excerpt(text)}: {error}"
    return value, where, ""


def valid_json(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    _, where, error = load_output_json(params, ctx)
    if error:
        return Check(False, error)
    return Check(True, f"{where} is valid JSON")


def non_string_key(value: Any) -> tuple[Any, str] | None:
    """Return (the first key that is not a string, the JSON pointer of its mapping), or None.

    YAML reads `{1: {}}` with an int key, which json.dumps would quietly turn into "1".

    >>> non_string_key({"patternProperties": {1: {}}})
    (1, '/patternProperties')
    """
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, at = stack.pop()
        if isinstance(node, dict):
            for key in node:
                if not isinstance(key, str):
                    return key, at or "(top)"
            stack.extend((v, at + pointer_step(k)) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((v, at + pointer_step(i)) for i, v in reversed(list(enumerate(node))))
    return None


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


# referencing's attrs classes declare their fields in a way mypy does not see: typed here.
Registry: Callable[..., referencing.Registry[Any]] = referencing.Registry


def refuse_retrieval(uri: str) -> referencing.Resource:
    raise referencing.exceptions.NoSuchResource(uri)


def check_schema(params: dict[str, Any]) -> None:
    schema = params["schema"]
    if nested_deeper_than(schema, limits.MAX_SCHEMA_DEPTH):
        raise ParamError(
            "schema", f"is nested deeper than {limits.MAX_SCHEMA_DEPTH} levels of objects and lists"
        )
    try:
        size = len(json.dumps(schema))
    except (TypeError, ValueError, RecursionError):
        raise ParamError("schema", "must be plain JSON data") from None
    if size > limits.MAX_SCHEMA_CHARS:
        raise ParamError("schema", f"is longer than {limits.MAX_SCHEMA_CHARS} characters as JSON")
    bad_key = non_string_key(schema)
    if bad_key:
        raise ParamError("schema", f"keys must be strings; {bad_key[0]!r} at {bad_key[1]} is not")
    remote = remote_refs(schema)
    if remote:
        raise ParamError("schema", f'a remote $ref is not allowed ({remote[0]!r}); use "#/$defs/…"')
    problem = schema_problem(SchemaKey(schema))
    if problem:
        raise ParamError("schema", problem)


# A validator per distinct schema: rubrics are loaded again for every attempt, and checking a
# schema against its metaschema (about 1 ms) or building its validator need not be redone.
class SchemaKey:
    """A schema as a cache key: its repr tells 1 from 1.0, True and "1", and keeps key order."""

    __slots__ = ("key", "schema")

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.key = repr(schema)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SchemaKey) and self.key == other.key


@lru_cache(maxsize=256)
def schema_problem(key: SchemaKey) -> str:
    """Return why a schema is not a valid JSON Schema, or ""."""
    schema = key.schema
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    # As cls.check_schema, but with no format checker: its `format: regex` would ask Python's
    # re about every pattern and refuse ones RE2 runs (\p{L}); pattern_problem asks RE2.
    meta = jsonschema.validators.validator_for(cls.META_SCHEMA, default=cls)
    error = next(iter(meta(cls.META_SCHEMA, format_checker=None).iter_errors(schema)), None)
    if error is not None:
        path = "/".join(map(str, error.absolute_path)) or "(top)"
        return f"is not a valid JSON Schema at {path}: {error.message}"
    return pattern_problem(schema)


# JSON Schema patterns run on RE2 (linear time), never on Python's backtracking `re`: the
# keywords of jsonschema that search with a pattern are replaced by RE2 ones below, and a
# pattern RE2 cannot compile is refused when the rubric loads.
DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})  # values, not schemas
NAMED_SCHEMAS = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies"}
)


def pointer_step(name: str | int) -> str:
    return "/" + str(name).replace("~", "~0").replace("/", "~1")


def schema_patterns(schema: Any) -> tuple[list[tuple[Any, str]], set[str]]:
    """Return ([(pattern, its JSON pointer)], the keywords seen) for every schema in schema.

    Walks schema positions only: `{"const": {"pattern": "…"}}` holds data, not a pattern.

    >>> schema_patterns({"properties": {"x": {"pattern": "^a"}}})[0]
    [('^a', '/properties/x/pattern')]
    """
    patterns: list[tuple[Any, str]] = []
    keywords: set[str] = set()
    stack: list[tuple[Any, str]] = [(schema, "")]
    while stack:
        node, at = stack.pop()
        if isinstance(node, list):
            stack.extend((item, at + pointer_step(i)) for i, item in enumerate(node))
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            where = at + pointer_step(key)
            keywords.add(key)
            if key in DATA_KEYWORDS:
                continue
            if key == "pattern" and isinstance(value, str):
                patterns.append((value, where))
            elif key in NAMED_SCHEMAS and isinstance(value, dict):
                for name, subschema in value.items():
                    if key == "patternProperties":
                        patterns.append((name, where + pointer_step(name)))
                    stack.append((subschema, where + pointer_step(name)))
            else:
                stack.append((value, where))
    return patterns, keywords


def pattern_problem(schema: Any) -> str:
    """Return why a schema's patterns cannot run on RE2, or ""."""
    patterns, keywords = schema_patterns(schema)
    for pattern, where in patterns:
        if not isinstance(pattern, str):  # a patternProperties key YAML read as 1 or true
            return f"the pattern {pattern!r} at {where} is not a string"
        try:
            schema_regex(pattern)
        except re2.error as e:
            construct = next(
                (name for found, name in UNSUPPORTED_CONSTRUCTS if found.search(pattern)), ""
            )
            if construct:
                return (
                    f"the pattern {as_written(pattern)} at {where} uses {construct}, "
                    "which RE2 does not support"
                )
            reason = re2_reason(e)
            return f"RE2 cannot compile the pattern {as_written(pattern)} at {where}: {reason}"
    if "patternProperties" in keywords and "unevaluatedProperties" in keywords:
        # jsonschema decides which properties patternProperties evaluated with Python's re.
        return (
            "unevaluatedProperties cannot be used with patternProperties here (their check "
            "would run the patterns on Python's backtracking re); use additionalProperties"
        )
    return ""


@lru_cache(maxsize=1024)
def schema_regex(pattern: str) -> re2._Regexp:
    return compile_pattern(pattern)


def re2_search(pattern: str, text: str) -> bool:
    return schema_regex(pattern).search(text) is not None


# Mirrors of jsonschema 4.26's _keywords.pattern, patternProperties and additionalProperties
# (find_additional_properties), with RE2 in place of re.search.
def re2_pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Any:
    if validator.is_type(instance, "string") and not re2_search(patrn, instance):
        yield ValidationError(f"{instance!r} does not match {patrn!r}")


def re2_pattern_properties(
    validator: Any, pattern_properties: Any, instance: Any, schema: Any
) -> Any:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        for k, v in instance.items():
            if re2_search(pattern, k):
                yield from validator.descend(v, subschema, path=k, schema_path=pattern)


def additional_properties(instance: Any, schema: Any) -> list[Any]:
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    return [
        name
        for name in instance
        if name not in properties and not any(re2_search(p, name) for p in patterns)
    ]


def re2_additional_properties(validator: Any, ap: Any, instance: Any, schema: Any) -> Any:
    if not validator.is_type(instance, "object"):
        return
    extras = set(additional_properties(instance, schema))
    if validator.is_type(ap, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], ap, path=extra)
    elif not ap and extras:
        if "patternProperties" in schema:
            verb = "does" if len(extras) == 1 else "do"
            joined = ", ".join(repr(each) for each in sorted(extras))
            patterns = ", ".join(repr(each) for each in sorted(schema["patternProperties"]))
            yield ValidationError(f"{joined} {verb} not match any of the regexes: {patterns}")
        else:
            names = sorted(extras, key=str)
            verb = "was" if len(names) == 1 else "were"
            joined = ", ".join(repr(each) for each in names)
            yield ValidationError(
                f"Additional properties are not allowed ({joined} {verb} unexpected)"
            )


RE2_KEYWORDS = {
    "pattern": re2_pattern,
    "patternProperties": re2_pattern_properties,
    "additionalProperties": re2_additional_properties,
}
# jsonschema.validators.extend is untyped in its stubs: typed here.
extend_validator: Callable[..., Any] = jsonschema.validators.extend


@lru_cache(maxsize=16)
def re2_validator_class(cls: Any) -> Any:
    """Return cls (a jsonschema dialect) with its pattern keywords running on RE2."""
    return extend_validator(cls, {k: v for k, v in RE2_KEYWORDS.items() if k in cls.VALIDATORS})


class CompiledSchema(NamedTuple):
    validator: Any  # a jsonschema validator: the judge of every answer, and its error message
    # A quick test for plain schemas: True means the validator would find no error too;
    # False means "ask the validator". None when the schema uses anything else.
    surely_valid: Callable[[Any], bool] | None


@lru_cache(maxsize=256)
def compiled_schema(key: SchemaKey) -> CompiledSchema:
    schema = key.schema  # rubric params are never edited after loading
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    # An empty registry that refuses retrieval: no schema ever triggers a network fetch.
    validator = re2_validator_class(cls)(schema, registry=Registry(retrieve=refuse_retrieval))
    try:
        quick = quick_test(schema) if cls is jsonschema.Draft202012Validator else None
    except RecursionError:
        quick = None
    return CompiledSchema(validator, quick)


def prepare_schema(params: Mapping[str, Any], criterion: Criterion | None) -> CompiledSchema:
    return compiled_schema(SchemaKey(params["schema"]))


# Keywords that never make an instance invalid here: annotations, "format" (the validator has
# no format checker, as jsonschema's default), and "$defs" (only a $ref reaches them).
QUICK_IGNORED = frozenset(
    {
        "$schema",
        "$comment",
        "$defs",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "format",
    }
)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


QUICK_TYPES: dict[str, Callable[[Any], bool]] = {
    "array": lambda v: isinstance(v, list),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "null": lambda v: v is None,
    "number": is_number,
    "object": lambda v: isinstance(v, dict),
    "string": lambda v: isinstance(v, str),
}


def quick_test(schema: Any, root: bool = True) -> Callable[[Any], bool] | None:
    """Return a test of decoded JSON that is True only where Draft 2020-12 finds no error.

    It covers type, enum, const, required, properties, additionalProperties, items, and
    numeric, length and size bounds; None for a schema with any other keyword (or a
    $schema below the root, which could switch dialect): the validator alone then decides.
    A False answer is never taken as a verdict. Only for json.loads values (plain types).

    >>> test = quick_test({"type": "object", "required": ["a"]})
    >>> test({"a": 1}), test({})
    (True, False)
    """
    if schema is True:
        return lambda value: True
    if not isinstance(schema, dict) or (not root and "$schema" in schema):
        return None
    tests: list[Callable[[Any], bool]] = []
    for keyword, rule in schema.items():
        test = quick_keyword(keyword, rule, schema)
        if test is None:
            return None
        if test is not no_rule:
            tests.append(test)
    if len(tests) == 1:
        return tests[0]
    return lambda value: all(test(value) for test in tests)


def no_rule(value: Any) -> bool:
    return True


def quick_keyword(keyword: str, rule: Any, schema: dict[str, Any]) -> Callable[[Any], bool] | None:
    """Return the quick test of one keyword of a schema (IGNORED ones: no_rule), or None."""
    if keyword in QUICK_IGNORED:
        return no_rule
    if keyword == "type":
        names = [rule] if isinstance(rule, str) else rule
        if not isinstance(names, list) or not all(name in QUICK_TYPES for name in names):
            return None
        checks = [QUICK_TYPES[name] for name in names]
        return lambda value: any(check(value) for check in checks)
    if keyword in ("enum", "const"):
        options = rule if keyword == "enum" else [rule]
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            return None  # jsonschema's equality of numbers, bools and containers is its own
        allowed = frozenset(options)
        return lambda value: isinstance(value, str) and value in allowed
    if keyword == "required":
        if not isinstance(rule, list) or not all(isinstance(name, str) for name in rule):
            return None
        names = tuple(rule)
        return lambda value: not isinstance(value, dict) or all(n in value for n in names)
    if keyword == "properties":
        if not isinstance(rule, dict):
            return None
        properties = {}
        for name, subschema in rule.items():
            test = quick_test(subschema, root=False)
            if test is None:
                return None
            properties[name] = test
        subtests = tuple(properties.items())
        return lambda value: (
            not isinstance(value, dict)
            or all(name not in value or test(value[name]) for name, test in subtests)
        )
    if keyword == "additionalProperties":
        if "patternProperties" in schema:
            return None
        known = (
            frozenset(schema.get("properties", {}))
            if isinstance(schema.get("properties"), dict)
            else None
        )
        if known is None and "properties" in schema:
            return None
        known = known or frozenset()
        if rule is False:
            return lambda value: not isinstance(value, dict) or all(k in known for k in value)
        extra_test = quick_test(rule, root=False)
        if extra_test is None:
            return None
        return lambda value: (
            not isinstance(value, dict)
            or all(extra_test(item) for k, item in value.items() if k not in known)
        )
    if keyword == "items":
        if "prefixItems" in schema:
            return None
        test = quick_test(rule, root=False)
        if test is None:
            return None
        return lambda value: not isinstance(value, list) or all(test(item) for item in value)
    if keyword in NUMBER_BOUNDS:
        if not is_number(rule):
            return None
        within = NUMBER_BOUNDS[keyword]
        return lambda value: not is_number(value) or within(value, rule)
    if keyword in SIZE_BOUNDS:
        if not isinstance(rule, int) or isinstance(rule, bool):
            return None
        kind, within = SIZE_BOUNDS[keyword]
        return lambda value: not isinstance(value, kind) or within(len(value), rule)
    return None


NUMBER_BOUNDS: dict[str, Callable[[Any, Any], bool]] = {
    "minimum": lambda value, bound: value >= bound,
    "maximum": lambda value, bound: value <= bound,
    "exclusiveMinimum": lambda value, bound: value > bound,
    "exclusiveMaximum": lambda value, bound: value < bound,
}
SIZE_BOUNDS: dict[str, tuple[type[str] | type[list[Any]], Callable[[int, int], bool]]] = {
    "minLength": (str, lambda size, bound: size >= bound),
    "maxLength": (str, lambda size, bound: size <= bound),
    "minItems": (list, lambda size, bound: size >= bound),
    "maxItems": (list, lambda size, bound: size <= bound),
}


def json_schema(params: Mapping[str, Any], text: str, ctx: Context) -> Check:
    value, where, error = load_output_json(params, ctx)
    if error:
        return Check(False, error)
    validator, surely_valid = ctx.compiled or prepare_schema(params, None)
    try:
        quick = surely_valid is not None and surely_valid(value)
    except RecursionError:
        quick = False  # too deep for the quick test: the validator decides, as always
    try:
        if quick or validator.is_valid(value):
            return Check(True, f"{where} matches the schema")
        best = jsonschema.exceptions.best_match(validator.iter_errors(value))
    except RecursionError:
        # The output is at most limits.MAX_JSON_DEPTH deep, so the schema's $refs loop or chain.
        return Check(
            False, f"checking {where} against the schema went too deep (a $ref that loops?)"
        )
    except referencing.exceptions.Unresolvable as e:
        return Check(False, f"the schema refers to {e.ref!r}, which is not in the schema")
    except re2.error:  # a pattern reached only through an odd $ref; never run on `re`
        return Check(False, "the schema uses a pattern RE2 cannot compile")
    path = "$" + "".join(path_step(p) for p in best.absolute_path)
    return Check(False, f"expected {where} to match the schema; at {path}: {best.message[:200]}")


def path_step(step: str | int) -> str:
    """Return a step of a JSON path for a message: `[0]`, `.name`, or `["odd key"]`, quoted
    as JSON (ASCII), so that a key holding a NUL or a lone surrogate reaches no stored text."""
    if isinstance(step, int):
        return f"[{step}]"
    return f".{step}" if NAME_STEP.fullmatch(step) else f"[{json.dumps(step)}]"


NAME_STEP = re.compile(r"[A-Za-z_][\w-]*")
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
    matches: list[re.Match[str] | None] = (
        list(opening.finditer(text)) if occurrence == "last" else [opening.search(text)]
    )
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
