"""``junk?`` against the planted junk of demo datasets (ground_truth.csv).

    .venv/bin/python benchmarks/bench_junk.py DATA_DIR [DATA_DIR ...] [--epochs N] [--preset fast]

Each DATA_DIR is a folder written by ``sheets-bridge make-demo-data`` (numerals or shapes). For each
one: init a workspace in a temporary folder, train (``fast`` preset), then print the flag count,
precision and recall of

- ``junk?``: the scores' ``junk`` column (far from every class and the model unsure,
  :func:`model.scores.junk_flags`);
- the earlier rule, as a baseline from the same run: ``outlier >= 0.95`` and confidence < 0.5;
- any image-quality word (cleanvision) in ``issues``, and ``junk?`` or a quality word.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.quality import WORDS, precision_recall  # noqa: E402
from model.scores import JUNK_OUTLIER  # noqa: E402
from sheets_bridge import loop  # noqa: E402


def measure(data: Path, preset: str, epochs: int | None) -> dict[str, tuple[int, float, float]]:
    truth = pd.read_csv(data / "ground_truth.csv", dtype=str, keep_default_na=False)
    with tempfile.TemporaryDirectory() as tmp:
        ws = loop.init(data, Path(tmp) / "ws")
        run = loop.train(ws, preset=preset, epochs=epochs, progress=False)
        scores = run.scores().set_index("id")
        preds = run.predictions().set_index("id")
    junk = truth.set_index("id").loc[scores.index, "problem"].eq("junk").to_numpy()
    flags = {
        "junk?": scores["junk"].astype(str).str.lower().eq("true").to_numpy(),
        "earlier rule (outlier >= 0.95, confidence < 0.5)": (
            (scores["outlier"].astype(float) >= JUNK_OUTLIER)
            & (preds.loc[scores.index, "confidence"].astype(float) < 0.5)
        ).to_numpy(),
    }
    quality = (
        scores["issues"]
        .astype(str)
        .map(lambda t: any(p.split(": ")[0] in WORDS.values() for p in t.split("; ")))
    )
    flags["image-quality word"] = quality.to_numpy()
    flags["junk? or image-quality word"] = flags["junk?"] | flags["image-quality word"]
    out = {}
    for name, f in flags.items():
        precision, recall = precision_recall(f, junk)
        out[name] = (int(np.sum(f)), precision, recall)
    return {"planted junk": (int(junk.sum()), len(junk), 0.0), **out}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", nargs="+", type=Path)
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--epochs", type=int, default=None)
    args = ap.parse_args()
    for data in args.data:
        result = measure(data, args.preset, args.epochs)
        n_junk, n, _ = result.pop("planted junk")
        print(f"\n== {data} ({n} images, {n_junk} planted junk, preset {args.preset})")
        for name, (flagged, precision, recall) in result.items():
            print(f"  {name}: {flagged} flagged, precision {precision:.3f}, recall {recall:.3f}")


if __name__ == "__main__":
    main()
