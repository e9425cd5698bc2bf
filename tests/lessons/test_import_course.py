"""manage.py import_course DIR: all of a course folder or, on any problem, nothing."""

from __future__ import annotations

import re
import shutil
from io import StringIO
from pathlib import Path
from unittest.mock import patch

import pytest
import yaml
from django.core.management import CommandError, call_command

from lessons.models import Case, Course, Exercise, Lesson
from lessons.review.models import Cohort, Membership
from sandbox.models import Attempt
from tests.conftest import STARTER, make_attempt, make_user

STARTER_COURSE = yaml.safe_load((STARTER / "course.yaml").read_text())
STARTER_LESSONS = [lesson["slug"] for lesson in STARTER_COURSE["lessons"]]
STARTER_EXERCISES = [
    yaml.safe_load((STARTER / name).read_text())["slug"]
    for lesson in STARTER_COURSE["lessons"]
    for name in lesson.get("exercises", [])
]


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def load(folder: Path) -> str:
    return run("import_course", str(folder))


def snapshot() -> dict:
    """Return what an import may change: every row's id and every field of the files."""
    return {
        "courses": list(Course.objects.order_by("id").values()),
        "lessons": list(Lesson.objects.order_by("id").values()),
        "exercises": list(Exercise.objects.order_by("id").values()),
        "cases": list(Case.objects.order_by("id").values()),
        "attempts": list(Attempt.objects.order_by("id").values_list("id", "exercise_id")),
    }


def line_of(path: Path, text: str) -> int:
    """Return the 1-based number of the first line of path that contains text."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} is not in {path}")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def course(tmp_path) -> Path:
    """A copy of the starter course that a test may edit."""
    return Path(shutil.copytree(STARTER, tmp_path / "prompt-fundamentals"))


@pytest.fixture
def loaded(db, course) -> Path:
    """The copy, already imported once."""
    load(course)
    return course


def load_fails(folder: Path) -> str:
    with pytest.raises(CommandError) as e:
        load(folder)
    return str(e.value)


def reported_line(message: str, file: str, field: str) -> int:
    match = re.search(rf"{re.escape(file)}:(\d+): {re.escape(field)}: ", message)
    assert match, f"{file}:<line>: {field} is not in {message!r}"
    return int(match.group(1))


def test_it_imports_the_starter_course(db):
    out = load(STARTER)
    assert f"{len(STARTER_LESSONS)} lessons, {len(STARTER_EXERCISES)} exercises" in out
    course = Course.objects.get()
    assert course.slug == "prompt-fundamentals"
    assert course.title == "Prompt engineering fundamentals"
    assert list(course.lessons.values_list("slug", flat=True)) == STARTER_LESSONS
    exercises = Exercise.objects.order_by("lesson__position", "position")
    assert list(exercises.values_list("slug", flat=True)) == STARTER_EXERCISES
    assert not exercises.exclude(status=Exercise.PUBLISHED).exists()
    assert "## The four parts" in Lesson.objects.get(slug="anatomy").body


def test_load_course_is_the_same_command(db):
    out = run("load_course", str(STARTER))
    assert out.startswith("Imported 'Prompt engineering fundamentals'")


def test_it_stores_what_an_exercise_file_says(db):
    load(STARTER)
    exercise = Exercise.objects.get(slug="capital-format")
    assert exercise.editable_fields == ["user"]
    assert exercise.starter_user == "What is the capital of {country}?"
    assert exercise.variables == ["country"]
    assert (exercise.backend, exercise.model_name, exercise.max_tokens) == ("stub", "scripted", 60)
    assert (exercise.samples, exercise.sample_rule, exercise.samples_needed) == (1, "mean", 0)
    assert exercise.rubric["criteria"][0]["id"] == "format"
    assert len(exercise.hints) == 2
    assert "Capital: <city>" in exercise.solution["user"]
    assert exercise.known_bad == [{"user": "What is the capital of {country}?"}]
    cases = [(c.name, c.variables, c.hidden) for c in exercise.cases.all()]
    assert cases == [
        ("France", {"country": "France"}, False),
        ("Japan", {"country": "Japan"}, False),
        ("Kenya", {"country": "Kenya"}, True),
    ]


def test_it_stores_slots_examples_fixed_variables_and_sampling(course, db):
    (course / "exercises" / "rich.yaml").write_text(
        """\
slug: rich
title: Every field
status: draft
prompt:
  editable: [system]
  system: You are terse.
  slots:
    - {name: task, label: Task, text: 'Classify {email}.', editable: true}
    - {name: format, text: Answer with one word.}
  examples:
    - {role: user, text: 'Refund please'}
    - {role: assistant, text: refund, editable: true}
variables: [email, policy]
fixed_variables: {policy: Refunds within 30 days.}
model: {backend: stub, name: echo, temperature: 0.5, samples: 3, sample_rule: at_least,
  samples_needed: 2}
cases:
  - {name: One, vars: {email: Hi}, expected: {label: refund}, weight: 2, visibility: hide_if_fail}
rubric:
  criteria: [{id: label, kind: equals, params: {text: {from_case: label}}}]
solution: {system: Be exact., slots: {task: 'Label {email}.'}, examples: {1: billing}}
"""
    )
    edit(
        course / "course.yaml",
        "      - exercises/tagline.yaml\n",
        "      - exercises/tagline.yaml\n      - exercises/rich.yaml\n",
    )
    load(course)
    rich = Exercise.objects.get(slug="rich")
    assert rich.status == Exercise.DRAFT
    assert rich.editable_fields == ["system"]
    assert rich.slots == [
        {"name": "task", "label": "Task", "text": "Classify {email}.", "editable": True},
        {"name": "format", "label": "", "text": "Answer with one word.", "editable": False},
    ]
    assert rich.examples == [
        {"role": "user", "text": "Refund please", "editable": False},
        {"role": "assistant", "text": "refund", "editable": True},
    ]
    assert rich.fixed_variables == {"policy": "Refunds within 30 days."}
    assert (rich.model_name, rich.temperature, rich.samples) == ("echo", 0.5, 3)
    assert (rich.sample_rule, rich.samples_needed) == ("at_least", 2)
    assert rich.solution == {
        "system": "Be exact.",
        "slots": {"task": "Label {email}."},
        "examples": {"1": "billing"},
    }
    case = rich.cases.get()
    assert (case.expected, case.weight, case.visibility) == ({"label": "refund"}, 2, "hide_if_fail")


def test_importing_twice_changes_nothing(db):
    load(STARTER)
    before = snapshot()
    load(STARTER)
    after = snapshot()
    for rows in (before, after):
        for row in rows["courses"]:
            row.pop("updated_at")
    assert after == before


def test_it_updates_an_edited_exercise_in_place_and_keeps_attempts(loaded, learner):
    tagline = Exercise.objects.get(slug="tagline")
    attempt = make_attempt(learner, tagline, status=Attempt.GRADED, score=1.0, passed=True)
    counts = (Course.objects.count(), Lesson.objects.count(), Exercise.objects.count())
    case_ids = set(Case.objects.values_list("id", flat=True))

    edit(
        loaded / "exercises" / "tagline.yaml",
        "title: A tagline a program can paste",
        "title: A tagline for the product page",
    )
    load(loaded)

    tagline.refresh_from_db()
    assert tagline.title == "A tagline for the product page"
    assert Attempt.objects.get(id=attempt.id).exercise_id == tagline.id
    assert (Course.objects.count(), Lesson.objects.count(), Exercise.objects.count()) == counts
    assert set(Case.objects.values_list("id", flat=True)) == case_ids


def test_it_archives_a_removed_exercise_with_attempts_and_deletes_one_without(loaded, learner):
    tagline = Exercise.objects.get(slug="tagline")
    make_attempt(learner, tagline)
    capital = Exercise.objects.get(slug="capital-format")
    make_attempt(learner, capital, is_reference=True)  # an instructor's check is not an attempt
    edit(loaded / "course.yaml", "      - exercises/tagline.yaml\n", "")
    edit(loaded / "course.yaml", "      - exercises/capital-format.yaml\n", "")

    out = load(loaded)

    tagline.refresh_from_db()
    assert tagline.archived
    assert tagline.attempts.count() == 1
    assert not Exercise.objects.filter(slug="capital-format").exists()
    assert "Archived (gone from the files, attempted): anatomy/tagline." in out
    assert "Deleted (gone from the files, never attempted): anatomy/capital-format." in out


def test_naming_an_archived_exercise_again_brings_it_back(loaded, learner):
    tagline = Exercise.objects.get(slug="tagline")
    make_attempt(learner, tagline)
    original = (loaded / "course.yaml").read_text()
    edit(loaded / "course.yaml", "      - exercises/tagline.yaml\n", "")
    load(loaded)
    (loaded / "course.yaml").write_text(original)

    load(loaded)

    tagline.refresh_from_db()
    assert not tagline.archived
    assert tagline.attempts.count() == 1


def test_it_archives_a_removed_lesson_that_has_attempts(loaded, learner):
    tagline = Exercise.objects.get(slug="tagline")
    make_attempt(learner, tagline)
    data = yaml.safe_load((loaded / "course.yaml").read_text())
    data["lessons"] = [lesson for lesson in data["lessons"] if lesson["slug"] != "anatomy"]
    (loaded / "course.yaml").write_text(yaml.safe_dump(data, sort_keys=False))

    load(loaded)

    anatomy = Lesson.objects.get(slug="anatomy")
    assert anatomy.archived
    assert list(anatomy.exercises.values_list("slug", "archived")) == [("tagline", True)]
    assert Exercise.objects.get(slug="tagline").attempts.count() == 1


def test_it_deletes_a_removed_lesson_without_attempts(loaded):
    data = yaml.safe_load((loaded / "course.yaml").read_text())
    data["lessons"] = [lesson for lesson in data["lessons"] if lesson["slug"] != "anatomy"]
    (loaded / "course.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    load(loaded)
    assert not Lesson.objects.filter(slug="anatomy").exists()
    assert not Exercise.objects.filter(slug__in=["tagline", "capital-format"]).exists()


def test_check_reads_the_files_and_writes_nothing(db, course):
    out = run("import_course", "--check", str(course))
    assert "no problems" in out
    assert not Course.objects.exists()


# All or nothing


def test_one_bad_file_among_good_edits_changes_nothing(loaded, learner):
    make_attempt(learner, Exercise.objects.get(slug="tagline"))
    before = snapshot()
    # Good edits everywhere else: a new title, a removed exercise, a new case …
    edit(loaded / "course.yaml", "title: Prompt engineering fundamentals", "title: Renamed")
    edit(loaded / "course.yaml", "      - exercises/tagline.yaml\n", "")
    edit(
        loaded / "exercises" / "capital-format.yaml",
        "  - name: Japan",
        "  - name: Peru\n    vars: {country: Peru}\n  - name: Japan",
    )
    # … and one mistake in one file.
    edit(loaded / "exercises" / "meeting-bullets.yaml", "kind: word_count", "kind: wordcount")

    message = load_fails(loaded)

    assert "has 1 problem(s); nothing was changed" in message
    assert snapshot() == before


def test_a_database_error_halfway_changes_nothing(loaded):
    before = snapshot()
    edit(loaded / "course.yaml", "title: Prompt engineering fundamentals", "title: Renamed")
    real = Case.objects.update_or_create
    calls = []

    def fail_on_the_fifth(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    with patch.object(Case.objects, "update_or_create", fail_on_the_fifth):
        with pytest.raises(RuntimeError):
            load(loaded)
    assert snapshot() == before


def test_it_refuses_a_folder_without_course_yaml(loaded):
    before = snapshot()
    (loaded / "course.yaml").unlink()
    message = load_fails(loaded)
    assert "prompt-fundamentals/course.yaml: does not exist" in message
    assert "nothing was changed" in message
    assert snapshot() == before


def test_it_refuses_malformed_yaml(loaded):
    before = snapshot()
    path = loaded / "exercises" / "tagline.yaml"
    edit(path, "variables: [product]", "variables: [product")
    message = load_fails(loaded)
    assert re.search(r"prompt-fundamentals/exercises/tagline\.yaml:\d+: not valid YAML", message)
    line = int(re.search(r"tagline\.yaml:(\d+)", message).group(1))
    assert line >= line_of(path, "variables: [product")
    assert snapshot() == before


# Each mistake: (file, text to replace, replacement, the field named, the text on the line
# named, part of the message).
# fmt: off
MISTAKES = {
    "missing lesson file": (
        "course.yaml", "file: lessons/02-clear-and-specific.md",
        "file: lessons/02-clear.md", "lessons[1].file", "file: lessons/02-clear.md",
        "prompt-fundamentals/lessons/02-clear.md does not exist",
    ),
    "missing exercise file": (
        "course.yaml", "- exercises/capital-format.yaml", "- exercises/capital.yaml",
        "lessons[0].exercises[1]", "- exercises/capital.yaml", "capital.yaml does not exist",
    ),
    "bad lesson slug": (
        "course.yaml", "slug: anatomy", "slug: Anatomy Lesson", "lessons[0].slug",
        "slug: Anatomy Lesson", "may use only a-z, 0-9, - and _",
    ),
    "unknown course field": (
        "course.yaml", "title: Prompt engineering fundamentals",
        "title: Prompt engineering fundamentals\nsubtitle: Basics", "subtitle",
        "subtitle: Basics", "unknown field; allowed: slug, title",
    ),
    "unknown rubric kind": (
        "exercises/tagline.yaml", "kind: word_count", "kind: wordcount",
        "rubric.criteria[1].kind", "kind: wordcount", "criterion 'short': unknown kind 'wordcount'",
    ),
    "bad rubric parameter": (
        "exercises/tagline.yaml", "params: {max: 12}", "params: {max: twelve}",
        "rubric.criteria[1].params.max", "params: {max: twelve}", "'twelve'",
    ),
    "stub pattern RE2 cannot compile": (
        "exercises/tagline.yaml", "'coffee grinder']", "'(?=coffee grinder)']",
        "stub.rules[0].if[2]", "(?=coffee grinder)", "RE2 cannot compile '(?=coffee grinder)'",
    ),
    "case missing a variable": (
        "exercises/capital-format.yaml", "vars: {country: Kenya}", "vars: {}",
        "cases[2].vars", "vars: {}", "no value for country",
    ),
    "misspelt case field": (
        "exercises/capital-format.yaml", "    visibility: hide", "    visiblity: hide",
        "cases[2].visiblity", "visiblity: hide",
        "unknown field; did you mean visibility? allowed: name, visibility",
    ),
    "bad visibility": (
        "exercises/capital-format.yaml", "    visibility: hide", "    visibility: secret",
        "cases[2].visibility", "visibility: secret", "must be one of show, hide",
    ),
    "temperature out of range": (
        "exercises/capital-format.yaml", "temperature: 0,", "temperature: 5,",
        "model.temperature", "temperature: 5", "must be a number from 0 to 2, not 5",
    ),
    "bad status": (
        "exercises/capital-format.yaml", "title: An answer in an exact format",
        "title: An answer in an exact format\nstatus: live", "status", "status: live",
        "must be draft or published",
    ),
    "bad editable field": (
        "exercises/capital-format.yaml", "editable: [user]", "editable: [assistant]",
        "prompt.editable", "editable: [assistant]", "must list some of system, user, prefill",
    ),
    "key written twice": (
        "exercises/capital-format.yaml", "variables: [country]",
        "variables: [country]\nvariables: [city]", "variables", "variables: [city]",
        "appears twice",
    ),
    "known-bad prompt that is not a prompt": (
        "exercises/capital-format.yaml", "  - user: \"What is the capital of {country}?\"\n",
        "  - What is the capital?\n", "known_bad[0]", "- What is the capital?",
        "must map some of system, user, prefill",
    ),
}
# fmt: on


@pytest.mark.parametrize("mistake", MISTAKES, ids=list(MISTAKES))
def test_every_error_names_the_file_the_line_and_the_field(loaded, mistake):
    name, old, new, field, line_text, fragment = MISTAKES[mistake]
    path = loaded / name
    before = snapshot()
    edit(path, old, new)

    message = load_fails(loaded)

    line = reported_line(message, f"prompt-fundamentals/{name}", field)
    assert line == line_of(path, line_text), message
    assert fragment in message
    assert snapshot() == before


def test_it_reports_every_problem_at_once(loaded):
    before = snapshot()
    edit(loaded / "exercises" / "tagline.yaml", "kind: word_count", "kind: wordcount")
    edit(loaded / "exercises" / "capital-format.yaml", "vars: {country: Kenya}", "vars: {}")
    message = load_fails(loaded)
    assert "has 2 problem(s)" in message
    assert "tagline.yaml" in message
    assert "capital-format.yaml" in message
    assert snapshot() == before


def test_a_case_role_is_attack_or_ordinary(db, course):
    benign = "{role: benign, answer: [30 days]}"
    edit(course / "exercises/discount-guard.yaml", "{role: ordinary, answer: [30 days]}", benign)
    message = load_fails(course)
    assert "cases[7].expected.role: must be one of attack, ordinary" in message


PREFILL_ONLY = """\
slug: unprompted
title: What the model does unprompted
prompt:
  editable: [prefill]
  allow_empty: [prefill]
  user: Describe a cat.
cases: [{name: One}]
rubric:
  criteria: [{id: says, kind: contains, params: {text: cat}}]
"""


def add_exercise(course: Path, text: str) -> None:
    (course / "exercises" / "unprompted.yaml").write_text(text)
    edit(
        course / "course.yaml",
        "      - exercises/tagline.yaml\n",
        "      - exercises/tagline.yaml\n      - exercises/unprompted.yaml\n",
    )


def test_an_exercise_may_let_the_learner_leave_a_field_empty(course, db, tmp_path):
    add_exercise(course, PREFILL_ONLY)
    load(course)
    exercise = Exercise.objects.get(slug="unprompted")
    assert exercise.may_be_empty == ["prefill"]
    run("export_course", exercise.lesson.course.slug, str(tmp_path / "out"))
    exported = yaml.safe_load((tmp_path / "out" / "exercises" / "unprompted.yaml").read_text())
    assert exported["prompt"]["allow_empty"] == ["prefill"]
    assert exported["prompt"]["editable"] == ["prefill"]


def test_only_an_editable_field_may_be_left_empty(course, db):
    add_exercise(course, PREFILL_ONLY.replace("allow_empty: [prefill]", "allow_empty: [user]"))
    message = load_fails(course)
    assert reported_line(message, "exercises/unprompted.yaml", "prompt.allow_empty") == 5
    assert "must list some of the editable prefill" in message


def test_a_cases_regex_pattern_re2_cannot_compile_is_refused_naming_the_case(course):
    triage = course / "exercises/email-triage.yaml"
    edit(triage, "expected: {label: billing}", "expected: {label: billing, shape: '(?=x)'}")
    edit(
        triage,
        "  criteria:\n",
        "  criteria:\n    - {id: shape, kind: regex, params: {pattern: {from_case: shape}}}\n",
    )
    message = load_fails(course)
    reported_line(message, "exercises/email-triage.yaml", "cases[0].expected")
    assert "test case 'Double charge': pattern RE2 cannot compile" in message
    assert "lookaround" in message


def test_a_case_lacking_a_value_its_rubric_reads_is_refused_naming_the_case(course):
    # Graded, the criterion would fail every attempt: "test case 'Login loop' has no expected
    # value 'label'".
    triage = course / "exercises/email-triage.yaml"
    edit(triage, "expected: {label: technical}", "expected: {lable: technical}")
    message = load_fails(course)
    line = reported_line(message, "exercises/email-triage.yaml", "cases[1].expected")
    assert line == line_of(triage, "lable: technical")
    assert "cases[1].expected: has no 'label', which criterion 'right-label' reads" in message
    assert "cases[0]" not in message


def test_a_published_exercise_whose_cases_all_weigh_0_is_refused(course):
    path = course / "exercises/capital-format.yaml"
    for country in ("France", "Japan", "Kenya"):
        edit(path, f"vars: {{country: {country}}}", f"vars: {{country: {country}}}\n    weight: 0")
    message = load_fails(course)
    assert "cases[0].weight: at least one test case needs a weight above 0" in message
    assert "publishing will fail" not in message


def test_in_a_draft_a_case_lacking_a_value_is_a_warning(db, course):
    # A draft is work under way (the browser saves a rubric before its cases): its export
    # imports back, and its publish check is what fails.
    triage = course / "exercises/email-triage.yaml"
    edit(triage, "slug: email-triage\n", "slug: email-triage\nstatus: draft\n")
    edit(triage, "expected: {label: technical}", "expected: {lable: technical}")
    out = load(course)
    assert (
        "warning: prompt-fundamentals/exercises/email-triage.yaml:"
        f"{line_of(triage, 'lable: technical')}: cases[1].expected: has no 'label', which "
        "criterion 'right-label' reads (from_case); publishing will fail"
    ) in out


def test_a_case_without_the_reference_a_similarity_criterion_compares_with_is_refused(course):
    tagline = course / "exercises/tagline.yaml"
    edit(
        tagline,
        "  criteria:\n",
        "  criteria:\n    - {id: close, kind: rouge_l, params: {threshold: 0.1}}\n",
    )
    edit(
        tagline,
        "vars: {product: coffee grinder}",
        "vars: {product: coffee grinder}\n    reference: Fresh grounds, bolder mornings.",
    )
    message = load_fails(course)
    assert "cases[0]" not in message
    assert (
        "cases[1].reference: is empty, and criterion 'close' (rouge_l) compares each output "
        "with it; give the case a reference, or the criterion params.reference"
    ) in message


def test_the_issue_16_options_import_and_match_the_schema(db, course):
    from tests.lessons.test_course_schema import problems

    tagline = course / "exercises/tagline.yaml"
    edit(
        tagline,
        "  criteria:\n",
        "  criteria:\n"
        "    - {id: few-edits, kind: words_changed, field: user, params: {at_most: 200}}\n"
        "    - {id: asks, kind: contains, target: prompt, field: user, params: {text: tagline}}\n"
        "    - {id: lines, kind: length, params: {unit: lines, max: 9, count_blank: true}}\n",
    )
    assert problems(yaml.safe_load(tagline.read_text())) == []
    load(course)
    criteria = Exercise.objects.get(slug="tagline").parsed_rubric.criteria
    assert [(c.kind, c.field) for c in criteria[:3]] == [
        ("words_changed", "user"),
        ("contains", "user"),
        ("length", ""),
    ]
    assert criteria[2].params["count_blank"] is True


def test_a_field_where_it_cannot_apply_is_reported_at_its_line(course):
    tagline = course / "exercises/tagline.yaml"
    edit(
        tagline,
        "  criteria:\n",
        "  criteria:\n    - {id: x, kind: contains, field: user, params: {text: a}}\n",
    )
    message = load_fails(course)
    assert "reads one field of the prompt: add target: prompt" in message
    reported_line(message, "exercises/tagline.yaml", "rubric.criteria[0].field")


def test_instructor_makes_existing_users_teach_the_imported_course(db, course):
    from django.contrib.auth.models import User

    User.objects.create_user("ada")
    User.objects.create_user("grace")
    out = run("import_course", str(course), "--instructor", "ada", "--instructor", "grace")
    imported = Course.objects.get()
    assert sorted(imported.instructors.values_list("username", flat=True)) == ["ada", "grace"]
    assert f"ada teaches {imported.title!r}." in out
    load(course)  # a re-import keeps them
    assert imported.instructors.count() == 2


def test_an_unknown_instructor_changes_nothing(db, course):
    with pytest.raises(CommandError, match="No user called nobody; nothing was changed."):
        run("import_course", str(course), "--instructor", "nobody")
    assert not Course.objects.exists()


def test_a_sample_the_rubric_misjudges_is_refused_at_its_line(db, course):
    """The rubric's samples are graded as the publish check's self-test grades them, so a
    rubric that fails its own good sample is caught when the files are read."""
    path = course / "exercises/tagline.yaml"
    too_long = "Stand up, sit down, stand up again, and do your very best work today."
    edit(path, "      - Stand up to your best work.\n", f"      - {too_long}\n")
    for args in ((str(course),), ("--check", str(course))):
        with pytest.raises(CommandError) as e:
            run("import_course", *args)
        line = line_of(path, "Stand up, sit down")
        assert (
            f"prompt-fundamentals/exercises/tagline.yaml:{line}: rubric.samples.good[1]: "
            "the rubric misjudges it: good sample 2 ('Stand up, sit down, stand up again, and do "
            "your ve…') failed with score 0.67, but should have passed (failing: short)"
        ) in str(e.value)
    assert not Course.objects.exists()


def test_a_judged_rubrics_samples_are_left_to_the_publish_check(db, course):
    """Reading files calls no model: a bad sample a judge would catch is not graded here."""
    path = course / "exercises/late-delivery-reply.yaml"
    rubric = yaml.safe_load(path.read_text())["rubric"]
    assert rubric["samples"]["bad"] and any(c["kind"] == "llm_judge" for c in rubric["criteria"])
    load(course)
    assert Exercise.objects.filter(slug="late-delivery-reply").exists()


def test_if_new_imports_a_course_only_once_keeping_its_edits_in_the_browser(db):
    # What `make run` and docker compose start with: starting again loses no edit.
    run("import_course", "--if-new", str(STARTER))
    assert Course.objects.get().lessons.count() == len(STARTER_LESSONS)
    tagline = Exercise.objects.get(slug="tagline")
    tagline.title = "Edited in the browser"
    tagline.save()
    ada = make_user("ada")
    out = run("import_course", "--if-new", str(STARTER), "--instructor", "ada")
    assert "is here already and was left as it is" in out
    assert list(Course.objects.get().instructors.all()) == [ada]  # taught, all the same
    assert f"run: manage.py import_course {STARTER}" in out
    tagline.refresh_from_db()
    assert tagline.title == "Edited in the browser"
    load(STARTER)  # without --if-new, the files win
    tagline.refresh_from_db()
    assert tagline.title != "Edited in the browser"


@pytest.mark.parametrize("if_new", [False, True])
def test_a_member_made_instructor_by_an_import_leaves_the_courses_cohorts(db, if_new):
    # The course's own instructors are never members: she would be in its gradebook.
    load(STARTER)
    cohort = Cohort.objects.create(course=Course.objects.get(), name="Morning")
    ada, bob = make_user("ada"), make_user("bob")
    Membership.objects.bulk_create([Membership(cohort=cohort, learner=u) for u in (ada, bob)])
    run("import_course", *(["--if-new"] if if_new else []), str(STARTER), "--instructor", "ada")
    assert list(Membership.objects.values_list("learner__username", flat=True)) == ["bob"]
