"""Course folders: YAML for structure, Markdown for prose; imported all-or-nothing, exported
back to the same shape.

    course.yaml              slug, title, description, lessons (in order)
    lessons/NN-slug.md       a lesson's body, named by course.yaml
    exercises/slug.yaml      one exercise each, named by course.yaml

Import reads and checks every file before it writes anything, and reports every problem
with its file, line and field ("exercises/tagline.yaml:41: rubric.criteria[1].kind: …");
if there is any, nothing in the database changes. Importing twice changes nothing the second
time: rows are matched by slug (test cases by name) and updated in place. A lesson or
exercise the files no longer name is archived if learners have attempted it, and deleted if
not; naming it again brings it back. The format is documented in docs/course-format.md and
described by docs/course-format.schema.json.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar, cast

import yaml
from django.conf import settings
from django.db import transaction

import graders
from graders.reuse import subtree
from lessons.authoring import pitfalls, publishing
from lessons.authoring.editing import NOT_FINITE, CappedLoader, YamlRefused, non_finite_paths
from lessons.models import (
    EXAMPLE_KEYS,
    MAX_CASE_WEIGHT,
    PROMPT_VALUE_KEYS,
    SLOT_KEYS,
    Case,
    Course,
    Exercise,
    Lesson,
    PublishCheck,
    editable_entries,
    is_prompt_value,
    prompt_parts,
    split_editable,
)
from lessons.results import ROLES
from lessons.review import cohorts as joining
from sandbox.backends import BACKENDS
from sandbox.backends.stub import StubRuleError, parse_script
from sandbox.models import CASE_NAME_CHARS
from sandbox.prompting import PROMPT_FIELDS

SLUG = re.compile(r"^[a-z0-9_-]+$")

# The keys each mapping may hold, in the order export writes them.
COURSE_KEYS = ("slug", "title", "description", "position", "published", "lessons")
LESSON_KEYS = ("slug", "title", "file", "published", "exercises")
EXERCISE_KEYS = (
    "slug",
    "title",
    "status",
    "instructions",
    "prompt",
    "variables",
    "fixed_variables",
    "model",
    "stub",
    "cases",
    "rubric",
    "hints",
    "solution",
    "known_bad",
)
PROMPT_KEYS = ("editable", "allow_empty", *PROMPT_FIELDS, "slots", "examples")
MODEL_KEYS = (
    "backend",
    "name",
    "temperature",
    "max_tokens",
    "samples",
    "sample_rule",
    "samples_needed",
)
OLD_SAMPLE_KEY = "require_all_samples"  # read (true is sample_rule: all), never written
CASE_KEYS = ("name", "visibility", "vars", "reference", "expected", "weight")

# What an exercise file may leave out (the values the import then stores).
DEFAULT_EDITABLE = ["user"]
MODEL_DEFAULTS = {
    "backend": "stub",
    "name": "scripted",
    "temperature": 0.0,
    "max_tokens": 256,
    "samples": 1,
    "sample_rule": "mean",
    "samples_needed": 0,
}
MAX_SAMPLES = 20


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


# Reading YAML with line numbers


class LineMap(dict):
    """A mapping read from YAML that remembers its own line and the line of each key."""

    lines: dict[str, int]
    line: int


class LineList(list):
    """A list read from YAML that remembers its own line and the line of each item."""

    lines: list[int]
    line: int


class LineLoader(CappedLoader):
    """A safe loader whose mappings and lists know their lines, and which records keys that
    appear twice in one mapping (plain YAML would silently keep the last). It is the editor's
    capped loader (size, nesting depth, alias expansion: see CappedLoader)."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, int]] = []

    def construct_mapping(self, node, deep=False):
        # A merge key's mapping (<<: *defaults) comes first, and the mapping's own keys may
        # override it: only two own keys of one name are a duplicate.
        own = [key for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge"]
        mapping = LineMap(super().construct_mapping(node, deep=True))  # merged keys go first
        mapping.line = node.start_mark.line + 1
        mapping.lines = {}
        for key, _ in node.value:
            if hasattr(key, "value"):
                mapping.lines[str(key.value)] = key.start_mark.line + 1
        names = set()
        for key in own:
            name = str(key.value) if hasattr(key, "value") else ""
            if name and name in names:
                self.duplicates.append((name, key.start_mark.line + 1))
            names.add(name)
        return mapping

    def construct_line_list(self, node):
        items = LineList(self.construct_sequence(node, deep=True))
        items.line = node.start_mark.line + 1
        items.lines = [item.start_mark.line + 1 for item in node.value]
        return items


LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, LineLoader.construct_mapping
)
LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, LineLoader.construct_line_list
)

PATH_PART = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]")


def line_of(data: Any, path: str) -> int:
    """Return the line of the value at `path` in data read by LineLoader, or of the deepest
    part of the path that exists (a missing key is reported at its mapping's line).

    A path such as "stub.rules[1].if[0]" walks mappings by key and lists by index.
    """
    line = getattr(data, "line", 0)
    node = data
    for name, index in PATH_PART.findall(path):
        if name and isinstance(node, LineMap) and name in node:
            line, node = node.lines.get(name, line), node[name]
        elif index and isinstance(node, LineList) and int(index) < len(node):
            line, node = node.lines[int(index)], node[int(index)]
        else:
            break
    return line


def join(prefix: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else key


def plain(value: Any) -> Any:
    """Return YAML data as plain dicts and lists (JSON-ready, no line maps)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def not_text(value: Any) -> str:
    """Return what is wrong with a value where text belongs; YAML reads an unquoted 2024,
    1.5, yes or null as a number, true/false or null, which quotes keep as text."""
    if value is None:
        return 'must be text, not null (nothing); write "" for an empty text'
    if isinstance(value, (bool, int, float)):
        return f"must be text, not {value!r}; to write it as text, put it in quotes"
    return f"must be text, not {value!r}"


class Unreadable(Exception):
    """A course file that is not read: why, as words that follow its name."""


# The safe loader's words for a tag it builds nothing for (!!python/object, !foo).
UNKNOWN_TAG = re.compile(r"could not determine a constructor for the tag '(.*)'")


@dataclass
class Reader:
    """Collects problems while reading one course folder."""

    root: Path
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)  # imported anyway
    texts: dict[Path, str] = field(default_factory=dict)  # by resolved path: each read once
    data: dict[Path, LineMap | None] = field(default_factory=dict)
    # Each exercise file read and checked once, however many times course.yaml names it.
    exercises: dict[Path, dict[str, Any] | None] = field(default_factory=dict)

    def relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)

    def read_text(self, name: str) -> tuple[Path, str]:
        """Return the resolved path and the text of the course file `name`, or raise
        Unreadable: a path that leads outside the course folder (through .., an absolute
        path or a symbolic link), not a regular file, over MAX_COURSE_FILE_BYTES, not UTF-8,
        or binary, or a name the system cannot use (too long, a symlink loop; the YAML loader
        refuses a NUL character)."""
        path = self.root / name
        limit = settings.MAX_COURSE_FILE_BYTES
        try:
            resolved = path.resolve()
            if not resolved.is_relative_to(self.root.resolve()):
                normal = str(resolved) == os.path.normpath(path)
                leads = "" if normal else f" (it leads to {resolved})"
                raise Unreadable(f"is outside the course folder{leads}; name a file inside it")
            if not resolved.exists():
                raise Unreadable("does not exist")
            if not resolved.is_file():
                raise Unreadable("is not a regular file")
            if resolved in self.texts:
                return resolved, self.texts[resolved]
            with resolved.open("rb") as f:
                size = os.fstat(f.fileno()).st_size
                data = f.read(limit + 1) if size <= limit else b""
        except RuntimeError:  # pathlib's resolve on a symbolic link loop
            raise Unreadable("is not a usable file name (a loop of symbolic links)") from None
        except PermissionError as e:
            raise Unreadable(f"cannot be read ({e.strerror}); let this user read it") from None
        except (OSError, ValueError) as e:
            reason = getattr(e, "strerror", None) or str(e)
            raise Unreadable(f"is not a usable file name ({reason})") from None
        if size > limit or len(data) > limit:
            raise Unreadable(
                f"is {max(size, len(data))} bytes; at most {limit} (MAX_COURSE_FILE_BYTES)"
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            hint = "; it looks like UTF-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
            raise Unreadable(
                f"is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}{hint})"
            ) from None
        nul = data.find(b"\0")
        if nul >= 0:
            raise Unreadable(f"is binary, not text (a NUL byte at offset {nul})")
        self.texts[resolved] = text
        return resolved, text

    def read_yaml(self, path: Path, text: str | None = None) -> LineMap | None:
        """Return the mapping the YAML text of path holds (read by read_text if not given),
        or report why not (once a file)."""
        if path in self.data:
            return self.data[path]
        if text is None:
            try:
                _, text = self.read_text(os.path.relpath(path, self.root))
            except Unreadable as e:
                self.problems.append(Problem(self.relative(path), 0, "", str(e)))
                return None
        self.data[path] = value = self.parse_yaml(path, text)
        return value

    def parse_yaml(self, path: Path, text: str) -> LineMap | None:
        try:
            loader = LineLoader(text)
        except YamlRefused as e:
            self.problems.append(Problem(self.relative(path), e.line, "", e.message))
            return None
        try:
            value = loader.get_single_data()
        except YamlRefused as e:
            self.problems.append(Problem(self.relative(path), e.line, "", e.message))
            return None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = mark.line + 1 if mark else 0
            tag = UNKNOWN_TAG.match(getattr(e, "problem", None) or "")
            message = (
                f"the YAML tag {tag.group(1).replace('tag:yaml.org,2002:', '!!')} is not "
                "allowed; course files hold only text, numbers, true/false, null, lists and "
                "mappings"
                if tag
                else f"not valid YAML: {e}"
            )
            self.problems.append(Problem(self.relative(path), line, "", message))
            return None
        finally:
            loader.dispose()
        for key, line in loader.duplicates:
            self.problems.append(
                Problem(self.relative(path), line, key, "appears twice in the same mapping")
            )
        if not isinstance(value, LineMap):
            self.problems.append(Problem(self.relative(path), 1, "", "must be a YAML mapping"))
            return None
        return value


@dataclass
class Source:
    """One file being read: problems are reported at the line of the field they name."""

    reader: Reader
    path: Path
    data: LineMap

    def problem(self, where: str, message: str) -> None:
        self.reader.problems.append(self.at(where, message))

    def warning(self, where: str, message: str) -> None:
        self.reader.warnings.append(self.at(where, message))

    def at(self, where: str, message: str) -> Problem:
        return Problem(self.reader.relative(self.path), line_of(self.data, where), where, message)

    def known_keys(self, node: dict, prefix: str, allowed: Iterable[str]) -> None:
        allowed = tuple(allowed)
        for key in node:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.8)
                guess = f"did you mean {close[0]}? " if close else ""
                message = f"unknown field; {guess}allowed: {', '.join(allowed)}"
                self.problem(join(prefix, str(key)), message)

    def text(
        self, node: dict, prefix: str, key: str, required=True, max_length=0, setting=""
    ) -> str:
        value = node.get(key)
        if value is None:
            value = ""
        where = join(prefix, key)
        if not isinstance(value, str):
            self.problem(where, not_text(value))
            return ""
        if required and not value.strip():
            self.problem(where, "is required (text)")
        elif max_length and len(value) > max_length:
            named = f" ({setting})" if setting else ""
            self.problem(where, f"is {len(value)} characters; at most {max_length}{named}")
        return value

    def slug(self, node: dict, prefix: str, key: str = "slug") -> str:
        value = self.text(node, prefix, key, max_length=50)
        if value and not SLUG.match(value):
            self.problem(join(prefix, key), f"{value!r} may use only a-z, 0-9, - and _")
        return value

    def number(self, node: dict, prefix: str, key: str, default, low, high, whole=False):
        value = node.get(key, default)
        kinds = (int,) if whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
            kind = "a whole number" if whole else "a number"
            self.problem(join(prefix, key), f"must be {kind} from {low} to {high}, not {value!r}")
            return default
        return value

    def flag(self, node: dict, prefix: str, key: str, default: bool) -> bool:
        value = node.get(key, default)
        if not isinstance(value, bool):
            self.problem(join(prefix, key), f"must be true or false, not {value!r}")
            return default
        return value

    def texts(self, node: dict, prefix: str, key: str) -> list[str]:
        value = node.get(key)
        if value is None:  # "hints:" with nothing under it is none
            return []
        if not isinstance(value, list):
            self.problem(join(prefix, key), "must be a list of texts")
            return []
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.problem(join(join(prefix, key), i), not_text(item))
        return [item for item in value if isinstance(item, str)]

    def mapping(self, node: dict, prefix: str, key: str, what: str = "a mapping") -> LineMap:
        value = node.get(key)
        if value is None:
            return LineMap()
        if not isinstance(value, dict):
            self.problem(join(prefix, key), f"must be {what}")
            return LineMap()
        return cast(LineMap, value)  # what LineLoader reads


# Import: read and check


def read_course(root: Path) -> dict[str, Any]:
    """Return the course folder as plain data ready to save, or raise CourseFilesInvalid."""
    reader = Reader(root)
    course_path = root / "course.yaml"
    try:
        _, text = reader.read_text("course.yaml")
    except Unreadable as e:
        raise CourseFilesInvalid([Problem(reader.relative(course_path), 0, "", str(e))]) from None
    data = reader.read_yaml(course_path, text)
    if data is None:
        raise CourseFilesInvalid(reader.problems)
    src = Source(reader, course_path, data)
    src.known_keys(data, "", COURSE_KEYS)
    course: dict[str, Any] = {
        "slug": src.slug(data, ""),
        "title": src.text(data, "", "title", max_length=200),
        "description": src.text(
            data, "", "description", False, settings.MAX_MARKDOWN_CHARS, "MAX_MARKDOWN_CHARS"
        ),
        "position": src.number(data, "", "position", 0, 0, 1_000_000, whole=True),
        "published": src.flag(data, "", "published", True),
        "lessons": [],
    }
    lessons = data.get("lessons")
    if not isinstance(lessons, list) or not lessons:
        src.problem("lessons", "needs a list of at least one lesson")
        lessons = []
    for i, lesson_data in enumerate(lessons):
        where = join("lessons", i)
        if not isinstance(lesson_data, dict):
            src.problem(where, "must be a mapping with slug, title, file and exercises")
            continue
        lesson = read_lesson(src, lesson_data, where)
        course["lessons"].append(lesson)
    check_unique(src, course)
    if reader.problems:
        raise CourseFilesInvalid(reader.problems)
    course["warnings"] = reader.warnings
    return course


def read_lesson(src: Source, data: dict, where: str) -> dict[str, Any]:
    reader, root = src.reader, src.reader.root
    src.known_keys(data, where, LESSON_KEYS)
    lesson: dict[str, Any] = {
        "slug": src.slug(data, where),
        "title": src.text(data, where, "title", max_length=200),
        "published": src.flag(data, where, "published", True),
        "body": "",
        "exercises": [],
        "where": where,
    }
    body_name = src.text(data, where, "file")
    if body_name:
        try:
            _, body = reader.read_text(body_name)
        except Unreadable as e:
            src.problem(join(where, "file"), file_problem(reader, body_name, e))
        else:
            body = body.removeprefix("\ufeff")
            cap = settings.MAX_MARKDOWN_CHARS
            if len(body) > cap:
                message = f"{body_name} is {len(body)} characters; at most {cap}"
                src.problem(join(where, "file"), f"{message} (MAX_MARKDOWN_CHARS)")
            lesson["body"] = body
    names = data.get("exercises")
    if names is None:  # "exercises:" with nothing under it is none
        names = []
    if not isinstance(names, list):
        src.problem(join(where, "exercises"), "must be a list of file names")
        names = []
    for j, name in enumerate(names):
        at = join(join(where, "exercises"), j)
        if not isinstance(name, str) or not name:
            src.problem(at, "must be a file name, such as exercises/tagline.yaml")
            continue
        try:
            resolved, text = reader.read_text(name)
        except Unreadable as e:
            src.problem(at, file_problem(reader, name, e))
            continue
        if resolved not in reader.exercises:
            path = root / name
            exercise_data = reader.read_yaml(path, text)
            reader.exercises[resolved] = (
                None
                if exercise_data is None
                else read_exercise(Source(reader, path, exercise_data))
            )
        if (exercise := reader.exercises[resolved]) is not None:
            lesson["exercises"].append({**copy.deepcopy(exercise), "where": at})
    return lesson


def file_problem(reader: Reader, name: str, error: Unreadable) -> str:
    """Return what is wrong with the course file `name`: "lessons/01.md is not UTF-8 …"."""
    if str(error) == "does not exist":
        return f"{reader.relative(reader.root / name)} does not exist"
    return f"{name if name.isprintable() else repr(name)} {error}"


def check_unique(src: Source, course: dict) -> None:
    seen: set[str] = set()
    for lesson in course["lessons"]:
        if lesson["slug"] and lesson["slug"] in seen:
            src.problem(join(lesson["where"], "slug"), f"{lesson['slug']!r} is used twice")
        seen.add(lesson["slug"])
        slugs: set[str] = set()
        for exercise in lesson["exercises"]:
            if exercise["slug"] and exercise["slug"] in slugs:
                src.problem(
                    exercise["where"],
                    f"exercise slug {exercise['slug']!r} is used twice in {lesson['slug']}",
                )
            slugs.add(exercise["slug"])


def read_exercise(src: Source) -> dict[str, Any]:
    data = src.data
    problems_before = len(src.reader.problems)
    src.known_keys(data, "", EXERCISE_KEYS)
    exercise: dict[str, Any] = {
        "slug": src.slug(data, ""),
        "title": src.text(data, "", "title", max_length=200),
        "instructions": src.text(
            data, "", "instructions", False, settings.MAX_MARKDOWN_CHARS, "MAX_MARKDOWN_CHARS"
        ),
        "status": data.get("status", Exercise.PUBLISHED),
    }
    if exercise["status"] not in (Exercise.DRAFT, Exercise.PUBLISHED):
        src.problem("status", f"must be draft or published, not {exercise['status']!r}")
    exercise.update(read_prompt(src))

    variables = src.texts(data, "", "variables")
    exercise["variables"] = variables
    fixed = src.mapping(data, "", "fixed_variables", "a mapping of names to text")
    for name, value in fixed.items():
        if not isinstance(value, str):
            src.problem(join("fixed_variables", str(name)), not_text(value))
        elif name not in variables:
            src.problem(join("fixed_variables", str(name)), "is not listed in variables")
    exercise["fixed_variables"] = plain(fixed)
    exercise.update(read_model(src))

    stub = src.mapping(data, "", "stub", "a mapping with rules, default and judge")
    try:
        parse_script(stub)
    except StubRuleError as e:
        src.problem(e.field, e.message)
    exercise["stub"] = plain(stub)

    exercise["rubric"] = plain(data.get("rubric"))
    check_rubric(src, exercise["rubric"], "rubric")
    check_rubric_variables(src, exercise["rubric"], [*variables, *fixed], exercise["status"])

    unshared = [v for v in variables if v not in fixed]
    exercise["cases"] = read_cases(src, unshared, exercise["status"] == Exercise.DRAFT)
    check_case_values(src, exercise["rubric"], exercise["cases"], exercise["status"])
    exercise["hints"] = src.texts(data, "", "hints")
    exercise["solution"] = prompt_value(src, "solution", data.get("solution"), required=False)
    bad = data.get("known_bad", [])
    if not isinstance(bad, list):
        src.problem("known_bad", "must be a list of prompts")
        bad = []
    exercise["known_bad"] = [
        prompt_value(src, join("known_bad", i), b, required=True) for i, b in enumerate(bad)
    ]
    for where, message in pitfalls.placeholder_errors(exercise):
        src.problem(where, message)
    reported = {problem.field for problem in src.reader.problems[problems_before:]}
    for where in non_finite_paths(data):
        if where not in reported:  # the fields read as numbers name their own bounds
            src.problem(where, NOT_FINITE)
    model = Exercise(**{k: v for k, v in exercise.items() if k not in ("cases", "where")})
    if len(src.reader.problems) == problems_before:  # a rubric and cases that load
        first = Case(**exercise["cases"][0]) if exercise["cases"] else Case(name="")
        for where, message in sample_problems(model, first):
            src.problem(where, message)
    for where, message in pitfalls.setting_warnings(model):
        src.warning(where, message)
    return exercise


def sample_problems(exercise: Exercise, case: Case) -> list[tuple[str, str]]:
    """Return (field, message) for each rubric sample the rubric misjudges (a good one that
    fails, a bad one that passes), graded as the publish check's self-test grades them. A
    rubric that calls a judge is left to that check: reading files calls no model."""
    if exercise.parsed_rubric.calls_a_model():
        return []
    report = exercise.self_test(case=case)
    return [
        (f"rubric.samples.{r.expected}[{r.index}]", f"the rubric misjudges it: {r.describe()}")
        for r in report.misjudged
    ]


def read_prompt(src: Source) -> dict[str, Any]:
    prompt = src.mapping(src.data, "", "prompt", "a mapping with editable and starter text")
    src.known_keys(prompt, "prompt", PROMPT_KEYS)
    editable = prompt.get("editable", DEFAULT_EDITABLE)
    if not isinstance(editable, list) or not all(f in PROMPT_FIELDS for f in editable):
        src.problem("prompt.editable", f"must list some of {', '.join(PROMPT_FIELDS)}")
        editable = DEFAULT_EDITABLE
    allow_empty = prompt.get("allow_empty", [])
    if not isinstance(allow_empty, list) or any(f not in editable for f in allow_empty):
        src.problem("prompt.allow_empty", f"must list some of the editable {', '.join(editable)}")
        allow_empty = []
    result: dict[str, Any] = {"editable_fields": editable_entries(editable, allow_empty)}
    for name in PROMPT_FIELDS:
        result[f"starter_{name}"] = src.text(prompt, "prompt", name, required=False)
    for kind in ("slots", "examples"):
        result[kind], problems = prompt_parts(prompt.get(kind, []), kind)
        for problem in problems:
            at = (
                join("prompt", kind)
                if problem.index is None
                else join(join("prompt", kind), problem.index)
            )
            src.problem(join(at, problem.field) if problem.field else at, problem.message)
    return result


def read_model(src: Source) -> dict[str, Any]:
    model = src.mapping(src.data, "", "model")
    src.known_keys(model, "model", (*MODEL_KEYS, OLD_SAMPLE_KEY))
    backend = model.get("backend", MODEL_DEFAULTS["backend"])
    if not isinstance(backend, str) or backend not in BACKENDS:
        src.problem("model.backend", f"{backend!r} is not one of {', '.join(BACKENDS)}")
        backend = MODEL_DEFAULTS["backend"]
    name = model.get("name", MODEL_DEFAULTS["name"])
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        src.problem("model.name", "must be a model name (text, at most 100 characters)")
        name = MODEL_DEFAULTS["name"]
    samples = src.number(model, "model", "samples", 1, 1, MAX_SAMPLES, whole=True)
    return {
        "backend": backend,
        "model_name": name,
        "temperature": src.number(model, "model", "temperature", 0.0, 0, 2),
        "max_tokens": src.number(
            model, "model", "max_tokens", 256, 1, pitfalls.MAX_TOKENS, whole=True
        ),
        "samples": samples,
        **read_sample_rule(src, model, samples),
    }


def read_sample_rule(src: Source, model: dict, samples: int) -> dict[str, Any]:
    """Return the model's sample_rule and samples_needed, checked against its samples. An
    older file's require_all_samples: true reads as sample_rule: all."""
    every = src.flag(model, "model", OLD_SAMPLE_KEY, False)
    if OLD_SAMPLE_KEY in model and "sample_rule" in model:
        src.problem(join("model", OLD_SAMPLE_KEY), "give sample_rule only (true is all)")
    rule = graders.SampleRule(
        model.get("sample_rule", "all" if every else "mean"),
        src.number(model, "model", "samples_needed", 0, 0, MAX_SAMPLES, whole=True),
    )
    try:
        rule.check(samples)
    except graders.SampleRuleError as e:
        src.problem(join("model", e.field), e.message)
    return {"sample_rule": rule.kind, "samples_needed": rule.needed}


def prompt_value(src: Source, where: str, value: Any, required: bool) -> dict:
    """Return a prompt from the files (some of system, user, prefill; slots as {name: text};
    examples as {index: text}), or report it."""
    if value is None and not required:
        return {}
    if not is_prompt_value(value):
        src.problem(where, f"must map some of {', '.join(PROMPT_VALUE_KEYS)} to text")
        return {}
    return plain(value)


def check_rubric(src: Source, rubric: Any, prefix: str) -> None:
    """Report the rubric's first error at the field it names; `prefix` is where the rubric
    sits in the file ("" for a file that is a rubric)."""
    try:
        graders.load_rubric(rubric)
    except graders.RubricError as e:
        where = rubric_path(rubric, e, prefix)
        src.problem(where, f"criterion {e.criterion!r}: {e.message}" if e.criterion else e.message)


# Kinds whose params name the exercise's variables: param -> whether it holds a list.
VARIABLE_PARAMS = {"delimited_input": ("variable", False), "uses_variables": ("variables", True)}


def check_rubric_variables(src: Source, rubric: Any, declared: list[str], status: str) -> None:
    """Report a criterion naming a variable the exercise does not declare (delimited_input's
    `variable`, uses_variables' `variables`): a typo that would fail every attempt. In a
    draft (work under way, as the browser saves it), a warning."""
    try:
        loaded = graders.load_rubric(rubric)
    except graders.RubricError:
        return  # check_rubric reported it
    declared = [name for name in declared if isinstance(name, str)]  # fixed_variables: {1: a}
    its = ", ".join("{" + name + "}" for name in declared) or "none"
    for node in (n for c in loaded.criteria for n in subtree(c)):
        if node.kind not in VARIABLE_PARAMS:
            continue
        param, many = VARIABLE_PARAMS[node.kind]
        names = node.params[param] if many else [node.params[param]]
        for name in (n for n in names if n not in declared):
            message = f"{name!r} is not a variable of this exercise; its variables are {its}"
            where = rubric_path(
                rubric, graders.RubricError(message, node.id, f"params.{param}"), "rubric"
            )
            if status == Exercise.DRAFT:
                src.warning(where, f"criterion {node.id!r}: {message}; publishing will fail")
            else:
                src.problem(where, f"criterion {node.id!r}: {message}")


def rubric_path(rubric: Any, error: graders.RubricError, prefix: str) -> str:
    """Return the path of the field a rubric error names, e.g. "rubric.criteria[2].params".

    Sub-criteria are named "parent.child" by id (or by position from 1 when they have none).
    """
    path, node = prefix, rubric
    for name in error.criterion.split(".") if error.criterion else ():
        criteria = node.get("criteria") if isinstance(node, dict) else None
        if path != prefix and isinstance(node, dict):
            criteria = (node.get("params") or {}).get("criteria")
            path = join(path, "params")
        if not isinstance(criteria, list):
            break
        for i, criterion in enumerate(criteria):
            if isinstance(criterion, dict) and criterion.get("id", str(i + 1)) == name:
                path, node = join(join(path, "criteria"), i), criterion
                break
        else:
            break
    return join(path, error.field) if error.field else path


def read_cases(src: Source, variables: list[str], draft: bool) -> list[dict]:
    """Return the test cases; a draft may have none yet (one made in the browser starts so,
    and its export writes `cases: []`), a published exercise needs one to be graded."""
    cases = src.data.get("cases")
    if draft and cases == []:
        return []
    if not isinstance(cases, list) or not cases:
        if draft:
            src.problem("cases", "must be a list of test cases ([] while it has none)")
        else:
            src.problem("cases", "needs a list of at least one test case (a draft may have none)")
        return []
    result, names = [], set()
    for i, case in enumerate(cases):
        at = join("cases", i)
        if not isinstance(case, dict):
            src.problem(at, "must be a mapping with name and vars")
            continue
        row = read_case(src, case, at, variables)
        if row["name"] in names:
            src.problem(join(at, "name"), f"{row['name']!r} is used twice")
        names.add(row["name"])
        result.append(row)
    if result and not any(row["weight"] for row in result):
        where, message = join(join("cases", 0), "weight"), "at least one test case needs a weight"
        if draft:  # the browser saves such a draft: it scores 0, and its publish check fails
            src.warning(where, f"{message} above 0; publishing will fail")
        else:
            src.problem(where, f"{message} above 0")
    return result


def check_case_values(src: Source, rubric: Any, cases: list[dict], status: str) -> None:
    """Report, at a case's expected values, one the rubric cannot use (a from_case pattern
    RE2 cannot compile), and one it reads that the case lacks (an expected value a from_case
    names, the reference a similarity kind compares with): in a draft, a warning."""
    try:
        loaded = graders.load_rubric(rubric)
    except graders.RubricError:
        return  # check_rubric reported it
    for i, case in enumerate(cases):
        found = graders.Case(
            name=case["name"], expected=case["expected"], reference=case["reference"]
        )
        for problem in graders.case_problems(loaded, found):
            src.problem(join(join("cases", i), "expected"), problem)
        for where, problem in graders.missing_case_values(loaded, found):
            if status == Exercise.DRAFT:  # work under way, as the browser saves it: kept
                src.warning(join(join("cases", i), where), f"{problem}; publishing will fail")
            else:
                src.problem(join(join("cases", i), where), problem)


def read_case(src: Source, case: dict, at: str, variables: list[str] | None) -> dict[str, Any]:
    """Return one test case's fields; its vars must be exactly `variables` (any, if None)."""
    src.known_keys(case, at, CASE_KEYS)
    name = src.text(case, at, "name", max_length=CASE_NAME_CHARS)
    values = case.get("vars")
    if values is None:
        values = {}
    if not isinstance(values, dict):
        src.problem(join(at, "vars"), "must map variable names to text")
        values = {}
    for variable, value in values.items():
        if not isinstance(variable, str):
            message = f"must map variable names to text ({variable!r} is no name)"
            src.problem(join(at, "vars"), message)
        elif not isinstance(value, str):
            src.problem(join(join(at, "vars"), variable), not_text(value))
    given = set(values)  # a value that is not text is reported as that, not as missing
    values = {k: v for k, v in values.items() if isinstance(k, str) and isinstance(v, str)}
    if variables is not None:
        missing = sorted(set(variables) - given)
        if missing:
            src.problem(join(at, "vars"), f"no value for {', '.join(missing)}")
        for undeclared in sorted(set(values) - set(variables)):
            src.problem(join(join(at, "vars"), undeclared), "is not a variable of this exercise")
    visibility = case.get("visibility", "show")
    if visibility not in graders.VISIBILITY:
        src.problem(join(at, "visibility"), f"must be one of {', '.join(graders.VISIBILITY)}")
        visibility = "show"
    expected = plain(src.mapping(case, at, "expected"))
    if expected.get("role", ROLES[0]) not in ROLES:
        src.problem(join(join(at, "expected"), "role"), f"must be one of {', '.join(ROLES)}")
    return {
        "name": name,
        "variables": plain(values),
        "visibility": visibility,
        "reference": src.text(case, at, "reference", required=False),
        "expected": expected,
        "weight": src.number(case, at, "weight", 1.0, 0, MAX_CASE_WEIGHT),
    }


# One file on its own, outside a course folder (manage.py grade_output)

T = TypeVar("T")


def file_text(path: Path) -> tuple[Reader, str]:
    """Return a reader of the folder holding `path` and the file's text, read with the
    checks of a course file (size, UTF-8, not binary), or raise CourseFilesInvalid."""
    resolved = path.resolve()
    reader = Reader(resolved.parent)
    try:
        return reader, reader.read_text(resolved.name)[1]
    except Unreadable as e:
        raise CourseFilesInvalid([Problem(str(path), 0, "", str(e))]) from None


def read_file(path: Path, read: Callable[[Source], T]) -> T:
    """Return what `read` makes of the YAML mapping in `path`, or raise CourseFilesInvalid
    with every problem, each naming the file as given."""
    reader, text = file_text(path)
    data = reader.read_yaml(path.resolve(), text)
    value = read(Source(reader, path.resolve(), data)) if data is not None else None
    if reader.problems or value is None:
        raise CourseFilesInvalid([replace(p, file=str(path)) for p in reader.problems])
    return value


def read_rubric_file(src: Source) -> tuple[dict[str, Any], list[str] | None]:
    """Return the Exercise fields of a rubric file, and the variables its test cases give:
    an exercise file (a mapping with a `rubric` key, read and checked as import reads it),
    or a bare rubric mapping (None: cases give any)."""
    if "rubric" not in src.data:
        rubric = plain(src.data)
        check_rubric(src, rubric, "")
        return {"rubric": rubric}, None
    exercise = read_exercise(src)
    del exercise["cases"]
    return exercise, [v for v in exercise["variables"] if v not in exercise["fixed_variables"]]


def read_case_file(variables: list[str] | None) -> Callable[[Source], dict[str, Any]]:
    """Return the reader of a test case file: one case mapping, named after its file unless
    it says `name`, whose vars must be exactly `variables` (any, if None)."""

    def read(src: Source) -> dict[str, Any]:
        src.data.setdefault("name", src.path.stem)
        return read_case(src, src.data, "", variables)

    return read


# Import: write


@dataclass
class ImportReport:
    course: Course
    lessons: int = 0
    exercises: int = 0
    archived: list[str] = field(default_factory=list)  # "lesson/exercise" slugs
    deleted: list[str] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        text = f"Imported {self.course.title!r}: {self.lessons} lessons, "
        text += f"{self.exercises} exercises."
        if self.archived:
            text += f" Archived (gone from the files, attempted): {', '.join(self.archived)}."
        if self.deleted:
            text += f" Deleted (gone from the files, never attempted): {', '.join(self.deleted)}."
        return text


def import_course(root: Path, instructors: Sequence[Any] = ()) -> ImportReport:
    """Read a course folder and save it: all of it, or (on any problem) nothing. The
    `instructors` teach it from the start, so its exercises' reference checks run as theirs.

    1. Read and check every file; any problem raises CourseFilesInvalid before a write.
    2. In one transaction, update or create the course, its lessons, exercises and test
       cases (matched by slug, and by name for cases), un-archiving any the files name.
    3. Archive what the files no longer name if learners have attempted it; delete the rest.
    """
    data = read_course(root)
    with transaction.atomic():
        course, _ = Course.objects.update_or_create(
            slug=data["slug"],
            defaults={
                "title": data["title"],
                "description": data["description"],
                "position": data["position"],
                "published": data["published"],
            },
        )
        course.instructors.add(*instructors)
        joining.drop_instructors(course)
        report = ImportReport(course, warnings=data["warnings"])
        kept_lessons = []
        for position, lesson_data in enumerate(data["lessons"]):
            lesson, _ = Lesson.objects.update_or_create(
                course=course,
                slug=lesson_data["slug"],
                defaults={
                    "title": lesson_data["title"],
                    "body": lesson_data["body"],
                    "position": position,
                    "published": lesson_data["published"],
                    "archived": False,
                },
            )
            kept_lessons.append(lesson.id)
            save_exercises(lesson, lesson_data["exercises"], report)
            report.lessons += 1
            report.exercises += len(lesson_data["exercises"])
        for lesson in Lesson.objects.filter(course=course).exclude(id__in=kept_lessons):
            retire_exercises(lesson, Exercise.objects.filter(lesson=lesson), report)
            if lesson.exercises.exists():
                if not lesson.archived:
                    lesson.archived = True
                    lesson.save(update_fields=["archived"])
                    report.archived.append(lesson.slug)
            elif not lesson.archived:  # archived already (in the browser): left as it is
                lesson.delete()
                report.deleted.append(lesson.slug)
    return report


def load_course(root: Path) -> Course:
    """Import a course folder and return the course (see import_course)."""
    return import_course(root).course


def save_exercises(lesson: Lesson, exercises: list[dict], report: ImportReport) -> None:
    kept = []
    for position, data in enumerate(exercises):
        fields = {k: v for k, v in data.items() if k not in ("slug", "cases", "where")}
        existing = Exercise.objects.filter(lesson=lesson, slug=data["slug"]).first()
        # The files may ask for a draft to be published, not publish it unchecked: it stays a
        # draft and its publish check publishes it if it passes (below).
        to_publish = (
            existing is not None
            and existing.status == Exercise.DRAFT
            and fields["status"] == Exercise.PUBLISHED
        )
        if to_publish:
            fields["status"] = Exercise.DRAFT
        exercise, _ = Exercise.objects.update_or_create(
            lesson=lesson,
            slug=data["slug"],
            defaults={**fields, "position": position, "archived": False},
        )
        kept.append(exercise.id)
        kept_cases = []
        for case_position, case in enumerate(data["cases"]):
            row, _ = Case.objects.update_or_create(
                exercise=exercise, name=case["name"], defaults={**case, "position": case_position}
            )
            kept_cases.append(row.id)
        Case.objects.filter(exercise=exercise).exclude(id__in=kept_cases).delete()
        # An import's checks are not rate limited: it checks every exercise it changed at once.
        if to_publish:
            publishing.recheck_if_changed(exercise)  # fails a check under way of another version
            user = publishing.first_instructor(exercise)
            if user is not None:
                publishing.start_check(exercise, user, PublishCheck.PUBLISH, rate_limited=False)
        else:
            publishing.recheck_if_changed(exercise, rate_limited=False)
    retire_exercises(lesson, Exercise.objects.filter(lesson=lesson).exclude(id__in=kept), report)


def retire_exercises(lesson: Lesson, exercises, report: ImportReport) -> None:
    """Archive exercises that learners have attempted; delete the others. One archived
    already (in the browser: no export names it) is left as it is.

    An instructor's reference runs (the publish check) do not count as attempts.
    """
    exercises = exercises.filter(archived=False)
    attempted = exercises.filter(attempts__is_reference=False).distinct()
    for exercise in attempted:
        report.archived.append(f"{lesson.slug}/{exercise.slug}")
    attempted.update(archived=True)
    unused = exercises.exclude(id__in=attempted.values("id"))
    report.deleted += [f"{lesson.slug}/{slug}" for slug in unused.values_list("slug", flat=True)]
    unused.delete()


# Export


class Flow(list):
    """A short list written on one line: [a, b]."""


class FlowMap(dict):
    """A short mapping written on one line: {a: 1}."""


class Dumper(yaml.SafeDumper):
    """Readable YAML: block scalars for multi-line text, lists indented under their key."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def represent_text(dumper: Dumper, value: str):
    # PyYAML writes NEL (U+0085) raw in a block or a plain scalar, and reads it back as a
    # line break: double quotes escape it.
    style = '"' if "\x85" in value else "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


Dumper.add_representer(str, represent_text)
Dumper.add_representer(
    Flow, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True)
)
Dumper.add_representer(
    FlowMap, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True)
)

FLOW_WIDTH = 72


def compact(value: Any) -> Any:
    """Return value with short lists and mappings of one-line scalars marked to be written
    on one line, the way a person would write `variables: [product]`."""
    if isinstance(value, dict):
        value = {k: compact(v) for k, v in value.items()}
        if value and is_short(value.values(), extra=sum(len(str(k)) + 2 for k in value)):
            return FlowMap(value)
        return value
    if isinstance(value, list):
        value = [compact(v) for v in value]
        if is_short(value):
            return Flow(value)
        return value
    return value


def is_short(items: Iterable[Any], extra: int = 0) -> bool:
    items = list(items)
    scalars = all(
        isinstance(v, (int, float, bool)) or v is None or (isinstance(v, str) and "\n" not in v)
        for v in items
    )
    return scalars and sum(len(str(v)) + 2 for v in items) + extra <= FLOW_WIDTH


def dump(data: dict) -> str:
    return yaml.dump(
        data,
        Dumper=Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=4096,
        default_flow_style=False,
    )


def ordered(data: dict, keys: Iterable[str]) -> dict:
    """Return data with `keys` first, in that order, then any others as they were."""
    keys = [k for k in keys if k in data]
    return {**{k: data[k] for k in keys}, **{k: v for k, v in data.items() if k not in keys}}


RUBRIC_ORDER = (
    "pass_threshold",
    "require_all_cases",
    "unavailable",
    "with_prefill",
    "criteria",
    "samples",
)
CRITERION_ORDER = (
    "id",
    "title",
    "kind",
    "target",
    "params",
    "weight",
    "negate",
    "visible",
    "strip",
    "ignore_case",
    "collapse_whitespace",
    "with_prefill",
    "feedback",
)


def ordered_criterion(criterion: Any) -> Any:
    if not isinstance(criterion, dict):
        return criterion
    criterion = ordered(criterion, CRITERION_ORDER)
    params = criterion.get("params")
    if isinstance(params, dict) and isinstance(params.get("criteria"), list):
        criterion["params"] = {
            **params,
            "criteria": [ordered_criterion(c) for c in params["criteria"]],
        }
    if isinstance(criterion.get("feedback"), dict):
        criterion["feedback"] = ordered(criterion["feedback"], ("pass", "fail"))
    return criterion


def export_rubric(rubric: Any) -> Any:
    if not isinstance(rubric, dict):
        return rubric
    rubric = ordered(rubric, RUBRIC_ORDER)
    if isinstance(rubric.get("criteria"), list):
        rubric["criteria"] = [ordered_criterion(c) for c in rubric["criteria"]]
    if isinstance(rubric.get("samples"), dict):
        rubric["samples"] = ordered(rubric["samples"], ("good", "bad"))
    return rubric


def export_stub(stub: dict) -> dict:
    result = ordered(stub, ("rules", "default"))
    if isinstance(result.get("rules"), list):
        result["rules"] = [ordered(r, ("if", "unless", "reply")) for r in result["rules"]]
    return result


def export_parts(parts: list[dict], keys: tuple[str, ...], required: tuple[str, ...]) -> list:
    result = []
    for part in parts:
        item = {k: part.get(k) for k in keys if k in required or part.get(k)}
        result.append(ordered({**item, **{k: v for k, v in part.items() if k not in keys}}, keys))
    return result


def exercise_data(exercise: Exercise) -> dict[str, Any]:
    """Return an exercise as the data of its file: only fields that differ from the
    defaults, in a stable order a person would write them."""
    data: dict[str, Any] = {"slug": exercise.slug, "title": exercise.title}
    if exercise.status != Exercise.PUBLISHED:
        data["status"] = exercise.status
    if exercise.instructions:
        data["instructions"] = exercise.instructions
    prompt: dict[str, Any] = {}
    editable, allow_empty = split_editable(exercise.editable_fields)
    if editable != DEFAULT_EDITABLE:
        prompt["editable"] = editable
    if allow_empty:
        prompt["allow_empty"] = allow_empty
    for name in PROMPT_FIELDS:
        if getattr(exercise, f"starter_{name}"):
            prompt[name] = getattr(exercise, f"starter_{name}")
    if exercise.slots:
        prompt["slots"] = export_parts(exercise.slots, SLOT_KEYS, ("name", "text"))
    if exercise.examples:
        prompt["examples"] = export_parts(exercise.examples, EXAMPLE_KEYS, ("role", "text"))
    if prompt:
        data["prompt"] = prompt
    if exercise.variables:
        data["variables"] = list(exercise.variables)
    if exercise.fixed_variables:
        data["fixed_variables"] = dict(exercise.fixed_variables)
    model = {
        "backend": exercise.backend,
        "name": exercise.model_name,
        "temperature": exercise.temperature,
        "max_tokens": exercise.max_tokens,
        "samples": exercise.samples,
        "sample_rule": exercise.sample_rule,
        "samples_needed": exercise.samples_needed,
    }
    model = {k: v for k, v in model.items() if v != MODEL_DEFAULTS[k]}
    if model:
        data["model"] = model
    if exercise.stub:
        data["stub"] = export_stub(exercise.stub)
    names = exercise.case_variable_names()
    data["cases"] = [case_data(case, names) for case in exercise.cases.all()]
    data["rubric"] = export_rubric(exercise.rubric)
    if exercise.hints:
        data["hints"] = list(exercise.hints)
    if exercise.solution:
        data["solution"] = ordered(exercise.solution, PROMPT_VALUE_KEYS)
    if exercise.known_bad:
        data["known_bad"] = [ordered(p, PROMPT_VALUE_KEYS) for p in exercise.known_bad]
    return data


def case_data(case: Case, names: list[str]) -> dict[str, Any]:
    """Return a case as its file writes it, with a value for each of `names` it has (not for a
    fixed input, which a case may still hold from before it was made fixed)."""
    data: dict[str, Any] = {"name": case.name}
    if case.visibility != "show":
        data["visibility"] = case.visibility
    values = {name: value for name, value in case.variables.items() if name in names}
    if values:
        data["vars"] = values
    if case.reference:
        data["reference"] = case.reference
    if case.expected:
        data["expected"] = case.expected
    if case.weight != 1:
        data["weight"] = case.weight
    return data


def export_course(course: Course) -> dict[str, str]:
    """Return the files of a course folder ({relative path: text}) that import_course reads
    back into the same course. Archived lessons and exercises are left out: in files,
    removal is how they came to be archived."""
    lessons = list(course.lessons.filter(archived=False).order_by("position", "id"))
    exercises = {
        lesson.id: list(
            lesson.exercises.filter(archived=False)
            .order_by("position", "id")
            .prefetch_related("cases")
        )
        for lesson in lessons
    }
    slug_count: dict[str, int] = {}
    for items in exercises.values():
        for exercise in items:
            slug_count[exercise.slug] = slug_count.get(exercise.slug, 0) + 1

    files: dict[str, str] = {}
    lesson_entries = []
    for number, lesson in enumerate(lessons, start=1):
        body_name = f"lessons/{number:02d}-{lesson.slug}.md"
        files[body_name] = lesson.body
        names = []
        for exercise in exercises[lesson.id]:
            # Exercise slugs are unique per lesson; prefix the lesson when two lessons share one.
            stem = exercise.slug
            if slug_count[exercise.slug] > 1:
                stem = f"{lesson.slug}.{exercise.slug}"
            name = f"exercises/{stem}.yaml"
            files[name] = dump(compact(exercise_data(exercise)))
            names.append(name)
        entry: dict[str, Any] = {"slug": lesson.slug, "title": lesson.title, "file": body_name}
        if not lesson.published:
            entry["published"] = False
        if names:
            entry["exercises"] = names
        lesson_entries.append(entry)
    course_data: dict[str, Any] = {"slug": course.slug, "title": course.title}
    if course.description:
        course_data["description"] = course.description
    if course.position:
        course_data["position"] = course.position
    if not course.published:
        course_data["published"] = False
    course_data["lessons"] = lesson_entries
    files["course.yaml"] = dump(compact(course_data))
    return files


class ExportRefused(Exception):
    pass


def write_course(course: Course, folder: Path, replace: bool = False) -> list[str]:
    """Write the course's files into folder and return the paths of stale files removed.

    A folder that holds anything is refused unless `replace`; then the course's files are
    rewritten and the lessons/*.md and exercises/*.yaml files it no longer has are removed,
    so that a version-controlled copy shows deletions as deletions.
    """
    files = export_course(course)
    if folder.exists() and not folder.is_dir():
        raise ExportRefused(f"{folder} is not a folder; name a folder (it is made if need be)")
    if folder.exists() and any(folder.iterdir()) and not replace:
        raise ExportRefused(f"{folder} is not empty; pass --replace to overwrite a course folder")
    # A folder from elsewhere (a clone of someone's course) may hold symbolic links: never
    # write through one to a file outside, as import never reads through one.
    for sub in ("lessons", "exercises"):
        if (folder / sub).is_symlink():
            raise ExportRefused(
                f"{folder / sub} is a symbolic link; remove it, and export writes a folder there"
            )
    stale = []
    if folder.exists():
        for pattern in ("lessons/*.md", "exercises/*.yaml"):
            for path in sorted(folder.glob(pattern)):
                name = path.relative_to(folder).as_posix()
                if name not in files:
                    stale.append(name)
    try:
        for name, text in files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink():
                path.unlink()  # write a file of its own there, not the link's target
            path.write_text(text, encoding="utf-8")
        for name in stale:
            (folder / name).unlink()
    except OSError as e:
        where = e.filename or folder
        raise ExportRefused(f"cannot write {where}: {e.strerror or e}") from None
    return stale
