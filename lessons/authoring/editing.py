"""Plain functions behind the instructor's pages: YAML fields, CSV test cases, the judge on
an instructor's ledger, ordering.

The views validate input and call these; nothing here reads a request.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import yaml
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import models, transaction
from django.utils.text import slugify

import graders
from graders.kinds import FROM_CASE
from graders.reuse import subtree
from lessons.models import MAX_CASE_WEIGHT, Case, Exercise, Lesson
from sandbox import calls
from sandbox.backends.base import UNSTORABLE
from sandbox.calls import CallLog
from sandbox.models import CASE_NAME_CHARS, Attempt, UsageRecord

# ---------------------------------------------------------------------------------------------
# YAML in text areas


class YamlRefused(yaml.YAMLError):
    """YAML past a cap: too big, nested too deep, or too many values once aliases are
    expanded. `line` is 1-based (0 when the whole text is refused)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.message, self.line = message, line


class CappedLoader(yaml.SafeLoader):
    """yaml.SafeLoader within caps, for course files and the editor's text areas alike.

    The text is refused if it is over MAX_COURSE_FILE_BYTES; composing stops at
    MAX_YAML_DEPTH levels of nesting (PyYAML composes recursively) and at MAX_YAML_NODES
    nodes; then the node graph is walked, iteratively, as construction would expand it (an
    alias counts again each time it is used, so a "billion laughs" stops at the cap), and only
    a graph within both caps is constructed.
    """

    def __init__(self, stream: str) -> None:
        limit = settings.MAX_COURSE_FILE_BYTES
        if len(stream) > limit or len(stream.encode("utf-8", "surrogatepass")) > limit:
            size = len(stream.encode("utf-8", "surrogatepass"))
            raise YamlRefused(f"it is {size} bytes; at most {limit} (MAX_COURSE_FILE_BYTES)")
        super().__init__(stream)
        self.depth = 0
        self.composed = 0
        self.max_depth = min(settings.MAX_YAML_DEPTH, MAX_YAML_DEPTH_CEILING)
        self.max_nodes = settings.MAX_YAML_NODES

    def too_deep(self, mark) -> YamlRefused:
        return YamlRefused(
            f"it is nested more than {self.max_depth} levels deep (MAX_YAML_DEPTH)",
            mark.line + 1 if mark else 0,
        )

    def too_many(self, mark) -> YamlRefused:
        return YamlRefused(
            f"it has more than {self.max_nodes} values once its aliases are expanded "
            "(MAX_YAML_NODES)",
            mark.line + 1 if mark else 0,
        )

    def compose_node(self, parent, index):
        self.depth += 1
        self.composed += 1
        try:
            if self.depth > self.max_depth:
                raise self.too_deep(self.peek_event().start_mark)
            if self.composed > self.max_nodes:
                raise self.too_many(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def check_expansion(self, root: yaml.Node) -> None:
        """Walk the node graph as construction expands it, without recursion; raise
        YamlRefused past the depth or node cap (a recursive alias reaches one of them), or at
        a value that cannot be stored (bytes, a set, or a text storable_text refuses)."""
        stack: list[tuple[yaml.Node, int]] = [(root, 1)]
        count = 0
        checked: set[int] = set()  # scalars: an alias expands one many times
        while stack:
            node, depth = stack.pop()
            count += 1
            if count > self.max_nodes:
                raise self.too_many(node.start_mark)
            if depth > self.max_depth:
                raise self.too_deep(node.start_mark)
            if node.tag in UNSTORABLE_TAGS:
                raise YamlRefused(
                    "a !!binary or !!set value cannot be stored; write text, or a list",
                    node.start_mark.line + 1,
                )
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    stack += ((key, depth + 1), (value, depth + 1))
            elif isinstance(node, yaml.SequenceNode):
                stack += ((item, depth + 1) for item in node.value)
            elif isinstance(node, yaml.ScalarNode) and id(node) not in checked:
                checked.add(id(node))
                node.value = storable_text(node)

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        self.check_expansion(node)
        return self.construct_document(node)


def storable_text(node: yaml.ScalarNode) -> str:
    """Return a scalar's text with its escaped UTF-16 surrogate pairs ("\\ud83d\\ude00", as JSON
    writes an emoji) joined into their characters; raise YamlRefused at a NUL character or an
    unpaired surrogate, which PostgreSQL stores in no text nor jsonb. Both come from escapes:
    YAML refuses them raw."""
    text, line = node.value, node.start_mark.line + 1
    if not UNSTORABLE.search(text):  # what no provider's text may hold either
        return text
    if "\x00" in text:
        raise YamlRefused(
            "a text holds a NUL character (\\0 or \\x00), which cannot be stored; remove it", line
        )
    try:
        return text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        raise YamlRefused(
            "a text holds half of a UTF-16 surrogate pair (such as \\ud800) without the "
            "other half, which cannot be stored; write the character itself, or \\U and its "
            "eight hex digits",
            line,
        ) from None


UNSTORABLE_TAGS = ("tag:yaml.org,2002:binary", "tag:yaml.org,2002:set")


# A date or time (2024-05-01) is read as the text written, as YAML 1.2 reads it: JSON, which
# every field is stored as, has no dates.
def construct_as_text(loader: CappedLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


CappedLoader.add_constructor("tag:yaml.org,2002:timestamp", construct_as_text)


# So is a time of day or a duration (10:30, 1:02:03.5), which YAML 1.1 reads as a number in
# base 60 (630): `vars: {time: 10:30}` was refused as "must be text, not 630".
def construct_number(loader: CappedLoader, node: yaml.ScalarNode) -> Any:
    if ":" in str(node.value):
        return str(loader.construct_scalar(node))
    if node.tag.endswith(":int"):
        return loader.construct_yaml_int(node)
    return loader.construct_yaml_float(node)


CappedLoader.add_constructor("tag:yaml.org,2002:int", construct_number)
CappedLoader.add_constructor("tag:yaml.org,2002:float", construct_number)

# Python's recursion limit bounds how deep PyYAML can compose and construct.
MAX_YAML_DEPTH_CEILING = 200


def safe_load(text: str) -> Any:
    """Return the value of one YAML document read by CappedLoader (see it for the caps)."""
    return yaml.load(text, Loader=CappedLoader)  # a SafeLoader


def load_yaml(text: str, expect: type, what: str) -> Any:
    """Return the YAML value of a text area, or raise ValueError naming the line.

    An empty text gives the empty value of the expected type. The text goes through the same
    capped loader as course files (size, nesting depth, alias expansion).
    """
    if not text.strip():
        return expect()
    try:
        value = safe_load(text)
    except YamlRefused as e:
        where = f" on line {e.line}" if e.line else ""
        raise ValueError(f"{what} is refused{where}: {e.message}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" on line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "it is not valid YAML"
        raise ValueError(f"{what} is not valid YAML{where}: {problem}") from None
    if value is None:
        return expect()
    if not isinstance(value, expect):
        wanted: dict[type, str] = {
            dict: "a mapping (key: value lines)",
            list: "a list (lines starting with -)",
        }
        raise ValueError(f"{what} must be {wanted.get(expect, expect.__name__)}")
    for path in non_finite_paths(value):
        raise ValueError(f"{what} is refused: {path} {NOT_FINITE}")
    return value


NOT_FINITE = "is not a finite number (.nan and .inf cannot be stored)"


def non_finite_paths(value: Any, prefix: str = "") -> Iterator[str]:
    """Yield the path ("cases[0].expected.n") of each nan or infinite number in YAML data:
    PostgreSQL's jsonb holds neither."""
    if isinstance(value, float) and not math.isfinite(value):
        yield prefix or "a value"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from non_finite_paths(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from non_finite_paths(item, f"{prefix}[{index}]")


def dump_yaml(value: Any) -> str:
    """Return value as block-style YAML, or "" for an empty value."""
    if not value:
        return ""
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=88)


# ---------------------------------------------------------------------------------------------
# Slugs

SLUG_MAX = 50


def suggested_slug(title: str, taken: models.QuerySet, reserved: Iterable[str] = ()) -> str:
    """Return the title as a slug not among `taken`'s slugs nor reserved: "intro", else
    "intro-2", "intro-3" … ("untitled" for a title with no letters or digits)."""
    base = slugify(title)[: SLUG_MAX - 4].strip("-_") or "untitled"
    used = set(taken.filter(slug__startswith=base).values_list("slug", flat=True)) | set(reserved)
    slug, n = base, 1
    while slug in used:
        n += 1
        slug = f"{base}-{n}"
    return slug


# ---------------------------------------------------------------------------------------------
# Test cases from CSV (promptfoo style: one column per variable, plus __ columns)

# Short syntax of an expectation cell → (criterion id, kind, param, ignore_case)
EXPECTATIONS: dict[str, tuple[str, str, str, bool]] = {
    "equals": ("expect-equals", "equals", "text", False),
    "iequals": ("expect-iequals", "equals", "text", True),
    "contains": ("expect-contains", "contains", "text", False),
    "icontains": ("expect-icontains", "contains", "text", True),
    "not-contains": ("expect-not-contains", "not_contains", "text", False),
    "starts-with": ("expect-starts-with", "starts_with", "text", False),
    "ends-with": ("expect-ends-with", "ends_with", "text", False),
    "regex": ("expect-regex", "regex", "pattern", False),
}
SPECIAL_COLUMNS = ("__name", "__visibility", "__reference", "__weight")
VISIBILITY_ALIASES = {"hidden": "hide", "visible": "show", "": "show"}
MAX_CSV_ROWS = 500


def expectation_criterion(prefix: str) -> dict[str, Any]:
    """Return the rubric criterion that checks an expectation prefix on every test case."""
    cid, kind, param, ignore_case = EXPECTATIONS[prefix]
    criterion: dict[str, Any] = {"id": cid, "kind": kind, "params": {param: {"from_case": cid}}}
    if ignore_case:
        criterion["ignore_case"] = True
    return criterion


def parse_expectation(cell: str) -> tuple[str, str]:
    """Return (prefix, value) of an expectation cell; a cell without a known prefix is equals.

    >>> parse_expectation("regex:^#\\\\d+$")
    ('regex', '^#\\\\d+$')
    >>> parse_expectation("Paris")
    ('equals', 'Paris')
    """
    prefix, sep, value = cell.partition(":")
    if sep and prefix.strip().lower() in EXPECTATIONS:
        return prefix.strip().lower(), value.strip()
    return "equals", cell.strip()


def is_expectation_column(name: str) -> bool:
    return name == "__expected" or (
        name.startswith("__expected") and name.removeprefix("__expected").isdigit()
    )


@dataclass
class CsvImport:
    cases: list[dict[str, Any]] = field(default_factory=list)
    criteria: list[dict[str, Any]] = field(default_factory=list)  # rubric criteria to add
    errors: list[str] = field(default_factory=list)


def parse_cases_csv(
    text: str, variables: Sequence[str], taken: Collection[str] = (), fixed: Collection[str] = ()
) -> CsvImport:
    """Return the test cases a CSV describes, the criteria its expectations need, and every
    problem found, each naming its row (as a spreadsheet numbers it) and column. `taken` are
    the names of the exercise's cases the import keeps: a case's name is its own. `fixed` are
    the exercise's fixed inputs, which no case gives.

    Columns: one per variable; `__name`, `__visibility` (show, hide, hide_if_fail,
    hide_if_pass), `__reference`, `__weight`; and `__expected`, `__expected2` … holding
    `equals:…`, `contains:…`, `icontains:…`, `not-contains:…`, `starts-with:…`,
    `ends-with:…` or `regex:…` (a cell with no prefix means equals). Each expectation becomes
    the case's `expected` value, read by one rubric criterion per prefix; since that criterion
    checks every case, a prefix used by one row must be used by every row.
    """
    result = CsvImport()
    if not text.strip():
        result.errors.append("The CSV is empty.")
        return result
    nul = text.find("\x00")  # an uploaded file's; a form field refuses a pasted one
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        result.errors.append(f"Line {line} holds a NUL character, which cannot be stored.")
        return result
    try:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    except csv.Error as e:  # a cell past the module's field size limit
        result.errors.append(f"The CSV cannot be read: {e}.")
        return result
    header = [h.strip() for h in rows[0]]
    body = [(number, row) for number, row in enumerate(rows[1:], start=2) if any(row)]
    known = set(variables) | set(SPECIAL_COLUMNS)
    for name in header:
        if name in fixed:
            result.errors.append(
                f"Row 1, column {name!r}: a fixed input, which every case shares; remove the "
                "column (or change the shared text under “Task & prompt”)."
            )
        elif name not in known and not is_expectation_column(name):
            allowed = ", ".join([*variables, *SPECIAL_COLUMNS, "__expected"])
            result.errors.append(
                f"Row 1, column {name!r}: not a variable of this exercise nor a known column "
                f"(allowed: {allowed})."
            )
    for name in variables:
        if name not in header:
            result.errors.append(f"Row 1: there is no column for the variable {name!r}.")
    if len(set(header)) != len(header):
        result.errors.append("Row 1: two columns have the same name.")
    if not body:
        result.errors.append("The CSV has a header row but no test cases.")
    if len(body) > MAX_CSV_ROWS:
        result.errors.append(f"The CSV has {len(body)} rows; import at most {MAX_CSV_ROWS}.")
    if result.errors:
        return result

    prefixes_by_row: list[tuple[int, set[str]]] = []
    names = set(taken)
    named = header.index("__name") if "__name" in header else None
    given = {row[named].strip() for _, row in body if named is not None and len(row) > named}
    for number, row in body:
        if len(row) != len(header):
            result.errors.append(
                f"Row {number}: {len(row)} cells, but the header has {len(header)} columns."
            )
            continue
        cells = dict(zip(header, row, strict=True))
        default = (f"Case {n}" for n in itertools.count(len(result.cases) + 1))
        name = cells.get("__name", "").strip() or next(
            n for n in default if n not in names and n not in given
        )
        if len(name) > CASE_NAME_CHARS:
            result.errors.append(
                f"Row {number}, column '__name': is {len(name)} characters; at most "
                f"{CASE_NAME_CHARS}."
            )
        elif name in names:
            result.errors.append(
                f"Row {number}, column '__name': {name!r} names another test case already; "
                "give each case a name of its own."
            )
        names.add(name)
        case: dict[str, Any] = {
            "name": name,
            "variables": {v: cells[v] for v in variables},
            "reference": cells.get("__reference", ""),
            "expected": {},
            "weight": 1.0,
        }
        visibility = cells.get("__visibility", "").strip().lower().replace(" ", "_")
        visibility = VISIBILITY_ALIASES.get(visibility, visibility)
        if visibility not in graders.VISIBILITY:
            result.errors.append(
                f"Row {number}, column '__visibility': {cells['__visibility']!r} is not one of "
                f"{', '.join(graders.VISIBILITY)}."
            )
        case["visibility"] = visibility
        weight = cells.get("__weight", "").strip()
        if weight:
            try:
                case["weight"] = float(weight)
                if not 0 <= case["weight"] <= MAX_CASE_WEIGHT:  # nan compares false
                    raise ValueError
            except ValueError:
                result.errors.append(
                    f"Row {number}, column '__weight': {weight!r} is not a number from 0 to "
                    f"{MAX_CASE_WEIGHT}."
                )
        used: set[str] = set()
        for column in filter(is_expectation_column, header):
            cell = cells[column]
            if not cell.strip():
                continue
            prefix, value = parse_expectation(cell)
            problem = expectation_problem(prefix, value, used)
            if problem:
                result.errors.append(f"Row {number}, column {column!r}: {problem}")
                continue
            used.add(prefix)
            case["expected"][EXPECTATIONS[prefix][0]] = value
        prefixes_by_row.append((number, used))
        result.cases.append(case)

    every = set().union(*(p for _, p in prefixes_by_row)) if prefixes_by_row else set()
    for number, used in prefixes_by_row:
        for prefix in sorted(every - used):
            result.errors.append(
                f"Row {number}: other rows check {prefix}:…, so this row needs a {prefix}: "
                "value too (the criterion it adds checks every test case)."
            )
    result.criteria = [expectation_criterion(p) for p in EXPECTATIONS if p in every]
    if result.errors:
        result.cases, result.criteria = [], []
    return result


def expectation_problem(prefix: str, value: str, used: set[str]) -> str:
    """Return what is wrong with one expectation cell, or ""."""
    if prefix in used:
        return f"{prefix}: appears twice in this row; put one check per prefix."
    if not value:
        return f"{prefix}: needs a value after the colon."
    if prefix == "regex":
        try:
            graders.load_rubric(
                {"criteria": [{"id": "x", "kind": "regex", "params": {"pattern": value}}]}
            )
        except graders.RubricError as e:
            return e.message
    return ""


def missing_criteria(rubric: dict[str, Any], criteria: list[dict[str, Any]]) -> list[dict]:
    """Return the criteria whose id the rubric does not have yet: what an import would add."""
    have = {c.get("id") for c in rubric.get("criteria", [])}
    return [c for c in criteria if c["id"] not in have]


def expected_keys(exercise: Exercise) -> dict[str, str]:
    """Return each expected value the rubric reads from a test case ({from_case: key}), with
    the id of a criterion that reads it (the reference answer is not an expected value)."""
    return {
        node.params[name][FROM_CASE]: criterion.id
        for criterion in exercise.parsed_rubric.criteria
        for node in subtree(criterion)
        for name in node.case_params
        if node.params[name][FROM_CASE] != "reference"
    }


def case_numbers(exercise: Exercise) -> dict[int, int]:
    """Return each test case's number by id, as the cases page numbers them: from 1, in order."""
    return {pk: n for n, pk in enumerate(exercise.cases.values_list("pk", flat=True), start=1)}


@transaction.atomic
def save_imported_cases(
    exercise: Exercise, imported: CsvImport, replace: bool, add_criteria: bool = True
) -> int:
    """Save the imported cases (after the existing ones, or instead of them), and the criteria
    their expectations need unless the author declined them; return how many cases."""
    if replace:
        exercise.cases.all().delete()
    start = (exercise.cases.aggregate(m=models.Max("position"))["m"] or -1) + 1
    Case.objects.bulk_create(
        Case(exercise=exercise, position=start + i, **case) for i, case in enumerate(imported.cases)
    )
    added = missing_criteria(exercise.rubric, imported.criteria) if add_criteria else []
    if added:
        criteria = [*exercise.rubric.get("criteria", []), *added]
        exercise.rubric = {**exercise.rubric, "criteria": criteria}
        exercise.save(update_fields=["rubric"])
    return len(imported.cases)


# ---------------------------------------------------------------------------------------------
# The judge, for an instructor


@contextmanager
def judge_on_ledger(
    exercise: Exercise,
    user_id: int | None,
    attempt: Attempt | None = None,
    *,
    deadline: float | None = None,
):
    """Yield the runner's judge for this exercise (same model choice and retry layer), whose
    calls end by `deadline` (time.monotonic; default: the task's soft time limit from now);
    the calls it made go on this user's ledger when the block ends, even if it raises (they
    were billed). Without a user (a command an operator runs), on no one's, as a regrade
    nobody asked for."""
    judge_log: list[CallLog] = []
    if deadline is None:
        deadline = time.monotonic() + settings.ATTEMPT_SOFT_TIME_LIMIT
    try:
        yield calls.make_judge(exercise, deadline, judge_log)
    finally:
        with transaction.atomic():
            if user_id is not None and account_kept(user_id):
                UsageRecord.objects.bulk_create(UsageRecord.for_calls(user_id, attempt, judge_log))


def judged_try_refusal(user_id: int) -> str:
    """Return why this user may not try a rubric that asks the judge now, or "" and count the
    try: at most SUBMISSIONS_PER_MINUTE in the last minute, as submits. The try makes its
    judge calls in the request, so a count taken after them would let tries at once all
    pass; their user's row is locked instead while the count is read and written."""
    now = time.time()
    key = f"limits:judged-tries:{user_id}"
    with transaction.atomic():
        User.objects.select_for_update(no_key=True).only("pk").get(pk=user_id)
        tries = [when for when in cache.get(key, []) if when > now - 60]
        if len(tries) >= settings.SUBMISSIONS_PER_MINUTE:
            return (
                f"You have tried a judged rubric {len(tries)} times in the last minute, the "
                "most allowed. Wait a moment, then try again."
            )
        cache.set(key, [*tries, now], 60)
    return ""


def account_kept(user_id: int) -> bool:
    """Return whether this account still exists, locking it until the transaction ends: usage
    saved for it there is saved before its deletion (which takes its ledger with it), or not
    at all once it is gone (saving it would break the transaction). A lock that waits for a
    deletion only (no key): rows pointing at the account, its attempts, are not held up."""
    users = User.objects.select_for_update(no_key=True).filter(pk=user_id)
    return bool(list(users.values_list("pk", flat=True)))


# ---------------------------------------------------------------------------------------------
# Ordering

# What the instructor reorders: siblings with a position field, saved through their manager.
Ordered = TypeVar("Ordered", Lesson, Exercise)


def move(items: Iterable[Ordered], item: Ordered, delta: int) -> None:
    """Move item one place up (delta -1) or down (+1) among its siblings, renumbering them."""
    ordered = list(items)
    index = next(i for i, other in enumerate(ordered) if other.pk == item.pk)
    target = index + delta
    if 0 <= target < len(ordered):
        ordered[index], ordered[target] = ordered[target], ordered[index]
    for position, other in enumerate(ordered):
        other.position = position
    type(item).objects.bulk_update(ordered, ["position"])
