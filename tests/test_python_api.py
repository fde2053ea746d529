"""The README's Python API block runs as written, on a real workspace."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

import sheets_bridge as sb

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_block() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Python API") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_python_block_runs_as_written(image_folder, tmp_path, monkeypatch):
    sb.init(image_folder, tmp_path / "ws")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHEETS_BRIDGE_EPOCHS", "1")  # the same code, a shorter training
    namespace: dict = {}
    exec(compile(_python_block(), "README.md", "exec"), namespace)
    df, worst = namespace["df"], namespace["worst"]
    assert isinstance(df, pd.DataFrame) and len(df) == 9 * len(namespace["ws"].classes)
    assert list(worst["rank"]) == [str(k) for k in range(1, 11)]
    assert namespace["ws"].versions()["version"].tolist() == ["v0001"]  # nobody voted yet


def test_the_api_sees_what_people_typed_and_pulls_it(image_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("SHEETS_BRIDGE_EPOCHS", "1")
    ws = sb.init(image_folder, tmp_path / "ws")
    ws.train()
    ws.push()
    first = ws.sheet_frame().iloc[0]
    ws.workspace.sheet().edit([(first["id"], "override", "x")], author="ana")
    assert ws.sheet_frame().set_index("id").at[first["id"], "override"] == "x"
    report = ws.pull()
    assert report.removed == 1 and ws.version == "v0002"
    changes = ws.diff("v0001")
    assert changes.to_dict("records")[0]["id"] == first["id"]
    assert first["id"] not in set(ws.manifest()["id"])
    assert ws.checkout("v0001") == "v0001" and first["id"] in set(ws.manifest()["id"])
