"""import_course refuses files from outside the course folder, files that are not UTF-8 text,
files over the size cap, YAML past the nesting and alias caps, over-long Markdown, and names
the system cannot use (too long, a symlink loop), and NUL characters: each with an error naming the
file, line and field, quickly, and changing nothing."""

from __future__ import annotations

import os
import re
import shutil
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from unittest.mock import patch

import pytest

from lessons.models import Exercise, Lesson
from tests.conftest import STARTER
from tests.lessons.test_import_course import edit, line_of, load, load_fails, snapshot

LESSON = "lessons/01-anatomy.md"
CAPITALS = "exercises/capital-format.yaml"
ANATOMY_EXERCISES = (  # the first lesson's list in course.yaml
    "    exercises:\n      - exercises/tagline.yaml\n      - exercises/capital-format.yaml\n"
)
EXERCISE = "exercises/tagline.yaml"
T = TypeVar("T")


@pytest.fixture
def loaded(db, tmp_path) -> Path:
    """A copy of the starter course, imported once, that a test may break."""
    folder = Path(shutil.copytree(STARTER, tmp_path / "prompt-fundamentals"))
    load(folder)
    return folder


def fast_and_small(call: Callable[[], T], small: bool = True) -> T:
    """Return call(), checking that it took under three seconds (what a refusal of the whole
    starter course takes on a loaded two-core CI machine is about one; a bomb that slipped
    through takes minutes); with `small`, call it again under tracemalloc (which slows it, so
    is not timed) to check that it stayed under 50 MB."""
    started = time.monotonic()
    result = call()
    elapsed = time.monotonic() - started
    assert elapsed < 3, f"took {elapsed:.2f} s"
    if small:
        tracemalloc.start()
        try:
            call()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 50_000_000, f"peaked at {peak / 1e6:.0f} MB"
    return result


def refused(folder: Path, small: bool = False) -> str:
    """Import folder, expecting a refusal within seconds that changes nothing; with `small`,
    import it again under tracemalloc to check that it stayed under 50 MB."""
    before = snapshot()
    message = fast_and_small(lambda: load_fails(folder), small)
    assert snapshot() == before
    assert "Traceback" not in message
    return message


def bomb(levels: int = 9, width: int = 9) -> str:
    """A 'billion laughs' YAML: each level lists the previous one `width` times."""
    lines = ["a0: &a0 [" + ", ".join(['"x"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


# 1. Files from outside the course folder


@pytest.mark.parametrize("name", ["../secret.md", "/etc/passwd", "lessons/../../secret.md"])
def test_a_lesson_file_outside_the_folder_is_refused(loaded, name):
    (loaded.parent / "secret.md").write_text("root:x:0:0\n")
    edit(loaded / "course.yaml", f"file: {LESSON}", f"file: {name}")
    message = refused(loaded)
    assert f"course.yaml:11: lessons[0].file: {name} is outside the course folder" in message
    assert not Lesson.objects.filter(body__contains="root:x").exists()


def test_a_symlinked_lesson_pointing_outside_is_refused(loaded):
    (loaded / LESSON).unlink()
    os.symlink("/etc/passwd", loaded / LESSON)
    message = refused(loaded)
    assert f"course.yaml:11: lessons[0].file: {LESSON} is outside the course folder" in message
    assert "/etc/passwd" in message  # where the link leads


def test_a_symlink_inside_the_folder_is_followed(loaded):
    target = loaded / "lessons" / "shared.md"
    target.write_text("# Shared\n")
    (loaded / LESSON).unlink()
    os.symlink("shared.md", loaded / LESSON)
    load(loaded)
    assert Lesson.objects.get(slug="anatomy").body == "# Shared\n"


@pytest.mark.parametrize("name", ["../outside.yaml", "/etc/hostname"])
def test_an_exercise_file_outside_the_folder_is_refused(loaded, name):
    (loaded.parent / "outside.yaml").write_text((loaded / EXERCISE).read_text())
    edit(loaded / "course.yaml", f"- {EXERCISE}", f"- {name}")
    message = refused(loaded)
    assert f"course.yaml:13: lessons[0].exercises[0]: {name} is outside the course folder" in (
        message
    )


def test_a_symlinked_exercise_or_course_yaml_pointing_outside_is_refused(loaded, tmp_path):
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text((loaded / EXERCISE).read_text())
    (loaded / EXERCISE).unlink()
    os.symlink(outside, loaded / EXERCISE)
    message = refused(loaded)
    assert f"lessons[0].exercises[0]: {EXERCISE} is outside the course folder" in message

    moved = tmp_path / "course-elsewhere.yaml"
    (loaded / "course.yaml").rename(moved)
    os.symlink(moved, loaded / "course.yaml")
    message = refused(loaded)
    assert "prompt-fundamentals/course.yaml: is outside the course folder (it leads to " in message


def test_a_file_name_with_a_nul_byte_is_an_error_not_a_traceback(loaded):
    edit(loaded / "course.yaml", f"file: {LESSON}", 'file: "lessons/\\0x.md"')
    message = refused(loaded)
    assert "course.yaml:11: a text holds a NUL character" in message


NUL = "a text holds a NUL character"
HALF_A_PAIR = "a text holds half of a UTF-16 surrogate pair"


@pytest.mark.parametrize(
    ("escape", "says"),
    [
        *((escape, NUL) for escape in ("\\0", "\\x00", "\\u0000")),
        *((escape, HALF_A_PAIR) for escape in ("\\ud800", "\\udc00", "\\ude00\\ud83d")),
    ],
)
def test_a_character_no_column_stores_written_as_an_escape_is_an_error_at_its_line(
    loaded, escape, says
):
    # PostgreSQL stores neither in text nor jsonb: refused with its line, not a DataError.
    edit(loaded / EXERCISE, 'user: "Write a tagline for {product}."', f'user: "Tag{escape}line"')
    lines = (loaded / EXERCISE).read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "Tag" in text)
    assert f"{EXERCISE}:{line}: {says}" in refused(loaded)


def test_a_surrogate_pair_written_as_json_writes_an_emoji_imports_as_its_character(loaded):
    old = 'user: "Write a tagline for {product}."'
    edit(loaded / EXERCISE, old, 'user: "Write a \\ud83d\\ude00 tagline for {product}."')
    load(loaded)
    assert Exercise.objects.get(slug="tagline").starter_user == (
        "Write a \U0001f600 tagline for {product}."
    )


def test_a_file_name_too_long_for_the_system_is_an_error(loaded):
    name = "lessons/" + "x" * 300 + ".md"
    edit(loaded / "course.yaml", f"- {EXERCISE}", f"- {name}")
    message = refused(loaded)
    assert (
        f"course.yaml:13: lessons[0].exercises[0]: {name} is not a usable file name "
        "(File name too long)" in message
    )


def test_a_file_this_user_may_not_read_is_named_so(loaded):
    # Tests run as root, whom chmod does not stop: the refusal comes from open itself.
    real_open = Path.open

    def open_refusing_the_lesson(path, *args, **kwargs):
        if path.name == "01-anatomy.md":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    with patch.object(Path, "open", open_refusing_the_lesson):
        message = refused(loaded)
    assert (
        f"course.yaml:{line_of(loaded / 'course.yaml', LESSON)}: lessons[0].file: {LESSON} "
        "cannot be read (Permission denied); let this user read it"
    ) in message


def test_a_symlink_loop_is_an_error_not_a_traceback(loaded):
    os.symlink("loop2.md", loaded / "lessons" / "loop1.md")
    os.symlink("loop1.md", loaded / "lessons" / "loop2.md")
    edit(loaded / "course.yaml", f"file: {LESSON}", "file: lessons/loop1.md")
    message = refused(loaded)
    assert (
        "course.yaml:11: lessons[0].file: lessons/loop1.md is not a usable file name "
        "(a loop of symbolic links)" in message
    )


# 2. Encodings and binary files


def test_a_lesson_that_is_not_utf8_is_an_error_not_a_traceback(loaded):
    (loaded / LESSON).write_bytes(b"# A\xff\xfeb\n")
    message = refused(loaded)
    assert (
        f"course.yaml:11: lessons[0].file: {LESSON} is not UTF-8 text (byte 0xff at offset 3)"
        in message
    )


def test_a_utf16_exercise_is_an_error_not_a_traceback(loaded):
    text = (loaded / EXERCISE).read_text()
    (loaded / EXERCISE).write_bytes(text.encode("utf-16"))
    message = refused(loaded)
    assert (
        f"course.yaml:13: lessons[0].exercises[0]: {EXERCISE} is not UTF-8 text "
        "(byte 0xff at offset 0; it looks like UTF-16)" in message
    )


def test_a_binary_lesson_is_an_error(loaded):
    (loaded / LESSON).write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00")
    message = refused(loaded)
    assert f"lessons[0].file: {LESSON} is binary, not text (a NUL byte at offset 7)" in message


def test_a_course_yaml_that_is_not_utf8_is_an_error(loaded):
    (loaded / "course.yaml").write_bytes(b"slug: caf\xe9\n")
    message = refused(loaded)
    assert "prompt-fundamentals/course.yaml: is not UTF-8 text (byte 0xe9 at offset 9)" in message


# 3. YAML past the caps


def test_yaml_nested_50000_deep_is_an_error_not_a_recursion_error(loaded):
    (loaded / EXERCISE).write_text("slug: tagline\nrubric: " + "[" * 50_000 + "]" * 50_000 + "\n")
    message = refused(loaded, small=True)
    assert "prompt-fundamentals/exercises/tagline.yaml:2: " in message
    assert "nested more than 50 levels deep (MAX_YAML_DEPTH)" in message


def test_a_yaml_alias_bomb_is_refused_quickly(loaded):
    (loaded / EXERCISE).write_text("slug: tagline\nrubric:\n" + "  " + bomb().replace("\n", "\n  "))
    message = refused(loaded, small=True)
    assert "prompt-fundamentals/exercises/tagline.yaml:" in message
    assert "more than 20000 values once its aliases are expanded (MAX_YAML_NODES)" in message


def test_deep_nesting_built_from_aliases_is_refused(loaded):
    lines = ["slug: tagline", "a0: &a0 [x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 3000)]
    (loaded / EXERCISE).write_text("\n".join(lines) + "\n")
    message = refused(loaded, small=True)
    assert "nested more than 50 levels deep (MAX_YAML_DEPTH)" in message


# 4. Sizes


def test_a_20_mb_lesson_is_refused_by_its_file_size(loaded):
    (loaded / LESSON).write_text("word " * 4_000_000)
    message = refused(loaded, small=True)
    assert (
        f"course.yaml:11: lessons[0].file: {LESSON} is 20000000 bytes; "
        "at most 1000000 (MAX_COURSE_FILE_BYTES)" in message
    )


def test_a_lesson_over_the_markdown_cap_is_refused(loaded):
    (loaded / LESSON).write_text("x" * 100_001)
    message = refused(loaded)
    assert (
        f"course.yaml:11: lessons[0].file: {LESSON} is 100001 characters; "
        "at most 100000 (MAX_MARKDOWN_CHARS)" in message
    )


def test_exercise_instructions_over_the_markdown_cap_are_refused(loaded):
    edit(loaded / EXERCISE, "instructions: |\n", "instructions: |\n  " + "x" * 100_001 + "\n")
    message = refused(loaded)
    assert "exercises/tagline.yaml:4: instructions: is " in message
    assert "at most 100000 (MAX_MARKDOWN_CHARS)" in message


def test_a_big_exercise_file_is_refused_before_it_is_parsed(loaded):
    (loaded / EXERCISE).write_text("slug: tagline\n" + "# padding\n" * 200_000)
    message = refused(loaded, small=True)
    assert (
        f"course.yaml:13: lessons[0].exercises[0]: {EXERCISE} is 2000014 bytes; "
        "at most 1000000 (MAX_COURSE_FILE_BYTES)" in message
    )


def test_an_exercise_file_named_thousands_of_times_is_read_and_checked_once(loaded):
    # Each naming read, checked and graded the file's samples again: 3,000 took 5 to 8 s.
    edit(
        loaded / "course.yaml",
        ANATOMY_EXERCISES,
        "    exercises:\n" + f"      - {EXERCISE}\n" * 3000,
    )
    message = refused(loaded)
    assert "lessons[0].exercises[2999]: exercise slug 'tagline' is used twice in anatomy" in message


@pytest.mark.parametrize(
    ("file", "old", "new", "problem"),
    [
        (
            EXERCISE,
            "rubric:\n",
            "rubirc:\n",
            "rubirc: unknown field; did you mean rubric? allowed:",
        ),
        (
            EXERCISE,
            "model: {",
            "model: {max_token: 9, ",
            "model.max_token: unknown field; did you mean",
        ),
        (
            "course.yaml",
            "    title: Anatomy",
            "    tilte: Anatomy",
            "lessons[0].tilte: unknown field; did",
        ),
        # Only a near spelling is named: a subtitle is not a misspelt title.
        (
            "course.yaml",
            "lessons:\n",
            "subtitle: x\nlessons:\n",
            "subtitle: unknown field; allowed:",
        ),
    ],
)
def test_a_misspelt_field_is_reported_with_the_field_it_is_near(loaded, file, old, new, problem):
    edit(loaded / file, old, new)
    line = line_of(loaded / file, new.strip().split("\n")[0])
    assert f"{file}:{line}: {problem}" in refused(loaded)


def test_the_caps_are_settings(loaded, settings):
    settings.MAX_MARKDOWN_CHARS = 10
    message = refused(loaded)
    assert "at most 10 (MAX_MARKDOWN_CHARS)" in message


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("backend: stub, name: scripted", "backend: [stub], name: scripted", "model.backend"),
        ("editable: [user]", "editable: [{user: 1}]", "prompt.editable"),
        ("kind: regex", "kind: [regex]", "rubric.criteria[0].kind"),
        ("params: {max: 3}", "params: [3]", "rubric.criteria[1].params"),
    ],
)
def test_a_list_or_mapping_where_a_name_belongs_is_an_error_not_a_traceback(
    loaded, old, new, field
):
    edit(loaded / "exercises/capital-format.yaml", old, new)
    assert "exercises/capital-format.yaml:" in refused(loaded)
    assert f": {field}: " in refused(loaded)


@pytest.mark.parametrize(
    ("file", "old", "new", "field"),
    [
        (
            "course.yaml",
            ANATOMY_EXERCISES,
            "    exercises: {}\n",
            "lessons[0].exercises",
        ),
        (
            "course.yaml",
            ANATOMY_EXERCISES,
            "    exercises: false\n",
            "lessons[0].exercises",
        ),
        (CAPITALS, "hints", "hints: 0", "hints"),
        (CAPITALS, "stub", "stub: ''", "stub"),
        (CAPITALS, "stub", "stub: []", "stub"),
        (CAPITALS, "vars: {country: France}", "vars: []", "cases[0].vars"),
    ],
)
def test_an_empty_value_of_the_wrong_type_is_an_error_not_none(loaded, file, old, new, field):
    # An empty mapping, false, 0 or "" is not "nothing under the key": only null is.
    if old.isidentifier():  # a top-level key: replace it and the block under it
        text = (loaded / file).read_text()
        block = re.search(rf"^{old}:\n(?:[ -].*\n)*", text, re.MULTILINE)
        assert block, f"{old}: is not in {file}"
        old = block.group()
        new += "\n"
    edit(loaded / file, old, new)
    message = refused(loaded)
    assert f"{file}:" in message
    assert f": {field}: must " in message


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (
            "vars: {country: Kenya}",
            "vars: {country: Kenya}\n    expected: {n: .nan}",
            ".expected.n",
        ),
        (
            "vars: {country: Kenya}",
            "vars: {country: Kenya}\n    expected: {n: -.inf}",
            ".expected.n",
        ),
        (
            'good: ["Capital: Paris", "Capital: Buenos Aires"]',
            'good: ["Capital: Paris", {output: "Capital: Rome", expected: {n: .nan}}]',
            "rubric.samples.good[1].expected.n",
        ),
        ("known_bad:\n", "known_bad:\n  - user: x\n    slots: {a: .nan}\n", "known_bad[0].slots.a"),
    ],
)
def test_a_number_that_is_not_finite_is_an_error_at_its_field(loaded, old, new, field):
    # PostgreSQL's jsonb holds no NaN nor Infinity: refused, not a DataError.
    edit(loaded / CAPITALS, old, new)
    message = refused(loaded)
    problem = next(line for line in message.splitlines() if "is not a finite number" in line)
    assert problem.startswith(f"prompt-fundamentals/{CAPITALS}:")
    assert f"{field}: is not a finite number (.nan and .inf cannot be stored)" in problem


def test_a_date_is_read_as_the_text_written(loaded):
    # YAML 1.1 makes 2024-05-01 a date, which no JSON field holds (it was a TypeError).
    edit(
        loaded / CAPITALS,
        "vars: {country: Kenya}",
        "vars: {country: Kenya}\n    expected: {due: 2024-05-01}",
    )
    load(loaded)
    case = Exercise.objects.get(slug="capital-format").cases.get(name="Kenya")
    assert case.expected == {"due": "2024-05-01"}


def test_a_time_is_read_as_the_text_written_not_a_number_in_base_60(loaded):
    # YAML 1.1 makes 10:30 the number 630: "cases[2].vars: must map variable names to text".
    edit(
        loaded / CAPITALS,
        "vars: {country: Kenya}",
        "vars: {country: 10:30}\n    expected: {at: 1:02:03.5, n: 12, x: 0.5}",
    )
    load(loaded)
    case = Exercise.objects.get(slug="capital-format").cases.get(name="Kenya")
    assert case.variables == {"country": "10:30"}
    assert case.expected == {"at": "1:02:03.5", "n": 12, "x": 0.5}


@pytest.mark.parametrize("value", ["!!binary aGk=", "!!set {a, b}"])
def test_a_value_of_bytes_or_a_set_is_an_error_at_its_line(loaded, value):
    edit(
        loaded / CAPITALS,
        "vars: {country: Kenya}",
        f"vars: {{country: Kenya}}\n    expected: {{k: {value}}}",
    )
    lines = (loaded / CAPITALS).read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if value in text)
    assert f"{CAPITALS}:{line}: a !!binary or !!set value cannot be stored" in refused(loaded)


def test_vars_keyed_by_a_number_among_names_is_an_error_not_a_traceback(loaded):
    edit(loaded / CAPITALS, "vars: {country: Kenya}", "vars: {country: Kenya, 2: b, notes: c}")
    assert ".vars: must map variable names to text" in refused(loaded)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            "vars: {country: Kenya}",
            "vars: {country: 2024}",
            "cases[2].vars.country: must be text, not 2024; to write it as text, put it in quotes",
        ),
        (
            "vars: {country: Kenya}",
            "vars: {country: }",
            "cases[2].vars.country: must be text, not null",
        ),
        (
            "  - Add what must not be there",
            "  - yes\n  - Add what must not be there",
            "hints[1]: must be text, not True; to write it as text, put it in quotes",
        ),
        ("title: An answer in an exact format", "title: 1.5", "title: must be text, not 1.5; to"),
    ],
)
def test_a_value_yaml_reads_as_a_number_where_text_belongs_is_named_at_its_own_path(
    loaded, old, new, problem
):
    # Only its own path and what to do: not "cases[2].vars: must map variable names to text"
    # and then "no value for country", nor "hints: must be a list of texts".
    edit(loaded / CAPITALS, old, new)
    message = refused(loaded)
    assert f"{CAPITALS}:" in message and f": {problem}" in message
    assert "no value for" not in message


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("!!python/object/apply:os.system [echo hi]", "!!python/object/apply:os.system"),
        ("!!python/name:os.system", "!!python/name:os.system"),
        ("!secret x", "!secret"),
    ],
)
def test_a_yaml_tag_is_refused_at_its_line_saying_so(loaded, value, tag):
    edit(loaded / CAPITALS, "title: An answer in an exact format", f"title: {value}")
    message = refused(loaded)
    assert f"{CAPITALS}:3: the YAML tag {tag} is not allowed; course files hold only" in message
    assert "constructor" not in message  # PyYAML's words, and its copy of the line


def test_a_key_a_mapping_merges_in_may_be_overridden_by_its_own(loaded):
    # <<: *japan then name: gives Japan's vars under another name: YAML's merge, no duplicate.
    edit(
        loaded / CAPITALS,
        "  - name: Japan\n    vars: {country: Japan}",
        "  - &japan\n    name: Japan\n    vars: {country: Japan}\n  - <<: *japan\n    name: Tokyo",
    )
    load(loaded)
    cases = Exercise.objects.get(slug="capital-format").cases
    assert cases.get(name="Tokyo").variables == {"country": "Japan"}


def test_two_own_keys_of_one_name_are_still_a_duplicate_beside_a_merge(loaded):
    edit(
        loaded / CAPITALS,
        "  - name: Japan\n    vars: {country: Japan}",
        "  - &japan\n    name: Japan\n    vars: {country: Japan}\n"
        "  - <<: *japan\n    name: Tokyo\n    name: Osaka",
    )
    assert "name: appears twice in the same mapping" in refused(loaded)
