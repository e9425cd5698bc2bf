from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_it_imports_without_django():
    code = (
        "import graders, sys; "
        "assert 'django' not in sys.modules; assert 'sandbox' not in sys.modules"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=root, env={"PYTHONPATH": str(root)}
    )
