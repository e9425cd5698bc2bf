"""`make run`, the README's first command: one product per data folder."""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_second_make_run_on_the_same_data_folder_is_refused_before_it_changes_anything(
    tmp_path,
):
    # As the first `make run` holds it: a second one would reset the demo passwords it printed.
    with open(tmp_path / "run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finished = subprocess.run(
            ["make", "--no-print-directory", "run", "PORT=1"],
            cwd=ROOT,
            env={**os.environ, "SANDBOX_DATA_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert finished.returncode != 0
    assert f"Prompt Sandbox is already running on {tmp_path}/" in finished.stderr
    assert "SANDBOX_DATA_DIR" in finished.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.lock"]  # no database made
