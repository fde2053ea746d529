"""Pushing rows to a Google Sheets worksheet against the local Sheets API server.

    .venv/bin/python benchmarks/bench_google_push.py [--rows 10000] [--sample 400] [--json out.json]
    .venv/bin/python benchmarks/bench_google_push.py --window 100000 [--sheet-rows 20000]

``--window N``: N images pushed with the review window (``sheet_rows``) against all rows: first push
into a spreadsheet without the worksheet, a repeat push of unchanged rows, two pushes of new
model results (every prediction moves, so most of the window's rows leave it and others come
in), and a repeat; rows in the sheet, requests, bytes sent and received, seconds here.

Without ``--window``: 10,000 rows pushed three ways.

Every method starts from the same worksheet: the rows of a first push, then people's work in it
(annotator votes, overrides and notes in 10% of the rows, some of them starting with ``=``). Then
new model results are pushed:

- ``GoogleSheet.write``: this project's backend (read, merge by id, RAW batches, one format batch);
- gspread ``update_cell`` per model cell, rows located by one read of the id column; measured on
  ``--sample`` cells and extrapolated to all of them;
- gspread-dataframe ``set_with_dataframe`` of the table the tool holds (its human columns are what
  the tool knows of them: nothing). Needs ``pip install gspread-dataframe`` (not a dependency).

Reported: HTTP requests, wall time here (loopback, no quota), the time Google's quota of 60 write
requests per minute per user would impose, whether people's cells survived, and whether text that
looks like a formula stayed text. The server is in-process, so wall times include its own work.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gspread  # noqa: E402
import pandas as pd  # noqa: E402

from sheets_bridge.core.rows import image_formula, label_choices, plan_push  # noqa: E402
from sheets_bridge.core.schema import MODEL_COLUMNS, Schema  # noqa: E402
from sheets_bridge.loop.sheet_io import push_rows  # noqa: E402
from sheets_bridge.sheets.google import GoogleSheet  # noqa: E402
from sheets_bridge.sheets.google.plan import grid_from_values  # noqa: E402
from tests.sheets_api import Formula, SheetsApiServer  # noqa: E402

CLASSES = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x")
SCHEMA = Schema()
TITLE = "images"
WRITES_PER_MINUTE = 60  # Google's quota per user per project


def model_rows(n: int, version: int) -> dict[str, dict]:
    rows = {}
    for i in range(n):
        rid = f"train-{CLASSES[i % 10]}-{i:05d}"
        label, pred = CLASSES[i % 10], CLASSES[(i + version + (i % 7 == 0)) % 10]
        quality = ((i * 7919 + version * 104729) % 10007) / 10007
        url = f"https://storage.example.org/dcai/{rid}.png"
        rows[rid] = {
            "image": image_formula(url),
            "url": url,
            "label": label,
            "subset": "val" if i % 5 == 0 else "train",
            "pred": pred,
            "confidence": round(0.4 + quality / 2, 4),
            "label_quality": round(quality, 4),
            "is_correct": pred == label,
            "typicality": round(1 - quality / 3, 4),
            "nearest_label_book": f"lb-{label}-{i % 3} (0.9{i % 10})",
            "duplicate_of": "",
            # a file-name-like text that a spreadsheet would read as a formula
            "issues": "=1+1 looks like a formula"
            if i % 97 == 0
            else ("" if pred == label else f"label? (pred {pred})"),
        }
    order = sorted(rows, key=lambda k: (rows[k]["label_quality"], k))
    for rank, rid in enumerate(order, start=1):
        rows[rid]["rank"] = rank
    return rows


def prepared(api: SheetsApiServer, n: int) -> tuple[str, dict[tuple[str, str], str]]:
    """A spreadsheet after a first push and people's edits in 10% of the rows."""
    sid = api.create_spreadsheet("bench")
    sheet = GoogleSheet(sid, TITLE, endpoint=api.url, requests_per_minute=None)
    plan = plan_push(sheet.read(), model_rows(n, 0), SCHEMA, "v0001", label_choices(CLASSES))
    sheet.write(plan.write)
    typed: dict[tuple[str, str], str] = {}
    for k, rid in enumerate(list(model_rows(n, 0))[::10]):
        typed[(rid, "annotator_1")] = CLASSES[(k + 1) % 10]
        if k % 3 == 0:
            typed[(rid, "override")] = "x"
        if k % 5 == 0:
            typed[(rid, "note")] = "=blurry, check" if k % 10 == 0 else "blurry"
    sheet.edit([(rid, col, text) for (rid, col), text in typed.items()])
    return sid, typed


def survived(api: SheetsApiServer, sid: str, typed: dict[tuple[str, str], str]) -> int:
    with api.lock:
        cells = api.sheet(sid, TITLE).grid
        texts = [
            ["" if v is None else (v.text if isinstance(v, Formula) else str(v)) for v in row]
            for row in cells
        ]
    grid = grid_from_values(TITLE, texts)
    header, pos = grid.header, {rid: i + 1 for i, rid in enumerate(grid.ids())}
    return sum(
        1
        for (rid, col), text in typed.items()
        if rid in pos and grid.cell(pos[rid], header.index(col)) == text
    )


def formulas_made(api: SheetsApiServer, sid: str) -> int:
    """Cells other than the image column that became formulas."""
    with api.lock:
        sheet = api.sheet(sid, TITLE)
        image = sheet.grid[0].index("image")
        return sum(
            1
            for row in sheet.grid[1:]
            for c, v in enumerate(row)
            if isinstance(v, Formula) and c != image
        )


class Redirect(requests.Session):
    """What gspread needs to talk to another server (changing gspread.urls does nothing)."""

    def __init__(self, endpoint: str):
        super().__init__()
        self.endpoint = endpoint

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        return super().request(
            method, url.replace("https://sheets.googleapis.com", self.endpoint), *args, **kwargs
        )


def quota_time(writes: int) -> str:
    """The least time Google's quota allows for ``writes`` write requests (60 at once, then 1/s)."""
    seconds = max(0, writes - WRITES_PER_MINUTE) * 60 / WRITES_PER_MINUTE
    return f"{seconds / 3600:.0f} h" if seconds >= 3600 else f"{seconds:.0f} s"


def result(name, *, requests_, seconds, writes, kept, typed, formulas, largest, note):
    return {
        "method": name,
        "requests": requests_,
        "seconds_here": round(seconds, 2),
        "write_requests": writes,
        "least_time_under_google_quota": quota_time(writes),
        "largest_request_kb": round(largest / 1000),
        "people_cells_kept": f"{kept}/{len(typed)}",
        "text_turned_into_formulas": formulas,
        "note": note,
    }


def bench_backend(api: SheetsApiServer, n: int) -> dict:
    sid, typed = prepared(api, n)
    mark = len(api.log)
    start = time.perf_counter()
    sheet = GoogleSheet(sid, TITLE, endpoint=api.url, requests_per_minute=None)
    plan = plan_push(sheet.read(), model_rows(n, 1), SCHEMA, "v0002", label_choices(CLASSES))
    sheet.write(plan.write)
    seconds = time.perf_counter() - start
    log = api.log[mark:]
    kinds = ", ".join(f"{k} {v}" for k, v in api.kinds(mark).items())
    return result(
        "GoogleSheet.write (this backend)",
        requests_=len(log),
        seconds=seconds,
        writes=sum(1 for r in log if r.method != "GET"),
        kept=survived(api, sid, typed),
        typed=typed,
        formulas=formulas_made(api, sid),
        largest=max(r.bytes_in for r in log),
        note=kinds,
    )


def bench_update_cell(api: SheetsApiServer, n: int, sample: int) -> dict:
    sid, typed = prepared(api, n)
    mark = len(api.log)
    start = time.perf_counter()
    client = gspread.Client(auth=None, session=Redirect(api.url))  # type: ignore[arg-type]
    ws = client.open_by_key(sid).worksheet(TITLE)
    header = ws.row_values(1)
    row_of = {rid: i + 1 for i, rid in enumerate(ws.col_values(header.index("id") + 1)) if i}
    setup = len(api.log) - mark
    fresh = model_rows(n, 1)
    cells = [
        (rid, c, v) for rid, row in fresh.items() for c, v in row.items() if c in MODEL_COLUMNS
    ]
    t0 = time.perf_counter()
    for rid, col, value in cells[:sample]:
        ws.update_cell(row_of[rid], header.index(col) + 1, value)
    per_cell = (time.perf_counter() - t0) / sample
    seconds = time.perf_counter() - start + per_cell * (len(cells) - sample)
    made = formulas_made(api, sid)
    note = (
        f"measured {sample} of {len(cells)} cells, extrapolated; {setup} requests to locate rows; "
        f"{made} formula(s) made within the sample alone (update_cell is USER_ENTERED)"
    )
    return result(
        "gspread update_cell per cell",
        requests_=setup + len(cells),
        seconds=seconds,
        writes=len(cells),
        kept=survived(api, sid, typed),
        typed=typed,
        formulas=made,
        largest=max(r.bytes_in for r in api.log[mark:]),
        note=note,
    )


def bench_set_with_dataframe(api: SheetsApiServer, n: int) -> dict:
    from gspread_dataframe import set_with_dataframe

    sid, typed = prepared(api, n)
    fresh = model_rows(n, 1)
    frame = pd.DataFrame([{"id": rid, **row} for rid, row in fresh.items()])
    frame = frame.reindex(columns=list(SCHEMA.columns)).astype(object).fillna("")
    mark = len(api.log)
    start = time.perf_counter()
    client = gspread.Client(auth=None, session=Redirect(api.url))  # type: ignore[arg-type]
    set_with_dataframe(client.open_by_key(sid).worksheet(TITLE), frame)
    seconds = time.perf_counter() - start
    log = api.log[mark:]
    return result(
        "gspread-dataframe set_with_dataframe",
        requests_=len(log),
        seconds=seconds,
        writes=sum(1 for r in log if r.method != "GET"),
        kept=survived(api, sid, typed),
        typed=typed,
        formulas=formulas_made(api, sid),
        largest=max(r.bytes_in for r in log),
        note="writes the table the tool holds, rows by position, USER_ENTERED, in one body",
    )


def windowed_push(sheet: GoogleSheet, rows: dict, limit: int) -> int:
    """What ``loop.push`` does with a Google sheet: read, window, merge by id, write."""
    _, _, outside = push_rows(sheet, rows, SCHEMA, "v0001", CLASSES, limit=limit)
    return outside


def bench_window(api: SheetsApiServer, n: int, limit: int) -> list[dict]:
    out = []
    for window in (limit, 0):
        sid = api.create_spreadsheet("bench")
        sheet = GoogleSheet(sid, TITLE, endpoint=api.url, requests_per_minute=None)
        steps = (
            ("first push", 0),
            ("repeat, unchanged", 0),
            ("new results", 1),
            ("new results again", 2),
            ("repeat, unchanged", 2),
        )
        for step, version in steps:
            mark = len(api.log)
            start = time.perf_counter()
            outside = windowed_push(sheet, model_rows(n, version), window)
            seconds = time.perf_counter() - start
            count, sent, received = api.traffic(mark)
            out.append(
                {
                    "rows": f"window {window:,}" if window else "all",
                    "push": step,
                    "rows_in_sheet": len(api.sheet(sid, TITLE).grid) - 1,
                    "outside": outside,
                    "requests": count,
                    "kinds": api.kinds(mark),
                    "sent_kb": round(sent / 1000, 1),
                    "received_kb": round(received / 1000, 1),
                    "seconds_here": round(seconds, 1),
                }
            )
            print(out[-1], file=sys.stderr)
    return out


def main_window(n: int, limit: int, json_path: Path | None) -> None:
    with SheetsApiServer() as api:
        results = bench_window(api, n, limit)
        assert not api.errors, api.errors
    print(f"push of {n:,} images to the local Sheets API server: review window vs all rows\n")
    cols = [
        "rows",
        "push",
        "rows_in_sheet",
        "outside",
        "requests",
        "sent_kb",
        "received_kb",
        "seconds_here",
    ]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in results:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")
    if json_path:
        json_path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=400, help="update_cell calls actually made")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--window", type=int, help="images pushed with the review window vs all")
    parser.add_argument("--sheet-rows", type=int, default=20_000, help="the review window's size")
    args = parser.parse_args()
    if args.window:
        return main_window(args.window, args.sheet_rows, args.json)
    with SheetsApiServer() as api:
        results = [bench_backend(api, args.rows), bench_update_cell(api, args.rows, args.sample)]
        try:
            results.append(bench_set_with_dataframe(api, args.rows))
        except ImportError:
            print(
                "gspread-dataframe is not installed: pip install gspread-dataframe", file=sys.stderr
            )
        assert not api.errors, api.errors
    print(
        f"push of {args.rows:,} rows to a worksheet with people's work in it (local Sheets API server)\n"
    )
    cols = [
        "method",
        "requests",
        "seconds_here",
        "least_time_under_google_quota",
        "largest_request_kb",
        "people_cells_kept",
        "text_turned_into_formulas",
    ]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in results:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")
    print()
    for r in results:
        print(f"- {r['method']}: {r['note']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
