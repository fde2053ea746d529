"""Stress: people edit through every path at once (grid API, UMAP bulk actions and undo, note
appends, CSV imports in this process and in another one) while pushes and pulls run; every
acknowledged write is in the final sheet and in the edit log. Nothing waits on a clock: writers
run their fixed number of edits, and push/pull repeat until every writer has finished."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sheets_bridge import loop
from sheets_bridge.loop.sheet_csv import render, update_from_csv
from sheets_bridge.sheets.local import LocalSheet
from sheets_bridge.store.workspace import Workspace
from sheets_bridge.web import create_app
from tests.conftest import make_image_folder

TOKEN = "stress-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LABELS = ("i", "ii", "iii", "iv")
GRID_WRITES, NOTES, BULK_ROUNDS, CSV_ROUNDS = 30, 8, 6, 6


def csv_rounds(root: Path, ids: list[str], author: str, rounds: int) -> list[dict]:
    """Export, change this editor's annotator_2 cells, import; returns the applied changes."""
    ws = Workspace(root)
    acked = []
    for k in range(rounds):
        rows = list(csv.DictReader(io.StringIO(render(ws.sheet().read(), "csv", ws.schema))))
        for row in rows:
            if row["id"] in ids:
                row["annotator_2"] = LABELS[(k + ids.index(row["id"])) % len(LABELS)]
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        path = root.parent / f"{author}-{k}.csv"
        path.write_text(out.getvalue(), encoding="utf-8")
        report = update_from_csv(ws.sheet(), ws.schema, path, author)
        assert report.conflicts == [], report.conflicts  # nobody else writes these cells
        acked += [{**c, "action": report.action} for c in report.changes]
    return acked


def subprocess_main() -> None:  # run in another process by the test
    root, author, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    ids = json.loads(sys.argv[4])
    print(json.dumps(csv_rounds(root, ids, author, rounds)))


@pytest.fixture
def ws(tmp_path):
    data = make_image_folder(tmp_path / "data", {"train": 8, "val": 4})
    ws = loop.init(data, tmp_path / "ws")
    loop.push(ws)
    return ws


def test_no_acknowledged_write_is_lost_while_pushes_and_pulls_run(ws, capsys):
    app = create_app(ws.root, token=TOKEN, testing=True)
    ids = sorted(ws.sheet().read().by_id())
    train = [i for i in ids if i.startswith("train")]
    grid_rows = {"grid-a": ids[0:6], "grid-b": ids[6:12]}
    subset_rows = train[-4:]
    bulk_rows = ids[12:20]
    csv_rows, sub_rows = ids[20:26], ids[26:32]
    note_row = ids[-1]
    tried = {"n": 0}
    acked: list[dict] = []  # {"id", "column", "new", "action"} for every acknowledged change
    notes: list[str] = []
    lock = threading.Lock()
    failures: list[BaseException] = []

    def ack(changes, action):
        with lock:
            acked.extend({**c, "action": action} for c in changes)

    def attempt(n=1):
        with lock:
            tried["n"] += n

    def guarded(fn):
        def run(*args):
            try:
                fn(*args)
            except BaseException as exc:  # reported after join
                failures.append(exc)

        return run

    @guarded
    def grid(author, rows):
        client = app.test_client()
        shown = {r: "" for r in rows}  # what the page shows: the grid sends it as expected
        for k in range(GRID_WRITES):
            rid = rows[k % len(rows)]
            value = LABELS[k % len(LABELS)] if shown[rid] != LABELS[k % len(LABELS)] else "?"
            edit = {"id": rid, "column": "annotator_1", "value": value, "expected": shown[rid]}
            attempt()
            r = client.post("/api/edit", headers=AUTH, json={"author": author, "edits": [edit]})
            # A 409, or nothing changed: something overwrote this person's previous value.
            assert r.status_code == 200 and r.json["changed"] == 1, r.json
            shown[rid] = value
            ack(r.json["applied"], r.json["action"])

    @guarded
    def subsets():
        client = app.test_client()
        shown = {r: "train" for r in subset_rows}
        for k in range(GRID_WRITES):
            rid = subset_rows[k % len(subset_rows)]
            value = "val" if shown[rid] == "train" else "train"
            edit = {"id": rid, "column": "subset", "value": value, "expected": shown[rid]}
            attempt()
            r = client.post("/api/edit", headers=AUTH, json={"author": "mover", "edits": [edit]})
            assert r.status_code == 200 and r.json["changed"] == 1, r.json  # a push wrote over it
            shown[rid] = value
            ack(r.json["applied"], r.json["action"])

    @guarded
    def bulk():
        client = app.test_client()
        for _ in range(BULK_ROUNDS):
            edits = [
                {"id": i, "column": "override", "value": "?", "expected": ""} for i in bulk_rows
            ]
            attempt(len(edits))
            r = client.post(
                "/api/edit", headers=AUTH, json={"author": "lasso", "edits": edits, "bulk": True}
            )
            assert r.status_code == 200 and r.json["changed"] == len(bulk_rows), r.json
            ack(r.json["applied"], r.json["action"])
            attempt(len(edits))
            u = client.post("/api/undo", headers=AUTH, json={"author": "lasso"})
            assert u.status_code == 200 and u.json["changed"] == len(bulk_rows), u.json
            ack(u.json["applied"], u.json["action"])

    @guarded
    def appender(n):
        client = app.test_client()
        for k in range(NOTES):
            text = f"n{n}-{k}"
            edit = {"id": note_row, "column": "note", "value": text, "append": True}
            attempt()
            r = client.post("/api/edit", headers=AUTH, json={"author": f"w{n}", "edits": [edit]})
            assert r.status_code == 200 and r.json["changed"] == 1, r.json
            with lock:
                notes.append(text)
            ack(r.json["applied"], r.json["action"])

    @guarded
    def csv_editor():
        attempt(CSV_ROUNDS * len(csv_rows))
        with lock:
            acked.extend(csv_rounds(ws.root, csv_rows, "csv-here", CSV_ROUNDS))

    done = threading.Event()
    cycles = {"push": 0, "pull": 0}

    @guarded
    def push_pull():
        while True:  # at least a few cycles, and until every writer has finished
            finished = done.is_set()
            loop.push(Workspace(ws.root))
            cycles["push"] += 1
            loop.pull(Workspace(ws.root))
            cycles["pull"] += 1
            if finished and cycles["pull"] >= 3:
                return

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    other = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from tests.test_stress_edits import subprocess_main; subprocess_main()",
            str(ws.root),
            "csv-there",
            str(CSV_ROUNDS),
            json.dumps(sub_rows),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    writers = [threading.Thread(target=grid, args=(a, rows)) for a, rows in grid_rows.items()] + [
        threading.Thread(target=subsets),
        threading.Thread(target=bulk),
        threading.Thread(target=csv_editor),
        *[threading.Thread(target=appender, args=(n,)) for n in range(3)],
    ]
    jobs = threading.Thread(target=push_pull)
    jobs.start()
    for t in writers:
        t.start()
    out, err = other.communicate(timeout=120)
    for t in writers:
        t.join()
    done.set()
    jobs.join()
    assert not failures, failures
    assert other.returncode == 0, err
    theirs = json.loads(out)
    attempt(CSV_ROUNDS * len(sub_rows))
    acked.extend(theirs)

    # Every acknowledged change is in the edit log, under the action that acknowledged it ...
    log = LocalSheet(ws.sheet_path).edit_log()
    logged = {(e["action"], e["id"], e["column"], e["new"]) for e in log}
    missing_from_log = [
        a for a in acked if (a["action"], a["id"], a["column"], a["new"]) not in logged
    ]
    # ... and the last acknowledged value of every cell is what the sheet holds.
    seq = {(e["action"], e["id"], e["column"]): e["seq"] for e in log}
    last: dict[tuple[str, str], str] = {}
    for a in sorted(acked, key=lambda a: seq.get((a["action"], a["id"], a["column"]), 0)):
        last[(a["id"], a["column"])] = a["new"]
    final = ws.sheet().read().by_id()
    overwritten = [
        (k, v, final[k[0]][k[1]])
        for k, v in last.items()
        if k[1] != "note" and final[k[0]][k[1]] != v
    ]
    kept_notes = final[note_row]["note"].split("; ")
    lost_notes = [n for n in notes if n not in kept_notes]
    lost = len(missing_from_log) + len(overwritten) + len(lost_notes)
    with capsys.disabled():
        print(
            f"\nstress: writes tried {tried['n']}, acknowledged {len(acked)}, lost {lost} "
            f"({cycles['push']} pushes and {cycles['pull']} pulls ran meanwhile; "
            f"{len(ws.versions())} versions)"
        )
    assert lost == 0, (missing_from_log[:5], overwritten[:5], lost_notes[:5])
    assert len(acked) > 0 and cycles["push"] >= 3
