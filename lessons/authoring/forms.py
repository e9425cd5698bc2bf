"""Forms of the instructor's pages: plain forms whose clean_<field> return what the view saves."""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import QuerySet

import graders
from lessons.authoring import pitfalls
from lessons.authoring.editing import SLUG_MAX, dump_yaml, load_yaml, suggested_slug
from lessons.models import (
    MAX_CASE_WEIGHT,
    PROMPT_VALUE_KEYS,
    SAMPLE_RULE_CHOICES,
    Course,
    Exercise,
    editable_entries,
    is_prompt_value,
    prompt_parts,
    split_editable,
)
from sandbox.backends.stub import StubRuleError, parse_script
from sandbox.models import CASE_NAME_CHARS
from sandbox.prompting import PROMPT_FIELDS
from sandbox.providers import allowed_models

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HINT_SEPARATOR = re.compile(r"^\s*---\s*$", re.MULTILINE)
YAML_PARTS = ("slots", "examples", "stub")  # editor fields holding several prompt parts
PART_LABELS = {"system": "System prompt", "user": "User prompt", "prefill": "Prefill"}


def text(label: str, rows: int = 3, help_text: str = "", code: bool = False, **kwargs):
    attrs = {"rows": rows, "spellcheck": "false"} if code else {"rows": rows}
    if code:
        attrs["class"] = "code"
    return forms.CharField(
        label=label,
        required=False,
        strip=False,
        help_text=help_text,
        widget=forms.Textarea(attrs=attrs),
        **kwargs,
    )


def yaml_field(label: str, rows: int = 4, help_text: str = ""):
    return text(label, rows, help_text, code=True)


def clean_parts(text: str, kind: str, what: str) -> list[dict[str, Any]]:
    """Return the named slots or example turns a YAML text area holds, as course files keep
    them (lessons.models.prompt_parts), or raise ValidationError naming each problem."""
    parts, problems = prompt_parts(clean_yaml(text, list, what), kind)
    if problems:
        raise ValidationError([f"{what}, {problem}" for problem in problems])
    return parts


def clean_yaml(value: str, expect: type, what: str) -> Any:
    try:
        return load_yaml(value, expect, what)
    except ValueError as e:
        raise ValidationError(str(e)) from None


def clean_texts(value: str, what: str) -> dict[str, str]:
    """Return a YAML mapping of name: text, or raise ValidationError naming each value that
    is not text, as course files refuse it: str() saved a list as "['a']", yes as "True" and
    010 as "8"."""
    values = clean_yaml(value, dict, what)
    bad = [str(k) for k, v in values.items() if v is not None and not isinstance(v, str)]
    if bad:
        raise ValidationError(
            f"{what}: {', '.join(bad)} must be text; put a number, yes or no in quotes, and "
            "several lines after |."
        )
    return {str(k): v or "" for k, v in values.items()}


class TitledForm(forms.Form):
    """A title and a slug; a blank slug is filled from the title, unique among `taken`, the
    rows whose slug this one must differ from."""

    title = forms.CharField(max_length=200)
    slug = forms.SlugField(
        max_length=SLUG_MAX,
        required=False,
        help_text="Part of the address: lower-case letters, digits and -. Empty: made from "
        "the title.",
        widget=forms.TextInput(attrs={"data-slug-of": "title"}),
    )
    reserved: tuple[str, ...] = ()

    def __init__(self, *args, taken: QuerySet, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.taken = taken

    def clean_slug(self) -> str:
        # Lower case, as course files write slugs (a-z): an exported "Intro" would not
        # import back, and two files differing only in case are one file on some systems.
        slug, title = self.cleaned_data["slug"].lower(), self.cleaned_data.get("title", "")
        if not slug:
            return suggested_slug(title, self.taken, self.reserved)
        if slug in self.reserved or self.taken.filter(slug=slug).exists():
            free = suggested_slug(slug, self.taken, self.reserved)
            raise ValidationError(f"“{slug}” is taken here; choose another, such as “{free}”.")
        return slug


class CourseForm(TitledForm):
    reserved = ("new",)
    description = forms.CharField(
        required=False,
        max_length=settings.MAX_MARKDOWN_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    instructors = forms.CharField(
        required=False,
        label="Co-instructors",
        help_text="Usernames, separated by commas. You stay an instructor.",
        show_hidden_initial=True,  # the list as the page showed it: see instructors_after
    )

    def __init__(self, *args, course=None, **kwargs) -> None:
        others = Course.objects.exclude(pk__in=[course.pk] if course else [])
        super().__init__(*args, taken=others, **kwargs)
        self.course = course

    def clean_instructors(self) -> list[User]:
        names = usernames(self.cleaned_data["instructors"])
        users = list(User.objects.filter(username__in=names))
        missing = sorted(set(names) - {u.username for u in users})
        if missing:
            raise ValidationError(f"No user called {', '.join(missing)}.")
        # One who teaches already and was deactivated since may stay (editing goes on).
        teaching = set(self.course.instructors.values_list("pk", flat=True)) if self.course else ()
        closed = sorted(u.username for u in users if not u.is_active and u.pk not in teaching)
        if closed:
            raise ValidationError(
                f"The account of {', '.join(closed)} is deactivated: it cannot log in to teach."
            )
        return users

    def instructors_after(self, current: list[User]) -> list[User]:
        """Return the co-instructors once this edit is applied to `current`, the course's
        others now: only those this form added or took out of the list its page showed
        change, so a co-instructor another instructor added meanwhile is kept, not undone."""
        posted = {user.username: user for user in self.cleaned_data["instructors"]}
        shown = self.data.get(self.add_initial_prefix("instructors"))
        if shown is None:  # posted without the page (a script): the list is the one posted
            return list(posted.values())
        loaded = set(usernames(shown))
        kept = [user for user in current if user.username in posted or user.username not in loaded]
        return kept + [
            user for name, user in posted.items() if name not in loaded and user not in kept
        ]


def usernames(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


class LessonForm(TitledForm):
    body = forms.CharField(
        label="Lesson text",
        required=False,
        strip=False,
        max_length=settings.MAX_MARKDOWN_CHARS,
        help_text="Markdown. Raw HTML is removed, as on the learner's page.",
        widget=forms.Textarea(attrs={"rows": 18, "class": "code", "spellcheck": "true"}),
    )

    def __init__(self, *args, course, lesson=None, **kwargs) -> None:
        others = course.lessons.exclude(pk__in=[lesson.pk] if lesson else [])
        super().__init__(*args, taken=others, **kwargs)


class NewExerciseForm(TitledForm):
    def __init__(self, *args, lesson, **kwargs) -> None:
        super().__init__(*args, taken=lesson.exercises.all(), **kwargs)


def model_choices() -> list[tuple[str, str]]:
    return [(key, choice.label) for key, choice in allowed_models().items()]


class ExerciseForm(forms.Form):
    """Everything about an exercise except its test cases and rubric."""

    title = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=50)
    instructions = text(
        "Instructions",
        8,
        "Markdown, shown to the learner beside the prompt editor.",
        max_length=settings.MAX_MARKDOWN_CHARS,
    )

    editable = forms.MultipleChoiceField(
        label="Learners may edit",
        required=False,
        choices=[(f, PART_LABELS[f]) for f in PROMPT_FIELDS],
        widget=forms.CheckboxSelectMultiple,
        help_text="Unticked parts are locked: the learner sees them but cannot change them.",
    )
    allow_empty = forms.MultipleChoiceField(
        label="Learners may submit empty",
        required=False,
        choices=[(f, PART_LABELS[f]) for f in PROMPT_FIELDS],
        widget=forms.CheckboxSelectMultiple,
        help_text="Where leaving a part empty is the lesson, e.g. an empty prefill, so the "
        "learner first sees what the model does unprompted. Only editable parts.",
    )
    starter_system = text("Starter system prompt", 3, code=True)
    starter_user = text(
        "Starter user prompt",
        5,
        "Write {variable} where a test case's value goes, {{variable}} for the braces as text.",
        code=True,
    )
    starter_prefill = text("Starter prefill", 2, code=True)
    slots = yaml_field(
        "Named slots",
        5,
        "Optional. A YAML list of {name, label, text, editable}: task context, tone, examples, "
        "output format … joined in order into the user prompt (replacing the user template).",
    )
    examples = yaml_field(
        "Example turns",
        4,
        "Optional. A YAML list of {role: user|assistant, text, editable} sent before the final "
        "user message.",
    )

    variables = forms.CharField(
        required=False,
        help_text="Names, separated by commas. Each test case gives them values.",
    )
    fixed_variables = yaml_field(
        "Fixed inputs",
        4,
        "Optional. A YAML mapping of name: text shared by every test case (a long document). "
        "Use | for multi-line text.",
    )

    model = forms.ChoiceField(label="Model", help_text="From the models this server allows.")
    temperature = forms.FloatField(validators=[MinValueValidator(0), MaxValueValidator(2)])
    max_tokens = forms.IntegerField(
        label="Max tokens",
        validators=[MinValueValidator(1), MaxValueValidator(pitfalls.MAX_TOKENS)],
        help_text=f"This site cuts replies at {settings.MAX_TOKENS_CEILING} tokens "
        "(MAX_TOKENS_CEILING); the editor warns above it.",
    )
    samples = forms.IntegerField(
        label="Samples per case",
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text="Runs per test case, reported as “passes k of n”.",
    )
    sample_rule = forms.ChoiceField(
        label="With several samples, a test case passes",
        choices=SAMPLE_RULE_CHOICES,
        widget=forms.RadioSelect,  # a select cut its longest choice off, even at full width
        help_text="Every sample (pass^k) asks for a prompt that never fails; any one sample "
        "(pass@k), for one that can succeed.",
    )
    samples_needed = forms.IntegerField(
        label="Samples that must pass (n)",
        required=False,
        min_value=1,
        help_text="For “at least n of its k samples” only: from 1 to the samples per case.",
    )

    hints = text(
        "Hints",
        6,
        "One hint per block, blocks separated by a line with only ---. Hint n unlocks after n "
        "failed attempts; the last may be a full solution.",
    )
    solution_system = text("Solution system prompt", 3, code=True)
    solution_user = text("Solution user prompt", 5, code=True)
    solution_prefill = text("Solution prefill", 2, code=True)
    solution_slots = yaml_field(
        "Slot texts", 3, "With named slots: a YAML mapping of slot name: text."
    )
    known_bad = yaml_field(
        "Known-bad prompts",
        4,
        "Optional. A YAML list of prompts that must fail, e.g. - user: Tell me about {x}",
    )
    stub = yaml_field(
        "Stub rules",
        6,
        "The offline model's script: rules (if / unless patterns → reply) and a default reply.",
    )

    def __init__(self, *args, exercise: Exercise, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.exercise = exercise
        choices = model_choices()
        current = f"{exercise.backend}:{exercise.model_name}"
        if current not in dict(choices):  # kept, and warned of, until the author picks one
            choices.append((current, f"{current} (not allowed on this site)"))
        cast(forms.ChoiceField, self.fields["model"]).choices = choices

    @staticmethod
    def initial_for(exercise: Exercise) -> dict[str, Any]:
        solution = exercise.solution or {}
        return {
            "title": exercise.title,
            "slug": exercise.slug,
            "instructions": exercise.instructions,
            "editable": split_editable(exercise.editable_fields)[0],
            "allow_empty": exercise.may_be_empty,
            "starter_system": exercise.starter_system,
            "starter_user": exercise.starter_user,
            "starter_prefill": exercise.starter_prefill,
            "slots": dump_yaml(exercise.slots),
            "examples": dump_yaml(exercise.examples),
            "variables": ", ".join(exercise.variables),
            "fixed_variables": dump_yaml(exercise.fixed_variables),
            "model": f"{exercise.backend}:{exercise.model_name}",
            "temperature": exercise.temperature,
            "max_tokens": exercise.max_tokens,
            "samples": exercise.samples,
            "sample_rule": exercise.sample_rule,
            "samples_needed": exercise.samples_needed or None,
            "hints": "\n---\n".join(exercise.hints),
            "solution_system": solution.get("system", ""),
            "solution_user": solution.get("user", ""),
            "solution_prefill": solution.get("prefill", ""),
            "solution_slots": dump_yaml(solution.get("slots", {})),
            "known_bad": dump_yaml(exercise.known_bad),
            "stub": dump_yaml(exercise.stub),
        }

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"].lower()  # as TitledForm.clean_slug
        taken = self.exercise.lesson.exercises.filter(slug=slug).exclude(pk=self.exercise.pk)
        if taken.exists():
            raise ValidationError("Another exercise of this lesson already uses this address.")
        return slug

    def clean_slots(self) -> list:
        return clean_parts(self.cleaned_data["slots"], "slots", "Named slots")

    def clean_examples(self) -> list:
        return clean_parts(self.cleaned_data["examples"], "examples", "Example turns")

    def clean_variables(self) -> list[str]:
        names = [n.strip().strip("{}") for n in self.cleaned_data["variables"].split(",")]
        names = [n for n in names if n]
        bad = [n for n in names if not IDENTIFIER.match(n)]
        if bad:
            raise ValidationError(
                f"{', '.join(bad)}: a variable name is letters, digits and _, "
                "not starting with a digit."
            )
        if len(set(names)) != len(names):
            raise ValidationError("A variable is named twice.")
        return names

    def clean_fixed_variables(self) -> dict[str, str]:
        values = clean_texts(self.cleaned_data["fixed_variables"], "Fixed inputs")
        bad = [k for k in values if not IDENTIFIER.match(k)]
        if bad:
            raise ValidationError(f"{', '.join(bad)} is not a variable name.")
        variables = self.cleaned_data.get("variables")  # None when they were refused
        unlisted = [k for k in values if variables is not None and k not in variables]
        if unlisted:  # as course files refuse it
            raise ValidationError(
                f"Fixed inputs: {', '.join(unlisted)} is not listed in Variables; add it there."
            )
        return values

    def clean_model(self) -> tuple[str, str]:
        backend, _, model = self.cleaned_data["model"].partition(":")
        return backend, model

    def editable_fields(self) -> list[str]:
        return editable_entries(self.cleaned_data["editable"], self.cleaned_data["allow_empty"])

    def clean_hints(self) -> list[str]:
        return [h.strip() for h in HINT_SEPARATOR.split(self.cleaned_data["hints"]) if h.strip()]

    def clean(self) -> dict:
        data = cast(dict[str, Any], super().clean())
        locked = set(data.get("allow_empty", [])) - set(data.get("editable", []))
        if locked:
            self.add_error("allow_empty", "Only an editable part can be left empty: tick it above.")
        if data.get("sample_rule") != "at_least":
            data["samples_needed"] = 0
        if "samples" in data and "sample_rule" in data:
            rule = graders.SampleRule(data["sample_rule"], data["samples_needed"] or 0)
            try:
                rule.check(data["samples"])
            except graders.SampleRuleError as e:
                self.add_error(e.field, f"{e.message[0].upper()}{e.message[1:]}.")
        self.check_placeholders(data)
        return data

    def check_placeholders(self, data: dict[str, Any]) -> None:
        """Refuse a prompt part naming a placeholder that is not a variable, at its field."""
        solution = {part: data.get(f"solution_{part}", "") for part in PROMPT_FIELDS}
        solution["slots"] = data.get("solution_slots") or {}
        for where, message in pitfalls.placeholder_errors({**data, "solution": solution}):
            field = editor_field(where)
            self.add_error(field, f"{where}: {message}" if field in YAML_PARTS else message)

    def clean_solution_slots(self) -> dict[str, str]:
        return clean_texts(self.cleaned_data["solution_slots"], "Slot texts")

    def clean_known_bad(self) -> list[dict]:
        prompts = clean_yaml(self.cleaned_data["known_bad"], list, "Known-bad prompts")
        for i, p in enumerate(prompts, start=1):
            if not is_prompt_value(p):
                raise ValidationError(
                    f"Item {i} must map some of {', '.join(PROMPT_VALUE_KEYS)} to text."
                )
        return prompts

    def clean_stub(self) -> dict:
        script = clean_yaml(self.cleaned_data["stub"], dict, "Stub rules")
        try:
            parse_script(script)
        except StubRuleError as e:
            raise ValidationError(f"Stub rules: {e}") from None
        return script

    def solution(self) -> dict[str, Any]:
        data = self.cleaned_data
        solution: dict[str, Any] = {
            part: data[f"solution_{part}"] for part in PROMPT_FIELDS if data[f"solution_{part}"]
        }
        if data["solution_slots"]:
            solution["slots"] = data["solution_slots"]
        kept = (self.exercise.solution or {}).get("examples")
        if kept:
            solution["examples"] = kept
        return solution


def editor_field(where: str) -> str:
    """Return the editor field of a course-file field: prompt.user is starter_user,
    prompt.examples[0].text is examples, solution.slots.intro is solution_slots …"""
    head, _, rest = where.partition(".")
    part = re.split(r"[.\[]", rest)[0]
    if head == "stub":
        return "stub"
    if head == "prompt":
        return part if part in YAML_PARTS else f"starter_{part}"
    return f"solution_{part}"


# ---------------------------------------------------------------------------------------------
# Test cases


class CaseForm(forms.Form):
    """One test case row; one text field per exercise variable, named var_<name>."""

    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(max_length=CASE_NAME_CHARS, required=False)
    visibility = forms.ChoiceField(
        choices=[(v, v.replace("_", " ")) for v in graders.VISIBILITY], initial="show"
    )
    reference = text("Reference answer", 2)
    expected = yaml_field(
        "Expected values", 2, "YAML mapping read by {from_case: key} rubric params."
    )
    weight = forms.FloatField(
        initial=1.0, validators=[MinValueValidator(0), MaxValueValidator(MAX_CASE_WEIGHT)]
    )

    def __init__(
        self,
        *args,
        variables: list[str],
        expected_keys: dict[str, str],
        rubric: graders.Rubric,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.variables, self.expected_keys, self.rubric = variables, expected_keys, rubric
        for name in variables:
            self.fields[f"var_{name}"] = text(name, 2, code=True)

    def var_fields(self):
        return [self[f"var_{name}"] for name in self.variables]

    def clean_expected(self) -> dict:
        return clean_yaml(self.cleaned_data["expected"], dict, "Expected values")

    def clean(self) -> dict:
        data = cast(dict[str, Any], super().clean())
        filled = any(data.get(f"var_{n}") for n in self.variables) or data.get("reference")
        if not data.get("name") and (filled or data.get("id")):
            self.add_error("name", "Give the test case a name.")
        expected = data.get("expected")  # None when its YAML was refused
        missing = [k for k in self.expected_keys if expected is not None and k not in expected]
        if missing and data.get("name") and not data.get("DELETE"):
            key = missing[0]
            self.add_error(
                "expected",
                f"The rubric's criterion {self.expected_keys[key]} reads the expected value "
                f"{key}: add a line “{key}: …” here, or take the criterion out of the rubric.",
            )
        if expected is not None and data.get("name") and not data.get("DELETE"):
            case = graders.Case(name=data["name"], expected=expected)
            for problem in graders.case_problems(self.rubric, case)[:1]:
                self.add_error("expected", problem)
        return data

    def case_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "visibility": data["visibility"],
            "reference": data["reference"],
            "expected": data["expected"],
            "weight": data["weight"],
            "variables": {n: data[f"var_{n}"] for n in self.variables},
        }


class BaseCaseFormSet(forms.BaseFormSet):
    def __init__(self, *args, names: dict[int, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.names = names  # the exercise's test cases: name by id
        # Its own rows and a new one, however many (CSV imports add 500 at a time); a posted
        # row count past that builds no more.
        self.absolute_max = max(self.absolute_max, len(names) + self.extra)

    def clean(self) -> None:
        """Refuse two kept rows of one name, or a row taking the name of a case no row posts:
        a case's name is its own (course files and their re-import find a case by it). Refuse
        a row of a case the exercise does not have, or of one another row posts too."""
        rows = [getattr(form, "cleaned_data", {}) for form in self.forms]
        ids = [data["id"] for data in rows if data.get("id")]
        for data in rows:
            pk = data.get("id")
            if pk and (ids.count(pk) > 1 or (pk not in self.names and not data.get("DELETE"))):
                raise ValidationError(
                    "These rows are not the exercise's test cases as they are now (one may "
                    "have been deleted since the page was opened): reload the page."
                )
        seen = {name for pk, name in self.names.items() if pk not in ids}
        for form, data in zip(self.forms, rows, strict=True):
            name = data.get("name")
            if not name or data.get("DELETE"):
                continue
            if name in seen:
                form.add_error("name", f"Another test case is named {name!r} already.")
            seen.add(name)


# A cast: django-stubs type formset_factory's class as BaseFormSet, whatever its base.
# absolute_max as CriterionFormSet's.
CaseFormSet = cast(
    type[BaseCaseFormSet],
    forms.formset_factory(
        CaseForm, formset=BaseCaseFormSet, extra=1, can_delete=True, max_num=200, absolute_max=200
    ),
)


def csv_cap() -> int:
    """Return the most bytes of CSV an import takes: its confirm step posts the text again,
    as a form field, which DATA_UPLOAD_MAX_MEMORY_SIZE caps (a file it does not)."""
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE * 3 // 4


CSV_TOO_LARGE = "The CSV is over {kb} KB: import it in parts (each import adds to the cases)."


class ImportCasesForm(forms.Form):
    csv_file = forms.FileField(label="CSV file", required=False)
    csv_text = text(
        "Or paste CSV",
        6,
        "One column per variable; optional __name, __visibility, __reference, __weight; and "
        "__expected (also __expected2 …) with equals:…, contains:…, icontains:…, "
        "not-contains:…, starts-with:…, ends-with:… or regex:…",
        code=True,
    )
    replace = forms.BooleanField(required=False, label="Replace the existing test cases")
    # Set by the confirm step, when the import would add criteria to the rubric.
    criteria = forms.ChoiceField(
        choices=[("", "ask"), ("add", "add"), ("skip", "skip")],
        required=False,
        widget=forms.HiddenInput,
    )

    def clean(self) -> dict:
        data = cast(dict[str, Any], super().clean())
        upload = data.get("csv_file")
        if upload:
            if upload.size > csv_cap():
                raise ValidationError(CSV_TOO_LARGE.format(kb=csv_cap() // 1024))
            try:
                data["csv_text"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ValidationError("The CSV file is not UTF-8 text.") from None
        if len(data.get("csv_text", "").encode()) > csv_cap():  # pasted
            raise ValidationError(CSV_TOO_LARGE.format(kb=csv_cap() // 1024))
        if not data.get("csv_text", "").strip():
            raise ValidationError("Choose a CSV file or paste CSV text.")
        return data


# ---------------------------------------------------------------------------------------------
# Rubric

CRITERION_OWN_FIELDS = ("id", "title", "kind", "params", "weight", "feedback", "visible", "target")
RUBRIC_OWN_FIELDS = ("criteria", "pass_threshold", "require_all_cases", "unavailable", "samples")


def clean_extra(value: str, what: str, own: tuple[str, ...]) -> dict:
    """Return a YAML mapping of the options that have no field of their own, or raise
    ValidationError naming a key that has one: it won over that field (criteria: over every
    row)."""
    options = clean_yaml(value, dict, what)
    taken = [str(k) for k in options if k in own]
    if taken:
        raise ValidationError(
            f"{what}: {', '.join(taken)} has a field of its own on this page; set it there."
        )
    return options


TARGET_CHOICES = [("output", "Output"), ("prompt", "Learner's prompt")]


class CriterionForm(forms.Form):
    """One criterion row of the rubric editor. Validated as part of the whole rubric."""

    id = forms.CharField(max_length=80, required=False, label="Id")
    kind = forms.ChoiceField(required=False)
    params = yaml_field("Parameters", 3, "YAML, e.g. pattern: '^#\\d+'")
    title = forms.CharField(
        required=False,
        max_length=graders.limits.MAX_TITLE_CHARS,
        label="Title learners see",
        help_text="Empty: a name read from the kind and parameters, e.g. Mentions “refund”.",
    )
    weight = forms.FloatField(initial=1.0, required=False)
    on_pass = forms.CharField(required=False, label="Feedback when it passes", max_length=500)
    on_fail = forms.CharField(required=False, label="Feedback when it fails", max_length=500)
    visible = forms.BooleanField(required=False, initial=True, label="Learner sees it")
    target = forms.ChoiceField(choices=TARGET_CHOICES, initial="output", label="Checks")
    options = yaml_field(
        "More options",
        1,
        "YAML: negate, ignore_case, collapse_whitespace, strip, with_prefill, field",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["kind"]).choices = [("", "— kind —")] + [
            (name, name) for name in sorted(graders.CRITERIA)
        ]

    @staticmethod
    def initial_for(criterion: dict[str, Any]) -> dict[str, Any]:
        feedback = criterion.get("feedback") or {}
        rest = {k: v for k, v in criterion.items() if k not in CRITERION_OWN_FIELDS}
        return {
            "id": criterion.get("id", ""),
            "kind": criterion.get("kind", ""),
            "title": criterion.get("title", ""),
            "params": dump_yaml(criterion.get("params") or {}),
            "weight": criterion.get("weight", 1),
            "on_pass": feedback.get("pass", ""),
            "on_fail": feedback.get("fail", ""),
            "visible": criterion.get("visible", True),
            "target": criterion.get("target", "output"),
            "options": dump_yaml(rest),
        }

    def clean_params(self) -> dict:
        return clean_yaml(self.cleaned_data["params"], dict, "Parameters")

    def clean_options(self) -> dict:
        return clean_extra(self.cleaned_data["options"], "More options", CRITERION_OWN_FIELDS)

    @property
    def is_blank(self) -> bool:
        data = self.cleaned_data
        return not data.get("id") and not data.get("kind") and not data.get("params")

    def criterion(self) -> dict[str, Any]:
        data = self.cleaned_data
        criterion: dict[str, Any] = {"id": data["id"], "kind": data["kind"]}
        if data["title"]:
            criterion["title"] = data["title"]
        if data["params"]:
            criterion["params"] = data["params"]
        criterion["weight"] = 1 if data["weight"] is None else data["weight"]
        feedback = {k: data[f"on_{k}"] for k in ("pass", "fail") if data[f"on_{k}"]}
        if feedback:
            criterion["feedback"] = feedback
        if not data["visible"]:
            criterion["visible"] = False
        if data["target"] != "output":
            criterion["target"] = data["target"]
        criterion.update(data["options"])
        return criterion


# absolute_max: a posted row count past max_num builds no more rows than that (Django's
# default builds 1,000 more, seconds of work and megabytes of page for one request).
CriterionFormSet = forms.formset_factory(
    CriterionForm, extra=1, can_delete=True, max_num=60, absolute_max=60
)

# Which form field shows a RubricError about a criterion field.
ERROR_FIELDS = {name: name for name in ("id", "title", "kind", "weight", "target")}


def error_field(rubric_field: str) -> str:
    """Return the criterion form field that shows an error about a rubric field.

    >>> error_field("params.pattern"), error_field("feedback"), error_field("negate")
    ('params', 'on_fail', 'options')
    """
    head = rubric_field.split(".")[0]
    if head == "params":
        return "params"
    if head == "feedback":
        return "on_fail"
    if head == "visible":
        return "visible"
    return ERROR_FIELDS.get(head, "options")


class RubricSettingsForm(forms.Form):
    pass_threshold = forms.FloatField(
        label="Pass threshold",
        initial=1.0,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="A case passes when its weighted score reaches this (0 to 1).",
    )
    require_all_cases = forms.BooleanField(
        required=False, label="The attempt passes only if every test case passes"
    )
    unavailable = forms.ChoiceField(
        choices=[("fail", "count as failed"), ("skip", "leave out of the score")],
        label="A criterion that cannot run here (no judge, no embedding model)",
    )
    good_samples = yaml_field(
        "Known-good outputs",
        4,
        "A YAML list: outputs the rubric must pass. An item may be a mapping with output and "
        "expected, for criteria that read the test case.",
    )
    bad_samples = yaml_field("Known-bad outputs", 4, "A YAML list: outputs the rubric must fail.")
    extra = yaml_field("Rubric options", 1, "YAML, e.g. with_prefill: true")

    @staticmethod
    def initial_for(rubric: dict[str, Any]) -> dict[str, Any]:
        samples = rubric.get("samples") or {}
        return {
            "pass_threshold": rubric.get("pass_threshold", 1.0),
            "require_all_cases": rubric.get("require_all_cases", False),
            "unavailable": rubric.get("unavailable", "fail"),
            "good_samples": dump_yaml(list(samples.get("good", []))),
            "bad_samples": dump_yaml(list(samples.get("bad", []))),
            "extra": dump_yaml({k: v for k, v in rubric.items() if k not in RUBRIC_OWN_FIELDS}),
        }

    def clean_good_samples(self) -> list:
        return clean_yaml(self.cleaned_data["good_samples"], list, "Known-good outputs")

    def clean_bad_samples(self) -> list:
        return clean_yaml(self.cleaned_data["bad_samples"], list, "Known-bad outputs")

    def clean_extra(self) -> dict:
        return clean_extra(self.cleaned_data["extra"], "Rubric options", RUBRIC_OWN_FIELDS)

    def rubric(self, criteria: list[dict[str, Any]]) -> dict[str, Any]:
        data = self.cleaned_data
        rubric: dict[str, Any] = {"pass_threshold": data["pass_threshold"], "criteria": criteria}
        if data["require_all_cases"]:
            rubric["require_all_cases"] = True
        if data["unavailable"] != "fail":
            rubric["unavailable"] = data["unavailable"]
        samples = {k: data[f"{k}_samples"] for k in ("good", "bad") if data[f"{k}_samples"]}
        if samples:
            rubric["samples"] = samples
        rubric.update(data["extra"])
        return rubric


class RubricYamlForm(forms.Form):
    rubric = yaml_field("Rubric (YAML)", 24)

    def clean_rubric(self) -> dict[str, Any]:
        rubric = clean_yaml(self.cleaned_data["rubric"], dict, "The rubric")
        try:
            graders.load_rubric(rubric)
        except graders.RubricError as e:
            raise ValidationError(str(e)) from None
        return rubric


class TryRubricForm(forms.Form):
    output = text("A model output", 6, "Paste an output; it is graded with no model call.")
    case = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="As if for test case"
    )

    def __init__(self, *args, exercise: Exercise, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["case"]).choices = [("", "— no test case —")] + [
            (c.pk, c.name) for c in exercise.cases.all()
        ]
