"""Edits from the pages are compare-and-set: conflicts answer 409 with what the cell holds, bulk
actions ask for confirmation and keep what colleagues typed, undo takes an action back, and
concurrent note appends keep every note."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest

import sheets_bridge.web as web_pkg
from sheets_bridge import loop
from sheets_bridge.sheets.local import LocalSheet
from sheets_bridge.web import create_app
from sheets_bridge.web.api import BULK_CONFIRM
from tests.conftest import make_image_folder

TOKEN = "test-token-1234"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def ws(tmp_path):
    data = make_image_folder(tmp_path / "data", {"train": 6, "val": 3})
    ws = loop.init(data, tmp_path / "ws")
    loop.push(ws)
    return ws


@pytest.fixture
def client(ws):
    return create_app(ws.root, token=TOKEN, testing=True).test_client()


def post(client, path, body):
    return client.post(path, headers=AUTH, json=body)


def cells(ws, column):
    return {rid: row[column] for rid, row in ws.sheet().read().by_id().items()}


def test_a_grid_edit_of_a_cell_changed_since_answers_409_with_the_current_value(ws, client):
    rid = "train-ii-000"
    assert (
        post(
            client,
            "/api/edit",
            {
                "author": "bo",
                "edits": [{"id": rid, "column": "override", "value": "iii", "expected": ""}],
            },
        ).status_code
        == 200
    )
    answer = post(
        client,
        "/api/edit",
        {
            "author": "ana",
            "edits": [{"id": rid, "column": "override", "value": "x", "expected": ""}],
        },
    )
    assert answer.status_code == 409
    assert answer.json["conflicts"] == [
        {"id": rid, "column": "override", "expected": "", "current": "iii", "value": "x"}
    ]
    assert answer.json["edits"] == [{"id": rid, "column": "override", "value": "iii"}]
    assert "now holds 'iii'" in answer.json["error"]
    assert cells(ws, "override")[rid] == "iii"


def test_a_bulk_action_over_the_threshold_needs_confirmation(ws, client):
    ids = sorted(ws.sheet().read().by_id())[: BULK_CONFIRM + 1]
    edits = [{"id": i, "column": "override", "value": "x", "expected": ""} for i in ids]
    asked = post(client, "/api/edit", {"edits": edits, "bulk": True})
    assert asked.status_code == 428 and asked.json["rows"] == BULK_CONFIRM + 1
    assert set(cells(ws, "override").values()) == {""}
    done = post(client, "/api/edit", {"edits": edits, "bulk": True, "confirm": True})
    assert done.status_code == 200 and done.json["changed"] == BULK_CONFIRM + 1


def test_a_bulk_action_keeps_an_override_a_colleague_typed_unless_forced(ws, client):
    ids = sorted(ws.sheet().read().by_id())[:5]
    ws.sheet().edit([(ids[0], "override", "iv")], author="bo")
    edits = [{"id": i, "column": "override", "value": "x"} for i in ids]
    kept = post(client, "/api/edit", {"author": "ana", "edits": edits, "bulk": True})
    assert kept.status_code == 200 and kept.json["changed"] == 4
    assert kept.json["kept"] == [
        {"id": ids[0], "column": "override", "current": "iv", "value": "x"}
    ]
    assert cells(ws, "override")[ids[0]] == "iv"
    forced = post(client, "/api/edit", {"edits": edits, "bulk": True, "force": True})
    assert forced.json["changed"] == 1 and cells(ws, "override")[ids[0]] == "x"


def test_undo_from_the_web_takes_back_a_persons_last_action(ws, client):
    ids = sorted(ws.sheet().read().by_id())[:3]
    edits = [{"id": i, "column": "override", "value": "x", "expected": ""} for i in ids]
    post(client, "/api/edit", {"author": "ana", "edits": edits, "bulk": True})
    ws.sheet().edit([(ids[2], "override", "ii")], author="bo")
    undone = post(client, "/api/undo", {"author": "ana"})
    assert undone.status_code == 409 and undone.json["changed"] == 2
    assert undone.json["conflicts"][0]["current"] == "ii"
    assert [cells(ws, "override")[i] for i in ids] == ["", "", "ii"]
    nothing = post(client, "/api/undo", {"author": "ana"})
    assert nothing.status_code == 404 and "no edit left to undo" in nothing.json["error"]


def test_ten_concurrent_note_appends_of_five_notes_keep_all_fifty(ws):
    app = create_app(ws.root, token=TOKEN, testing=True)
    rid = "train-i-000"
    barrier = threading.Barrier(10)
    answers: list[int] = []

    def writer(n):
        client = app.test_client()
        barrier.wait()
        for k in range(5):
            r = post(
                client,
                "/api/edit",
                {
                    "author": f"w{n}",
                    "edits": [{"id": rid, "column": "note", "value": f"n{n}-{k}", "append": True}],
                },
            )
            answers.append(r.status_code)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200] * 50
    notes = cells(ws, "note")[rid].split("; ")
    assert sorted(notes) == sorted(f"n{n}-{k}" for n in range(10) for k in range(5))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_the_api_and_the_error_handlers_do_not_import_each_other():
    folder = Path(web_pkg.__file__).parent
    assert "sheets_bridge.web.api" not in _imports(folder / "errors.py")
    api = _imports(folder / "api.py")
    assert "inspect" not in api and "sheets_bridge.sheets.local" not in api


def test_the_grid_reads_the_sheet_through_the_workspace(ws, client):
    ws.sheet().edit([("train-i-000", "note", "hi")], author="bo")
    rows = client.get("/api/sheet/rows", headers=AUTH).json
    assert rows["seq"] == LocalSheet(ws.sheet_path).edit_log()[-1]["seq"]


def test_a_bulk_move_replaces_the_pushed_subset_but_keeps_typed_notes(ws, client):
    ids = [i for i in sorted(ws.sheet().read().by_id()) if i.startswith("train")][:3]
    edits = [{"id": i, "column": "subset", "value": "val"} for i in ids]
    moved = post(client, "/api/edit", {"edits": edits, "bulk": True})
    assert moved.status_code == 200 and moved.json["changed"] == 3 and moved.json["kept"] == []
