"""GET/POST /teach/exercises/<id>/: the exercise editor (task, prompt, inputs, model, hints,
solution, stub rules)."""

from __future__ import annotations

import re

import pytest

from lessons.models import Exercise
from tests.conftest import make_exercise


@pytest.fixture
def exercise(instructor):
    return make_exercise(status=Exercise.DRAFT)


def url(exercise) -> str:
    return f"/teach/exercises/{exercise.id}/"


def form_data(**changes) -> dict:
    data = {
        "title": "Greet warmly",
        "slug": "greet",
        "instructions": "Make the model greet {name}.",
        "editable": ["system", "user"],
        "starter_system": "",
        "starter_user": "Talk to {name}.",
        "starter_prefill": "",
        "slots": "",
        "examples": "",
        "variables": "name, {tone}",
        "fixed_variables": "tone: |\n  warm\n  and kind\n",
        "model": "stub:scripted",
        "temperature": "0",
        "max_tokens": "200",
        "samples": "1",
        "sample_rule": "mean",
        "samples_needed": "",
        "hints": "Say what to say.\n---\nUse the words 'say hello'.\n",
        "solution_user": "Say hello to {name}.",
        "solution_system": "",
        "solution_prefill": "",
        "solution_slots": "",
        "known_bad": "- user: Talk to {name}.\n",
        "stub": "rules:\n  - if: say hello\n    reply: Hello!\ndefault: Hmm.\n",
    }
    data.update(changes)
    return data


def test_it_shows_the_exercise_in_the_editor(ines_client, exercise):
    html = ines_client.get(url(exercise)).content.decode()
    assert 'value="Greet someone"' in html
    assert "Talk to {name}." in html
    assert 'aria-current="page">Task &amp; prompt' in html
    assert "Draft" in html


def test_it_saves_every_section(ines_client, exercise):
    r = ines_client.post(url(exercise), form_data())
    assert r.status_code == 302
    exercise.refresh_from_db()
    assert exercise.title == "Greet warmly"
    assert exercise.variables == ["name", "tone"]
    assert exercise.fixed_variables == {"tone": "warm\nand kind\n"}
    assert exercise.hints == ["Say what to say.", "Use the words 'say hello'."]
    assert exercise.solution == {"user": "Say hello to {name}."}
    assert exercise.known_bad == [{"user": "Talk to {name}."}]
    assert exercise.stub["default"] == "Hmm."
    assert (exercise.backend, exercise.model_name, exercise.max_tokens) == ("stub", "scripted", 200)
    assert exercise.status == Exercise.DRAFT


def test_a_post_without_fields_names_them_and_saves_nothing(ines_client, exercise):
    # An empty body was read as no form at all: the page came back as if opened, 200, saying
    # nothing.
    r = ines_client.post(url(exercise), {})
    assert r.status_code == 422
    assert "This field is required." in r.content.decode()
    assert Exercise.objects.get().title == "Greet someone"


def test_it_saves_a_sample_rule_of_at_least_n(ines_client, exercise):
    data = form_data(samples="4", sample_rule="at_least", samples_needed="3")
    assert ines_client.post(url(exercise), data).status_code == 302
    exercise.refresh_from_db()
    assert (exercise.samples, exercise.sample_rule, exercise.samples_needed) == (4, "at_least", 3)
    html = ines_client.get(url(exercise)).content.decode()
    assert re.search(r'<input type="radio" name="sample_rule" value="at_least"[^>]* checked', html)
    assert 'name="samples_needed" value="3"' in html


def test_the_number_needed_is_kept_only_for_at_least_n(ines_client, exercise):
    data = form_data(samples="4", sample_rule="any", samples_needed="3")
    assert ines_client.post(url(exercise), data).status_code == 302
    exercise.refresh_from_db()
    assert (exercise.sample_rule, exercise.samples_needed) == ("any", 0)


@pytest.mark.parametrize(
    ("needed", "message"),
    [
        ("5", "Must be from 1 to 4 (the samples per case), not 5."),
        ("", "Must be from 1 to 4 (the samples per case), not 0."),
    ],
)
def test_it_refuses_more_samples_needed_than_it_runs(ines_client, exercise, needed, message):
    data = form_data(samples="4", sample_rule="at_least", samples_needed=needed)
    r = ines_client.post(url(exercise), data)
    assert r.status_code == 422
    error = r.context["form"].errors
    assert error == {"samples_needed": [message]}
    exercise.refresh_from_db()
    assert (exercise.sample_rule, exercise.samples_needed) == ("mean", 0)


def test_it_saves_named_slots_and_example_turns(ines_client, exercise):
    slots = (
        "- name: context\n  text: You help a shop.\n"
        "- name: task\n  text: Greet {name}.\n  editable: true\n"
    )
    examples = (
        "- role: user\n  text: Greet Bo\n- role: assistant\n  text: Hello Bo!\n  editable: true\n"
    )
    ines_client.post(url(exercise), form_data(slots=slots, examples=examples))
    exercise.refresh_from_db()
    # Kept with every key, as course import keeps them: its export comes back unchanged.
    slot = {"name": "task", "label": "", "text": "Greet {name}.", "editable": True}
    assert exercise.slots[1] == slot
    assert exercise.examples[0] == {"role": "user", "text": "Greet Bo", "editable": False}
    assert exercise.render({}, None).user == "You help a shop.\n\nGreet {name}."


@pytest.mark.parametrize(
    ("slots", "says"),
    [
        ("- name: my task\n  text: x\n", "Named slots, item 1, name: may use only letters"),
        ("- name: t\n  text: x\n- name: t\n  text: y\n", "item 2, name: &#x27;t&#x27; is used"),
        ("- name: t\n  text: x\n  editable: 1\n", "item 1, editable: must be true or false"),
        ("- name: t\n  text: x\n  note: mine\n", "item 1, note: unknown field; allowed: name"),
        ("- text: x\n", "Named slots, item 1, name: is required (text)"),
    ],
)
def test_it_refuses_slots_course_import_would_refuse(ines_client, exercise, slots, says):
    # Saved, their course's export would not import again.
    r = ines_client.post(url(exercise), form_data(slots=slots, starter_user=""))
    assert r.status_code == 422
    assert says in r.content.decode()
    exercise.refresh_from_db()
    assert exercise.slots == []


def test_it_refuses_an_example_turn_of_another_role(ines_client, exercise):
    r = ines_client.post(url(exercise), form_data(examples="- role: system\n  text: x\n"))
    assert r.status_code == 422
    assert "Example turns, item 1, role: must be user or assistant" in r.content.decode()


def test_it_names_the_line_of_bad_yaml_and_saves_nothing(ines_client, exercise):
    r = ines_client.post(url(exercise), form_data(stub="rules: [\n  - if: x\n", title="Changed"))
    assert r.status_code == 422
    assert "Stub rules is not valid YAML on line" in r.content.decode()
    exercise.refresh_from_db()
    assert exercise.title == "Greet someone"


@pytest.mark.parametrize(
    "known_bad", ["- examples: 5\n", "- user: [a, b]\n", "- slots: {task: [x]}\n", "- 3\n"]
)
def test_it_refuses_a_known_bad_prompt_of_the_wrong_shape(ines_client, exercise, known_bad):
    # Saved, it failed the course's health check ("'int' object has no attribute 'get'").
    r = ines_client.post(url(exercise), form_data(known_bad=known_bad))
    assert r.status_code == 422
    assert "Item 1 must map some of system, user, prefill, slots, examples to text." in (
        r.content.decode()
    )
    exercise.refresh_from_db()
    assert exercise.known_bad == []


def test_it_refuses_a_stub_regex_re2_cannot_compile(ines_client, exercise):
    r = ines_client.post(url(exercise), form_data(stub="rules:\n  - if: '(a)\\1'\n    reply: x\n"))
    assert r.status_code == 422
    assert "RE2 cannot compile" in r.content.decode()


def test_it_offers_only_allowed_models(ines_client, exercise):
    r = ines_client.post(url(exercise), form_data(model="openai:gpt-secret-preview"))
    assert r.status_code == 422
    assert "Select a valid choice" in r.content.decode()


def test_it_refuses_bad_variable_names(ines_client, exercise):
    r = ines_client.post(url(exercise), form_data(variables="name, 2fast"))
    assert r.status_code == 422
    assert "2fast: a variable name is" in r.content.decode()


def test_it_lets_an_editable_part_be_left_empty(ines_client, exercise):
    data = form_data(editable=["user", "prefill"], allow_empty=["prefill"])
    r = ines_client.post(url(exercise), data)
    assert r.status_code == 302
    exercise.refresh_from_db()
    assert exercise.may_be_empty == ["prefill"]
    html = ines_client.get(url(exercise)).content.decode()
    assert 'name="allow_empty" value="prefill"' in html
    assert 'name="allow_empty" value="prefill" id="id_allow_empty_2" checked' in html


def test_a_locked_part_cannot_be_left_empty(ines_client, exercise):
    r = ines_client.post(url(exercise), form_data(allow_empty=["prefill"]))
    assert r.status_code == 422
    assert "Only an editable part can be left empty: tick it above." in r.content.decode()
    exercise.refresh_from_db()
    assert exercise.may_be_empty == []


@pytest.mark.parametrize(
    "changes",
    [
        {"slots": "- name: task\n  text: Greet {name}.\n", "starter_user": ""},
        {"examples": "- role: user\n  text: hi\n- role: assistant\n  text: Hello!\n"},
    ],
)
def test_an_unchanged_export_of_parts_saved_here_imports_as_it_is(
    ines_client, checked_exercise, tmp_path, changes
):
    from lessons.authoring.coursefiles import import_course, write_course
    from lessons.models import PublishCheck

    r = ines_client.post(url(checked_exercise), form_data(**changes))
    assert r.status_code == 302
    before = Exercise.objects.values("slots", "examples").get()
    checks = PublishCheck.objects.count()
    write_course(checked_exercise.lesson.course, tmp_path / "course")
    import_course(tmp_path / "course")
    assert Exercise.objects.values("slots", "examples").get() == before
    assert PublishCheck.objects.count() == checks  # nothing changed: no check again


def test_a_variable_made_fixed_is_shared_by_every_case_and_the_export_imports(
    ines_client, exercise, tmp_path
):
    # The case still holds its own value of tone: the shared text wins, and is exported alone.
    from lessons.authoring.coursefiles import import_course, write_course

    Exercise.objects.filter(pk=exercise.pk).update(variables=["name", "tone"])
    exercise.cases.update(variables={"name": "Ada", "tone": "curt"})
    data = form_data(
        variables="name, tone", fixed_variables="tone: warm\n", starter_user="Talk {tone}."
    )
    assert ines_client.post(url(exercise), data).status_code == 302
    exercise.refresh_from_db()
    assert exercise.case_variables(exercise.cases.get()) == {"name": "Ada", "tone": "warm"}
    write_course(exercise.lesson.course, tmp_path / "course")
    import_course(tmp_path / "course")
    assert exercise.cases.get().variables == {"name": "Ada"}


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("fixed_variables", "tone: [warm, kind]", "Fixed inputs: tone must be text"),
        ("fixed_variables", "tone: {a: 1}", "Fixed inputs: tone must be text"),
        ("fixed_variables", "tone: yes", "Fixed inputs: tone must be text"),
        ("fixed_variables", "tone: 010", "Fixed inputs: tone must be text"),
        ("fixed_variables", "topic: warm", "Fixed inputs: topic is not listed in Variables"),
        ("solution_slots", "intro: [a]", "Slot texts: intro must be text"),
    ],
)
def test_it_refuses_a_fixed_input_or_slot_text_course_import_would_refuse(
    ines_client, exercise, field, value, says
):
    # Saved as str() of the value ("['warm', 'kind']", "True", "8"), or not listed in the
    # variables: course files refuse both, so the export did not import.
    data = form_data(**{field: value, "slots": "- {name: intro, text: Hi}"})
    r = ines_client.post(url(exercise), data)
    assert r.status_code == 422
    assert says in r.content.decode()
    exercise.refresh_from_db()
    assert exercise.fixed_variables == {} and exercise.title == "Greet someone"


def test_a_variable_added_after_the_cases_is_named_with_the_cases_lacking_it(ines_client, exercise):
    data = form_data(variables="name, topic", fixed_variables="")
    r = ines_client.post(url(exercise), data, follow=True)
    html = r.content.decode()
    assert "Exercise saved." in html
    assert (
        '<p class="alert warning">Test case “Ada” has no value for topic: give it one on the '
        "Test cases page" in html
    )
    data = form_data(variables="name", fixed_variables="")
    r = ines_client.post(url(exercise), data, follow=True)
    assert "has no value" not in r.content.decode()


def test_a_typed_slug_is_kept_in_lower_case_as_course_files_write_it(ines_client, exercise):
    r = ines_client.post(url(exercise), form_data(slug="Greet-Warmly"))
    assert r.status_code == 302
    exercise.refresh_from_db()
    assert exercise.slug == "greet-warmly"
