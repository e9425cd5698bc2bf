from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

import graders
import graders.calibration
from graders.reuse import subtree
from sandbox.backends import BACKEND_CHOICES, BACKENDS
from sandbox.backends.stub import StubRuleError, StubScript, parse_script
from sandbox.models import CASE_NAME_CHARS
from sandbox.prompting import PROMPT_FIELDS, RenderedPrompt, join_slots, render_prompt
from sandbox.providers import MODEL_NAME_CHARS


def validate_markdown(value: str) -> None:
    """Refuse Markdown longer than MAX_MARKDOWN_CHARS (the admin's forms; the editor and
    course import check it themselves)."""
    if len(value) > settings.MAX_MARKDOWN_CHARS:
        raise ValidationError(
            f"Keep it under {settings.MAX_MARKDOWN_CHARS:,} characters (it has {len(value):,})."
        )


class CourseQuerySet(models.QuerySet):
    def taught_by(self, user) -> CourseQuerySet:
        """Return the courses this user teaches (owns or co-teaches)."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(instructors=user)

    def live(self) -> CourseQuerySet:
        """Return the courses learners may open: those with an exercise learners can open
        (which makes the course and the exercise's lesson published)."""
        return self.filter(pk__in=Exercise.objects.live().values("lesson__course"))

    def visible_to(self, user) -> CourseQuerySet:
        """Return the courses this user may open: live ones, and those they teach."""
        return self.live() | self.filter(pk__in=self.taught_by(user))


class Course(models.Model):
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, validators=[validate_markdown])
    position = models.PositiveIntegerField(default=0)
    instructors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="taught_courses"
    )
    # Learners see a course, and a lesson, only once published. Created published (course
    # files, seeding); the teach editor creates drafts.
    published = models.BooleanField(default=True)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CourseQuerySet.as_manager()

    class Meta:
        ordering = ("position", "title")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("ls-course", args=[self.slug])

    def opens_for(self, user) -> bool:
        return Course.objects.visible_to(user).filter(pk=self.pk).exists()


class LessonQuerySet(models.QuerySet):
    def live(self) -> LessonQuerySet:
        """Return the lessons learners may open: published, of a published course, neither
        archived."""
        return self.filter(
            published=True, archived=False, course__published=True, course__archived=False
        )

    def visible_to(self, user) -> LessonQuerySet:
        """Return the lessons this user may open: live ones, and any of a course they teach."""
        return self.live() | self.filter(course__in=Course.objects.taught_by(user))


class Lesson(models.Model):
    course = models.ForeignKey(Course, models.CASCADE, related_name="lessons")
    slug = models.SlugField()
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, help_text="Markdown", validators=[validate_markdown])
    position = models.PositiveIntegerField(default=0)
    published = models.BooleanField(default=True)
    archived = models.BooleanField(default=False)

    objects = LessonQuerySet.as_manager()

    class Meta:
        ordering = ("position", "id")
        constraints = [
            models.UniqueConstraint(fields=("course", "slug"), name="lesson_slug_in_course")
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("ls-lesson", args=[self.course.slug, self.slug])


def validate_rubric(value: object) -> None:
    try:
        graders.load_rubric(value)
    except graders.RubricError as e:
        raise ValidationError(str(e)) from None


def validate_stub(value: object) -> None:
    try:
        parse_script(value)  # type: ignore[arg-type]
    except StubRuleError as e:
        raise ValidationError(str(e)) from None


def validate_slots(value: object) -> None:
    validate_parts(value, "slots")


def validate_examples(value: object) -> None:
    validate_parts(value, "examples")


def validate_parts(value: object, kind: str) -> None:
    """Refuse slots or example turns of another shape than prompt_parts keeps."""
    for problem in prompt_parts(value, kind)[1]:
        raise ValidationError(str(problem))


def length_problem(prompt: RenderedPrompt, filled_by: str) -> str:
    """Return why a prompt filled in by `filled_by` is too long to send, or "": each field is
    capped as typed, but a placeholder used a thousand times multiplies its value."""
    length = sum(len(text) for _, text in prompt.turns())
    limit = settings.MAX_RENDERED_PROMPT_CHARS
    if length <= limit:
        return ""
    return (
        f"With {filled_by} filled in, this prompt is {length:,} characters; the most this site "
        f"sends is {limit:,}. Use each placeholder fewer times."
    )


PROMPT_VALUE_KEYS = (*PROMPT_FIELDS, "slots", "examples")
SLOT_KEYS = ("name", "label", "text", "editable")
EXAMPLE_KEYS = ("role", "text", "editable")
SLOT_NAME = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class PartProblem:
    """What is wrong in a list of slots or example turns: in item `index` (None: the list
    itself), at its `field` ("" for the item as a whole)."""

    index: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = "" if self.index is None else f"item {self.index + 1}"
        where += f", {self.field}" if self.field else ""
        return f"{where}: {self.message}" if where else self.message


def prompt_parts(parts: object, kind: str) -> tuple[list[dict[str, Any]], list[PartProblem]]:
    """Return an exercise's named slots (kind "slots") or example turns ("examples"), each
    with every key (editable false and texts "" unless given), and the problems found: the
    one rule of their shape, which course files, the editor and the model's validators apply."""
    keys, named = (SLOT_KEYS, "name") if kind == "slots" else (EXAMPLE_KEYS, "role")
    if not isinstance(parts, list):
        return [], [PartProblem(None, "", "must be a list")]
    result: list[dict[str, Any]] = []
    problems: list[PartProblem] = []
    for i, part in enumerate(parts):
        if not isinstance(part, dict):
            problems.append(PartProblem(i, "", f"must be a mapping with {named} and text"))
            continue
        allowed = ", ".join(keys)
        problems += [
            PartProblem(i, str(k), f"unknown field; allowed: {allowed}")
            for k in part
            if k not in keys
        ]
        item: dict[str, Any] = {}
        for key in keys:
            value = part.get(key)
            if key == "editable":
                if value is not None and not isinstance(value, bool):
                    problems.append(PartProblem(i, key, f"must be true or false, not {value!r}"))
                item[key] = value is True
            elif value is None or isinstance(value, str):
                item[key] = value or ""
            else:
                problems.append(PartProblem(i, key, f"must be text, not {value!r}"))
                item[key] = ""
        if not item[named].strip():
            problems.append(PartProblem(i, named, "is required (text)"))
        elif kind == "slots" and not SLOT_NAME.fullmatch(item["name"]):
            problems.append(PartProblem(i, "name", "may use only letters, digits, - and _"))
        elif kind == "slots" and item["name"] in (r["name"] for r in result):
            problems.append(PartProblem(i, "name", f"{item['name']!r} is used twice"))
        elif kind == "examples" and item["role"] not in ("user", "assistant"):
            problems.append(PartProblem(i, "role", "must be user or assistant"))
        result.append(item)
    return result, problems


def is_prompt_value(value: object) -> bool:
    """Return whether value is a prompt as a solution or a known-bad prompt keeps it: some
    of system, user and prefill as text; slots as {name: text}, examples as {index: text}."""
    if not isinstance(value, dict) or not value or not set(value) <= set(PROMPT_VALUE_KEYS):
        return False
    parts = [value.get(key, {}) for key in ("slots", "examples")]
    return all(isinstance(value[k], str) for k in PROMPT_FIELDS if k in value) and all(
        isinstance(part, dict) and all(isinstance(t, str) for t in part.values()) for part in parts
    )


# An editable_fields entry "allow_empty:prefill" lets a learner submit that editable field
# empty (a prefill-only exercise: the learner first sees what the model does unprompted).
ALLOW_EMPTY = "allow_empty:"


def editable_entries(editable: list[str], allow_empty: list[str]) -> list[str]:
    return [*editable, *(ALLOW_EMPTY + f for f in allow_empty)]


def split_editable(entries: list[str]) -> tuple[list[str], list[str]]:
    """Return (the editable fields, those of them a learner may leave empty)."""
    editable = [f for f in entries if not f.startswith(ALLOW_EMPTY)]
    return editable, [f.removeprefix(ALLOW_EMPTY) for f in entries if f not in editable]


def validate_editable(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
        raise ValidationError(f"must be a list drawn from {', '.join(PROMPT_FIELDS)}")
    editable, allow_empty = split_editable(value)
    if not set(editable) <= set(PROMPT_FIELDS):
        raise ValidationError(f"must be a list drawn from {', '.join(PROMPT_FIELDS)}")
    if not set(allow_empty) <= set(editable):
        raise ValidationError(f"allow_empty must list editable fields ({', '.join(editable)})")


# A learner's values, in the shape Exercise.compose reads (see there). They come from a form's
# cleaned data or a JSON field, so compose states each value's type where it reads it.
PromptValues = Mapping[str, Any]


class ExerciseQuerySet(models.QuerySet):
    def live(self) -> ExerciseQuerySet:
        """Return the exercises learners may open: published, in a published lesson of a
        published course, none of them archived."""
        return self.filter(
            status=Exercise.PUBLISHED, archived=False, lesson__in=Lesson.objects.live()
        )

    def visible_to(self, user) -> ExerciseQuerySet:
        """Return the exercises this user may open: live ones, and any in courses they teach
        (drafts and archived ones included)."""
        return self.live() | self.filter(lesson__course__in=Course.objects.taught_by(user))

    def in_course_order(self) -> ExerciseQuerySet:
        return self.order_by("lesson__position", "lesson_id", "position", "id")


@functools.lru_cache(maxsize=512)
def _parsed(parse, text: str):
    return parse(json.loads(text))


def parsed(parse, data):
    """Return parse(data), parsed once per distinct content in this process: every attempt
    loads its exercise afresh, and rubrics and stub rules are the same most of the time."""
    return _parsed(parse, json.dumps(data, sort_keys=True))


SAMPLE_RULE_LABELS = {
    "mean": "when the mean score of its samples reaches the pass threshold",
    "all": "only if every sample passes (pass^k)",
    "at_least": "if at least n of its k samples pass",
    "any": "if any one sample passes (pass@k)",
}
SAMPLE_RULE_CHOICES = [(rule, SAMPLE_RULE_LABELS[rule]) for rule in graders.SAMPLE_RULES]


class Exercise(models.Model):
    DRAFT, PUBLISHED = "draft", "published"

    lesson = models.ForeignKey(Lesson, models.CASCADE, related_name="exercises")
    slug = models.SlugField()
    title = models.CharField(max_length=200)
    instructions = models.TextField(
        blank=True, help_text="Markdown", validators=[validate_markdown]
    )
    position = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=10, choices=[(DRAFT, "Draft"), (PUBLISHED, "Published")], default=DRAFT
    )
    archived = models.BooleanField(default=False)

    # What the learner writes: which fields are editable, and their starter text.
    editable_fields = models.JSONField(default=list, validators=[validate_editable])
    starter_system = models.TextField(blank=True)
    starter_user = models.TextField(blank=True)
    starter_prefill = models.TextField(blank=True)
    # Named slots (task context, tone, examples, output format …): when present, the
    # user prompt is their texts joined in order. [{"name", "label", "text", "editable"}]
    slots = models.JSONField(default=list, blank=True, validators=[validate_slots])
    # Example turns before the final user message. [{"role", "text", "editable"}]
    examples = models.JSONField(default=list, blank=True, validators=[validate_examples])
    variables = models.JSONField(default=list, blank=True)
    # Values every test case shares, such as a long document.
    fixed_variables = models.JSONField(default=dict, blank=True)

    # Model settings.
    backend = models.CharField(max_length=40, choices=BACKEND_CHOICES, default="stub")
    model_name = models.CharField(max_length=MODEL_NAME_CHARS, default="scripted")
    temperature = models.FloatField(default=0.0)
    max_tokens = models.PositiveIntegerField(default=256)
    # Sampling: k runs per test case, reported as a pass rate ("passes 4 of 5"), and the
    # rule that makes them the case's grade (graders.SampleRule).
    samples = models.PositiveSmallIntegerField(default=1)
    sample_rule = models.CharField(
        max_length=10, choices=SAMPLE_RULE_CHOICES, default="mean", verbose_name="A case passes"
    )
    samples_needed = models.PositiveSmallIntegerField(
        default=0, help_text="With “at least n of k”: n, from 1 to the samples per case."
    )
    stub = models.JSONField(default=dict, blank=True, validators=[validate_stub])

    rubric = models.JSONField(validators=[validate_rubric])
    hints = models.JSONField(default=list, blank=True)
    solution = models.JSONField(default=dict, blank=True, help_text="The reference prompt fields")
    known_bad = models.JSONField(default=list, blank=True, help_text="Prompts that must fail")

    objects = ExerciseQuerySet.as_manager()

    class Meta:
        ordering = ("position", "id")
        constraints = [
            models.UniqueConstraint(fields=("lesson", "slug"), name="exercise_slug_in_lesson")
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("ls-exercise", args=[self.lesson.course.slug, self.lesson.slug, self.slug])

    def opens_for(self, user) -> bool:
        return Exercise.objects.visible_to(user).filter(pk=self.pk).exists()

    @property
    def parsed_rubric(self) -> graders.Rubric:
        return parsed(graders.load_rubric, self.rubric)

    @property
    def stub_script(self) -> StubScript:
        return parsed(parse_script, self.stub)

    @property
    def parsed_sample_rule(self) -> graders.SampleRule:
        return graders.SampleRule(self.sample_rule, self.samples_needed)

    def clean(self) -> None:
        try:
            self.parsed_sample_rule.check(self.samples)
        except graders.SampleRuleError as e:
            raise ValidationError({e.field: e.message}) from None

    def judge_model(self, name: str) -> tuple[str, str]:
        """Return the (backend, model) an llm_judge's `model` names: "backend:model", or a
        model of this exercise's backend."""
        backend, _, model = name.partition(":")
        if backend in BACKENDS and model:
            return backend, model
        return self.backend, name

    def judged_by_itself(self) -> bool:
        """Return whether an llm_judge criterion, at any depth, names the model being graded
        (which is lenient with its own output)."""
        graded = (self.backend, self.model_name)
        return any(
            self.judge_model(node.params["model"]) == graded
            for criterion in self.parsed_rubric.criteria
            for node in subtree(criterion)
            if node.kind == "llm_judge"
        )

    @property
    def may_be_empty(self) -> list[str]:
        return split_editable(self.editable_fields)[1]

    @property
    def editable_slots(self) -> list[dict]:
        return [s for s in self.slots if s.get("editable")]

    def editable_parts(self) -> tuple[str, ...]:
        """Return which of system, user and prefill the learner can change."""
        if self.slots:
            user = any(s.get("editable") for s in self.slots)
        else:
            user = "user" in self.editable_fields
        return tuple(
            f for f in PROMPT_FIELDS if (user if f == "user" else f in self.editable_fields)
        )

    def starter(self) -> dict[str, str]:
        return self.compose({})[0]

    def compose(self, values: PromptValues) -> tuple[dict[str, str], list[list[str]]]:
        """Return (system/user/prefill, example turns) from a learner's values, keeping the
        starter text wherever a part is locked or no value is given.

        values may hold "system", "user", "prefill", "slots" ({name: text}) and
        "examples" ({index: text}).
        """

        def value(name: str, starter: str) -> str:
            return str(values.get(name, starter)) if name in self.editable_fields else starter

        slot_values: Mapping[str, str] = values.get("slots") or {}
        example_values: Mapping[int | str, str] = values.get("examples") or {}
        if self.slots:
            user = join_slots(
                [
                    slot_values.get(s["name"], s["text"]) if s.get("editable") else s["text"]
                    for s in self.slots
                ]
            )
        else:
            user = value("user", self.starter_user)
        fields = {
            "system": value("system", self.starter_system),
            "user": user,
            "prefill": value("prefill", self.starter_prefill),
        }
        examples = [
            [e["role"], example_values.get(i, example_values.get(str(i), e["text"]))]
            if e.get("editable")
            else [e["role"], e["text"]]
            for i, e in enumerate(self.examples)
        ]
        return fields, examples

    def case_variables(self, case: Case | graders.Case | None) -> dict[str, str]:
        """Return a case's values with the fixed inputs, which every case shares: a value a
        case kept for one (from before it was made fixed) does not hide it."""
        return {**(case.variables if case else {}), **self.fixed_variables}

    def case_variable_names(self) -> list[str]:
        """Return the variables each test case gives a value of: not the fixed ones, which
        every case shares (a case's value would hide the shared one)."""
        return [name for name in self.variables if name not in self.fixed_variables]

    def cases_without_values(self) -> list[tuple[Case, list[str]]]:
        """Return the test cases lacking a value of a case variable (one declared after them),
        each with the names it lacks: their prompts would keep the placeholder unfilled."""
        names = self.case_variable_names()
        return [
            (case, missing)
            for case in self.cases.all()
            if (missing := [n for n in names if n not in case.variables])
        ]

    def variable_names(self) -> list[str]:
        """Return the names a placeholder may use: the declared variables, fixed ones too."""
        return [*self.variables, *(n for n in self.fixed_variables if n not in self.variables)]

    def prompt(
        self,
        fields: Mapping[str, str],
        examples: Sequence[Sequence[str]],
        case: Case | graders.Case | None,
    ) -> RenderedPrompt:
        """Return the prompt the model receives for a test case, from composed fields and
        example turns (attempt.fields(), attempt.examples). The runner, the graders, the
        preview and the attempt page all render it here, so what is shown is what was sent."""
        return render_prompt(fields, self.case_variables(case), examples)

    def submission(self, values: PromptValues, case: Case | None) -> graders.Submission:
        """Return what prompt-side criteria read: a learner's values (as compose() takes
        them: the starter wherever a part is locked or not given), rendered for a case."""
        fields, examples = self.compose(values)
        return self.grader_submission(fields, examples, case)

    def grader_submission(
        self,
        fields: Mapping[str, str],
        examples: Sequence[Sequence[str]],
        case: Case | graders.Case | None,  # a rubric sample's case: its variables
    ) -> graders.Submission:
        """Return what the graders read of a prompt as sent: its system/user/prefill and
        example turns already composed (attempt.fields(), attempt.examples), rendered for a
        test case exactly as the model receives it. The runner, regrade, self-test and
        try-rubric all build the Submission here, so they grade alike."""
        fields = {name: str(fields.get(name, "")) for name in PROMPT_FIELDS}
        turns = tuple((str(role), str(text)) for role, text in examples)
        prompt = self.prompt(fields, turns, case)
        return graders.Submission(
            fields=fields,
            starter=self.starter(),
            editable=self.editable_parts(),
            variables=tuple(self.variables),
            rendered=prompt.as_text(),
            rendered_fields={
                "system": prompt.system,
                "user": prompt.user,
                "prefill": prompt.prefill,
            },
            examples=turns,
            fixed_variables=dict(self.fixed_variables),
        )

    def self_test(
        self, judge: graders.Judge | None = None, case: Case | None = None
    ) -> graders.SelfTestReport:
        """Return the rubric's verdict on its own known-good and known-bad samples, graded as
        if the reference solution had produced them for the first test case, or `case` (so
        prompt-side criteria see a good prompt, and per-case expectations have a case)."""
        case = case or self.cases.first()
        fields, examples = self.compose(self.solution)
        return graders.self_test(
            self.parsed_rubric,
            case.as_grader_case() if case else None,
            self.grader_submission(fields, examples, case),
            judge=judge,
            # A sample's own variables: the solution rendered for them, as the runner would.
            render=lambda sample_case: self.grader_submission(fields, examples, sample_case),
        )

    def render(self, values: PromptValues, case: Case | None) -> RenderedPrompt:
        """Return the prompt the model receives for these values and this test case."""
        return self.prompt(*self.compose(values), case)

    def first_visible_case(self) -> Case | None:
        return next((c for c in self.cases.all() if not c.hidden), None)


MAX_CASE_WEIGHT = 100


class Case(models.Model):
    """A test case: values for the exercise's variables, and what a good answer looks like."""

    exercise = models.ForeignKey(Exercise, models.CASCADE, related_name="cases")
    name = models.CharField(max_length=CASE_NAME_CHARS)  # as each of its runs copies it
    position = models.PositiveIntegerField(default=0)
    variables = models.JSONField(default=dict, blank=True)
    # Whether the learner sees this case's input, output and feedback (Moodle
    # CodeRunner's choices): always, never, or only when it passed / failed.
    visibility = models.CharField(
        max_length=12,
        choices=[(v, v.replace("_", " ")) for v in graders.VISIBILITY],
        default="show",
    )
    reference = models.TextField(blank=True, help_text="An optional reference answer")
    expected = models.JSONField(default=dict, blank=True)
    weight = models.FloatField(default=1.0)

    class Meta:
        ordering = ("position", "id")
        verbose_name = "test case"

    def __str__(self) -> str:
        return self.name

    @property
    def hidden(self) -> bool:
        """Return whether the case's input is kept off the exercise page."""
        return self.visibility != "show"

    def as_grader_case(self) -> graders.Case:
        return graders.Case(
            name=self.name,
            variables=self.variables,
            reference=self.reference,
            expected=self.expected,
            weight=self.weight,
            visibility=self.visibility,
        )


class BackgroundJob(models.Model):
    """A job of the worker claimed as an attempt is (lessons.authoring.jobs): when its message
    was last published, and the lease of the worker running it; the reconciler publishes it
    again when either is too old."""

    QUEUED, RUNNING, DONE, ERROR = "queued", "running", "done", "error"
    STATUS_CHOICES = [(QUEUED, "Queued"), (RUNNING, "Running"), (DONE, "Done"), (ERROR, "Error")]

    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=QUEUED)
    error = models.TextField(blank=True)
    published_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    deliveries = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    # What a claim loads with the job (lessons.authoring.jobs.claim).
    RELATED: tuple[str, ...] = ("exercise", "requested_by")

    class Meta:
        abstract = True

    @property
    def is_final(self) -> bool:
        return self.status in (self.DONE, self.ERROR)


class Regrade(BackgroundJob):
    """A background re-grade of an exercise's learner attempts from their stored outputs."""

    exercise = models.ForeignKey(Exercise, models.CASCADE, related_name="regrades")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+"
    )
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0, help_text="Attempts whose score changed")
    # The id of the last attempt regraded: a fresh delivery goes on after it (attempts are
    # taken in id order; a count of those done would skip some once earlier ones are deleted).
    after = models.UUIDField(null=True, blank=True)
    # The exercise's digest when it was asked for (publishing.checked_definition): an edit
    # saved meanwhile stops it. Empty on regrades from before it was kept.
    definition = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"Regrade of {self.exercise} ({self.status}, {self.done}/{self.total})"

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100


# A worker takes a queued attempt within a second, or a few in a class's burst.
REFERENCE_QUEUED_TOO_LONG = timedelta(seconds=15)


class PublishCheck(models.Model):
    """A run of the reference solution that decides whether an exercise may be published, or
    (after an edit of a published exercise) whether it still passes its own rubric."""

    PUBLISH, RECHECK = "publish", "recheck"
    CHECKING, PASSED, FAILED = "checking", "passed", "failed"
    STATUS_CHOICES = [(CHECKING, "Checking"), (PASSED, "Passed"), (FAILED, "Failed")]

    exercise = models.ForeignKey(Exercise, models.CASCADE, related_name="publish_checks")
    # The run of the reference solution; none when it could not even be run (the check
    # failed at once, saying why), or once deleted with the account that started it (the
    # decision stays: instructors are still told of a failing check).
    reference = models.OneToOneField(
        "sandbox.Attempt", models.SET_NULL, null=True, blank=True, related_name="publish_check"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+"
    )
    reason = models.CharField(
        max_length=10, choices=[(PUBLISH, "Publish"), (RECHECK, "Check of a published exercise")]
    )
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=CHECKING)
    # A digest of what the check depends on (prompt parts, cases, rubric, model settings,
    # solution) when it started: an edit that leaves it alone starts no new check.
    definition = models.CharField(max_length=64)
    problems = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Until when the worker deciding it (its self-test: judge calls) holds it: the reconciler
    # decides it only once it has none, or it expired (that worker died).
    deciding_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=("exercise", "-created_at"), name="publish_check_latest"),
            models.Index(
                fields=("created_at",),
                condition=models.Q(status="checking"),
                name="publish_check_unfinished",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} check of {self.exercise} ({self.status})"

    @property
    def waiting_for_a_worker(self) -> bool:
        """Whether its reference run has been queued longer than a running worker leaves one
        (REFERENCE_QUEUED_TOO_LONG): no worker may be running."""
        reference = self.reference
        if reference is None or reference.status != reference.QUEUED:
            return False
        return timezone.now() - reference.created_at > REFERENCE_QUEUED_TOO_LONG

    @property
    def is_final(self) -> bool:
        return self.status != self.CHECKING


class JudgeCalibration(BackgroundJob):
    """One calibration of one judge criterion: its outcomes on labelled outputs measured
    against the labels (lessons.authoring.calibrating). Kept, one row per run, so every
    version of the judge prompt keeps its figures."""

    exercise = models.ForeignKey(Exercise, models.CASCADE, related_name="calibrations")
    criterion_id = models.CharField(max_length=100)
    # The judge's version: graders.reuse.version of its definition (calibrating.judge_version).
    prompt_version = models.CharField(max_length=12)
    criterion = models.JSONField()  # its definition as calibrated (Criterion.to_dict())
    labels = models.JSONField(default=list)  # graders.calibration.Label.to_dict(), in order
    outcomes = models.JSONField(default=list)  # [outcome, detail] of each label judged so far
    n = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    # The figures, once done; None where undefined (graders.calibration).
    accuracy = models.FloatField(null=True, blank=True)
    kappa = models.FloatField(null=True, blank=True)
    false_pass_rate = models.FloatField(null=True, blank=True)
    needs_review = models.PositiveIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"Calibration of {self.criterion_id} on {self.exercise} ({self.status})"

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.n) if self.n else 100

    def figures(self) -> graders.calibration.Calibration:
        """Return the figures of the outputs judged so far (graders.calibration.measure)."""
        return graders.calibration.measure(
            (label["met"], outcome)
            for label, (outcome, _) in zip(self.labels, self.outcomes, strict=False)
        )

    def misjudged(self) -> list[tuple[dict, str, str]]:
        """Return (label, outcome, detail) of each output judged so far whose outcome the
        label disagrees with (a needs-review is not a pass)."""
        return [
            (label, outcome, detail)
            for label, (outcome, detail) in zip(self.labels, self.outcomes, strict=False)
            if label["met"] != (outcome == graders.calibration.PASSED)
        ]


class HealthCheck(BackgroundJob):
    """One replay of a course's published exercises: each one's reference solution (it should
    pass) and known-bad prompts (they should fail), run on its configured backend
    (lessons.authoring.health). Its rows are the report: exercise, check, expected, got."""

    RELATED = ("course", "requested_by")

    course = models.ForeignKey(Course, models.CASCADE, related_name="health_checks")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    exercise_ids = models.JSONField(default=list)  # the exercises to check, in order
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)  # exercises checked so far
    rows = models.JSONField(default=list)  # one dict per check: exercise, check, expected, got
    drifted = models.PositiveIntegerField(default=0)  # rows whose result is not the expected
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"Health check of {self.course} ({self.status}, {self.done}/{self.total})"

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100


# The review models live with the code that reads them; importing them here registers them.
from lessons.review.models import (  # noqa: E402
    AuditEntry,
    Cohort,
    Deadline,
    Decision,
    Membership,
    Override,
    Progress,
    ReviewItem,
)

__all__ = [
    "AuditEntry",
    "Case",
    "Cohort",
    "Course",
    "Deadline",
    "Decision",
    "Exercise",
    "HealthCheck",
    "JudgeCalibration",
    "Lesson",
    "Membership",
    "Override",
    "Progress",
    "PublishCheck",
    "Regrade",
    "ReviewItem",
]
