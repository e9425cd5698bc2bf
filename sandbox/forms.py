from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.validators import MaxLengthValidator, MaxValueValidator

from lessons.models import Exercise

FIELD_LABELS = {"system": "System prompt", "user": "User prompt", "prefill": "Prefill"}
FIELD_HELP = {
    "system": "Sets the model's role, audience and rules for the whole conversation.",
    "user": "Your message to the model. Write {variable} where a test case's value goes.",
    "prefill": "The start of the model's answer; the model continues from here.",
}


class AttemptForm(forms.Form):
    """The prompt fields a learner may edit for one exercise; the rest keep their starter text."""

    def __init__(self, exercise: Exercise, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.exercise = exercise
        limit = settings.MAX_PROMPT_CHARS
        starter = exercise.starter()
        for name in ("system", "user", "prefill"):
            if name not in exercise.editable_fields:
                continue
            self.fields[name] = forms.CharField(
                label=FIELD_LABELS[name],
                help_text=FIELD_HELP[name],
                required=name == "user",
                strip=False,
                max_length=limit,
                initial=starter[name],
                widget=forms.Textarea(
                    attrs={"rows": 8 if name == "user" else 4, "spellcheck": "false"}
                ),
                error_messages={
                    "required": f"Write a {FIELD_LABELS[name].lower()} before submitting.",
                    "max_length": f"Keep the {FIELD_LABELS[name].lower()} under {limit:,} "
                    "characters (it has %(show_value)d).",
                },
            )

    def clean(self) -> dict:
        data = super().clean()
        if "user" in data and not data["user"].strip():
            self.add_error("user", "Write a user prompt before submitting.")
        editable = [n for n in self.fields if n in data]
        if editable and not any(data[n].strip() for n in editable):
            raise forms.ValidationError("Write a prompt before submitting: every field is empty.")
        return data

    def prompt_fields(self) -> dict[str, str]:
        """Return all three prompt fields: the learner's where editable, the starter's elsewhere."""
        fields = self.exercise.starter()
        fields.update({n: self.cleaned_data[n] for n in self.fields})
        return fields


class PlaygroundForm(forms.Form):
    """A free prompt, run on one or two allowed models side by side."""

    system = forms.CharField(
        label="System prompt",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
    )
    user = forms.CharField(
        label="User prompt",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        error_messages={"required": "Write a user prompt to run."},
    )
    models = forms.MultipleChoiceField(
        label="Models (one or two)",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Pick one or two models."},
    )
    temperature = forms.FloatField(min_value=0, max_value=2, initial=0)
    max_tokens = forms.IntegerField(label="Max tokens", min_value=1, initial=256)

    def __init__(self, choices: list[tuple[str, str]], *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        limit = settings.MAX_PROMPT_CHARS
        for name in ("system", "user"):
            self.fields[name].max_length = limit
            self.fields[name].validators.append(MaxLengthValidator(limit))
        self.fields["models"].choices = choices
        self.fields["max_tokens"].max_value = settings.MAX_TOKENS_CEILING
        self.fields["max_tokens"].validators.append(MaxValueValidator(settings.MAX_TOKENS_CEILING))

    def clean_user(self) -> str:
        if not self.cleaned_data["user"].strip():
            raise forms.ValidationError("Write a user prompt to run.")
        return self.cleaned_data["user"]

    def clean_models(self) -> list[str]:
        models = self.cleaned_data["models"]
        if len(models) > 2:
            raise forms.ValidationError("Pick at most two models to compare.")
        return models
