"""The real competition data, where this machine has it (skipped elsewhere)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sheets_bridge import loop

DCAI = Path(
    os.environ.get(
        "SHEETS_BRIDGE_DCAI", Path(__file__).resolve().parents[2] / "shared" / "data" / "dcai"
    )
)

pytestmark = pytest.mark.skipif(
    not (DCAI / "train").is_dir(), reason=f"DCAI data not found at {DCAI}"
)


def test_the_competition_data_registers_trains_and_pushes(tmp_path):
    ws = loop.init(DCAI, tmp_path / "ws")
    counts = ws.current.meta()["counts"]
    assert counts["splits"] == {"label_book": 52, "train": 2067, "val": 813}
    assert ws.classes == ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x")
    run = loop.train(ws, epochs=1, progress=False)
    report = loop.push(ws, run=run)
    assert report.rows == 2880 and report.appended == 2880
    rows = ws.sheet().read().rows
    # the release has 49 byte-identical images in both train and val: they must be flagged
    manifest = ws.current.manifest()
    shared = manifest[manifest["split"].isin(["train", "val"])].groupby("sha256")["split"].nunique()
    twins = set(manifest[manifest["sha256"].isin(shared[shared > 1].index)]["id"])
    flagged = {r["id"] for r in rows if r["duplicate_of"]}
    assert len(twins) >= 98 and len(twins & flagged) >= 0.9 * len(twins)
