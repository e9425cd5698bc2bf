"""Course folders: YAML for structure, Markdown for prose, loaded all-or-nothing.

    course.yaml              slug, title, description, lessons (in order)
    lessons/NN-slug.md       a lesson's body, named by course.yaml
    exercises/slug.yaml      one exercise each, named by course.yaml

Every problem is reported with its file, line and field, and if there is any
problem nothing in the database changes. Loading twice changes nothing the
second time: rows are matched by slug (test cases by name) and updated in place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction

import graders
from lessons.models import Case, Course, Exercise, Lesson
from sandbox.backends import BACKENDS
from sandbox.backends.stub import StubRuleError, parse_script
from sandbox.prompting import PROMPT_FIELDS

SLUG_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class CourseFilesInvalid(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class LineMap(dict):
    """A mapping read from YAML that remembers the line of each key."""

    lines: dict[str, int]
    line: int


class LineLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        mapping = LineMap(super().construct_mapping(node, deep=True))
        mapping.line = node.start_mark.line + 1
        mapping.lines = {
            str(key.value): key.start_mark.line + 1
            for key, _ in node.value
            if hasattr(key, "value")
        }
        return mapping


LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, LineLoader.construct_mapping
)


PATH_PART = re.compile(r"\.?([A-Za-z_]+)|\[(\d+)\]")


def line_of(data: Any, key: str, inner: str = "") -> int:
    """Return the line of data[key], or of the deepest part of `inner` found below it.

    A path such as "rules[1].if" walks mappings by key and lists by index.
    """
    if not isinstance(data, LineMap):
        return 0
    root = key.split(".")[0].split("[")[0]
    line = data.lines.get(root, data.line)
    node = data.get(root)
    for name, index in PATH_PART.findall(inner):
        if name and isinstance(node, LineMap) and name in node:
            line, node = node.lines.get(name, line), node[name]
        elif index and isinstance(node, list) and int(index) < len(node):
            node = node[int(index)]
            line = node.line if isinstance(node, LineMap) else line
        else:
            break
    return line


def rubric_path(rubric: Any, error: graders.RubricError) -> str:
    """Return the path of the criterion a rubric error names, e.g. "criteria[2].params"."""
    criteria = rubric.get("criteria") if isinstance(rubric, dict) else None
    if not isinstance(criteria, list):
        return error.field
    top = error.criterion.split(".")[0]
    for i, criterion in enumerate(criteria):
        if isinstance(criterion, dict) and criterion.get("id") == top:
            return f"criteria[{i}].{error.field}"
    return error.field


@dataclass
class Reader:
    """Collects problems while reading one course folder."""

    root: Path
    problems: list[Problem] = field(default_factory=list)

    def problem(self, path: Path, data: Any, key: str, message: str, inner: str = "") -> None:
        """Record a problem at the line of `key` in `data`, or deeper at `inner`, a path
        such as "rules[1].if" within data[key]."""
        self.problems.append(Problem(self.relative(path), line_of(data, key, inner), key, message))

    def relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)

    def read_text(self, path: Path, owner: Path, data: Any, key: str) -> str | None:
        if not path.is_file():
            self.problem(owner, data, key, f"file {self.relative(path)} does not exist")
            return None
        return path.read_text(encoding="utf-8")

    def read_yaml(self, path: Path, owner: Path | None = None, data: Any = None, key: str = ""):
        text = self.read_text(path, owner or path, data, key) if owner else None
        if owner is None:
            if not path.is_file():
                self.problems.append(Problem(self.relative(path), 0, "", "file does not exist"))
                return None
            text = path.read_text(encoding="utf-8")
        if text is None:
            return None
        try:
            value = yaml.load(text, Loader=LineLoader)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            self.problems.append(
                Problem(
                    self.relative(path), mark.line + 1 if mark else 0, "", f"not valid YAML: {e}"
                )
            )
            return None
        if not isinstance(value, dict):
            self.problems.append(Problem(self.relative(path), 1, "", "must be a YAML mapping"))
            return None
        return value

    def text_field(self, path, data, key, required=True, default="") -> str:
        value = data.get(key, default)
        if value is None:
            value = default
        if not isinstance(value, str) or (required and not value.strip()):
            self.problem(path, data, key, "is required (text)" if required else "must be text")
            return default
        return value

    def slug_field(self, path, data, key="slug") -> str:
        value = self.text_field(path, data, key)
        if value and not set(value) <= SLUG_CHARS:
            self.problem(path, data, key, f"{value!r} may use only a-z, 0-9, - and _")
        return value


def read_course(root: Path) -> dict[str, Any]:
    """Return the course folder as plain data ready to save, or raise CourseFilesInvalid."""
    reader = Reader(root)
    course_path = root / "course.yaml"
    data = reader.read_yaml(course_path)
    if data is None:
        raise CourseFilesInvalid(reader.problems)
    course = {
        "slug": reader.slug_field(course_path, data),
        "title": reader.text_field(course_path, data, "title"),
        "description": reader.text_field(course_path, data, "description", required=False),
        "lessons": [],
    }
    lessons = data.get("lessons")
    if not isinstance(lessons, list) or not lessons:
        reader.problem(course_path, data, "lessons", "needs a list of at least one lesson")
        lessons = []
    for i, lesson_data in enumerate(lessons):
        key = f"lessons[{i}]"
        if not isinstance(lesson_data, dict):
            reader.problem(course_path, data, key, "must be a mapping with slug, title, file")
            continue
        lesson = {
            "slug": reader.slug_field(course_path, lesson_data),
            "title": reader.text_field(course_path, lesson_data, "title"),
            "body": "",
            "exercises": [],
        }
        body_name = reader.text_field(course_path, lesson_data, "file")
        if body_name:
            lesson["body"] = (
                reader.read_text(root / body_name, course_path, lesson_data, "file") or ""
            )
        exercise_files = lesson_data.get("exercises", [])
        if not isinstance(exercise_files, list):
            reader.problem(course_path, lesson_data, "exercises", "must be a list of file names")
            exercise_files = []
        for j, name in enumerate(exercise_files):
            if not isinstance(name, str):
                reader.problem(course_path, lesson_data, f"exercises[{j}]", "must be a file name")
                continue
            path = root / name
            exercise_data = reader.read_yaml(path, course_path, lesson_data, "exercises")
            if exercise_data is not None:
                lesson["exercises"].append(read_exercise(reader, path, exercise_data))
        course["lessons"].append(lesson)
    check_unique(reader, course_path, data, course)
    if reader.problems:
        raise CourseFilesInvalid(reader.problems)
    return course


def check_unique(reader: Reader, path: Path, data, course: dict) -> None:
    seen: set[str] = set()
    for lesson in course["lessons"]:
        if lesson["slug"] in seen:
            reader.problem(path, data, "lessons", f"lesson slug {lesson['slug']!r} is used twice")
        seen.add(lesson["slug"])
        slugs = [e["slug"] for e in lesson["exercises"]]
        for slug in {s for s in slugs if slugs.count(s) > 1}:
            reader.problem(
                path, data, "lessons", f"exercise slug {slug!r} is used twice in {lesson['slug']}"
            )


def read_exercise(reader: Reader, path: Path, data: dict) -> dict[str, Any]:
    exercise: dict[str, Any] = {
        "slug": reader.slug_field(path, data),
        "title": reader.text_field(path, data, "title"),
        "instructions": reader.text_field(path, data, "instructions"),
    }
    prompt = data.get("prompt")
    if not isinstance(prompt, dict):
        reader.problem(path, data, "prompt", "needs a mapping with editable and starter text")
        prompt = LineMap()
    editable = prompt.get("editable", ["user"])
    if not isinstance(editable, list) or not editable or not set(editable) <= set(PROMPT_FIELDS):
        reader.problem(
            path, prompt, "prompt.editable", f"must list some of {', '.join(PROMPT_FIELDS)}"
        )
        editable = ["user"]
    exercise["editable_fields"] = editable
    for name in PROMPT_FIELDS:
        exercise[f"starter_{name}"] = reader.text_field(path, prompt, name, required=False)
    exercise["slots"] = read_parts(reader, path, prompt, "slots", ("name", "text"))
    exercise["examples"] = read_parts(reader, path, prompt, "examples", ("role", "text"))
    for i, example in enumerate(exercise["examples"]):
        if example["role"] not in ("user", "assistant"):
            where = f"examples[{i}]"
            reader.problem(path, prompt, "prompt.examples", "role must be user or assistant", where)
    exercise["status"] = data.get("status", Exercise.PUBLISHED)
    if exercise["status"] not in (Exercise.DRAFT, Exercise.PUBLISHED):
        reader.problem(path, data, "status", "must be draft or published")

    variables = data.get("variables", [])
    if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables):
        reader.problem(path, data, "variables", "must be a list of names")
        variables = []
    exercise["variables"] = variables
    fixed = data.get("fixed_variables", {})
    if not isinstance(fixed, dict) or not all(isinstance(v, str) for v in fixed.values()):
        reader.problem(path, data, "fixed_variables", "must map names to text")
        fixed = {}
    exercise["fixed_variables"] = dict(fixed)

    model = data.get("model", {})
    if not isinstance(model, dict):
        reader.problem(path, data, "model", "must be a mapping")
        model = LineMap()
    backend = model.get("backend", "stub")
    if backend not in BACKENDS:
        reader.problem(
            path, model, "model.backend", f"{backend!r} is not one of {', '.join(BACKENDS)}"
        )
    exercise["backend"] = backend
    exercise["model_name"] = reader.text_field(
        path, model, "name", required=False, default="scripted"
    )
    exercise["temperature"] = number(reader, path, model, "temperature", 0.0, 0, 2)
    exercise["max_tokens"] = int(number(reader, path, model, "max_tokens", 256, 1, 32000))

    stub = data.get("stub", {})
    try:
        parse_script(stub)
    except StubRuleError as e:
        reader.problem(path, data, "stub", f"{e.field}: {e.message}", e.field.removeprefix("stub"))
    exercise["stub"] = plain(stub)

    exercise["rubric"] = plain(data.get("rubric"))
    try:
        graders.load_rubric(exercise["rubric"])
    except graders.RubricError as e:
        reader.problem(path, data, "rubric", str(e), rubric_path(exercise["rubric"], e))

    exercise["cases"] = read_cases(reader, path, data, [v for v in variables if v not in fixed])
    for key in ("hints",):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            reader.problem(path, data, key, "must be a list of texts")
            value = []
        exercise[key] = list(value)
    exercise["solution"] = prompt_fields(reader, path, data, "solution", data.get("solution"))
    bad = data.get("known_bad", [])
    if not isinstance(bad, list):
        reader.problem(path, data, "known_bad", "must be a list of prompts")
        bad = []
    exercise["known_bad"] = [
        prompt_fields(reader, path, data, f"known_bad[{i}]", b) for i, b in enumerate(bad)
    ]
    return exercise


PROMPT_VALUE_KEYS = (*PROMPT_FIELDS, "slots", "examples")


def prompt_fields(reader: Reader, path: Path, data, key: str, value: Any) -> dict:
    """Return a prompt (some of system, user, prefill, slots {name: text}, examples
    {index: text}) from the files, or report it."""
    ok = isinstance(value, dict) and value and set(value) <= set(PROMPT_VALUE_KEYS)
    if ok:
        ok = all(isinstance(value[k], str) for k in PROMPT_FIELDS if k in value) and all(
            isinstance(value.get(k, {}), dict) for k in ("slots", "examples")
        )
    if not ok:
        reader.problem(path, data, key, f"must map some of {', '.join(PROMPT_VALUE_KEYS)}")
        return {}
    return plain(value)


def read_parts(reader: Reader, path: Path, prompt, key: str, required: tuple[str, ...]) -> list:
    """Return the prompt's slots or example turns: mappings with `required` keys as text."""
    parts = prompt.get(key, [])
    if not isinstance(parts, list):
        reader.problem(path, prompt, f"prompt.{key}", "must be a list")
        return []
    result = []
    for i, part in enumerate(parts):
        if not isinstance(part, dict) or not all(isinstance(part.get(k), str) for k in required):
            message = f"item {i + 1} needs {', '.join(required)} (text)"
            reader.problem(path, prompt, f"prompt.{key}", message, f"{key}[{i}]")
            continue
        result.append({**plain(part), "editable": bool(part.get("editable", False))})
    return result


def read_cases(reader: Reader, path: Path, data, variables: list[str]) -> list[dict]:
    cases = data.get("cases")
    if not isinstance(cases, list) or not cases:
        reader.problem(path, data, "cases", "needs a list of at least one test case")
        return []
    result, names = [], set()
    for i, case in enumerate(cases):
        key = f"cases[{i}]"
        if not isinstance(case, dict):
            reader.problem(path, data, key, "must be a mapping with name and vars")
            continue
        name = reader.text_field(path, case, "name")
        if name in names:
            reader.problem(path, case, "name", f"{key}: the name {name!r} is used twice")
        names.add(name)
        values = case.get("vars", {})
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            reader.problem(path, case, "vars", f"{key}: must map variable names to text")
            values = {}
        missing = sorted(set(variables) - set(values))
        if missing:
            reader.problem(path, case, "vars", f"{key}: no value for {', '.join(missing)}")
        undeclared = sorted(set(values) - set(variables))
        if undeclared:
            reader.problem(path, case, "vars", f"{key}: {', '.join(undeclared)} not in variables")
        expected = case.get("expected", {})
        if not isinstance(expected, dict):
            reader.problem(path, case, "expected", f"{key}: must be a mapping")
            expected = {}
        result.append(
            {
                "name": name,
                "variables": dict(values),
                "visibility": visibility(reader, path, case),
                "reference": reader.text_field(path, case, "reference", required=False),
                "expected": plain(expected),
                "weight": number(reader, path, case, "weight", 1.0, 0, 100),
            }
        )
    return result


def visibility(reader: Reader, path: Path, case) -> str:
    value = case.get("visibility", "show")
    if value not in graders.VISIBILITY:
        reader.problem(path, case, "visibility", f"must be one of {', '.join(graders.VISIBILITY)}")
        return "show"
    return value


def number(reader: Reader, path: Path, data, key: str, default: float, low: float, high: float):
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        reader.problem(path, data, key, f"must be a number from {low} to {high}, not {value!r}")
        return default
    return value


def plain(value: Any) -> Any:
    """Return YAML data as plain dicts and lists (JSON-ready, no line maps)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def load_course(root: Path) -> Course:
    """Read a course folder and save it: all of it, or (on any problem) nothing."""
    data = read_course(root)
    with transaction.atomic():
        course, _ = Course.objects.update_or_create(
            slug=data["slug"], defaults={"title": data["title"], "description": data["description"]}
        )
        kept_lessons = []
        for position, lesson_data in enumerate(data["lessons"]):
            lesson, _ = Lesson.objects.update_or_create(
                course=course,
                slug=lesson_data["slug"],
                defaults={
                    "title": lesson_data["title"],
                    "body": lesson_data["body"],
                    "position": position,
                },
            )
            kept_lessons.append(lesson.id)
            save_exercises(lesson, lesson_data["exercises"])
        remove_unused(Lesson.objects.filter(course=course).exclude(id__in=kept_lessons))
    return course


def save_exercises(lesson: Lesson, exercises: list[dict]) -> None:
    kept = []
    for position, data in enumerate(exercises):
        fields = {k: v for k, v in data.items() if k not in ("slug", "cases")}
        exercise, _ = Exercise.objects.update_or_create(
            lesson=lesson, slug=data["slug"], defaults={**fields, "position": position}
        )
        kept.append(exercise.id)
        kept_cases = []
        for case_position, case in enumerate(data["cases"]):
            row, _ = Case.objects.update_or_create(
                exercise=exercise, name=case["name"], defaults={**case, "position": case_position}
            )
            kept_cases.append(row.id)
        Case.objects.filter(exercise=exercise).exclude(id__in=kept_cases).delete()
    remove_unused(Exercise.objects.filter(lesson=lesson).exclude(id__in=kept))


def remove_unused(queryset) -> None:
    """Delete rows the files no longer name, unless learners have attempts on them."""
    model = queryset.model
    if model is Lesson:
        queryset = queryset.exclude(exercises__attempts__isnull=False)
    else:
        queryset = queryset.exclude(attempts__isnull=False)
    queryset.delete()
