"""sandbox.prompting: templates to chat messages. Pure functions, no Django."""

from __future__ import annotations

from sandbox.prompting import RenderedPrompt, render_prompt, render_template


def test_it_replaces_declared_variables():
    assert render_template("Hello {name}, from {city}.", {"name": "Ada", "city": "Oslo"}) == (
        "Hello Ada, from Oslo."
    )


def test_it_leaves_undeclared_braces_as_written():
    rendered = render_template("Hi {name}, {unknown} stays", {"name": "Ada"})
    assert rendered == "Hi Ada, {unknown} stays"


def test_it_leaves_json_in_the_prompt_intact():
    template = 'Reply as {"label": "spam"} or {"label": "ham"} for: {email}\n{ "nested": {"a": 1} }'
    assert render_template(template, {"email": "Hi"}) == (
        'Reply as {"label": "spam"} or {"label": "ham"} for: Hi\n{ "nested": {"a": 1} }'
    )


def test_it_does_not_render_braces_inside_a_value():
    assert render_template("{a} {b}", {"a": "{b}", "b": "B"}) == "{b} B"


def test_double_braces_around_a_name_write_it_literally():
    assert render_template("{{name}} is {name}", {"name": "Ada"}) == "{name} is Ada"
    assert render_template("{{typo}}", {}) == "{typo}"


def test_doubled_braces_that_do_not_hold_a_name_stay_as_written():
    assert render_template('{{"a": {"b": 1}}} {{ name }}', {"name": "Ada"}) == (
        '{{"a": {"b": 1}}} {{ name }}'
    )


def test_messages_end_with_the_prefill_as_an_assistant_turn():
    prompt = RenderedPrompt(system="S", user="U", prefill="P")
    assert prompt.messages() == [
        {"role": "user", "content": "U"},
        {"role": "assistant", "content": "P"},
    ]


def test_messages_have_no_assistant_turn_without_a_prefill():
    assert RenderedPrompt(system="S", user="U", prefill="").messages() == [
        {"role": "user", "content": "U"}
    ]


def test_as_text_labels_each_part():
    assert RenderedPrompt(system="S", user="U", prefill="P").as_text() == (
        "[system]\nS\n\n[user]\nU\n\n[assistant]\nP"
    )


def test_as_text_leaves_out_empty_parts():
    assert RenderedPrompt(system="", user="U", prefill="").as_text() == "[user]\nU"


def test_render_prompt_renders_every_field():
    prompt = render_prompt(
        {"system": "You help {name}.", "user": "Greet {name}.", "prefill": "Dear {name},"},
        {"name": "Ada"},
    )
    assert prompt == RenderedPrompt(system="You help Ada.", user="Greet Ada.", prefill="Dear Ada,")


def test_render_prompt_treats_missing_fields_as_empty():
    assert render_prompt({"user": "Hi"}, {}) == RenderedPrompt(system="", user="Hi", prefill="")


def test_turns_are_the_whole_conversation_in_order():
    prompt = render_prompt(
        {"system": "S", "user": "U {x}", "prefill": "P"},
        {"x": "1"},
        [("user", "Q {x}"), ("assistant", "A")],
    )
    assert prompt.turns() == [
        ("system", "S"),
        ("user", "Q 1"),
        ("assistant", "A"),
        ("user", "U 1"),
        ("assistant", "P"),
    ]
