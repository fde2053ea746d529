"""The whole loop with ``backend = google``: push, people edit the sheet, pull, retrain, push.

The workspace only knows the spreadsheet id and ``api_endpoint``: every step goes through
``GoogleSheet.from_config`` to the local Sheets API server, and people's edits arrive over HTTP
as another collaborator's client would send them.
"""

from __future__ import annotations

import requests

from sheets_bridge import loop
from sheets_bridge.sheets.google import GoogleSheet
from sheets_bridge.store.workspace import Workspace
from tests.conftest_google import *  # noqa: F403
from tests.sheets_api import col_letters


def collaborator_types(api, spreadsheet: str, edits: list[tuple[str, str, str]]) -> None:
    """Another client finds the cells by id and column, then types into them (USER_ENTERED)."""
    base = f"{api.url}/v4/spreadsheets/{spreadsheet}/values"
    values = requests.get(f"{base}/images", timeout=10).json()["values"]
    header, ids = values[0], [r[0] if r else "" for r in values]
    data = [
        {
            "range": f"images!{col_letters(header.index(col))}{ids.index(rid) + 1}",
            "values": [[text]],
        }
        for rid, col, text in edits
    ]
    answer = requests.post(
        f"{base}:batchUpdate", json={"valueInputOption": "USER_ENTERED", "data": data}, timeout=10
    )
    answer.raise_for_status()


def test_push_edit_pull_retrain_push_against_the_google_backend(api, spreadsheet, google_workspace):
    ws = google_workspace()
    assert isinstance(ws.sheet(), GoogleSheet)
    loop.train(ws, epochs=1, progress=False)

    pushed = loop.push(ws)
    assert (
        pushed.appended == 36
        and pushed.sheet_url == f"https://docs.google.com/spreadsheets/d/{spreadsheet}/edit"
    )
    # One read (it fails: "images" does not exist yet), addSheet (its answer has the new sheet's id
    # and size: no second read), the values, the layout check, formulas + set-up + sort.
    assert [(r.kind, r.status) for r in api.log] == [
        ("spreadsheets.get", 400),
        ("spreadsheets.batchUpdate", 200),
        ("values.batchUpdate", 200),
        ("values.batchGet", 200),
        ("spreadsheets.batchUpdate", 200),
    ]

    collaborator_types(
        api,
        spreadsheet,
        [
            ("train-i-000", "annotator_1", "ii"),
            ("train-i-000", "annotator_2", "II"),
            ("val-iv-001", "override", "x"),
            ("train-iii-002", "subset", "val"),
            (
                "train-ii-001",
                "note",
                '\'=HYPERLINK("http://evil")',
            ),  # typed with an apostrophe: text
        ],
    )
    pulled = loop.pull(Workspace(ws.root))
    assert (pulled.relabelled, pulled.removed, pulled.moved, pulled.version) == (1, 1, 1, "v0002")
    people = api.people(spreadsheet, "images")
    rows = people.by_id()
    assert (
        rows["train-i-000"]["consensus"] == "ii" and "[in v0002]" in rows["train-i-000"]["status"]
    )
    assert rows["train-ii-001"]["note"] == '=HYPERLINK("http://evil")'

    retrained = loop.retrain(Workspace(ws.root), epochs=1)
    assert retrained.push["rows"] == 35  # val-iv-001 left the dataset
    mark = len(api.log)
    again = loop.push(Workspace(ws.root))
    assert again.appended == 0 and again.updated == 35 and again.gone == ["val-iv-001"]
    assert api.kinds(mark) == {
        "spreadsheets.get": 1,  # one read: to merge rows by id, and what the write needs
        "spreadsheets.batchUpdate": 1,  # the sort: nothing else changed since retrain's push
    }
    assert sum(r.bytes_in for r in api.log[mark:]) < 1_000
    rows = people.by_id()
    assert rows["train-i-000"]["label"] == "ii" and rows["train-i-000"]["annotator_1"] == "ii"
    assert (
        rows["val-iv-001"]["override"] == "x"
        and rows["val-iv-001"]["issues"] == "not in dataset v0002"
    )
    assert rows["train-iii-002"]["subset"] == "val"
    assert people.stored("train-ii-001", "note") == '=HYPERLINK("http://evil")'  # still text
    assert [r["rank"] for r in people.rows()][:35] == [str(i) for i in range(1, 36)]
