"""Accuracy across versions is measured on the same images: the first version's val that is left."""

from __future__ import annotations

from sheets_bridge import loop
from sheets_bridge.loop.steps import fixed_eval_set


def test_the_fixed_set_drops_removed_and_moved_images_and_follows_relabels(workspace):
    loop.push(workspace)
    m = workspace.current.manifest()
    val = sorted(m["id"][m["split"] == "val"])
    removed, moved, relabelled = val[0], val[1], val[2]
    other = next(c for c in workspace.classes if c != m.set_index("id").at[relabelled, "label"])
    workspace.sheet().edit(
        [(removed, "override", "x"), (moved, "subset", "train"), (relabelled, "override", other)]
    )
    loop.pull(workspace)
    ws = loop.workspace_or_error(workspace.root)
    assert ws.current.name == "v0002"
    fixed = fixed_eval_set(ws, ws.current)
    first = fixed_eval_set(ws, ws.version("v0001"))
    assert len(first) == len(val) and len(fixed) == len(val) - 2
    id_of = {str(ws.root / p): i for i, p in zip(m["id"], m["path"], strict=True)}
    labels = {id_of[p]: lab for p, lab in zip(fixed["path"], fixed["label"], strict=True)}
    assert removed not in labels and moved not in labels
    assert labels[relabelled] == other


def test_every_run_reports_the_fixed_set_and_the_versions_table_shows_it(workspace):
    run = loop.train(workspace, epochs=1, progress=False)
    assert "fixed_val" in run.metrics()["eval"]
    row = loop.versions_table(loop.workspace_or_error(workspace.root))[0]
    assert row["fixed_val_accuracy"] == run.metrics()["eval"]["fixed_val"]
    assert "fixed" in loop.describe_versions([row])
