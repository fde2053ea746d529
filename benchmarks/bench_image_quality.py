"""cleanvision's image-quality issues against the demos' planted junk.

    .venv/bin/python benchmarks/bench_image_quality.py [--images 1200] [--seed 0]

Writes both demo datasets (numerals: gray; shapes: RGB) to a temporary folder, runs
:func:`model.quality.image_quality` over every image and reports, per demo:

- precision / recall of "any quality issue" against the planted junk (ground_truth.csv);
- per issue type: how many images it flags, and how many of those are planted junk;
- per junk kind: the share of that kind that any issue caught;
- the time of the checks;

once with cleanvision's default thresholds, once with :data:`model.quality.THRESHOLDS`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.quality import ISSUE_TYPES, image_quality, precision_recall  # noqa: E402
from sheets_bridge.loop.demo_data import make_demo_data  # noqa: E402
from sheets_bridge.loop.demo_shapes import make_shapes_data  # noqa: E402


def measure(root: Path, thresholds: dict[str, float] | None) -> dict:
    truth = pd.read_csv(root / "ground_truth.csv", keep_default_na=False, dtype=str)
    paths = [str(root / r.split / r.given_label / f"{r.id}.png") for r in truth.itertuples()]
    t = time.perf_counter()
    table = image_quality(paths, list(truth["id"]), thresholds=thresholds)
    seconds = time.perf_counter() - t
    junk = (truth["problem"] == "junk").to_numpy()
    flagged = (table["quality_issues"] != "").to_numpy()
    precision, recall = precision_recall(flagged, junk)
    per_type = {
        t: (int(table[f"is_{t}"].sum()), int((table[f"is_{t}"].to_numpy() & junk).sum()))
        for t in ISSUE_TYPES
    }
    kinds = truth.loc[junk, "style"].to_numpy()
    caught = flagged[junk]
    per_kind = {
        k: f"{int(caught[kinds == k].sum())}/{int((kinds == k).sum())}" for k in sorted(set(kinds))
    }
    return {
        "images": len(truth),
        "junk": int(junk.sum()),
        "flagged": int(flagged.sum()),
        "precision": precision,
        "recall": recall,
        "per_type (flagged, of which junk)": per_type,
        "junk caught per kind": per_kind,
        "seconds": round(seconds, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in (("numerals", make_demo_data), ("shapes", make_shapes_data)):
            root = Path(tmp) / name
            make(root, n_images=args.images, seed=args.seed)
            for label, thresholds in (("cleanvision defaults", {}), ("model.quality", None)):
                result = measure(root, thresholds)
                print(f"\n== {name} demo ({args.images} images, seed {args.seed}), {label}")
                for key, value in result.items():
                    if isinstance(value, float):
                        value = f"{value:.3f}"
                    print(f"  {key}: {value}")


if __name__ == "__main__":
    main()
