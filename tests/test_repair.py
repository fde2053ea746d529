"""Any order of commands leaves a usable sheet; a damaged one has `sheet repair`, which keeps people's cells."""

from __future__ import annotations

import json
import sqlite3

from click.testing import CliRunner

from sheets_bridge import loop
from sheets_bridge.cli import main
from sheets_bridge.core.cells import SheetTable, SheetWrite
from sheets_bridge.core.schema import BRIDGE_COLUMNS
from sheets_bridge.loop.repair import plan_repair
from sheets_bridge.store.workspace import Workspace


def cli(*args: str, ok: bool = True):
    result = CliRunner().invoke(main, list(args))
    if ok:
        assert result.exit_code == 0, result.output
    return result


def human_cells(ws: Workspace) -> set[tuple[str, str, str]]:
    return {
        (r["id"], c, r[c])
        for r in ws.sheet().read().rows
        for c in ws.schema.human_columns
        if r.get(c, "").strip()
    }


def test_pull_before_the_first_push_leaves_a_sheet_that_push_accepts(workspace):
    root = str(workspace.root)
    out = cli("pull", "-w", root).output
    assert "nothing to pull: push first" in out
    assert "pushed" in cli("push", "-w", root).output
    assert "id" in workspace.sheet().read().header
    assert "0 invalid cells" in cli("pull", "-w", root).output


def test_repair_restores_the_header_an_old_pull_wrote_without_id(workspace):
    root = str(workspace.root)
    workspace.sheet().write(SheetWrite(BRIDGE_COLUMNS))  # what a pull before any push used to do
    refused = cli("push", "-w", root, ok=False)
    assert refused.exit_code == 1 and "sheets-bridge sheet repair" in refused.output
    out = cli("sheet", "repair", "-w", root).output
    assert "restored the 'id' column" in out and "next: sheets-bridge push" in out
    assert "pushed" in cli("push", "-w", root).output
    assert "nothing to repair" in cli("sheet", "repair", "-w", root).output


def damage(ws: Workspace, url_of: str) -> None:
    """What hands can do to the local file: a renamed id header, rows whose id was cleared."""
    with sqlite3.connect(ws.sheet_path) as db:
        db.execute("UPDATE header SET name = 'ID ' WHERE name = 'id'")
        db.execute("UPDATE header SET name = ' Note' WHERE name = 'note'")
        for rid, data in db.execute("SELECT id, data FROM rows").fetchall():
            cells = json.loads(data)
            if "note" in cells:
                cells[" Note"] = cells.pop("note")
                db.execute("UPDATE rows SET data = ? WHERE id = ?", (json.dumps(cells), rid))
        # a row whose id cell was cleared: it still shows its image
        row = db.execute("SELECT data FROM rows WHERE id = ?", (url_of,)).fetchone()
        db.execute("DELETE FROM rows WHERE id = ?", (url_of,))
        db.execute("INSERT INTO rows (id, position, data) VALUES (' ', 999, ?)", row)
        # a row someone typed votes into, without id or image; and a blank one
        db.execute(
            """INSERT INTO rows (id, position, data) VALUES ('  ', 1000, '{"annotator_1": "vi"}')"""
        )
        db.execute("INSERT INTO rows (id, position, data) VALUES ('   ', 1001, '{}')")


def test_repair_rebuilds_header_and_ids_and_keeps_every_human_cell(workspace):
    root = str(workspace.root)
    loop.push(workspace)
    ids = sorted(r["id"] for r in workspace.sheet().read().rows)
    a, b, c = ids[0], ids[1], ids[2]
    workspace.sheet().edit(
        [
            (a, "annotator_1", "ii"),
            (a, "note", "looks like ii"),
            (b, "override", "x"),
            (b, "note", "blank page =1+1"),
            (c, "annotator_2", "iv"),
        ],
        author="ana",
    )
    before = human_cells(workspace)
    damage(workspace, url_of=b)
    assert "no 'id' column" in cli("push", "-w", root, ok=False).output

    preview = cli("sheet", "repair", "--dry-run", "-w", root).output
    assert "dry run: nothing written" in preview
    assert "no 'id' column" in cli("push", "-w", root, ok=False).output  # still damaged

    out = cli("sheet", "repair", "-w", root).output
    assert "renamed 'ID ' to 'id'" in out and "renamed ' Note' to 'note'" in out
    assert f"its image URL names {b}" in out
    assert "kept as unmatched-1: type its real id into it" in out
    assert "1 blank row(s) without id dropped" in out
    after = human_cells(workspace)
    assert before <= after  # every cell people typed, in its row and column
    assert after - before == {("unmatched-1", "annotator_1", "vi")}
    assert "pushed" in cli("push", "-w", root).output
    assert human_cells(workspace) == after
    rows = workspace.sheet().read().by_id()
    assert rows["unmatched-1"]["issues"].startswith("not in dataset")
    assert "created v0002" in cli("pull", "-w", root).output
    assert b not in Workspace(root).current.manifest()["id"].tolist()  # its `x` still removes it


def test_duplicated_rows_become_one_and_differing_votes_are_kept_side_by_side(workspace):
    schema = workspace.schema
    url = {workspace.config.image_url("a"): "a", workspace.config.image_url("b"): "b"}
    table = SheetTable(
        ("Id", "image", "annotator_1", "annotator_2", "note", "override"),
        (
            {
                "Id": "a",
                "image": "",
                "annotator_1": "ii",
                "annotator_2": "",
                "note": "n1",
                "override": "",
            },
            {
                "Id": "a",
                "image": "",
                "annotator_1": "iii",
                "annotator_2": "v",
                "note": "n1",
                "override": "",
            },
            {
                "Id": "",
                "image": f'=IMAGE("{workspace.config.image_url("b")}?sig=abc")',
                "annotator_1": "",
                "annotator_2": "",
                "note": "",
                "override": "x",
            },
        ),
    )
    header, rows, report = plan_repair(table, schema, url)
    assert header[0] == "id" and "Id" not in header
    assert report.merged == {"a": 2} and report.recovered == {4: "b"}
    merged = {r["id"]: r for r in rows}
    assert merged["a"]["annotator_1"] == "ii | iii"  # both votes; pull blocks the row until fixed
    assert merged["a"]["annotator_2"] == "v" and merged["a"]["note"] == "n1"
    assert merged["b"]["override"] == "x"
    assert report.joined == ["a annotator_1"]
    assert "1 cell(s) whose copies differed" in report.describe()


def test_a_healthy_sheet_needs_no_repair(workspace):
    loop.push(workspace)
    out = cli("sheet", "repair", "-w", str(workspace.root)).output
    assert out.startswith("sheet repair: nothing to repair")


def test_any_order_of_commands_leaves_a_workspace_that_pushes_and_pulls(workspace, tmp_path):
    import itertools
    import shutil

    ids = sorted(workspace.current.manifest()["id"])
    edits = tmp_path / "edits.csv"
    edits.write_text(f"id,annotator_1,annotator_2\n{ids[0]},ii,ii\n{ids[5]},x,\n", encoding="utf-8")
    commands = {
        "pull": ["pull"],
        "push": ["push"],
        "edit": ["sheet", "update", "--from-csv", str(edits)],
        "checkout": ["checkout", "v0001"],
        "repair": ["sheet", "repair"],
    }
    orders = list(itertools.permutations(commands, 4))[::5]  # 24 of the 120 orders
    for n, order in enumerate(orders):
        root = tmp_path / f"ws{n}"
        shutil.copytree(workspace.root, root)
        for name in order:
            result = CliRunner().invoke(main, [*commands[name], "-w", str(root)])
            assert result.exit_code in (0, 1), (order, name, result.output)
            assert not isinstance(result.exception, Exception) or isinstance(
                result.exception, SystemExit
            ), (order, name, result.exception)
            assert len(result.output.strip().splitlines()) >= 1
            cli("versions", "-w", str(root))
        # whatever happened, the loop goes on
        cli("push", "-w", str(root))
        cli("pull", "-w", str(root))
        cli("push", "-w", str(root))
