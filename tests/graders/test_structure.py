from __future__ import annotations

import itertools
import json
import time

import pytest
from grader_helpers import criterion, grade_one

from graders import Case, RubricError, Submission, limits, load_rubric
from graders.structure import parse_path, pattern_problem

SCHEMA = {"type": "object", "required": ["label"], "properties": {"label": {"enum": ["a", "b"]}}}


def test_valid_json_whole_output_or_fenced_block():
    assert grade_one("valid_json", '{"a": 1}').passed
    fenced = 'Sure:\n```json\n{"a": 1}\n```'
    assert not grade_one("valid_json", fenced).passed
    assert grade_one("valid_json", fenced, {"allow_fence": True}).passed
    result = grade_one("valid_json", "{'a': 1}")
    assert not result.passed and "line 1" in result.detail


JSON_KINDS = [
    ("valid_json", {}),
    ("json_schema", {"schema": SCHEMA}),
    ("json_schema", {"schema": {"$defs": {"n": {"anyOf": [{"items": {"$ref": "#/$defs/n"}}]}}}}),
    ("json_path_exists", {"path": "$[0]"}),
    ("json_path_equals", {"path": "$[0]", "value": []}),
]


def test_json_nested_100k_deep_is_a_failed_criterion_not_a_crash():
    # json.loads itself raises RecursionError on this; the criterion reports the cap instead.
    deep = "[" * 100_000 + "]" * 100_000
    start = time.perf_counter()
    for kind, params in JSON_KINDS:
        result = grade_one(kind, deep, params)
        assert not result.passed, kind
        assert (
            result.detail
            == f"the output's JSON is nested deeper than {limits.MAX_JSON_DEPTH} levels"
        )
    assert time.perf_counter() - start < 1


def test_json_deeper_than_the_cap_fails_even_where_json_loads_could_read_it():
    at_cap = "[" * limits.MAX_JSON_DEPTH + "]" * limits.MAX_JSON_DEPTH
    over = "[" * (limits.MAX_JSON_DEPTH + 1) + "]" * (limits.MAX_JSON_DEPTH + 1)
    assert grade_one("valid_json", at_cap).passed
    recursive = {"$defs": {"n": {"anyOf": [{"items": {"$ref": "#/$defs/n"}}]}}, "$ref": "#/$defs/n"}
    assert grade_one("json_schema", at_cap, {"schema": recursive}).passed
    for kind, params in JSON_KINDS:
        result = grade_one(kind, over, params)
        assert (
            not result.passed and f"deeper than {limits.MAX_JSON_DEPTH} levels" in result.detail
        ), kind
    fenced = grade_one("valid_json", f"```json\n{over}\n```", {"allow_fence": True})
    assert (
        fenced.detail
        == f"the fenced block's JSON is nested deeper than {limits.MAX_JSON_DEPTH} levels"
    )


def test_a_schema_nested_3000_deep_is_refused_when_the_rubric_loads():
    # 200 deep raised RecursionError from the metaschema check; 3,000 deep from json.dumps.
    wraps = (lambda s: {"items": s}, lambda s: {"properties": {"a": s}}, lambda s: [s])
    for wrap, depth in itertools.product(wraps, (200, 3000)):
        schema: object = {}
        for _ in range(depth):
            schema = wrap(schema)
        schema = {"allOf": schema} if isinstance(schema, list) else schema
        with pytest.raises(
            RubricError, match=f"nested deeper than {limits.MAX_SCHEMA_DEPTH} levels"
        ) as e:
            load_rubric({"criteria": [criterion("json_schema", {"schema": schema})]})
        assert e.value.field == "params.schema"
    at_cap: dict[str, object] = {}
    for _ in range(limits.MAX_SCHEMA_DEPTH - 1):
        at_cap = {"items": at_cap}
    assert grade_one("json_schema", "[[1]]", {"schema": at_cap}).passed


def test_a_schema_ref_loop_is_a_failed_criterion_not_a_crash():
    loop = {"$defs": {"a": {"anyOf": [{"$ref": "#/$defs/a"}]}}, "$ref": "#/$defs/a"}
    result = grade_one("json_schema", "[1]", {"schema": loop})
    assert not result.passed and "went too deep" in result.detail


CATASTROPHIC = "(a+)+$"
# Short enough that a regression to Python's re fails in a few seconds rather than hanging:
# re takes about 4 s on this (doubling with each "a"); RE2 microseconds.
EVIL = "a" * 26 + "!"


@pytest.mark.parametrize(
    ("schema", "output", "passes"),
    [
        ({"type": "string", "pattern": CATASTROPHIC}, json.dumps(EVIL), False),
        ({"properties": {"x": {"pattern": CATASTROPHIC}}}, json.dumps({"x": EVIL}), False),
        ({"patternProperties": {CATASTROPHIC: False}}, json.dumps({EVIL: 1}), True),
        (
            {"patternProperties": {CATASTROPHIC: {}}, "additionalProperties": False},
            json.dumps({EVIL: 1}),
            False,
        ),
        ({"propertyNames": {"pattern": CATASTROPHIC}}, json.dumps({EVIL: 1}), False),
        (
            {"$schema": "http://json-schema.org/draft-07/schema#", "pattern": CATASTROPHIC},
            json.dumps(EVIL),
            False,
        ),
    ],
)
def test_json_schema_patterns_run_on_re2_in_linear_time(schema, output, passes):
    start = time.perf_counter()
    result = grade_one("json_schema", output, {"schema": schema})
    assert time.perf_counter() - start < 1
    assert result.passed is passes, result.detail


def test_x1_a_json_schema_pattern_on_100_000_characters_takes_under_50_ms(monkeypatch):
    # X1 at full size, and no silent fallback: jsonschema's own keywords search with Python's
    # re.search, so any call to it while grading fails the test.
    def backtracking(*args):
        raise AssertionError("a JSON Schema pattern ran on Python's re")

    monkeypatch.setattr("jsonschema._keywords.re.search", backtracking)
    output = json.dumps({"x": "a" * 100_000 + "!"})
    schema = {"properties": {"x": {"type": "string", "pattern": CATASTROPHIC}}}
    grade_one("json_schema", output, {"schema": schema})  # the validator, built once
    start = time.perf_counter()
    result = grade_one("json_schema", output, {"schema": schema})
    assert time.perf_counter() - start < 0.05
    assert not result.passed and "at $.x" in result.detail


def test_json_schema_patterns_still_match_as_before():
    schema = {
        "type": "object",
        "properties": {"code": {"pattern": "^[A-Z]{2}\\d{3}$"}},
        "patternProperties": {"^x-": {"type": "string"}},
        "additionalProperties": False,
    }
    assert grade_one("json_schema", '{"code": "AB123", "x-note": "hi"}', {"schema": schema}).passed
    bad_code = grade_one("json_schema", '{"code": "ab123"}', {"schema": schema})
    assert (
        not bad_code.passed and "$.code" in bad_code.detail and "does not match" in bad_code.detail
    )
    extra = grade_one("json_schema", '{"code": "AB123", "other": 1}', {"schema": schema})
    assert not extra.passed and "'other' does not match any of the regexes" in extra.detail
    typed = grade_one("json_schema", '{"x-note": 3}', {"schema": schema})
    assert not typed.passed and "$.x-note" in typed.detail


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            {"properties": {"x": {"pattern": "(\\w)\\1"}}},
            r"the pattern '(\w)\1' at /properties/x/pattern uses backreferences",
        ),
        ({"patternProperties": {"(?=x)": {}}}, "at /patternProperties/(?=x) uses lookaround"),
        (
            {"$schema": "http://json-schema.org/draft-04/schema#", "items": [{"pattern": "(?>a)"}]},
            "at /items/0/pattern uses atomic groups",
        ),
        (
            {"patternProperties": {"^x": {}}, "unevaluatedProperties": False},
            "unevaluatedProperties cannot be used with patternProperties",
        ),
    ],
)
def test_json_schema_patterns_re2_cannot_run_are_refused_at_load(schema, message):
    with pytest.raises(RubricError) as e:
        load_rubric({"criteria": [criterion("json_schema", {"schema": schema})]})
    assert e.value.criterion == "c" and e.value.field == "params.schema"
    assert message in e.value.message
    if "uses" in message:
        assert "which RE2 does not support" in e.value.message


@pytest.mark.parametrize(
    ("schema", "where"),
    [
        ({"patternProperties": {1: {}}}, "1 at /patternProperties"),
        ({"properties": {"x": {"patternProperties": {True: {}}}}}, "True at /properties/x/pat"),
        ({"allOf": [{"const": {2.5: "a"}}]}, "2.5 at /allOf/0/const"),
        ({None: {}}, "None at (top)"),
    ],
)
def test_a_schema_key_that_is_not_a_string_is_refused_at_load(schema, where):
    # YAML reads `patternProperties: {1: {}}` with an int key, which reached re2.compile(1).
    with pytest.raises(RubricError) as e:
        load_rubric({"criteria": [criterion("json_schema", {"schema": schema})]})
    assert e.value.field == "params.schema"
    assert e.value.message.startswith("keys must be strings; ")
    assert where in e.value.message and e.value.message.endswith(" is not")


def test_pattern_problem_names_a_pattern_that_is_not_a_string():
    message = pattern_problem({"patternProperties": {1: {}}})
    assert message == "the pattern 1 at /patternProperties/1 is not a string"


def test_a_pattern_re2_supports_loads_even_where_python_re_does_not():
    # Python's re refuses \p{L}; the metaschema's `format: regex` once refused it with it.
    schema = {"type": "string", "pattern": "\\p{L}+"}
    load_rubric({"criteria": [criterion("json_schema", {"schema": schema})]})
    assert grade_one("json_schema", '"été"', {"schema": schema}).passed
    assert not grade_one("json_schema", '"123"', {"schema": schema}).passed
    names = {"patternProperties": {"^\\p{Lu}": {"type": "integer"}}}
    assert not grade_one("json_schema", '{"Été": "x"}', {"schema": names}).passed


def test_a_pattern_inside_schema_data_is_not_a_pattern():
    schema = {"const": {"pattern": "(\\w)\\1"}, "examples": [{"pattern": "(?=x)"}]}
    assert grade_one("json_schema", '{"pattern": "(\\\\w)\\\\1"}', {"schema": schema}).passed


def test_json_schema_names_where_the_output_fails():
    assert grade_one("json_schema", '{"label": "a"}', {"schema": SCHEMA}).passed
    result = grade_one("json_schema", '{"label": "c"}', {"schema": SCHEMA})
    assert not result.passed and "$.label" in result.detail


def test_json_schema_refuses_remote_refs_and_bad_schemas_at_validation():
    for schema in [
        {"$ref": "https://example.com/s.json"},
        {"properties": {"a": {"$ref": "other.json#/x"}}},
        {"allOf": [{"items": {"$ref": "http://127.0.0.1:1/s.json"}}]},
        {"$dynamicRef": "file:///etc/passwd"},
    ]:
        with pytest.raises(RubricError, match="remote \\$ref") as e:
            load_rubric({"criteria": [criterion("json_schema", {"schema": schema})]})
        assert e.value.field == "params.schema"
    with pytest.raises(RubricError, match="not a valid JSON Schema"):
        load_rubric({"criteria": [criterion("json_schema", {"schema": {"type": "banana"}})]})
    local = {"$defs": {"l": {"enum": ["a"]}}, "properties": {"label": {"$ref": "#/$defs/l"}}}
    assert grade_one("json_schema", '{"label": "a"}', {"schema": local}).passed


def test_json_paths():
    assert parse_path('$.order.items[2]["unit price"]') == ["order", "items", 2, "unit price"]
    output = '{"order": {"items": [{"sku": "X1"}], "paid": true, "total": 3}}'
    assert grade_one("json_path_exists", output, {"path": "$.order.items[0].sku"}).passed
    assert not grade_one("json_path_exists", output, {"path": "$.order.items[1]"}).passed
    assert grade_one("json_path_equals", output, {"path": "$.order.paid", "value": True}).passed
    assert not grade_one(
        "json_path_equals", output, {"path": "$.order.total", "value": True}
    ).passed
    assert grade_one(
        "json_path_equals", output, {"path": "order.items[0].sku", "value": "x1"}, ignore_case=True
    ).passed
    case = Case(expected={"sku": "X1"})
    assert grade_one(
        "json_path_equals",
        output,
        {"path": "$.order.items[0].sku", "value": {"from_case": "sku"}},
        case=case,
    ).passed
    with pytest.raises(RubricError, match="cannot read"):
        load_rubric({"criteria": [criterion("json_path_exists", {"path": "$..x"})]})


def test_xml_tag_extracts_and_applies_sub_criteria():
    params = {
        "tag": "answer",
        "criteria": [{"kind": "one_of", "params": {"labels": ["yes", "no"]}}],
    }
    assert grade_one("xml_tag", "Thinking...\n<answer> yes </answer>", params).passed
    assert not grade_one("xml_tag", "<answer>maybe</answer>", params).passed
    missing = grade_one("xml_tag", "yes", params)
    assert not missing.passed and "<answer>" in missing.detail
    assert grade_one("xml_tag", "<answer>no", params).passed  # closing tag was the stop sequence
    last = {
        "tag": "answer",
        "occurrence": "last",
        "criteria": [{"kind": "equals", "params": {"text": "no"}}],
    }
    assert grade_one("xml_tag", "<answer>yes</answer> wait <answer>no</answer>", last).passed
    with pytest.raises(RubricError, match="not a tag name"):
        load_rubric({"criteria": [criterion("xml_tag", {"tag": "<answer>"})]})


def test_xml_tag_with_the_prefill():
    submission = Submission(fields={"prefill": "<answer>"})
    params = {"tag": "answer", "criteria": [{"kind": "equals", "params": {"text": "yes"}}]}
    assert not grade_one("xml_tag", "yes</answer>", params, submission=submission).passed
    assert grade_one(
        "xml_tag", "yes</answer>", params, submission=submission, with_prefill=True
    ).passed


def test_markdown_list_and_table():
    assert grade_one("markdown_list", "Steps:\n- one\n- two", {"min_items": 2}).passed
    assert not grade_one("markdown_list", "- one\n- two", {"ordered": True}).passed
    assert grade_one("markdown_list", "1. one\n2) two", {"ordered": True, "min_items": 2}).passed
    table = "| a | b |\n|---|:-:|\n| 1 | 2 |\n| 3 | 4 |"
    assert grade_one("markdown_table", table, {"min_rows": 2}).passed
    assert not grade_one("markdown_table", table, {"min_rows": 3}).passed
    assert not grade_one("markdown_table", "a | b\nno separator").passed


@pytest.mark.parametrize(
    ("output", "path"),
    [
        ('{"name": 1}', "$.name"),
        ('{"first name": 1}', '$["first name"]'),
        ('{"\\u0000": 1}', '$["\\u0000"]'),  # a NUL, written as JSON writes it
        ('{"\\ud800": 1}', '$["\\ud800"]'),  # a lone surrogate, likewise
    ],
)
def test_a_schema_failure_names_the_key_as_text_any_database_stores(output, path):
    schema = {"type": "object", "additionalProperties": {"type": "string"}}
    detail = grade_one("json_schema", output, {"schema": schema}).detail
    assert f"at {path}: 1 is not of type 'string'" in detail
    assert detail.isprintable()
