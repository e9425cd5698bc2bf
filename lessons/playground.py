"""The playground: a free prompt, or two, on one or two allowed models side by side, with
variables filled in as an exercise's test case fills them (sandbox.prompting.render_prompt).
It runs through the same queue, budget and limits as an exercise, as an attempt with no
exercise whose `playground_models` lists what to call: one column per model call."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.validators import MaxLengthValidator, MaxValueValidator
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.http import require_http_methods
from django_htmx.http import reswap, retarget

from graders.placeholders import PLACEHOLDER
from lessons.models import length_problem
from sandbox.forms import PromptField
from sandbox.models import Attempt
from sandbox.prompting import render_prompt
from sandbox.providers import allowed_models, backend_unavailable
from sandbox.views import LearnerRequest, queue_attempt

PROMPT_FIELDS = ("system", "user", "system_b", "user_b")


def prompt_area(label: str, rows: int, required: bool = False) -> PromptField:
    return PromptField(
        label=label,
        required=required,
        strip=False,
        widget=forms.Textarea(attrs={"rows": rows, "spellcheck": "false"}),
        error_messages={"required": "Write a user prompt to run."},
    )


def parse_variables(text: str) -> dict[str, str]:
    """Read `name=value` lines into variables; a line that starts with no `name=` continues
    the value above it (a pasted email). Raise ValidationError naming a line that belongs to
    no variable."""
    variables: dict[str, str] = {}
    current = ""
    for number, line in enumerate(text.splitlines(), start=1):
        name, sep, value = line.partition("=")
        if sep and PLACEHOLDER.fullmatch("{" + name.strip() + "}"):
            current = name.strip()
            variables[current] = value
        elif current:
            variables[current] += "\n" + line
        elif line.strip():
            raise forms.ValidationError(
                f"Line {number} needs the form name=value, the name in letters, digits and _ "
                "(as in {name} in the prompt)."
            )
    return {name: value.strip() for name, value in variables.items()}


class PlaygroundForm(forms.Form):
    """Prompt A, an optional prompt B, variables, and one or two models: two prompts on one
    model, or one prompt on two models."""

    system = prompt_area("System prompt", 3)
    user = prompt_area("User prompt", 6, required=True)
    system_b = prompt_area("System prompt", 3)
    user_b = prompt_area("User prompt", 6)
    variables = PromptField(
        label="Variables",
        required=False,
        strip=False,
        help_text="One per line, name=value, filled into {name} in both prompts as a test "
        "case fills an exercise's. Lines without name= continue the value above.",
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
    )
    models = forms.MultipleChoiceField(
        label="Models (one or two)",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Pick one or two models."},
    )
    temperature = forms.FloatField(min_value=0, max_value=2, initial=0)
    max_tokens = forms.IntegerField(label="Max tokens", min_value=1, initial=256)

    def __init__(self, choices: list[tuple[str, str]], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = settings.MAX_PROMPT_CHARS
        for name in (*PROMPT_FIELDS, "variables"):
            cast(forms.CharField, self.fields[name]).max_length = limit
            self.fields[name].validators.append(MaxLengthValidator(limit))
        cast(forms.ChoiceField, self.fields["models"]).choices = choices
        cast(forms.IntegerField, self.fields["max_tokens"]).max_value = settings.MAX_TOKENS_CEILING
        self.fields["max_tokens"].validators.append(MaxValueValidator(settings.MAX_TOKENS_CEILING))

    def clean_user(self) -> str:
        if not self.cleaned_data["user"].strip():
            raise forms.ValidationError("Write a user prompt to run.")
        return self.cleaned_data["user"]

    def clean_variables(self) -> dict[str, str]:
        return parse_variables(self.cleaned_data["variables"])

    def clean_models(self) -> list[str]:
        models = list(dict.fromkeys(self.cleaned_data["models"]))  # a model named twice runs once
        if len(models) > 2:
            raise forms.ValidationError("Pick at most two models to compare.")
        return models

    def clean(self) -> dict[str, Any]:
        data = cast(dict[str, Any], super().clean())
        if (data.get("system_b") or "").strip() and not (data.get("user_b") or "").strip():
            self.add_error("user_b", "Write prompt B's user prompt, or clear its system prompt.")
        elif self.has_prompt_b() and len(data.get("models", [])) > 1:
            self.add_error(
                "models",
                "Compare two prompts on one model, or one prompt on two models: "
                "pick one model, or clear prompt B.",
            )
        if not self.errors:
            for suffix in ("", "_b"):
                prompt = {"system": data[f"system{suffix}"], "user": data[f"user{suffix}"]}
                problem = length_problem(render_prompt(prompt, data["variables"]), "its variables")
                if problem:
                    self.add_error(f"user{suffix}", problem)
        return data

    def has_prompt_b(self) -> bool:
        return bool((self.cleaned_data.get("user_b") or "").strip())

    def columns(self) -> list[dict[str, str]]:
        """Return one column per model call: its model key, label ("Prompt B", or "" with
        one prompt) and the prompt with the variables filled in."""
        data = self.cleaned_data
        prompts = [("Prompt A" if self.has_prompt_b() else "", data["system"], data["user"])]
        if self.has_prompt_b():
            prompts.append(("Prompt B", data["system_b"], data["user_b"]))
        columns = []
        for label, system, user in prompts:
            prompt = render_prompt({"system": system, "user": user}, data["variables"])
            for key in data["models"]:
                columns.append(
                    {"model": key, "label": label, "system": prompt.system, "user": prompt.user}
                )
        return columns


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def playground(request: LearnerRequest) -> HttpResponse:
    models = allowed_models()
    available = [(key, m.label) for key, m in models.items() if not backend_unavailable(m.backend)]
    form = PlaygroundForm(
        available,
        request.POST if request.method == "POST" else None,
        initial={"models": [available[0][0]]},
    )
    if request.method == "POST":
        if form.is_valid():
            columns = form.columns()
            response = queue_attempt(
                request,
                [
                    (backend, model)
                    for backend, _, model in (c["model"].partition(":") for c in columns)
                ],
                playground_models=columns,
                system_prompt=columns[0]["system"],
                user_prompt=columns[0]["user"],
                temperature=form.cleaned_data["temperature"],
                max_tokens=form.cleaned_data["max_tokens"],
            )
            if request.htmx:  # the form again, out of band: a refused run's errors go
                context = {"form": form, "oob": True}
                response.content += render_to_string(
                    "sandbox/playground.html#form", context, request
                ).encode()
            return response
        if request.htmx:
            response = render(request, "sandbox/playground.html#form", {"form": form}, status=422)
            return reswap(retarget(response, "#playground-form"), "outerHTML")
    context = {
        "form": form,
        "unavailable": [
            (m.label, backend_unavailable(m.backend))
            for m in models.values()
            if backend_unavailable(m.backend)
        ],
        "recent": Attempt.objects.filter(learner=request.user, exercise=None)[:10],
    }
    return render(request, "sandbox/playground.html", context, status=422 if form.errors else 200)
