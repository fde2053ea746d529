"""The grid's server side: pages of rows filtered and sorted in SQL, and people's columns (the web
app's "add me", the CLI's `annotator add/list`), which pull and consensus then read."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from sheets_bridge import loop
from sheets_bridge.cli import main
from sheets_bridge.core import config as config_mod
from sheets_bridge.core.cells import SheetWrite
from sheets_bridge.core.errors import SheetError
from sheets_bridge.core.row_filter import RowFilter
from sheets_bridge.sheets.local import LocalSheet
from sheets_bridge.store.workspace import Workspace
from sheets_bridge.web import create_app
from sheets_bridge.web.grid import image_src
from tests.conftest import make_image_folder
from tests.test_web_app import write_run

TOKEN = "grid-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def ws_root(tmp_path):
    data = make_image_folder(tmp_path / "data", {"train": 6, "val": 3, "label_book": 1})
    ws = loop.init(data, tmp_path / "ws")
    write_run(ws)
    loop.push(ws)
    return ws.root


@pytest.fixture
def client(ws_root):
    return create_app(ws_root, token=TOKEN, testing=True).test_client()


def page(client, **params):
    query = "&".join(f"{k}={json.dumps(v) if k == 'filters' else v}" for k, v in params.items())
    response = client.get(f"/api/sheet/page?{query}", headers=AUTH)
    assert response.status_code == 200, response.json
    data = response.json
    data["records"] = [dict(zip(data["columns"], r, strict=True)) for r in data["rows"]]
    return data


def test_a_page_holds_only_its_rows_in_sheet_order_with_counts(client, ws_root):
    order = LocalSheet(ws_root / "sheet.db").read().ids
    first = page(client, offset=0, limit=10)
    second = page(client, offset=10, limit=10)
    assert [r["id"] for r in first["records"] + second["records"]] == list(order[:20])
    assert first["total"] == first["matched"] == len(order) == 36 and not first["more"]
    assert "url" not in first["columns"] and "image" in first["image_columns"]
    rid = first["records"][0]["id"]
    assert first["records"][0]["image"].startswith("/images/")  # the formula's URL, not its text
    assert rid in first["records"][0]["image"]


def test_sort_and_filters_run_on_the_server(client, ws_root):
    rows = LocalSheet(ws_root / "sheet.db").read().rows
    by_quality = page(client, limit=100, sort="label_quality", dir="desc")["records"]
    values = [r["label_quality"] for r in by_quality]
    assert values == sorted(values, reverse=True) and len(values) == 36
    high = page(client, filters=[{"column": "label_quality", "op": ">=", "value": 0.5}])
    assert high["matched"] == sum(float(r["label_quality"]) >= 0.5 for r in rows)
    assert all(r["label_quality"] >= 0.5 for r in high["records"])
    like = page(client, filters=[{"column": "subset", "op": "like", "value": "VA"}])
    assert {r["subset"] for r in like["records"]} == {"val"}
    assert like["matched"] == sum(r["subset"] == "val" for r in rows)
    with_issues = page(client, issues=1)
    assert with_issues["matched"] == sum(bool(r["issues"]) for r in rows) < 36
    rid = rows[5]["id"]
    assert [r["id"] for r in page(client, q=rid.upper())["records"]] == [rid]


def test_my_unvoted_rows_is_a_server_side_filter(client, ws_root):
    sheet = LocalSheet(ws_root / "sheet.db")
    ids = sheet.read().ids
    sheet.edit([(ids[0], "annotator_1", "i"), (ids[1], "annotator_1", "x")], author="t")
    sheet.edit([(ids[2], "annotator_2", "?")], author="t")
    mine = page(client, unvoted="annotator_1", limit=100)
    assert mine["matched"] == 34 and {ids[0], ids[1]}.isdisjoint(r["id"] for r in mine["records"])
    counts = client.get("/api/annotators", headers=AUTH).json["annotators"]
    assert counts == [
        {"name": "annotator_1", "voted": 2, "rows": 36},
        {"name": "annotator_2", "voted": 1, "rows": 36},
    ]


@pytest.mark.parametrize(
    "query, message",
    [
        ("sort=nope", "no column 'nope'"),
        ("dir=up", "dir must be asc or desc"),
        ("unvoted=bob", "'bob' is not an annotator"),
        ("filters=nope", "filters must be a JSON list"),
        ('filters=[{"column":"rank","op":"~","value":1}]', "unknown filter op"),
        ('filters=[{"column":"rank","op":">=","value":"high"}]', "needs a number"),
        ('filters=[{"column":"zz","op":"=","value":1}]', "no column 'zz'"),
        ("limit=-1", "limit must be between"),
    ],
)
def test_bad_page_requests_say_what_is_wrong(client, query, message):
    response = client.get(f"/api/sheet/page?{query}", headers=AUTH)
    assert response.status_code == 400 and message in response.json["error"]


def test_a_person_added_from_the_web_app_gets_a_column_that_pull_reads(client, ws_root):
    response = client.post("/api/annotators", headers=AUTH, json={"name": "  Ana   María "})
    assert response.status_code == 201, response.json
    assert response.json["name"] == "Ana María" and response.json["in_sheet"]
    assert config_mod.load(ws_root, env={}).annotators == (
        "annotator_1",
        "annotator_2",
        "Ana María",
    )
    assert "# one sheet column per annotator" in (ws_root / "sheets-bridge.toml").read_text()
    sheet = LocalSheet(ws_root / "sheet.db")
    assert "Ana María" in sheet.header()
    again = client.post("/api/annotators", headers=AUTH, json={"name": "ana maría"})
    assert again.status_code == 200 and again.json["added"] is False
    # her vote goes through the edit API and decides a row with another person's
    rid = sheet.read().ids[0]
    ws = Workspace(ws_root)
    other = next(c for c in ws.classes if c != sheet.read().by_id()[rid]["label"])
    voted = client.post(
        "/api/edit",
        headers=AUTH,
        json={"edits": [{"id": rid, "column": "Ana María", "value": other, "expected": ""}]},
    )
    assert voted.status_code == 200, voted.json
    sheet.edit([(rid, "annotator_1", other)], author="t")
    report = loop.pull(Workspace(ws_root), dry_run=True)
    assert report.relabelled == 1, report.describe()
    assert "Ana María" in report.removes_by_annotator
    for bad, message in [("", "needs a name"), ("=1+1", "formula"), ("note", "clash")]:
        refused = client.post("/api/annotators", headers=AUTH, json={"name": bad})
        assert refused.status_code == 400 and message in refused.json["error"], refused.json


def test_the_cli_adds_and_lists_annotators(ws_root):
    runner = CliRunner()
    added = runner.invoke(main, ["annotator", "add", "Bo", "-w", str(ws_root)])
    assert added.exit_code == 0 and "added Bo: the sheet has a column Bo" in added.output
    LocalSheet(ws_root / "sheet.db").edit(
        [(LocalSheet(ws_root / "sheet.db").read().ids[0], "Bo", "?")], author="Bo"
    )
    listed = runner.invoke(main, ["annotator", "list", "-w", str(ws_root)])
    assert listed.exit_code == 0
    assert listed.output.splitlines() == [
        "annotator_1\t0 of 36 rows voted",
        "annotator_2\t0 of 36 rows voted",
        "Bo\t1 of 36 rows voted",
    ]
    refused = runner.invoke(main, ["annotator", "add", "a,b", "-w", str(ws_root)])
    assert refused.exit_code == 1 and "leave out quotes, commas" in refused.output


def test_a_person_added_before_the_first_push_gets_the_column_with_it(tmp_path):
    data = make_image_folder(tmp_path / "data", {"train": 2, "val": 1, "label_book": 1})
    ws = loop.init(data, tmp_path / "ws")
    from sheets_bridge.loop.annotators import add_annotator

    added = add_annotator(ws, "Cy")
    assert added.added and not added.in_sheet and "next push" in added.message
    write_run(ws)
    loop.push(Workspace(ws.root))
    assert "Cy" in LocalSheet(ws.root / "sheet.db").header()


def test_local_sheet_page_filters_sort_and_count_limit(tmp_path):
    sheet = LocalSheet(tmp_path / "s.db")
    sheet.write(
        SheetWrite(
            header=("id", "label", "rank", "Ana"),
            appends=[
                {"id": f"r{i}", "label": "ab"[i % 2], "rank": 10 - i, "Ana": "" if i % 3 else "a"}
                for i in range(10)
            ],
        )
    )
    got = sheet.page(0, 3, filters=[RowFilter("Ana", "empty")], count_limit=1)
    assert [r["id"] for r in got.rows] == ["r1", "r2", "r4"]
    assert (got.matched, got.more, got.total) == (4, True, 10)  # counted 1 past the page
    assert sheet.page(3, 3, filters=[RowFilter("Ana", "empty")]).rows[0]["id"] == "r5"
    assert not sheet.page(0, 3, filters=[RowFilter("Ana", "empty")], count_limit=3).more
    assert [r["id"] for r in sheet.page(0, 2, sort="rank").rows] == ["r9", "r8"]
    assert sheet.filled(["Ana", "label", "missing"]) == {"Ana": 4, "label": 10, "missing": 0}
    with pytest.raises(SheetError, match="no column"):
        sheet.page(0, 1, sort="nope")


@pytest.mark.parametrize(
    "cell, rid, src",
    [
        ('=IMAGE("/images/a%20b?sig=1")', "x", "/images/a%20b?sig=1"),
        ('=IMAGE("https://h/a.png?q=""1""")', None, 'https://h/a.png?q="1"'),
        ("", "r 1", "/images/r%201"),
        ("lb_7", None, "/images/lb_7"),
        ("", None, ""),
        ('=IMAGE("javascript:alert(1)")', "r1", "/images/r1"),
    ],
)
def test_image_cells_become_urls(cell, rid, src):
    assert image_src(cell, rid) == src
