"""The README's two commands cannot rot: their steps run here."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def two_commands() -> list[str]:
    section = README.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, flags=re.S)


def test_the_readme_has_exactly_two_setup_commands_and_ci_runs_the_second():
    demo, tests = two_commands()
    assert (
        demo
        == "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/sheets-bridge demo"
    )
    assert tests == "bash tests/run_all.sh"
    ci = (ROOT / ".ci" / "run").read_text()
    assert [ln for ln in ci.splitlines() if ln and not ln.startswith("#")] == [
        "exec bash tests/run_all.sh"
    ]
    script = (ROOT / "tests" / "run_all.sh").read_text()
    for step in (
        "python3 -m venv .venv",
        "pip install",
        "-e '.[dev]'",
        "apt-get install",
        "chromium",
        "npm ci",
        "pytest",
        "npm test",
    ):
        assert step in script


def test_the_demo_command_trains_pushes_and_serves_the_urls_it_prints(tmp_path):
    """`sheets-bridge demo` as the README runs it, made small, on a free port."""
    demo = two_commands()[0].split("&& ")[-1].split()
    exe = Path(sys.executable).with_name("sheets-bridge")
    args = [
        str(exe),
        *demo[1:],
        "--images",
        "100",
        "--epochs",
        "1",
        "--port",
        "0",
        "--dir",
        str(tmp_path / "d"),
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines: list[str] = []
        deadline = time.time() + 300
        dashboard = None
        while time.time() < deadline and dashboard is None:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.match(r"\s+dashboard\s+(http://\S+)", line)
            dashboard = m.group(1) if m else None
        out = "".join(lines)
        assert dashboard, out
        assert "validation accuracy" in out and "pushed 80 rows" in out and "took" in out
        with urllib.request.urlopen(dashboard, timeout=30) as resp:
            assert resp.status == 200 and b"v0001" in resp.read()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
