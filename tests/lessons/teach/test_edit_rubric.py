"""GET/POST /teach/exercises/<id>/rubric/ (criterion rows) and .../rubric/yaml/ (one YAML)."""

from __future__ import annotations

import html
import re

import pytest

from graders import CRITERIA
from lessons.models import Exercise
from tests.conftest import RUBRIC, make_exercise


def url(exercise) -> str:
    return f"/teach/exercises/{exercise.id}/rubric/"


def criteria(*rows: dict, **settings) -> dict:
    data = {
        "criteria-TOTAL_FORMS": str(len(rows)),
        "criteria-INITIAL_FORMS": "0",
        "criteria-MIN_NUM_FORMS": "0",
        "criteria-MAX_NUM_FORMS": "1000",
        "pass_threshold": "1.0",
        "unavailable": "fail",
        "good_samples": "",
        "bad_samples": "",
        "extra": "",
        **settings,
    }
    for i, row in enumerate(rows):
        full = {"weight": "1", "target": "output", "visible": "on", "params": "", "options": ""}
        full.update(row)
        data.update({f"criteria-{i}-{k}": v for k, v in full.items()})
    return data


def row_html(html: str, criterion_id: str) -> str:
    match = re.search(
        rf'<li class="card criterion-row[^"]*" data-criterion="{criterion_id}">(.*?)</li>',
        html,
        re.DOTALL,
    )
    assert match, f"no row for {criterion_id}"
    return match.group(1)


def test_it_shows_one_row_per_criterion_and_a_blank_one(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    html = ines_client.get(url(exercise)).content.decode()
    assert 'name="criteria-TOTAL_FORMS" value="3"' in html
    assert 'value="greets"' in html and 'value="short"' in html
    assert "The text contains a given piece of text." in html  # the kind's summary


def test_each_row_says_on_one_line_all_its_kind_normalises(ines_client, instructor):
    exercise = make_exercise(
        status=Exercise.DRAFT,
        rubric={
            "criteria": [
                {"id": "exact", "kind": "equals", "params": {"text": "Michael Jordan"}},
                *RUBRIC["criteria"],
            ]
        },
    )
    page = ines_client.get(url(exercise)).content.decode()
    for criterion_id, kind in [("exact", "equals"), ("greets", "contains")]:
        assert html.escape(CRITERIA[kind].normalisation()) in row_html(page, criterion_id)
    assert "exact, trims nothing" in row_html(page, "exact")


def test_it_saves_a_regex_and_json_schema_rubric(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    data = criteria(
        {"id": "ticket", "kind": "regex", "params": "pattern: '#\\d{4}'", "on_fail": "Quote it."},
        {
            "id": "shape",
            "kind": "json_schema",
            "params": "schema:\n  type: object\n  required: [label]\n",
            "weight": "2",
            "options": "ignore_case: true",
        },
        {"id": "", "kind": "", "params": ""},  # the blank row
        good_samples="- '#1234 {\"label\": 1}'\n",
    )
    r = ines_client.post(url(exercise), data)
    assert r.status_code == 302
    exercise.refresh_from_db()
    first, second = exercise.rubric["criteria"]
    assert first == {
        "id": "ticket",
        "kind": "regex",
        "params": {"pattern": "#\\d{4}"},
        "weight": 1.0,
        "feedback": {"fail": "Quote it."},
    }
    assert second["params"]["schema"]["required"] == ["label"]
    assert second["weight"] == 2.0 and second["ignore_case"] is True
    assert exercise.rubric["samples"] == {"good": ['#1234 {"label": 1}']}


def test_it_shows_an_invalid_regex_on_its_row_and_saves_nothing(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    data = criteria(
        {"id": "fine", "kind": "contains", "params": "text: hi"},
        {"id": "ticket", "kind": "regex", "params": "pattern: '(a)\\1'"},
    )
    r = ines_client.post(url(exercise), data)
    html = r.content.decode()
    assert r.status_code == 422
    assert "field-error" in row_html(html, "ticket")
    assert "backreference" in row_html(html, "ticket").lower()
    assert "field-error" not in row_html(html, "fine")
    exercise.refresh_from_db()
    assert exercise.rubric == RUBRIC


def test_it_names_a_missing_parameter_and_bad_params_yaml(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    r = ines_client.post(url(exercise), criteria({"id": "x", "kind": "regex", "params": ""}))
    assert "pattern: is required" in row_html(r.content.decode(), "x")
    r = ines_client.post(
        url(exercise), criteria({"id": "y", "kind": "regex", "params": "pattern: [\n"})
    )
    assert "Parameters is not valid YAML on line" in row_html(r.content.decode(), "y")


def test_it_refuses_two_criteria_with_one_id(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    data = criteria(
        {"id": "x", "kind": "valid_json"}, {"id": "x", "kind": "contains", "params": "text: a"}
    )
    r = ines_client.post(url(exercise), data)
    assert r.status_code == 422
    assert "the id is used twice" in r.content.decode()


def test_it_deletes_a_criterion(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    data = criteria(
        {"id": "greets", "kind": "contains", "params": "text: hello"},
        {"id": "short", "kind": "word_count", "params": "max: 5", "DELETE": "on"},
    )
    ines_client.post(url(exercise), data)
    exercise.refresh_from_db()
    assert [c["id"] for c in exercise.rubric["criteria"]] == ["greets"]


def test_the_yaml_view_saves_a_valid_rubric(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    text = "pass_threshold: 0.5\ncriteria:\n  - id: j\n    kind: valid_json\n"
    r = ines_client.post(url(exercise) + "yaml/", {"rubric": text})
    assert r.status_code == 302
    exercise.refresh_from_db()
    assert exercise.rubric == {
        "pass_threshold": 0.5,
        "criteria": [{"id": "j", "kind": "valid_json"}],
    }


def test_the_yaml_view_shows_what_is_wrong(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    text = "criteria:\n  - id: j\n    kind: vaild_json\n"
    r = ines_client.post(url(exercise) + "yaml/", {"rubric": text})
    assert r.status_code == 422
    assert "criterion &#x27;j&#x27;.kind: unknown kind &#x27;vaild_json&#x27;" in r.content.decode()
    exercise.refresh_from_db()
    assert exercise.rubric == RUBRIC


@pytest.mark.parametrize(
    ("schema", "named"),
    [
        ("schema:\n  properties:\n    x: {pattern: '(\\w)\\1'}\n", "uses backreferences"),
        ("schema:\n  patternProperties:\n    '(?=x)': {}\n", "uses lookaround"),
        ("schema:\n  $ref: 'https://example.com/s.json'\n", "remote $ref"),
    ],
)
def test_it_refuses_a_json_schema_re2_cannot_run_or_that_fetches_naming_why(
    ines_client, instructor, schema, named
):
    # X2 and X3 at save time: the construct is named on the row, and nothing is saved.
    exercise = make_exercise(status=Exercise.DRAFT)
    r = ines_client.post(
        url(exercise), criteria({"id": "shape", "kind": "json_schema", "params": schema})
    )
    assert r.status_code == 422
    assert named in html.unescape(row_html(r.content.decode(), "shape"))
    exercise.refresh_from_db()
    assert exercise.rubric == RUBRIC


def test_it_saves_and_shows_the_title_learners_read(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    row = {"id": "ticket", "kind": "regex", "params": "pattern: '#\\d{4}'"}
    data = criteria({**row, "title": "Quotes the ticket number"})
    assert ines_client.post(url(exercise), data).status_code == 302
    exercise.refresh_from_db()
    assert exercise.rubric["criteria"][0]["title"] == "Quotes the ticket number"
    page = ines_client.get(url(exercise)).content.decode()
    assert 'value="Quotes the ticket number"' in row_html(page, "ticket")


@pytest.mark.parametrize(
    ("row_options", "extra", "says"),
    [
        (
            "",
            "criteria: [{id: other, kind: contains, params: {text: bye}}]",
            "Rubric options: criteria has",
        ),
        ("", "pass_threshold: 0.1", "Rubric options: pass_threshold has a field of its own"),
        ("params: {text: bye}", "", "More options: params has a field of its own"),
        ("id: other", "", "More options: id has a field of its own"),
    ],
)
def test_an_option_with_a_field_of_its_own_is_refused_naming_it(
    ines_client, instructor, row_options, extra, says
):
    # The option won over its field: criteria: in the rubric options replaced every row.
    exercise = make_exercise(status=Exercise.DRAFT)
    row = {"id": "greets", "kind": "contains", "params": "text: hello", "options": row_options}
    r = ines_client.post(url(exercise), criteria(row, extra=extra))
    assert r.status_code == 422
    assert says in html.unescape(r.content.decode())
    assert Exercise.objects.get().rubric == RUBRIC


@pytest.mark.parametrize(
    ("total", "says"),
    [("abc", "ManagementForm data is missing or has been tampered with"), ("5000", "at most 60")],
)
def test_a_tampered_row_count_is_named_and_nothing_is_saved(ines_client, instructor, total, says):
    # The page said "fix the criteria marked below" and marked none (it showed no row at all,
    # or 1060 rows).
    exercise = make_exercise(status=Exercise.DRAFT)
    data = criteria({"id": "greets", "kind": "contains", "params": "text: bye"})
    data["criteria-TOTAL_FORMS"] = total
    r = ines_client.post(url(exercise), data)
    assert r.status_code == 422
    assert says in r.content.decode()
    assert "fix the criteria marked below" not in r.content.decode()
    assert Exercise.objects.get().rubric == RUBRIC
