"""A person added while the sheet lives in Google gets a column at the next push, and pull reads
the votes typed there."""

from __future__ import annotations

import requests

from sheets_bridge import loop
from sheets_bridge.loop.annotators import add_annotator, progress
from sheets_bridge.store.workspace import Workspace
from tests.conftest_google import *  # noqa: F403
from tests.test_google_loop import collaborator_types
from tests.test_web_app import write_run


def test_a_new_annotator_gets_a_google_column_at_the_next_push_and_pull_reads_it(
    api, spreadsheet, google_workspace
):
    ws = google_workspace()
    write_run(ws)
    loop.push(ws)
    added = add_annotator(ws, "Ana")
    assert added.added and not added.in_sheet
    assert added.message == "added Ana: the next push adds the column Ana to the sheet"
    ws = Workspace(ws.root)
    loop.push(ws)
    values = requests.get(
        f"{api.url}/v4/spreadsheets/{spreadsheet}/values/images", timeout=10
    ).json()["values"]
    header = values[0]
    assert header.index("Ana") > header.index("annotator_2")
    rows = {r[0]: dict(zip(header, r, strict=False)) for r in values[1:]}
    rid, row = next(iter(rows.items()))
    other = next(c for c in ws.classes if c != row["label"])
    collaborator_types(api, spreadsheet, [(rid, "Ana", other), (rid, "annotator_1", other)])
    assert {p.name: p.voted for p in progress(ws)} == {"annotator_1": 1, "annotator_2": 0, "Ana": 1}
    report = loop.pull(ws, dry_run=True)
    assert report.relabelled == 1 and "Ana" in report.removes_by_annotator, report.describe()
