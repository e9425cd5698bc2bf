from __future__ import annotations

import pytest
from grader_helpers import criterion, grade_one

from graders import Case, RubricError, Submission, load_rubric

STARTER = {"system": "You sort support tickets.", "user": "Ticket: {{ ticket }}", "prefill": ""}


def submission(**fields: str) -> Submission:
    merged = {**STARTER, **fields}
    rendered = "\n".join(merged.values()).replace("{{ ticket }}", "My card was charged twice")
    return Submission(
        fields=merged,
        starter=STARTER,
        editable=("prefill",),
        variables=("ticket",),
        rendered=rendered,
    )


CASE = Case(
    variables={"ticket": "My card was charged twice"},
    reference="This is a billing problem.",
    expected={"label": "billing"},
)


def test_uses_variables():
    assert grade_one("uses_variables", "", submission=submission(), case=CASE).passed
    bare = submission(user="Ticket: (pasted by hand)")
    result = grade_one("uses_variables", "", submission=bare, case=CASE)
    assert not result.passed and "{ticket}" in result.detail


def test_no_hardcoded_answer_does_not_reveal_the_answer():
    cheat = submission(system="Always answer: This is a billing problem.")
    result = grade_one("no_hardcoded_answer", "", submission=cheat, case=CASE)
    assert not result.passed and "billing problem" not in result.detail
    assert grade_one("no_hardcoded_answer", "", submission=submission(), case=CASE).passed
    # Labels are short, and belong in a classification prompt's instructions.
    labels = submission(system="Answer billing or refund.")
    assert grade_one(
        "no_hardcoded_answer", "", {"keys": ["label"]}, submission=labels, case=CASE
    ).passed


def test_prompt_budget():
    assert grade_one("prompt_budget", "", {"max_chars": 500}, submission=submission()).passed
    result = grade_one("prompt_budget", "", {"max_tokens": 5}, submission=submission())
    assert not result.passed and "tokens" in result.detail


def test_only_editable_fields_may_change():
    assert grade_one("only_editable_changed", "", submission=submission(prefill="<answer>")).passed
    result = grade_one("only_editable_changed", "", submission=submission(system="Be a pirate."))
    assert not result.passed and "system" in result.detail and "prefill" in result.detail


def test_delimited_input():
    params = {"variable": "ticket"}
    assert not grade_one("delimited_input", "", params, submission=submission(), case=CASE).passed
    tagged = submission(user="<ticket>\n{{ ticket }}\n</ticket>")
    assert grade_one("delimited_input", "", params, submission=tagged, case=CASE).passed
    assert not grade_one(
        "delimited_input", "", {"variable": "ticket", "tag": "data"}, submission=tagged, case=CASE
    ).passed
    fenced = submission(user='Ticket:\n"""\n{{ ticket }}\n"""')
    assert grade_one("delimited_input", "", params, submission=fenced, case=CASE).passed
    twice = submission(user="<ticket>{{ ticket }}</ticket> again: {{ ticket }}")
    assert not grade_one("delimited_input", "", params, submission=twice, case=CASE).passed


def test_prompt_kinds_read_the_prompt_not_the_output():
    result = grade_one("prompt_budget", "x" * 10_000, {"max_chars": 500}, submission=submission())
    assert result.passed


def test_any_kind_can_target_the_prompt():
    assert grade_one(
        "contains", "nothing", {"text": "tickets"}, target="prompt", submission=submission()
    ).passed


def test_single_brace_placeholders_count_too():
    single = submission(user="<ticket>{ticket}</ticket>")
    assert grade_one("uses_variables", "", submission=single, case=CASE).passed
    assert grade_one(
        "delimited_input", "", {"variable": "ticket"}, submission=single, case=CASE
    ).passed


POLICY = "Travel policy: hotels up to 180 a night."


def policy_submission(user: str, examples: tuple[tuple[str, str], ...] = ()) -> Submission:
    """An exercise whose policy is a fixed variable: the same value in every test case."""
    rendered = user.replace("{policy}", POLICY).replace("{question}", "Hotel in London?")
    return Submission(
        fields={"system": "", "user": user, "prefill": ""},
        variables=("question",),
        rendered=rendered + "".join(t.replace("{policy}", POLICY) for _, t in examples),
        examples=examples,
        fixed_variables={"policy": POLICY},
    )


QUESTION = Case(variables={"question": "Hotel in London?"})


def test_uses_variables_counts_the_fixed_variables():
    # Before, a fixed variable the exercise did not also list was never checked.
    assert grade_one(
        "uses_variables", "", submission=policy_submission("<policy>{policy}</policy> {question}")
    ).passed
    result = grade_one("uses_variables", "", submission=policy_submission("{question}"))
    assert not result.passed and "{policy}" in result.detail


def test_a_pasted_fixed_value_is_not_a_use_of_its_variable():
    # The same in every test case, so a paste would pass each one: only {policy} counts,
    # even when the case repeats the fixed values among its own.
    pasted = policy_submission(f"{POLICY} {{question}}")
    merged = Case(variables={"question": "Hotel in London?", "policy": POLICY})
    for case in (QUESTION, merged):
        assert not grade_one("uses_variables", "", submission=pasted, case=case).passed


def test_a_placeholder_in_an_example_turn_is_a_use():
    examples = (("user", "Policy: <policy>{policy}</policy>"), ("assistant", "Noted."))
    submission = policy_submission("{question}", examples)
    assert grade_one("uses_variables", "", submission=submission, case=QUESTION).passed
    assert grade_one(
        "delimited_input", "", {"variable": "policy"}, submission=submission, case=QUESTION
    ).passed


def test_delimited_input_finds_a_fixed_value_in_the_rendered_prompt():
    pasted = policy_submission(f"<policy>{POLICY}</policy> {{question}}")
    assert grade_one(
        "delimited_input", "", {"variable": "policy"}, submission=pasted, case=QUESTION
    ).passed


def test_a_prompt_criterion_can_read_one_field_without_the_headers():
    rendered = Submission(
        fields={**STARTER, "system": "You are terse."},
        rendered="[system]\nYou are terse.\n[user]\nTicket: My card was charged twice",
        rendered_fields={"system": "You are terse.", "user": "Ticket: My card was charged twice"},
    )
    whole = grade_one("contains", "", {"text": "[user]"}, target="prompt", submission=rendered)
    assert whole.passed  # the whole transcript carries headers, one field does not
    field = dict(target="prompt", field="system", submission=rendered)
    assert not grade_one("contains", "", {"text": "Ticket"}, **field).passed
    assert grade_one("equals", "", {"text": "You are terse."}, **field).passed
    budget = grade_one("prompt_budget", "", {"max_chars": 14}, field="system", submission=rendered)
    assert budget.passed and "14 characters" in budget.detail
    user_only = grade_one("uses_variables", "", field="system", submission=rendered, case=CASE)
    assert not user_only.passed


def test_words_changed_counts_words_inserted_deleted_or_replaced_from_the_starter():
    two = submission(user="Ticket: {{ ticket }} now please")
    result = grade_one("words_changed", "", {"at_most": 2}, field="user", submission=two)
    assert result.passed and result.detail == "2 words changed; at most 2"
    three = submission(user="Urgent ticket, please: {{ ticket }}")
    result = grade_one("words_changed", "", {"at_most": 2}, field="user", submission=three)
    assert not result.passed and result.detail == "3 words changed; at most 2"
    both = submission(system="You sort tickets.", user="Ticket:  {{ ticket }}")
    assert grade_one("words_changed", "", {"at_most": 1}, submission=both).detail == (
        "1 word changed; at most 1"
    )


def test_field_is_refused_where_it_cannot_apply():
    for kind, params, options, message in [
        ("contains", {"text": "x"}, {"field": "user"}, "add target: prompt"),
        ("uses_variables", {}, {"field": "assistant"}, "system, user, prefill, examples"),
        ("words_changed", {"at_most": 1}, {"field": "examples"}, "system, user, prefill"),
        ("only_editable_changed", {}, {"field": "user"}, "compares every field"),
    ]:
        with pytest.raises(RubricError) as e:
            load_rubric({"criteria": [criterion(kind, params, **options)]})
        assert e.value.field == "field" and message in e.value.message, kind
