"""import-run: predictions made outside the tool become a run like any other."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from sheets_bridge import loop
from sheets_bridge.cli import main
from sheets_bridge.core.errors import DatasetError
from sheets_bridge.loop.import_run import import_run


def _pool(ws) -> pd.DataFrame:
    m = ws.current.manifest()
    return m[m["split"].isin(["train", "val"])].reset_index(drop=True)


def _probs(ws, seed: int = 0) -> pd.DataFrame:
    """What another team's model would give: random but confident-ish probabilities."""
    pool = _pool(ws)
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(len(pool), len(ws.classes)))
    for k, label in enumerate(pool["label"]):
        logits[k, ws.classes.index(label)] += rng.uniform(-1, 3)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    frame = pd.DataFrame(p, columns=list(ws.classes))
    frame.insert(0, "id", pool["id"])
    return frame.sample(frac=1.0, random_state=seed)  # any row order


def test_the_sheet_order_equals_cleanlabs_label_quality_order(workspace, tmp_path):
    from cleanlab.rank import get_label_quality_scores

    probs = _probs(workspace)
    path = tmp_path / "probs.csv"
    probs.to_csv(path, index=False)
    report = import_run(workspace, path)
    assert report.images == len(probs) and report.embeddings == "probabilities"
    loop.push(loop.workspace_or_error(workspace.root))
    rows = workspace.sheet().read().rows
    sheet_order = [r["id"] for r in sorted(rows, key=lambda r: int(r["rank"]))]

    pool = _pool(workspace).set_index("id")
    ordered = probs.set_index("id")
    labels = np.array([workspace.classes.index(pool.at[i, "label"]) for i in ordered.index])
    quality = get_label_quality_scores(labels, ordered[list(workspace.classes)].to_numpy())
    expected = list(ordered.index[np.argsort(quality, kind="stable")])
    assert sheet_order == expected


def test_embeddings_feed_the_map_and_the_neighbour_smoothing(workspace, tmp_path):
    probs = _probs(workspace, seed=1)
    probs.to_csv(tmp_path / "p.csv", index=False)
    emb = np.random.default_rng(2).normal(size=(len(probs), 8)).astype(np.float32)
    np.save(tmp_path / "e.npy", emb)
    report = import_run(workspace, tmp_path / "p.csv", embeddings=tmp_path / "e.npy")
    run = workspace.latest_run()
    assert run.id == report.run and report.embeddings == "imported"
    saved = np.load(run.path / "embeddings.npy")
    order = {i: k for k, i in enumerate(probs["id"])}
    assert np.allclose(saved, emb[[order[i] for i in _pool(workspace)["id"]]])
    assert np.load(run.path / "umap.npy").shape == (len(probs), 2)
    assert run.predictions()["pred"].isin(workspace.classes).all()
    # no model came with them: junk? goes without the second look, and says so
    assert run.metrics()["junk_evidence"]["second_look"].startswith("skipped: imported")
    assert (run.scores()[["crop_distance", "sharpness_z"]] == "").all().all()


def test_the_command_names_missing_and_extra_ids(workspace, tmp_path):
    probs = _probs(workspace)
    bad = pd.concat([probs.iloc[2:], probs.iloc[:1].assign(id="nobody")])
    bad.to_csv(tmp_path / "p.csv", index=False)
    result = CliRunner().invoke(
        main, ["import-run", str(tmp_path / "p.csv"), "-w", str(workspace.root)]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "missing" in result.output and "nobody" in result.output
    assert workspace.latest_run() is None


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda f: f.assign(**{f.columns[1]: f[f.columns[1]] + 0.2}), "sum to"),
        (lambda f: f.drop(columns=[f.columns[2]]), "no probability column"),
        (lambda f: f.drop(columns=["id"]), "no 'id' column"),
        (lambda f: f.assign(**{f.columns[1]: "many"}), "not a number"),
        (lambda f: pd.concat([f, f.iloc[:1]]), "more than once"),
    ],
)
def test_unusable_probabilities_are_refused_with_the_reason(workspace, tmp_path, change, message):
    change(_probs(workspace)).to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(DatasetError, match=message):
        import_run(workspace, tmp_path / "p.csv")
    assert workspace.latest_run() is None


def test_a_runs_own_prediction_file_imports_as_it_is(workspace, tmp_path):
    probs = _probs(workspace)
    renamed = probs.rename(columns={c: f"p_{c}" for c in workspace.classes})
    renamed.to_csv(tmp_path / "p.csv", index=False)
    assert import_run(workspace, tmp_path / "p.csv").images == len(probs)
