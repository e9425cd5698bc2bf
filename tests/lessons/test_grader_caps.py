"""The graders' caps are settings: GRADER_<name> in the environment is the cap the graders
read once Django has started, a bad value stops the start, and .env.example lists them all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from graders import limits

ROOT = Path(__file__).resolve().parent.parent.parent
PROBE = (
    "import django; django.setup(); "
    "from graders.structure import parse_json; print(parse_json('[[[[1]]]]')[1])"
)


def start_with(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "DJANGO_SETTINGS_MODULE": "sandbox.settings", **env}
    environ["SANDBOX_DATA_DIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=environ, capture_output=True, text=True
    )


def test_a_setting_changes_the_cap_the_graders_read(tmp_path):
    assert start_with(tmp_path).stdout.strip() == ""
    capped = start_with(tmp_path, GRADER_MAX_JSON_DEPTH="3")
    assert capped.stdout.strip() == "nested deeper than 3 levels", capped.stderr


def test_a_cap_past_its_ceiling_stops_the_start(tmp_path):
    result = start_with(tmp_path, GRADER_MAX_JSON_DEPTH="5000")
    assert result.returncode != 0
    assert "ImproperlyConfigured: GRADER_MAX_JSON_DEPTH must be" in result.stderr


def test_env_example_lists_every_cap():
    example = (ROOT / ".env.example").read_text()
    assert [n for n in limits.DEFAULTS if f"GRADER_{n}={limits.DEFAULTS[n]}" not in example] == []
