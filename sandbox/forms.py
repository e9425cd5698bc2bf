from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator

from graders.placeholders import undeclared_message
from lessons.models import Exercise

FIELD_LABELS = {"system": "System prompt", "user": "User prompt", "prefill": "Prefill"}
FIELD_HELP = {
    "system": "Sets the model's role, audience and rules for the whole conversation.",
    "user": "Your message to the model. Write {variable} where a test case's value goes.",
    "prefill": "The start of the model's answer; the model continues from here.",
}


class PromptField(forms.CharField):
    def to_python(self, value: Any) -> str:
        # Line ends as the learner's editor counts them: a browser posts a textarea's as CRLF.
        return str(super().to_python(value)).replace("\r\n", "\n")


def prompt_field(label: str, help_text: str, initial: str, rows: int) -> PromptField:
    limit = settings.MAX_PROMPT_CHARS
    return PromptField(
        label=label,
        help_text=help_text,
        required=False,
        strip=False,
        max_length=limit,
        initial=initial,
        widget=forms.Textarea(attrs={"rows": rows, "spellcheck": "false"}),
        error_messages={
            "max_length": f"Keep the {label.lower()} under {limit:,} characters "
            "(it has %(show_value)d).",
        },
    )


class AttemptForm(forms.Form):
    """The prompt parts a learner may edit for one exercise, in conversation order; locked
    parts keep their starter text."""

    def __init__(self, exercise: Exercise, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.exercise = exercise
        if "system" in exercise.editable_fields:
            self.fields["system"] = self.part("system", 4)
        for i, example in enumerate(exercise.examples):
            if example.get("editable"):
                kind = "answer" if example["role"] == "assistant" else "message"
                label = f"Example {kind} {i + 1}"
                self.fields[f"example_{i}"] = prompt_field(
                    label, "An example turn the model sees before your message.", example["text"], 3
                )
        if exercise.slots:
            for slot in exercise.editable_slots:
                self.fields[f"slot_{slot['name']}"] = prompt_field(
                    slot.get("label") or slot["name"].replace("_", " ").capitalize(),
                    "Joined in order with the other parts into the user prompt.",
                    slot["text"],
                    3,
                )
        elif "user" in exercise.editable_fields:
            self.fields["user"] = self.part("user", 8)
        if "prefill" in exercise.editable_fields:
            self.fields["prefill"] = self.part("prefill", 2)

    def part(self, name: str, rows: int) -> PromptField:
        starter = self.exercise.starter()[name]
        return prompt_field(FIELD_LABELS[name], FIELD_HELP[name], starter, rows)

    def clean(self) -> dict:
        data = cast(dict[str, Any], super().clean())
        # What the preview shows: every field as typed, even one refused (too long, a NUL).
        self.written = {n: str(data.get(n, self[n].data or "")) for n in self.fields}
        for field, problem in self.placeholder_problems():
            self.add_error(field.name, problem)
        empty_ok = self.exercise.may_be_empty  # where leaving a field empty is the lesson
        for name in [n for n in data if n == "user" or n.startswith("example_")]:
            if not data[name].strip() and name not in empty_ok:  # providers refuse an empty turn
                self.add_error(name, f"Write the {self[name].label.lower()} before submitting.")
        if self.written and not empty_ok and not any(t.strip() for t in self.written.values()):
            raise forms.ValidationError("Write a prompt before submitting: every field is empty.")
        return data

    def placeholder_problems(self) -> list[tuple[forms.BoundField, str]]:
        """Return the fields naming a placeholder the exercise does not declare, each with
        what to tell the learner: the submit refuses them, the preview warns of them."""
        declared = self.exercise.variable_names()
        found = [(self[n], undeclared_message(text, declared)) for n, text in self.written.items()]
        return [(field, problem) for field, problem in found if problem]

    def values(self) -> dict:
        """Return the learner's values in the shape Exercise.compose reads."""
        data = self.written
        return {
            **{n: data[n] for n in ("system", "user", "prefill") if n in data},
            "slots": {n[5:]: v for n, v in data.items() if n.startswith("slot_")},
            "examples": {int(n[8:]): v for n, v in data.items() if n.startswith("example_")},
        }


class LoginForm(AuthenticationForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Enforce the username's length, which Django's form only shows (axes keeps 255)."""
        super().__init__(*args, **kwargs)
        username = self.fields["username"]
        username.validators.append(MaxLengthValidator(cast(forms.CharField, username).max_length))
