from __future__ import annotations

import time

import pytest
from grader_helpers import criterion, grade_one

from graders import Case, RubricError, Submission, load_rubric
from graders.structure import parse_path

SCHEMA = {"type": "object", "required": ["label"], "properties": {"label": {"enum": ["a", "b"]}}}


def test_valid_json_whole_output_or_fenced_block():
    assert grade_one("valid_json", '{"a": 1}').passed
    fenced = 'Sure:\n```json\n{"a": 1}\n```'
    assert not grade_one("valid_json", fenced).passed
    assert grade_one("valid_json", fenced, {"allow_fence": True}).passed
    result = grade_one("valid_json", "{'a': 1}")
    assert not result.passed and "line 1" in result.detail


def test_json_nested_100k_deep_is_a_failed_criterion_not_a_crash():
    deep = "[" * 100_000 + "]" * 100_000
    start = time.perf_counter()
    for kind, params in [
        ("valid_json", {}),
        ("json_schema", {"schema": SCHEMA}),
        ("json_path_exists", {"path": "$[0]"}),
    ]:
        result = grade_one(kind, deep, params)
        assert not result.passed and "nested too deeply" in result.detail
    assert time.perf_counter() - start < 1


def test_json_schema_names_where_the_output_fails():
    assert grade_one("json_schema", '{"label": "a"}', {"schema": SCHEMA}).passed
    result = grade_one("json_schema", '{"label": "c"}', {"schema": SCHEMA})
    assert not result.passed and "$.label" in result.detail


def test_json_schema_refuses_remote_refs_and_bad_schemas_at_validation():
    for schema in [
        {"$ref": "https://example.com/s.json"},
        {"properties": {"a": {"$ref": "other.json#/x"}}},
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
