"""The local sheet (SQLite) at scale: push and pull cost against the number of rows.

Each size runs in a fresh child process on synthetic model cells (no images, no model), through
the loop's own sheet code (``push_rows``, ``pull_table``, ``plan_pull``):

- building the rows from a run's files (``core.rows.model_cells`` on a manifest, predictions and
  scores as pandas frames),
- first push into an empty sheet,
- a repeat push with nothing changed,
- a repeat push with the model cells of 1% of the rows changed (their ranks swapped too),
- a pull after 100 cells typed by people.

For each step: wall time, CPU time of the process (SQLite runs in it; on a shared machine the
CPU time is the steadier figure) and peak RSS (sampled from /proc every few ms while the step
runs), then time per row and peak RSS as ratios against the first (smallest) size, measured in the
same run. ``--skip model_cells`` leaves the first step out (slow before it was vectorised).

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

STEPS = (
    "build rows (model_cells)",
    "first push",
    "repeat push, nothing changed",
    "repeat push, 1% changed",
    "pull, 100 edits",
)
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
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.c0
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


def _run_files(n: int, rng: random.Random):
    """A manifest, out-of-fold predictions and scores of ``n`` images, as a run leaves them."""
    import pandas as pd

    ids = [f"img{i:07d}" for i in range(n)]
    labels = [CLASSES[i % len(CLASSES)] for i in range(n)]
    manifest = pd.DataFrame(
        {
            "id": ids,
            "label": labels,
            "split": ["val" if i % 5 == 0 else "train" for i in range(n)],
            "origin": ["original"] * n,
            "parent_id": [""] * n,
        }
    )
    probs = {f"p_{c}": [rng.random() for _ in range(n)] for c in CLASSES}
    preds = pd.DataFrame(
        {
            "id": ids,
            "label": labels,
            "pred": [CLASSES[rng.randrange(len(CLASSES))] for _ in range(n)],
            "confidence": [rng.random() for _ in range(n)],
            **probs,
        }
    )
    scores = pd.DataFrame(
        {
            "id": ids,
            "label_quality": [rng.random() for _ in range(n)],
            "typicality": [rng.random() for _ in range(n)],
            "nearest_label_book": [""] * n,
            "nearest_label_book_similarity": [""] * n,
            "duplicate_of": [""] * n,
            "issues": ["outlier" if i % 7 == 0 else "" for i in range(n)],
        }
    )
    return manifest, preds, scores


def one(n: int, skip: set[str]) -> dict[str, dict[str, float]]:
    import pandas as pd

    from sheets_bridge.core.cells import CellChange
    from sheets_bridge.core.pull_plan import plan_pull
    from sheets_bridge.core.rows import model_cells
    from sheets_bridge.core.schema import Schema
    from sheets_bridge.loop.sheet_io import pull_table, push_rows
    from sheets_bridge.sheets.local import LocalSheet

    rng = random.Random(0)
    schema = Schema()
    out: dict[str, dict[str, float]] = {}
    if "model_cells" not in skip:
        files = _run_files(n, rng)
        with _Peak() as p:
            built = model_cells(*files, lambda rid: f"/images/{rid}")
        assert len(built) == n
        out[STEPS[0]] = {"s": p.seconds, "cpu": p.cpu, "rss": p.peak}
        del files, built
    rows = _model_rows(n, rng)
    manifest = pd.DataFrame(
        {
            "id": list(rows),
            "label": [r["label"] for r in rows.values()],
            "split": [r["subset"] for r in rows.values()],
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        sheet = LocalSheet(Path(tmp) / "sheet.db")

        def push(name: str) -> None:
            with _Peak() as p:
                push_rows(sheet, rows, schema, "v0001", CLASSES)
            out[name] = {"s": p.seconds, "cpu": p.cpu, "rss": p.peak}

        push(STEPS[1])
        push(STEPS[2])
        ids = list(rows)
        changed = rng.sample(ids, max(2, n // 100))
        for a, b in zip(changed[::2], changed[1::2], strict=False):
            rows[a]["rank"], rows[b]["rank"] = rows[b]["rank"], rows[a]["rank"]
        for rid in changed:
            rows[rid]["confidence"] = round(rng.random(), 4)
            rows[rid]["issues"] = "outlier"
        push(STEPS[3])
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
        out[STEPS[4]] = {"s": p.seconds, "cpu": p.cpu, "rss": p.peak}
    return out


def main() -> None:
    args = sys.argv[1:]
    skip = set(args[args.index("--skip") + 1].split(",")) if "--skip" in args else set()
    if "--one" in args:
        print(json.dumps(one(int(args[args.index("--one") + 1]), skip)))
        return
    sizes = [int(s) for s in (args[0] if args else "10000,100000").split(",")]
    results = {}
    for n in sizes:
        command = [sys.executable, __file__, "--one", str(n), "--skip", ",".join(skip) or "-"]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        results[n] = json.loads(done.stdout.strip().splitlines()[-1])
    base = sizes[0]
    print(
        f"{'rows':>9}  {'step':<30} {'seconds':>8} {'cpu s':>7} {'peak MiB':>9} "
        f"{'s/row vs':>9} {'cpu/row vs':>10} {'RSS vs':>7}"
    )
    for n in sizes:
        for step in STEPS:
            if step not in results[n] or step not in results[base]:
                continue
            r, b = results[n][step], results[base][step]
            per_row = (r["s"] / n) / (b["s"] / base)
            cpu_row = (r["cpu"] / n) / (b["cpu"] / base)
            print(
                f"{n:>9,}  {step:<30} {r['s']:>8.2f} {r['cpu']:>7.2f} {r['rss'] / 2**20:>9.0f} "
                f"{per_row:>8.2f}x {cpu_row:>9.2f}x {r['rss'] / b['rss']:>6.2f}x"
            )
    print(f"(ratios: time per row and peak RSS against {base:,} rows, same run)")


if __name__ == "__main__":
    main()
