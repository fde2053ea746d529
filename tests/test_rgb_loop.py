"""The whole loop on the RGB shapes demo through the Python API, with a pretrained-family preset
(timm's tiny ``test_resnet``, RANDOM weights: nothing downloads): init, train, push, people edit,
pull, retrain."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

import sheets_bridge as sb
from sheets_bridge.cli import main


@pytest.mark.slow
def test_the_loop_runs_on_rgb_images_with_a_backbone_preset_through_the_python_api(tmp_path):
    pytest.importorskip("timm")
    data = tmp_path / "shapes"
    result = CliRunner().invoke(
        main, ["make-demo-data", str(data), "--kind", "shapes", "--images", "120"]
    )
    assert result.exit_code == 0, result.output
    ws = sb.init(data, tmp_path / "ws", preset="probe-test_resnet@64", weights="random")
    run = ws.train()
    assert run.metrics()["preset"] == "probe-test_resnet@64"
    # the probe's final model takes junk?'s second look too
    evidence = run.metrics()["junk_evidence"]
    assert evidence["second_look"] == "cropped view and blur"
    assert run.scores()["crop_distance"].ne("").sum() == evidence["candidates"]
    ws.push()
    sheet = ws.sheet_frame()
    truth = pd.read_csv(data / "ground_truth.csv", keep_default_na=False, dtype=str)
    wrong = truth[(truth["problem"] == "wrong_label") & truth["split"].isin(["train", "val"])]
    fix = wrong.iloc[0]
    junk = truth[(truth["problem"] == "junk") & truth["split"].isin(["train", "val"])].iloc[0]
    assert {fix["id"], junk["id"]} <= set(sheet["id"])
    cells = ws.workspace.sheet()
    cells.edit(
        [
            (fix["id"], "annotator_1", fix["true_label"]),
            (fix["id"], "annotator_2", fix["true_label"]),
            (junk["id"], "override", "x"),
        ],
        author="ana",
    )
    report = ws.pull()
    assert (report.relabelled, report.removed) == (1, 1) and ws.version == "v0002"
    manifest = ws.manifest().set_index("id")
    assert manifest.at[fix["id"], "label"] == fix["true_label"]
    assert junk["id"] not in manifest.index
    again = ws.retrain()
    assert again.run != run.id and ws.version == "v0002"
    after = ws.sheet_frame().set_index("id")
    assert after.at[fix["id"], "annotator_1"] == fix["true_label"]  # people's cells survive
    assert after.at[fix["id"], "label"] == fix["true_label"]
