"""GET/POST /teach/exercises/<id>/cases/: the test cases as editable rows."""

from __future__ import annotations

import pytest

from lessons.models import Exercise
from tests.conftest import make_exercise, make_fixed_input_exercise


def url(exercise) -> str:
    return f"/teach/exercises/{exercise.id}/cases/"


def rows(*cases: dict) -> dict:
    data = {
        "cases-TOTAL_FORMS": str(len(cases)),
        "cases-INITIAL_FORMS": str(sum(1 for c in cases if c.get("id"))),
        "cases-MIN_NUM_FORMS": "0",
        "cases-MAX_NUM_FORMS": "1000",
    }
    for i, case in enumerate(cases):
        row = {"visibility": "show", "weight": "1", "reference": "", "expected": "", **case}
        data.update({f"cases-{i}-{k}": v for k, v in row.items()})
    return data


def test_it_lists_the_cases_with_one_field_per_variable(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    html = ines_client.get(url(exercise)).content.decode()
    assert 'name="cases-0-var_name"' in html
    assert "Ada</textarea>" in html


def test_it_edits_adds_and_deletes_cases(ines_client, instructor):
    exercise = make_exercise(
        status=Exercise.DRAFT,
        cases=[{"name": "Ada", "variables": {"name": "Ada"}}, {"name": "Old"}],
    )
    ada, old = exercise.cases.all()
    data = rows(
        {"id": str(ada.pk), "name": "Ada L.", "var_name": "Ada", "visibility": "hide_if_pass"},
        {"id": str(old.pk), "name": "Old", "var_name": "", "DELETE": "on"},
        {
            "name": "Secret",
            "var_name": "Zed",
            "visibility": "hide",
            "reference": "Hi Zed",
            "expected": "label: greeting",
        },
    )
    r = ines_client.post(url(exercise), data)
    assert r.status_code == 302
    cases = list(exercise.cases.all())
    assert [(c.name, c.visibility) for c in cases] == [
        ("Ada L.", "hide_if_pass"),
        ("Secret", "hide"),
    ]
    assert cases[1].variables == {"name": "Zed"}
    assert cases[1].expected == {"label": "greeting"}
    assert cases[1].reference == "Hi Zed"


def test_it_ignores_the_blank_row(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    ada = exercise.cases.get()
    ines_client.post(
        url(exercise), rows({"id": str(ada.pk), "name": "Ada", "var_name": "Ada"}, {"name": ""})
    )
    assert exercise.cases.count() == 1


def test_a_post_without_its_management_form_says_so(ines_client, instructor):
    # An empty body was read as no form at all: the page came back, 422, saying nothing.
    exercise = make_exercise(status=Exercise.DRAFT)
    r = ines_client.post(url(exercise), {})
    assert r.status_code == 422
    assert "ManagementForm data is missing" in r.content.decode()
    assert list(exercise.cases.values_list("name", flat=True)) == ["Ada"]


def test_a_case_with_values_needs_a_name(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    r = ines_client.post(url(exercise), rows({"name": "", "var_name": "Bo"}))
    assert r.status_code == 422
    assert "Give the test case a name." in r.content.decode()


def test_a_case_without_an_expected_value_the_rubric_reads_is_refused_saying_how_to_fix(
    ines_client, instructor
):
    criterion = {"id": "expect-icontains", "kind": "contains", "ignore_case": True}
    criterion["params"] = {"text": {"from_case": "expect-icontains"}}
    exercise = make_exercise(
        status=Exercise.DRAFT,
        rubric={"criteria": [criterion]},
        cases=[{"name": "Ada", "expected": {"expect-icontains": "a"}}],
    )
    [ada] = exercise.cases.all()
    kept = {"id": str(ada.pk), "name": "Ada", "var_name": "Ada", "expected": "expect-icontains: a"}
    r = ines_client.post(url(exercise), rows(kept, {"name": "By hand", "var_name": "Bo"}))
    html = r.content.decode()
    assert r.status_code == 422
    assert (
        "The rubric&#x27;s criterion expect-icontains reads the expected value expect-icontains: "
        "add a line “expect-icontains: …” here, or take the criterion out of the rubric."
    ) in html
    assert exercise.cases.count() == 1
    given = {"name": "By hand", "var_name": "Bo", "expected": "expect-icontains: bo"}
    r = ines_client.post(url(exercise), rows(kept, given))
    assert r.status_code == 302
    assert exercise.cases.get(name="By hand").expected == {"expect-icontains": "bo"}


def test_a_case_whose_regex_pattern_re2_cannot_compile_is_refused_naming_it(
    ines_client, instructor
):
    criterion = {"id": "shape", "kind": "regex", "params": {"pattern": {"from_case": "shape"}}}
    exercise = make_exercise(status=Exercise.DRAFT, rubric={"criteria": [criterion]}, cases=[])
    bad = {"name": "Echo", "var_name": "Bo", "expected": "shape: '(a)\\1'"}
    r = ines_client.post(url(exercise), rows(bad))
    assert r.status_code == 422
    assert "test case &#x27;Echo&#x27;: pattern RE2 cannot compile" in r.content.decode()
    assert "backreferences" in r.content.decode()
    good = {**bad, "expected": "shape: '^B'"}
    assert ines_client.post(url(exercise), rows(good)).status_code == 302


def test_two_cases_of_one_name_are_refused(ines_client, instructor):
    # Course files, and their re-import, find a case by its name.
    exercise = make_exercise(status=Exercise.DRAFT)
    ada = exercise.cases.get()
    data = rows(
        {"id": str(ada.pk), "name": "Ada", "var_name": "Ada"},
        {"name": "Ada", "var_name": "Ada again"},
    )
    r = ines_client.post(url(exercise), data)
    assert r.status_code == 422
    assert "Another test case is named &#x27;Ada&#x27; already." in r.content.decode()
    assert exercise.cases.count() == 1


def test_a_case_may_take_the_name_of_one_deleted_in_the_same_save(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    ada = exercise.cases.get()
    data = rows(
        {"id": str(ada.pk), "name": "Ada", "var_name": "Ada", "DELETE": "on"},
        {"name": "Ada", "var_name": "Ada again"},
    )
    assert ines_client.post(url(exercise), data).status_code == 302
    assert exercise.cases.get().variables == {"name": "Ada again"}


@pytest.mark.parametrize("weight", ["101", "1e308"])
def test_a_weight_over_100_is_refused(ines_client, instructor, weight):
    # Two cases weighing 1e308 summed to infinity, and graded the attempt nan.
    exercise = make_exercise(status=Exercise.DRAFT)
    data = rows({"name": "X", "var_name": "x", "weight": weight})
    r = ines_client.post(url(exercise), data)
    assert r.status_code == 422
    assert "less than or equal to 100" in r.content.decode()


def test_saving_the_cases_keeps_the_fixed_inputs_every_case_shares(ines_client, instructor):
    # A field per fixed input saved it empty in every case, hiding the shared text.
    exercise = make_fixed_input_exercise()
    ada = exercise.cases.get()
    assert 'name="cases-0-var_tone"' not in ines_client.get(url(exercise)).content.decode()
    data = rows({"id": str(ada.pk), "name": "Ada", "var_name": "Ada", "var_tone": ""})
    assert ines_client.post(url(exercise), data).status_code == 302
    case = exercise.cases.get()
    assert case.variables == {"name": "Ada"}
    assert exercise.case_variables(case) == {"name": "Ada", "tone": "warm"}


def test_a_new_row_may_not_take_the_name_of_a_case_no_row_posts(ines_client, instructor):
    # A form with fewer rows than the exercise has cases (out of date, or crafted) left two
    # cases of one name.
    exercise = make_exercise(status=Exercise.DRAFT, cases=[{"name": "Ada"}, {"name": "Bo"}])
    ada = exercise.cases.get(name="Ada")
    data = rows({"id": str(ada.pk), "name": "Ada"}, {"name": "Bo", "var_name": "Bo again"})
    r = ines_client.post(url(exercise), data)
    assert r.status_code == 422
    assert "Another test case is named &#x27;Bo&#x27; already." in r.content.decode()
    assert sorted(exercise.cases.values_list("name", flat=True)) == ["Ada", "Bo"]


@pytest.mark.parametrize("twice", [{}, {"DELETE": "on"}])
def test_a_case_posted_in_two_rows_is_refused_and_nothing_is_saved(ines_client, instructor, twice):
    # The first row's edit was lost (or, after its Delete, the case came back with a new id).
    exercise = make_exercise(status=Exercise.DRAFT)
    ada = exercise.cases.get()
    data = rows(
        {"id": str(ada.pk), "name": "Ada L.", **twice}, {"id": str(ada.pk), "name": "Ada K."}
    )
    r = ines_client.post(url(exercise), data)
    assert r.status_code == 422
    assert "reload the page" in r.content.decode()
    assert list(exercise.cases.values_list("pk", "name")) == [(ada.pk, "Ada")]


def test_a_row_of_a_case_of_another_exercise_is_refused(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    other = make_exercise(slug="other", cases=[{"name": "Theirs"}]).cases.get()
    r = ines_client.post(url(exercise), rows({"id": str(other.pk), "name": "Mine"}))
    assert r.status_code == 422
    assert "reload the page" in r.content.decode()
    assert other.exercise.cases.get().name == "Theirs"
    assert list(exercise.cases.values_list("name", flat=True)) == ["Ada"]


def test_deleting_a_case_deleted_already_is_no_error(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    ada = exercise.cases.get()
    data = rows(
        {"id": str(ada.pk), "name": "Ada"}, {"id": "424242", "name": "Gone", "DELETE": "on"}
    )
    assert ines_client.post(url(exercise), data).status_code == 302
    assert list(exercise.cases.values_list("name", flat=True)) == ["Ada"]


@pytest.mark.parametrize("count", [200, 260])
def test_an_exercise_of_hundreds_of_cases_saves(ines_client, instructor, count):
    # A CSV import adds up to 500 rows at a time; each row posts 7 fields and one per variable,
    # and Django's default of 1,000 fields a request refused 112 cases with a bare 400. Past
    # the editor's 200 new rows, an exercise's own still save.
    cases = [{"name": f"Case {n}", "variables": {"name": f"N{n}"}} for n in range(count)]
    exercise = make_exercise(status=Exercise.DRAFT, cases=cases)
    saved = [
        {"id": str(c.pk), "name": c.name, "var_name": c.variables["name"]}
        for c in exercise.cases.all()
    ]
    saved[0]["name"] = "First case"
    r = ines_client.post(url(exercise), {**rows(*saved), "cases-0-DELETE": ""})
    assert r.status_code == 302
    assert exercise.cases.count() == count
    assert exercise.cases.filter(name="First case").exists()
