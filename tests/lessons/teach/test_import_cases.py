"""POST /teach/exercises/<id>/cases/import/: test cases from CSV, all or nothing."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from lessons.models import Exercise
from tests.conftest import make_exercise, make_fixed_input_exercise


def url(exercise) -> str:
    return f"/teach/exercises/{exercise.id}/cases/import/"


CSV = "name,__name,__visibility,__expected\nBo,Bo,hide,contains:Bo\nCy,,show,contains:Cy\n"


def confirm_fields(html: str) -> dict[str, str]:
    """Return the hidden fields of the confirm step's form, as the browser would send them."""
    form = html[html.index("This import adds") : html.index("Import without")]
    return {
        name: unescape(value)
        for name, value in re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', form)
    }


def test_it_asks_before_it_adds_a_criterion_to_the_rubric(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    rubric = exercise.rubric
    r = ines_client.post(url(exercise), {"csv_text": CSV, "replace": "on"})
    html = r.content.decode()
    assert r.status_code == 200
    assert (
        "This import adds the criterion <code>expect-contains</code> to the rubric; cases "
        "without an expected value will fail it." in html
    )
    assert ">Confirm</button>" in html and ">Import without it</button>" in html
    assert exercise.cases.count() == 1
    exercise.refresh_from_db()
    assert exercise.rubric == rubric
    assert confirm_fields(html)["csv_text"].replace("\r\n", "\n") == CSV
    assert confirm_fields(html)["replace"] == "on"


def test_it_imports_without_the_criterion_when_asked(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    rubric = exercise.rubric
    r = ines_client.post(url(exercise), {"csv_text": CSV, "criteria": "skip"}, follow=True)
    assert "Imported 2 test cases." in r.content.decode()
    assert "The rubric now checks" not in r.content.decode()
    assert exercise.cases.count() == 3
    exercise.refresh_from_db()
    assert exercise.rubric == rubric


def test_it_adds_the_rows_as_cases_and_the_criteria_to_the_rubric(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    html = ines_client.post(url(exercise), {"csv_text": CSV}).content.decode()
    confirmed = {**confirm_fields(html), "criteria": "add"}
    r = ines_client.post(url(exercise), confirmed, follow=True)
    assert "Imported 2 test cases. The rubric now checks expect-contains" in r.content.decode()
    names = list(exercise.cases.values_list("name", "visibility"))
    assert names == [("Ada", "show"), ("Bo", "hide"), ("Case 2", "show")]
    exercise.refresh_from_db()
    assert exercise.rubric["criteria"][-1]["params"] == {"text": {"from_case": "expect-contains"}}


def test_it_reads_an_uploaded_file_and_can_replace_the_cases(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    upload = SimpleUploadedFile("cases.csv", b"\xef\xbb\xbfname\nZoe\n", "text/csv")
    ines_client.post(url(exercise), {"csv_file": upload, "replace": "on"})
    assert list(exercise.cases.values_list("variables", flat=True)) == [{"name": "Zoe"}]


def test_it_lists_every_bad_row_and_imports_nothing(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    csv = "name,__visibility,__expected\nBo,maybe,regex:(?=x)\nCy,show,\n"
    r = ines_client.post(url(exercise), {"csv_text": csv})
    html = r.content.decode()
    assert r.status_code == 422
    assert "Nothing was imported" in html
    assert "Row 2, column &#x27;__visibility&#x27;" in html
    assert "Row 2, column &#x27;__expected&#x27;" in html
    assert exercise.cases.count() == 1


def test_it_asks_for_some_csv(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    r = ines_client.post(url(exercise), {"csv_text": "  "})
    assert r.status_code == 422
    assert "Choose a CSV file or paste CSV text." in r.content.decode()


def refused(exercise, client, **data) -> str:
    """POST the import, expecting it refused with nothing imported; return the page's text."""
    r = client.post(url(exercise), data)
    assert r.status_code == 422
    assert exercise.cases.count() == 1
    return unescape(r.content.decode())


def test_a_name_longer_than_a_case_keeps_is_a_row_error(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    page = refused(exercise, ines_client, csv_text=f"name,__name\nx,{'n' * 101}\n")
    assert "Row 2, column '__name': is 101 characters; at most 100." in page


def test_a_cell_past_the_csv_modules_limit_is_an_error(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    page = refused(exercise, ines_client, csv_text='name\n"' + "x" * 140_000 + '"\n')
    assert "The CSV cannot be read: field larger than field limit" in page


def test_an_uploaded_file_holding_a_nul_is_refused_at_its_line(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    upload = SimpleUploadedFile("cases.csv", b"name\nA\x00B\n", "text/csv")
    page = refused(exercise, ines_client, csv_file=upload)
    assert "Line 2 holds a NUL character, which cannot be stored." in page


@pytest.mark.parametrize("weight", ["nan", "inf", "1e308", "101", "-1"])
def test_a_weight_outside_0_to_100_is_a_row_error(ines_client, instructor, weight):
    exercise = make_exercise(status=Exercise.DRAFT)
    page = refused(exercise, ines_client, csv_text=f"name,__weight\nA,{weight}\n")
    assert f"Row 2, column '__weight': '{weight}' is not a number from 0 to 100." in page


def test_a_name_used_twice_or_kept_already_is_a_row_error(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)  # its case is "Ada"
    page = refused(exercise, ines_client, csv_text="name,__name\na,Bo\nb,Bo\nc,Ada\n")
    assert "Row 3, column '__name': 'Bo' names another test case already" in page
    assert "Row 4, column '__name': 'Ada' names another test case already" in page


def test_unnamed_rows_are_numbered_past_the_names_taken(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT, cases=[{"name": "Case 1"}])
    ines_client.post(url(exercise), {"csv_text": "name\nBo\nCy\n"})
    assert list(exercise.cases.values_list("name", flat=True)) == ["Case 1", "Case 2", "Case 3"]


def test_a_replacing_import_may_reuse_the_names_it_replaces(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    ines_client.post(url(exercise), {"csv_text": "name,__name\nx,Ada\n", "replace": "on"})
    assert list(exercise.cases.values_list("name", flat=True)) == ["Ada"]


def test_a_csv_gives_no_column_for_a_fixed_input(ines_client, instructor):
    exercise = make_fixed_input_exercise()
    page = refused(exercise, ines_client, csv_text="name,tone\nBo,cold\n")
    assert "Row 1, column 'tone': a fixed input, which every case shares" in page
    ines_client.post(url(exercise), {"csv_text": "name\nBo\n"})
    assert exercise.cases.get(name="Case 1").variables == {"name": "Bo"}


def test_an_unnamed_row_is_not_numbered_with_a_name_a_later_row_gives(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    ines_client.post(url(exercise), {"csv_text": "name,__name\na,\nb,Case 1\n"})
    assert list(exercise.cases.values_list("name", flat=True)) == ["Ada", "Case 2", "Case 1"]


def sized_csv(rows: int) -> str:
    """Return a CSV of `rows` cases, 400 bytes each, which adds the expect-contains criterion."""
    body = "".join(f"{'x' * 360},Case {n:03},show,contains:{'y' * 14}\n" for n in range(rows))
    return "name,__name,__visibility,__expected\n" + body


def test_a_csv_its_confirm_step_could_not_post_again_is_refused_at_once(ines_client, instructor):
    # The confirm step posts the text again as a field, which DATA_UPLOAD_MAX_MEMORY_SIZE
    # (256 KB) caps: a bigger CSV showed Confirm, then a bare 400, nothing imported.
    exercise = make_exercise(status=Exercise.DRAFT)
    big = sized_csv(495)  # 198 KB, over the 192 KB the default allows
    for sent in ({"csv_text": big}, {"csv_file": SimpleUploadedFile("c.csv", big.encode())}):
        html = ines_client.post(url(exercise), sent).content.decode()
        assert "The CSV is over 192 KB: import it in parts" in html
    assert exercise.cases.count() == 1


def test_a_csv_file_of_a_megabyte_gets_the_forms_message_not_a_bare_refusal(ines_client):
    # Files are capped before any view only past FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB).
    exercise = make_exercise(status=Exercise.DRAFT)
    upload = SimpleUploadedFile("c.csv", sized_csv(2500).encode())  # 1 MB
    response = ines_client.post(url(exercise), {"csv_file": upload})
    assert "The CSV is over 192 KB: import it in parts" in response.content.decode()
    assert exercise.cases.count() == 1


def test_a_csv_under_the_cap_is_confirmed_without_its_text_growing(ines_client, instructor):
    exercise = make_exercise(status=Exercise.DRAFT)
    upload = SimpleUploadedFile("c.csv", sized_csv(470).encode())  # 188 KB
    html = ines_client.post(url(exercise), {"csv_file": upload}).content.decode()
    confirm = html[html.rindex("<form", 0, html.index("This import adds")) :]
    assert confirm.startswith("<form") and 'enctype="multipart/form-data"' in confirm.split(">")[0]
    confirmed = {**confirm_fields(html), "criteria": "add"}
    assert ines_client.post(url(exercise), confirmed).status_code == 302
    assert exercise.cases.count() == 471
