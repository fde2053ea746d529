"""The layers hold: import contracts (import-linter) and a cheap command-line import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_in_pyproject_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_importing_the_command_line_loads_no_torch_gspread_or_pandas():
    code = (
        "import sys, sheets_bridge.cli; "
        "print(sorted(m for m in ('torch', 'gspread', 'pandas', 'flask', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_old_module_paths_still_import_the_moved_modules():
    import importlib

    import sheets_bridge

    for old, new in sheets_bridge.MOVED.items():
        assert importlib.import_module(old) is importlib.import_module(new)
