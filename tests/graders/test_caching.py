"""Work done once and reused: parsed output JSON, compiled schemas, reference hiders."""

from __future__ import annotations

import json

import jsonschema
from grader_helpers import criterion
from hypothesis import given, settings
from hypothesis import strategies as st

from graders import Case, grade_case, load_rubric, structure
from graders.engine import reference_hider

SCHEMA = {"type": "object", "required": ["label"], "properties": {"label": {"enum": ["a", "b"]}}}


def test_the_output_json_is_parsed_once_per_grade_case(monkeypatch):
    calls = []
    real = structure.parse_json
    monkeypatch.setattr(structure, "parse_json", lambda text: calls.append(text) or real(text))
    rubric = load_rubric(
        {
            "criteria": [
                criterion("valid_json"),
                {**criterion("json_schema", {"schema": SCHEMA}), "id": "s"},
                {**criterion("json_path_equals", {"path": "$.label", "value": "a"}), "id": "p"},
            ]
        }
    )
    grade = grade_case(rubric, '{"label": "a"}')
    assert grade.passed and calls == ['{"label": "a"}']
    grade_case(rubric, '{"label": "b"}')  # a new output is parsed anew
    assert calls == ['{"label": "a"}', '{"label": "b"}']


def test_equal_schemas_share_one_validator_and_lookalikes_do_not():
    def compiled(schema):
        rubric = load_rubric({"criteria": [criterion("json_schema", {"schema": schema})]})
        return rubric.criteria[0].compiled

    assert compiled(json.loads(json.dumps(SCHEMA))) is compiled(SCHEMA)
    one = {"type": "object", "properties": {"n": {"const": 1}}}
    assert compiled(one) is not compiled({"type": "object", "properties": {"n": {"const": 1.0}}})
    assert compiled(one) is not compiled({"type": "object", "properties": {"n": {"const": True}}})


def test_a_reference_hider_is_built_once_per_reference():
    reference = "The refund arrives within five working days of the request."
    assert reference_hider(reference) is reference_hider(reference)
    grade = grade_case(
        load_rubric({"criteria": [criterion("contains", {"text": "refund"})]}),
        reference,
        Case(reference=reference),
    )
    assert "[reference answer hidden]" in grade.criteria[0].detail


names = st.sampled_from(["a", "b", "1"])
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(width=16)
    | st.sampled_from(["a", "b", "", "xy"]),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(names, kids, max_size=3),
    max_leaves=8,
)
types = st.sampled_from(["array", "boolean", "integer", "null", "number", "object", "string"])
keywords = st.fixed_dictionaries(
    {},
    optional={
        "type": types | st.lists(types, max_size=3),
        "enum": st.lists(st.sampled_from(["a", "b", ""]), min_size=1, max_size=3, unique=True)
        | st.lists(st.integers(0, 2) | st.booleans(), min_size=1, max_size=2),
        "const": st.sampled_from(["a", 1, True, None]),
        "minimum": st.integers(-2, 2) | st.floats(-2, 2),
        "exclusiveMaximum": st.floats(-2, 2),
        "maxLength": st.integers(0, 3),
        "minItems": st.integers(0, 3),
        "required": st.lists(names, max_size=2, unique=True),
        "format": st.just("email"),
        "minProperties": st.integers(0, 2),
    },
)
schemas = st.recursive(
    keywords,
    lambda kids: st.tuples(
        keywords, st.dictionaries(names, kids, max_size=3), kids | st.booleans(), kids
    ).map(lambda t: {**t[0], "properties": t[1], "additionalProperties": t[2], "items": t[3]}),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None)
@given(schemas, values)
def test_the_quick_schema_test_never_passes_what_jsonschema_fails(schema, value):
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError:
        return
    quick = structure.quick_test(schema)
    value = json.loads(json.dumps(value))
    if quick is not None and quick(value):
        assert jsonschema.Draft202012Validator(schema).is_valid(value), (schema, value)
