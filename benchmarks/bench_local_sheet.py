"""The local sheet (SQLite) at scale: push and pull cost against the number of rows.

Each size runs in a fresh child process on synthetic model cells (no images, no model), through
the loop's own sheet code (``push_rows``, ``pull_table``, ``plan_pull``):

- first push into an empty sheet,
- a repeat push with nothing changed,
- a repeat push with the model cells of 1% of the rows changed (their ranks swapped too),
- a pull after 100 cells typed by people.

For each step: wall time and peak RSS (sampled from /proc every few ms while the step runs), then
time per row and peak RSS as ratios against the first (smallest) size, measured in the same run.

    python benchmarks/bench_local_sheet.py 10000,100000,1000000
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

STEPS = ("first push", "repeat push, nothing changed", "repeat push, 1% changed", "pull, 100 edits")
CLASSES = ("i", "ii", "iii", "iv", "v")


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _Peak:
    """Peak RSS while a block runs, sampled by a thread (ru_maxrss only ever grows)."""

    def __enter__(self):
        self.peak, self._stop = _rss(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self.t0 = time.perf_counter()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())


def _model_rows(n: int, rng: random.Random) -> dict[str, dict]:
    from sheets_bridge.core.rows import image_formula

    rows = {}
    for i in range(n):
        rid = f"img{i:07d}"
        label = CLASSES[i % len(CLASSES)]
        pred = CLASSES[rng.randrange(len(CLASSES))]
        url = f"/images/{rid}"
        rows[rid] = {
            "image": image_formula(url),
            "url": url,
            "label": label,
            "subset": "val" if i % 5 == 0 else "train",
            "pred": pred,
            "confidence": round(rng.random(), 4),
            "label_quality": round(rng.random(), 4),
            "is_correct": pred == label,
            "typicality": round(rng.random(), 4),
            "nearest_label_book": "",
            "duplicate_of": "",
            "issues": "" if pred == label else f"label? (pred {pred})",
            "rank": i + 1,
        }
    return rows


def one(n: int) -> dict[str, dict[str, float]]:
    import pandas as pd

    from sheets_bridge.core.cells import CellChange
    from sheets_bridge.core.pull_plan import plan_pull
    from sheets_bridge.core.schema import Schema
    from sheets_bridge.loop.sheet_io import pull_table, push_rows
    from sheets_bridge.sheets.local import LocalSheet

    rng = random.Random(0)
    schema = Schema()
    rows = _model_rows(n, rng)
    manifest = pd.DataFrame(
        {
            "id": list(rows),
            "label": [r["label"] for r in rows.values()],
            "split": [r["subset"] for r in rows.values()],
        }
    )
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sheet = LocalSheet(Path(tmp) / "sheet.db")

        def push(name: str) -> None:
            with _Peak() as p:
                push_rows(sheet, rows, schema, "v0001", CLASSES)
            out[name] = {"s": p.seconds, "rss": p.peak}

        push(STEPS[0])
        push(STEPS[1])
        ids = list(rows)
        changed = rng.sample(ids, max(2, n // 100))
        for a, b in zip(changed[::2], changed[1::2], strict=False):
            rows[a]["rank"], rows[b]["rank"] = rows[b]["rank"], rows[a]["rank"]
        for rid in changed:
            rows[rid]["confidence"] = round(rng.random(), 4)
            rows[rid]["issues"] = "outlier"
        push(STEPS[2])
        edits = [
            CellChange(rid, "annotator_1", CLASSES[k % len(CLASSES)], expected="")
            for k, rid in enumerate(rng.sample(ids, 100))
        ]
        assert sheet.compare_and_set(edits, "ann").changed == 100
        with _Peak() as p:
            table = pull_table(sheet, schema)
            plan = plan_pull(table, manifest, {}, schema, CLASSES, base="v0001")
            sheet.write(plan.write(None))
        assert plan.counts.reviewed == 100, plan.counts
        out[STEPS[3]] = {"s": p.seconds, "rss": p.peak}
    return out


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--one":
        print(json.dumps(one(int(sys.argv[2]))))
        return
    sizes = [int(s) for s in (sys.argv[1] if len(sys.argv) > 1 else "10000,100000").split(",")]
    results = {}
    for n in sizes:
        done = subprocess.run(
            [sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=True
        )
        results[n] = json.loads(done.stdout.strip().splitlines()[-1])
    base = sizes[0]
    print(f"{'rows':>9}  {'step':<30} {'seconds':>8} {'peak MiB':>9} {'s/row vs':>9} {'RSS vs':>7}")
    for n in sizes:
        for step in STEPS:
            r, b = results[n][step], results[base][step]
            per_row = (r["s"] / n) / (b["s"] / base)
            print(
                f"{n:>9,}  {step:<30} {r['s']:>8.2f} {r['rss'] / 2**20:>9.0f} "
                f"{per_row:>8.2f}x {r['rss'] / b['rss']:>6.2f}x"
            )
    print(f"(ratios: time per row and peak RSS against {base:,} rows, same run)")


if __name__ == "__main__":
    main()
