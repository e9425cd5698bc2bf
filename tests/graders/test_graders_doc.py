"""docs/graders.md documents every kind, with its params and an example that validates."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from graders import CRITERIA, load_rubric

DOC = Path(__file__).resolve().parents[2] / "docs" / "graders.md"
HEADING = re.compile(r"^### `(\w+)`$", re.MULTILINE)


def sections() -> dict[str, str]:
    text = DOC.read_text()
    heads = list(HEADING.finditer(text))
    return {
        h.group(1): text[h.end() : heads[i + 1].start() if i + 1 < len(heads) else len(text)].split(
            "\n## "
        )[0]
        for i, h in enumerate(heads)
    }


def test_every_kind_is_documented_and_nothing_else():
    assert set(sections()) == set(CRITERIA)


def test_each_documented_param_table_matches_the_kind():
    for name, body in sections().items():
        documented = re.findall(r"^\| `(\w+)` \|", body, re.MULTILINE)
        assert documented == [p.name for p in CRITERIA[name].params], name
        for param in CRITERIA[name].params:
            row = next(line for line in body.splitlines() if line.startswith(f"| `{param.name}` |"))
            assert f"| {'yes' if param.required else 'no'} |" in row, (name, param.name)


def test_each_example_is_a_valid_criterion_of_its_kind():
    for name, body in sections().items():
        blocks = re.findall(r"```yaml\n(.*?)```", body, re.DOTALL)
        assert len(blocks) == 1, name
        example = yaml.safe_load(blocks[0])
        assert example["kind"] == name
        load_rubric({"criteria": [example]})


def test_the_examples_in_the_prose_validate():
    text = DOC.read_text().split("## Kinds:")[0]
    for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL):
        data = yaml.safe_load(block)
        if "kind" in data:
            load_rubric({"criteria": [data]})
