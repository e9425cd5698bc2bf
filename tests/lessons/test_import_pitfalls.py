"""import_course refuses a prompt part naming an undeclared {placeholder}, at its file, line
and field, naming the declared variables; `{{name}}` writes a literal `{name}`. It warns,
and still imports, when a model setting would not reach the provider as written."""

from __future__ import annotations

import pytest
import yaml

from lessons.models import Exercise
from tests.lessons.test_import_course import course, edit, line_of, load, load_fails, run

__all__ = ["course"]  # the fixture

TAGLINE = "exercises/tagline.yaml"
MODEL = "model: {backend: stub, name: scripted, temperature: 0, max_tokens: 120}"
DECLARED = "its variables are {product}."


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ('user: "Write a tagline for {product}."', 'user: "Tagline for {PRODUCT}."', "prompt.user"),
        (
            "  editable: [user]",
            '  editable: [user]\n  system: "You sell {brand}."',
            "prompt.system",
        ),
        (
            "  editable: [user]",
            '  editable: [user, prefill]\n  prefill: "{tagline}:"',
            "prompt.prefill",
        ),
        (
            "  editable: [user]",
            '  editable: [user]\n  examples:\n    - {role: user, text: "Tag {item}"}',
            "prompt.examples[0].text",
        ),
        ("'coffee grinder']", "'{productt}']", "stub.rules[0].if[2]"),
        ("solution:\n  user:", 'solution:\n  system: "Sell {brnd}."\n  user:', "solution.system"),
    ],
)
def test_an_undeclared_placeholder_is_an_error_at_its_line(db, course, old, new, where):
    path = course / TAGLINE
    edit(path, old, new)
    message = load_fails(course)
    problem = next(line for line in message.splitlines() if f": {where}: " in line)
    name = problem.split(f"{where}: ")[1].split(" ")[0]
    assert problem.startswith(f"prompt-fundamentals/{TAGLINE}:{line_of(path, name)}: {where}: ")
    assert problem.endswith(f"{name} is not a variable of this exercise; {DECLARED}")
    assert not Exercise.objects.exists()


def test_a_placeholder_in_a_slot_is_checked(db, course):
    edit(
        course / TAGLINE,
        'user: "Write a tagline for {product}."',
        "slots:\n    - {name: task, text: 'Tagline for {produt}', editable: true}",
    )
    assert "prompt.slots[0].text: {produt} is not a variable" in load_fails(course)


@pytest.mark.parametrize(
    ("old", "new", "name", "where"),
    [
        ("{variable: email}", "{variable: emial}", "emial", "rubric.criteria[2].params.variable"),
        (
            "  samples:\n    good: [billing",
            "    - {id: all, kind: uses_variables, params: {variables: [email, mail]}}\n"
            "  samples:\n    good: [billing",
            "mail",
            "rubric.criteria[3].params.variables",
        ),
    ],
)
def test_a_criterion_naming_a_variable_the_exercise_lacks_is_an_error(
    db, course, old, new, name, where
):
    # delimited_input on {emial} found no use of it and failed every attempt.
    path = course / "exercises/email-triage.yaml"
    edit(path, old, new)
    message = load_fails(course)
    line = line_of(path, new.split("\n")[0])
    assert f"prompt-fundamentals/exercises/email-triage.yaml:{line}: {where}: " in message
    assert f"'{name}' is not a variable of this exercise; its variables are {{email}}" in message


def test_a_fixed_input_named_by_a_number_beside_a_delimited_input_is_an_error_not_a_crash(
    db, course
):
    path = course / "exercises/email-triage.yaml"
    edit(path, "cases:\n", "fixed_variables: {1: a}\ncases:\n")
    assert "fixed_variables.1: is not listed in variables" in load_fails(course)


def test_in_a_draft_a_criterion_naming_an_undeclared_variable_is_a_warning(db, course):
    path = course / "exercises/email-triage.yaml"
    edit(path, "slug: email-triage\n", "slug: email-triage\nstatus: draft\n")
    edit(path, "{variable: email}", "{variable: emial}")
    edit(path, '    good: [billing, "Billing"]\n', "    good: []\n")  # the solution fails it now
    assert (
        f"warning: prompt-fundamentals/exercises/email-triage.yaml:{line_of(path, 'emial')}: "
        "rubric.criteria[2].params.variable: criterion 'fenced': 'emial' is not a variable"
    ) in load(course)


def test_doubled_braces_write_the_name_literally_and_import(db, course):
    edit(
        course / TAGLINE,
        'user: "Write a tagline for {product}."',
        'user: "Write a tagline for {product}; never print {{product}} as is."',
    )
    load(course)
    exercise = Exercise.objects.get(slug="tagline")
    case = exercise.cases.first()
    assert exercise.render({}, case).user == (
        f"Write a tagline for {case.variables['product']}; never print {{product}} as is."
    )


@pytest.mark.parametrize(
    ("model", "field", "says"),
    [
        (
            "model: {backend: stub, name: scripted, max_tokens: 2000}",
            "model.max_tokens",
            "max_tokens 2000 is cut to 1024: this site's MAX_TOKENS_CEILING is 1024. "
            "Ask your operator to raise it, or lower max_tokens.",
        ),
        (
            "model: {backend: openai, name: gpt-9}",
            "model.name",
            "openai:gpt-9 is not on this site's list of allowed models (SANDBOX_MODELS), so "
            "every attempt fails. Ask your operator to add it to SANDBOX_MODELS",
        ),
        (
            "model: {backend: anthropic, name: claude-3-5-haiku-latest, temperature: 0}",
            "model.temperature",
            "temperature is not sent to Anthropic",
        ),
    ],
)
def test_a_setting_that_will_not_reach_the_provider_warns_and_imports(
    db, course, settings, model, field, says
):
    settings.MAX_TOKENS_CEILING = 1024
    path = course / TAGLINE
    edit(path, MODEL, model)
    out = load(course)
    warning = f"warning: prompt-fundamentals/{TAGLINE}:{line_of(path, 'model:')}: {field}: {says}"
    assert warning in out
    assert out.count("warning:") == 1
    assert Exercise.objects.filter(slug="tagline").exists()
    assert warning in run("import_course", "--check", str(course))


JUDGED = "exercises/late-delivery-reply.yaml"
JUDGE_SAYS = (
    "the judge openai:gpt-9 is not on this site's list of allowed models (SANDBOX_MODELS), "
    "so it is never called and every output this criterion grades waits for review."
)


def test_a_judge_not_on_the_allowlist_warns_at_its_model_and_imports(db, course):
    path = course / JUDGED
    edit(path, "        model: judge\n", "        model: openai:gpt-9\n")
    out = load(course)
    criteria = yaml.safe_load(path.read_text())["rubric"]["criteria"]
    judged = next(i for i, c in enumerate(criteria) if c["kind"] == "llm_judge")
    where = f"{JUDGED}:{line_of(path, 'openai:gpt-9')}: rubric.criteria[{judged}].params.model"
    assert f"warning: prompt-fundamentals/{where}: {JUDGE_SAYS}" in out
    assert Exercise.objects.filter(slug="late-delivery-reply").exists()


def test_a_judge_inside_a_combining_criterion_is_checked_too(db, course):
    path = course / TAGLINE
    edit(
        path,
        "  criteria:\n",
        "  criteria:\n"
        "    - id: judged\n"
        "      kind: all_of\n"
        "      params:\n"
        "        criteria:\n"
        "          - kind: llm_judge\n"
        "            params: {model: 'openai:gpt-9', items: [The tagline is one line.]}\n",
    )
    out = load(course)
    where = f"{TAGLINE}:{line_of(path, 'openai:gpt-9')}"
    assert (
        f"warning: prompt-fundamentals/{where}: "
        f"rubric.criteria[0].params.criteria[0].params.model: {JUDGE_SAYS}"
    ) in out


def test_a_stub_judge_and_an_allowed_one_do_not_warn(db, course, settings):
    settings.SANDBOX_MODELS = "openai:gpt-9:0.10:0.20"
    edit(course / JUDGED, "        model: judge\n", "        model: openai:gpt-9\n")
    assert "the judge" not in load(course)
