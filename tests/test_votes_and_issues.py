"""One reader of votes (consensus, CROWDLAB, the report and the UMAP view agree on every row) and
one assembler of the ``issues`` cell."""

from __future__ import annotations

import pandas as pd

from sheets_bridge import loop
from sheets_bridge.core.consensus import decide
from sheets_bridge.core.crowd import crowdlab
from sheets_bridge.core.labels import ROMAN_CLASSES
from sheets_bridge.core.rows import image_formula, issues_cell, model_cells
from sheets_bridge.core.votes import read_votes
from sheets_bridge.loop.report import build_report
from sheets_bridge.web.data import umap_points
from tests.test_web_app import write_run

ANN = ("annotator_1", "annotator_2")
ROWS = [
    {"id": "a", "annotator_1": "ii", "annotator_2": "vij"},  # typo: blocked
    {"id": "b", "annotator_1": "\u2179", "annotator_2": "X"},  # Roman ten: the class x
    {"id": "c", "annotator_1": "x", "annotator_2": " remove "},  # removed
    {"id": "d", "annotator_1": "?", "override": "=1+1"},  # nothing valid: none, two problems
]
LABELS = {"a": "i", "b": "ix", "c": "ii", "d": "iii"}


def test_read_votes_names_invalid_cells_and_keeps_only_cast_votes():
    rv = read_votes(ROWS[3], ANN, ROMAN_CLASSES)
    assert rv.invalid == ("override: unknown label '=1+1'",)
    assert rv.votes == {} and not rv.reviewed and rv.cells["annotator_1"].kind == "unsure"
    rv = read_votes(ROWS[1], ANN, ROMAN_CLASSES)
    assert {a: v.label for a, v in rv.votes.items()} == {"annotator_1": "x", "annotator_2": "x"}


def test_consensus_crowdlab_and_the_report_read_the_same_votes():
    majority = {r["id"]: decide(r, LABELS[r["id"]], ANN, ROMAN_CLASSES) for r in ROWS}
    assert {k: d.action for k, d in majority.items()} == {
        "a": "blocked",
        "b": "relabel",
        "c": "remove",
        "d": "none",
    }
    crowd = crowdlab(ROWS, LABELS, None, ANN, ROMAN_CLASSES)  # falls back, same rows
    assert {k: d.action for k, d in crowd.decisions.items()} == {
        k: d.action for k, d in majority.items()
    }
    report = build_report(ROWS, LABELS, ANN, ROMAN_CLASSES)
    assert report["decisions"] == {
        "keep": 0,
        "relabel": 1,
        "remove": 1,
        "conflict": 0,
        "blocked": 1,
        "none": 1,
    }
    stats = report["annotator_stats"]
    assert (stats["annotator_1"]["removes"], stats["annotator_2"]["removes"]) == (1, 1)
    assert (stats["annotator_2"]["invalid"], stats["annotator_1"]["unsure"]) == (1, 1)
    assert report["reviewed"] == 3


def test_the_umap_view_colours_rows_by_the_consensus_decision(workspace):
    loop.push(workspace)
    write_run(workspace)
    workspace.sheet().edit(
        [
            ("train-i-000", "annotator_1", "ii"),
            ("train-i-000", "annotator_2", "vij"),
            ("train-i-001", "annotator_1", "ii"),
            ("train-i-001", "annotator_2", "iii"),
            ("train-i-002", "annotator_1", "x"),
            ("train-i-002", "annotator_2", "x"),
            ("train-ii-000", "override", "tree"),
        ]
    )
    rows = workspace.sheet().read().by_id()
    df = umap_points(workspace, rows).set_index("id")
    assert df.at["train-i-000", "decision"] == "blocked"
    assert df.at["train-i-001", "decision"] == "conflict"
    assert df.at["train-i-002", "decision"] == "remove"
    assert df.at["train-ii-000", "decision"] == "invalid"
    assert df.at["train-i-000", "agreement"] == "one vote"  # the typo is no vote
    assert df.at["train-i-001", "agreement"] == "disagree"


def test_the_issues_cell_joins_parts_in_order_once():
    assert issues_cell(
        ["augmented from p", "", None, "near-duplicate of q; outlier", "outlier"]
    ) == ("augmented from p; near-duplicate of q; outlier")
    assert issues_cell([]) == ""


def test_model_cells_put_suggestions_after_the_models_issues():
    manifest = pd.DataFrame(
        {
            "id": ["a", "b"],
            "label": ["i", "ii"],
            "split": ["train", "val"],
            "origin": ["source", "augmented"],
            "parent_id": ["", "a"],
        }
    )
    scores = pd.DataFrame(
        {"id": ["a", "b"], "label_quality": [0.1, 0.9], "issues": ["label? (pred ii 0.80)", ""]}
    )
    preds = pd.DataFrame(
        {"id": ["a", "b"], "label": ["i", "ii"], "pred": ["ii", "ii"], "confidence": [0.8, 0.9]}
    )
    rows = model_cells(
        manifest, preds, scores, lambda i: f"/images/{i}", {"a": "suggest: move to val (c)"}
    )
    assert rows["a"]["issues"] == "label? (pred ii 0.80); suggest: move to val (c)"
    assert rows["b"]["issues"] == "augmented from a"


def test_a_sheet_from_before_the_reference_image_columns_gets_them_appended():
    from sheets_bridge.core.cells import SheetTable
    from sheets_bridge.core.rows import image_url_of, plan_push
    from sheets_bridge.core.schema import IMAGE_COLUMNS, Schema

    schema = Schema()
    new = ("label_example", "pred_example")
    assert set(new) < set(IMAGE_COLUMNS) and IMAGE_COLUMNS[0] == "image"
    old_header = tuple(c for c in schema.columns if c not in new)
    typed = {c: "" for c in old_header} | {"id": "a", "annotator_1": "ii", "note": "hm"}
    cells = {c: "" for c in schema.columns if schema.owner(c) == "model"}
    cells |= {"label_example": image_formula("/images/book-i"), "issues": "x"}
    plan = plan_push(SheetTable(old_header, (typed,)), {"a": cells}, schema, "v1", ("i", "ii"))
    assert plan.write.header == old_header + new  # appended after what people already have
    assert "annotator_1" not in plan.write.updates["a"] and "note" not in plan.write.updates["a"]
    assert image_url_of(str(plan.write.updates["a"]["label_example"])) == "/images/book-i"
    assert schema.check_header(old_header) == list(new)  # reported missing, not an error
