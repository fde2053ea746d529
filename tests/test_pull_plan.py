"""Pull's rules: the pure plan, typos that block a row, dry runs, the removal guard, pulls before
the first push, and counts that agree between the pull, `report` and the dashboard."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from sheets_bridge import loop
from sheets_bridge.cli import main
from sheets_bridge.core.cells import SheetTable, SheetWrite
from sheets_bridge.core.errors import ConfirmationNeeded, SheetError
from sheets_bridge.core.labels import ROMAN_CLASSES
from sheets_bridge.core.pull_plan import NOTHING_TO_PULL, plan_pull
from sheets_bridge.core.schema import Schema
from sheets_bridge.store.workspace import Workspace
from sheets_bridge.web import create_app

TOKEN = "test-token-1234"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HEADER = ("id", "label", "subset", "annotator_1", "annotator_2", "override")


def manifest(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id", "label", "split"])


def table(*rows: dict[str, str]) -> SheetTable:
    return SheetTable(HEADER, tuple({c: r.get(c, "") for c in HEADER} for r in rows))


# -- the pure plan -------------------------------------------------------------------------------
def test_plan_pull_decides_moves_logs_and_counts_without_touching_its_inputs():
    m = manifest(("a", "i", "train"), ("b", "ii", "train"), ("c", "iii", "val"), ("d", "iv", "val"))
    t = table(
        {"id": "a", "annotator_1": "II", "annotator_2": "2"},
        {"id": "b", "annotator_1": "x", "override": "x"},
        {"id": "c", "subset": "train", "annotator_1": "iii"},
        {"id": "d", "annotator_1": "iv", "annotator_2": "i"},
        {"id": "ghost", "annotator_1": "ii"},
    )
    plan = plan_pull(t, m, None, Schema(), ROMAN_CLASSES, base="v0001")
    assert [tuple(c) for c in plan.changes] == [
        ("a", "label", "i", "ii", "majority 2/2", "annotator_1,annotator_2"),
        ("b", "removed", "train", "", "override", "override"),
        ("c", "split", "val", "train", "moved in the sheet", "subset"),
    ]
    c = plan.counts
    assert (c.rows, c.reviewed, c.relabelled, c.removed, c.moved, c.conflicts) == (4, 4, 1, 1, 1, 1)
    assert c.removes_by_annotator == {"annotator_1": 1, "annotator_2": 0}
    assert plan.manifest.set_index("id")["label"].to_dict() == {"a": "ii", "c": "iii", "d": "iv"}
    assert plan.manifest.set_index("id").at["c", "split"] == "train"
    assert plan.bridge["a"] == {
        "consensus": "ii",
        "agreement": 1.0,
        "status": "relabel -> ii (majority 2/2)",
    }
    assert plan.bridge["c"]["status"] == "ok: label confirmed; move -> train"
    assert plan.bridge["d"]["status"] == "conflict: annotators disagree; set override"
    assert "ghost" not in plan.bridge
    assert m.at[0, "label"] == "i" and len(m) == 4  # the caller's manifest is unchanged
    write = plan.write("v0002")
    assert write.header[: len(HEADER)] == HEADER and write.header[-3:] == (
        "consensus",
        "agreement",
        "status",
    )
    assert write.updates["a"]["status"].endswith("[in v0002]")
    assert not write.updates["d"]["status"].endswith("]")  # unchanged rows say nothing of it


def test_plan_pull_previews_relabels_removals_and_moves():
    m = manifest(("a", "i", "train"), ("b", "ii", "train"), ("c", "iii", "val"))
    t = table(
        {"id": "a", "override": "iv"},
        {"id": "b", "annotator_1": "x", "annotator_2": "x"},
        {"id": "c", "subset": "train"},
    )
    preview = plan_pull(t, m, None, Schema(), ROMAN_CLASSES, base="v0001").preview()
    assert preview["relabel"] == [{"id": "a", "old": "i", "new": "iv", "source": "override"}]
    assert preview["remove"] == [{"id": "b", "split": "train", "source": "annotator_1,annotator_2"}]
    assert preview["move"] == [{"id": "c", "from": "val", "to": "train"}]
    assert preview["base"] == "v0001" and preview["counts"]["removed"] == 1


def test_a_typo_blocks_the_row_in_the_plan_instead_of_the_single_valid_vote_deciding():
    m = manifest(("a", "ii", "train"))
    t = table({"id": "a", "annotator_1": "iii", "annotator_2": "vij"})
    plan = plan_pull(t, m, None, Schema(), ROMAN_CLASSES)
    assert not plan.changes and plan.counts.blocked == 1 and plan.counts.relabelled == 0
    assert plan.bridge["a"]["status"] == (
        "blocked: annotator_2 typed 'vij' which is not a class; fix it"
    )
    assert plan.counts.invalid == ["a annotator_2: unknown label 'vij'"]


@pytest.mark.parametrize("ten", ["\u2179", "\u2169"])
def test_the_roman_numeral_ten_relabels_to_x_and_never_removes(ten):
    m = manifest(("a", "ix", "train"))
    t = table({"id": "a", "annotator_1": ten, "annotator_2": "X"})
    plan = plan_pull(t, m, None, Schema(), ROMAN_CLASSES)
    assert [tuple(c)[:4] for c in plan.changes] == [("a", "label", "ix", "x")]
    assert plan.counts.removed == 0 and plan.counts.removes_by_annotator["annotator_1"] == 0


def test_a_sheet_without_rows_or_header_plans_nothing_and_may_not_be_written():
    empty = plan_pull(
        SheetTable((), ()), manifest(("a", "i", "train")), None, Schema(), ROMAN_CLASSES
    )
    assert empty.nothing == NOTHING_TO_PULL and not empty.changes
    with pytest.raises(SheetError, match="push first"):
        empty.write(None)
    header_only = plan_pull(SheetTable(HEADER, ()), manifest(), None, Schema(), ROMAN_CLASSES)
    assert header_only.nothing


def test_a_header_without_id_and_repeated_ids_stop_the_plan():
    no_id = SheetTable(("consensus", "agreement", "status"), ({"consensus": "i"},))
    with pytest.raises(SheetError, match="no 'id' column"):
        plan_pull(no_id, manifest(("a", "i", "train")), None, Schema(), ROMAN_CLASSES)
    twice = table({"id": "a", "annotator_1": "ii"}, {"id": "a", "annotator_1": "iii"})
    with pytest.raises(SheetError, match="same id"):
        plan_pull(twice, manifest(("a", "i", "train")), None, Schema(), ROMAN_CLASSES)


def test_the_removal_guard_counts_the_share_of_the_whole_dataset():
    m = manifest(*[(f"r{k}", "i", "train") for k in range(10)])
    t = table(*[{"id": f"r{k}", "override": "x"} for k in range(3)])
    plan = plan_pull(t, m, None, Schema(), ROMAN_CLASSES)
    assert plan.removal_share == pytest.approx(0.3)
    plan.check_removals(0.3)
    plan.check_removals(0.2, yes=True)
    with pytest.raises(ConfirmationNeeded, match=r"remove 3 of 10 images \(30%\).*--yes"):
        plan.check_removals(0.2)


# -- through the loop, the CLI and the API -------------------------------------------------------
def sheet_state(ws: Workspace):
    return ws.sheet().read(), [v.name for v in ws.versions()], ws.current.name


def test_pull_in_the_loop_blocks_a_typo_then_applies_the_fix(workspace):
    loop.push(workspace)
    workspace.sheet().edit(
        [("train-ii-000", "annotator_1", "iii"), ("train-ii-000", "annotator_2", "vij")]
    )
    report = loop.pull(workspace)
    assert report.version is None and report.blocked == 1 and report.relabelled == 0
    row = workspace.sheet().read().by_id()["train-ii-000"]
    assert row["status"] == "blocked: annotator_2 typed 'vij' which is not a class; fix it"
    assert row["consensus"] == ""
    workspace.sheet().edit([("train-ii-000", "annotator_2", "iii")])
    fixed = loop.pull(Workspace(workspace.root))
    assert fixed.version == "v0002" and fixed.relabelled == 1 and fixed.blocked == 0


def test_pull_dry_run_on_the_cli_lists_the_changes_and_writes_nothing(workspace):
    loop.push(workspace)
    workspace.sheet().edit(
        [
            ("train-i-000", "override", "ii"),
            ("train-iii-001", "annotator_1", "x"),
            ("train-iii-001", "annotator_2", "x"),
            ("val-iv-000", "subset", "train"),
        ]
    )
    before = sheet_state(workspace)
    result = CliRunner().invoke(main, ["pull", "--dry-run", "-w", str(workspace.root)])
    assert result.exit_code == 0, result.output
    assert "1 would be relabelled, 1 would be removed, 1 would be moved" in result.output
    assert "relabel train-i-000: i -> ii (override)" in result.output
    assert "remove train-iii-001 from train (annotator_1,annotator_2)" in result.output
    assert "move val-iv-000: val -> train" in result.output
    assert "nothing written" in result.output
    assert sheet_state(Workspace(workspace.root)) == before  # no version, no sheet cell
    done = CliRunner().invoke(main, ["pull", "-w", str(workspace.root)])
    assert done.exit_code == 0 and "created v0002" in done.output


def test_a_pull_removing_more_than_the_allowed_share_stops_until_yes(workspace):
    loop.push(workspace)
    ids = [r["id"] for r in workspace.sheet().read().rows][:9]  # 9 of 40 images: 22.5% > 20%
    workspace.sheet().edit([(i, "override", "x") for i in ids])
    before = sheet_state(workspace)
    refused = CliRunner().invoke(main, ["pull", "-w", str(workspace.root)])
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "remove 9 of 40 images (22%)" in refused.output and "--yes" in refused.output
    assert sheet_state(Workspace(workspace.root)) == before
    ok = CliRunner().invoke(main, ["pull", "--yes", "-w", str(workspace.root)])
    assert ok.exit_code == 0 and "9 removed" in ok.output


def test_max_remove_share_is_a_documented_setting(workspace):
    text = (workspace.root / "sheets-bridge.toml").read_text()
    assert "max_remove_share = 0.2" in text and "asks for --yes" in text
    loop.push(workspace)
    ids = [r["id"] for r in workspace.sheet().read().rows][:9]
    workspace.sheet().edit([(i, "override", "x") for i in ids])
    (workspace.root / "sheets-bridge.toml").write_text(
        text.replace("max_remove_share = 0.2", "max_remove_share = 0.5")
    )
    assert loop.pull(Workspace(workspace.root)).removed == 9


def test_pull_before_the_first_push_writes_nothing_and_push_still_works(workspace):
    result = CliRunner().invoke(main, ["pull", "-w", str(workspace.root)])
    assert result.exit_code == 0 and "nothing to pull: push first" in result.output
    sheet = workspace.sheet().read()
    assert sheet.header == () and sheet.rows == ()
    assert loop.push(Workspace(workspace.root)).appended == 36
    assert Workspace(workspace.root).sheet().read().header[0] == "id"


def test_pull_never_writes_a_header_without_id(workspace):
    workspace.sheet().write(
        SheetWrite(("consensus", "agreement", "status"))
    )  # an old pull's header
    before = workspace.sheet().read()
    with pytest.raises(SheetError, match="no 'id' column"):
        loop.pull(workspace)
    assert workspace.sheet().read() == before


@pytest.fixture
def client(workspace):
    return create_app(workspace.root, token=TOKEN).test_client()


def test_the_api_previews_a_pull_without_writing_and_checks_its_flags(workspace, client):
    loop.push(workspace)
    workspace.sheet().edit([("train-i-000", "override", "iii")])
    before = sheet_state(workspace)
    response = client.post("/api/pull", json={"dry_run": True}, headers=AUTH)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["dry_run"] is True and body["version"] is None and body["relabelled"] == 1
    assert body["preview"]["relabel"] == [
        {"id": "train-i-000", "old": "i", "new": "iii", "source": "override"}
    ]
    assert sheet_state(Workspace(workspace.root)) == before
    bad = client.post("/api/pull", json={"dry_run": "yes"}, headers=AUTH)
    assert bad.status_code == 400 and "dry_run must be true or false" in bad.json["error"]


def test_the_api_pull_job_asks_for_yes_before_a_large_removal(workspace, client):
    loop.push(workspace)
    ids = [r["id"] for r in workspace.sheet().read().rows][:9]
    workspace.sheet().edit([(i, "override", "x") for i in ids])
    jobs = client.application.extensions["sheets_bridge.loop.jobs"]
    job = client.post("/api/pull", json={}, headers=AUTH).json["job"]
    failed = jobs.wait(job["id"], timeout=60)
    assert failed["state"] == "failed" and '{"yes": true}' in failed["error"]
    assert Workspace(workspace.root).current.name == "v0001"
    job = client.post("/api/pull", json={"yes": True}, headers=AUTH).json["job"]
    done = jobs.wait(job["id"], timeout=60)
    assert done["state"] == "done" and done["result"]["removed"] == 9


def test_the_api_pull_before_the_first_push_leaves_the_sheet_usable(workspace, client):
    jobs = client.application.extensions["sheets_bridge.loop.jobs"]
    job = client.post("/api/pull", json={}, headers=AUTH).json["job"]
    done = jobs.wait(job["id"], timeout=60)
    assert done["state"] == "done" and "nothing to pull: push first" in done["message"]
    assert workspace.sheet().read().header == ()
    job = client.post("/api/push", json={}, headers=AUTH).json["job"]
    assert jobs.wait(job["id"], timeout=60)["state"] == "done"


# -- one set of numbers --------------------------------------------------------------------------
def test_pull_report_and_dashboard_agree_on_reviewed_removals_and_relabels(workspace, client):
    loop.push(workspace)
    workspace.sheet().edit(
        [
            ("train-i-000", "annotator_1", "ii"),
            ("train-i-000", "annotator_2", "ii"),  # relabel
            ("train-i-001", "annotator_1", "x"),
            ("train-i-001", "annotator_2", "x"),  # removed: two x votes
            ("train-ii-000", "annotator_1", "x"),
            ("train-ii-000", "annotator_2", "ii"),  # conflict: one x vote
            ("train-iii-000", "annotator_1", "iv"),
            ("train-iii-000", "annotator_2", "vij"),  # blocked by a typo
            ("train-iv-000", "override", "i"),  # relabel by override
            ("val-i-000", "subset", "train"),  # a move is not a review
            ("val-ii-000", "annotator_2", "?"),  # unsure: not reviewed
        ]
    )
    root = str(workspace.root)
    before = json.loads(CliRunner().invoke(main, ["report", "--json", "-w", root]).output)
    pulled = loop.pull(workspace)
    after_cli = json.loads(CliRunner().invoke(main, ["report", "--json", "-w", root]).output)
    dashboard = client.get("/api/report", headers=AUTH).json
    assert (pulled.reviewed, pulled.relabelled, pulled.removed, pulled.moved, pulled.blocked) == (
        5,
        2,
        1,
        1,
        1,
    )
    assert pulled.removes_by_annotator == {"annotator_1": 2, "annotator_2": 1}
    # before the pull, the report judges the same rows against the same labels
    assert before["reviewed"] == pulled.reviewed
    assert before["decisions"]["relabel"] == pulled.relabelled
    assert before["decisions"]["remove"] == pulled.removed
    assert before["decisions"]["blocked"] == pulled.blocked
    assert {
        a: s["removes"] for a, s in before["annotator_stats"].items()
    } == pulled.removes_by_annotator
    # after it, `report` and the dashboard show the numbers the pull reported
    for shown in (after_cli["last_pull"], dashboard["last_pull"]):
        assert (shown["version"], shown["base"]) == ("v0002", "v0001")
        assert (shown["reviewed"], shown["relabelled"], shown["removed"], shown["moved"]) == (
            pulled.reviewed,
            pulled.relabelled,
            pulled.removed,
            pulled.moved,
        )
        assert shown["removes_by_annotator"] == pulled.removes_by_annotator
    assert dashboard == after_cli | {"last_pull": dashboard["last_pull"]}
    text = CliRunner().invoke(main, ["report", "-w", root]).output
    assert "last pull (v0001 -> v0002): 5 rows reviewed, 2 relabelled, 1 removed" in text
