"""Serving one page of the local grid at 10,000 rows and at 1,000,000 rows (server side paging).

    .venv/bin/python benchmarks/bench_grid.py                      # 10k and 1M rows
    .venv/bin/python benchmarks/bench_grid.py --rows 10000 100000  # other sizes
    .venv/bin/python benchmarks/bench_grid.py --screenshot docs/grid.png --workspace DEMO_WS

Each size is a real workspace (a small demo dataset through `init`) whose sheet.db holds that
many synthetic rows of the sheet's real columns. Every request goes through the Flask app
(`/api/sheet/page`, `/api/annotators`) in this process; the table prints the median time of each
request per size and the ratio of the largest size to the smallest.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sheets_bridge import loop  # noqa: E402
from sheets_bridge.sheets.local import LocalSheet  # noqa: E402
from sheets_bridge.web import create_app  # noqa: E402

TOKEN = "bench-token"
FILTERS = quote('[{"column": "label_quality", "op": ">=", "value": 0.5}]')
REQUESTS = [
    ("first page (sheet order)", "/api/sheet/page?offset=0&limit=100"),
    ("page in the middle", "/api/sheet/page?offset={half}&limit=100"),
    ("my unvoted rows, first page", "/api/sheet/page?offset=0&limit=100&unvoted=annotator_1"),
    ("header filter label_quality >= 0.5", f"/api/sheet/page?offset=0&limit=100&filters={FILTERS}"),
    ("search 'label?'", "/api/sheet/page?offset=0&limit=100&q=label%3F"),
    ("sorted by label_quality", "/api/sheet/page?offset=0&limit=100&sort=label_quality&dir=desc"),
    ("votes per person (/api/annotators)", "/api/annotators"),
]


def build(base: Path, rows: int) -> Path:
    from sheets_bridge.loop.demo_data import make_demo_data

    make_demo_data(base / "data", n_images=100, seed=0)
    ws = loop.init(base / "data", base / "ws")
    header = list(ws.schema.columns)
    classes = list(ws.classes)
    rng = np.random.default_rng(0)
    quality = rng.random(rows)
    pred = rng.integers(0, len(classes), rows)
    label = np.where(rng.random(rows) < 0.9, pred, rng.integers(0, len(classes), rows))
    voted = rng.random(rows) < 0.3  # annotator_1 voted in 30% of the rows

    def row(i: int) -> dict:
        rid = f"img{i:07d}"
        return {
            "id": rid,
            "image": f'=IMAGE("/images/{rid}")',
            "url": f"/images/{rid}",
            "label": classes[label[i]],
            "subset": "train" if i % 5 else "val",
            "pred": classes[pred[i]],
            "confidence": float(round(1 - quality[i] / 2, 4)),
            "label_quality": float(round(quality[i], 4)),
            "is_correct": "TRUE" if label[i] == pred[i] else "FALSE",
            "rank": i + 1,
            "issues": f"label? (pred {classes[pred[i]]})" if label[i] != pred[i] else "",
            "annotator_1": classes[pred[i]] if voted[i] else "",
        }

    t = time.perf_counter()
    LocalSheet(ws.sheet_path).replace(header, (row(i) for i in range(rows)))  # type: ignore[arg-type]
    print(f"built a sheet of {rows:,} rows in {time.perf_counter() - t:.0f} s", flush=True)
    return ws.root


def measure(ws_root: Path, rows: int, repeat: int) -> dict[str, float]:
    client = create_app(ws_root, token=TOKEN).test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    out = {}
    for name, path in REQUESTS:
        url = path.format(half=rows // 2)
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            response = client.get(url, headers=auth)
            times.append(time.perf_counter() - t)
            assert response.status_code == 200, (url, response.json)
        out[name] = 1000 * statistics.median(times)
    return out


def screenshot(ws_root: Path, out: Path) -> None:
    """The grid of a real workspace after a reviewer voted three rows by keyboard, with the zoom
    of the next row's image open (Debian's Chromium through Playwright)."""
    import io
    import threading

    from PIL import Image
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, create_app(ws_root, token=TOKEN), threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1400, "height": 760})
            page.goto(f"http://127.0.0.1:{httpd.server_port}/sheet")
            page.fill("#author", "annotator_1")
            page.dispatch_event("#author", "change")
            page.wait_for_selector("body[data-grid-ready='1'] .tabulator-row.current")
            first = page.locator(".tabulator-row").first
            first.locator(".tabulator-cell[tabulator-field='label']").click()
            preds = page.locator(".tabulator-cell[tabulator-field='pred']").all_inner_texts()
            legend = page.locator("#legend .key").all_inner_texts()
            keys = {k.split()[1].lower(): k.split()[0] for k in legend if len(k.split()) == 2}
            for pred in preds[:3]:  # agree with the model on the first three rows
                page.keyboard.press(keys.get(pred.lower(), "j"))
            page.wait_for_function("() => (document.body.dataset.pending || '0') === '0'")
            page.locator(
                ".tabulator-row.current .tabulator-cell[tabulator-field='image'] img.thumb"
            ).hover()
            page.wait_for_function("() => document.getElementById('zoom-img').naturalWidth > 0")
            png = page.screenshot()
            browser.close()
    finally:
        httpd.shutdown()
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=128)
    image.save(out, optimize=True)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--screenshot", type=Path, help="only save the grid's screenshot here")
    parser.add_argument("--workspace", type=Path, help="the workspace for --screenshot")
    args = parser.parse_args()
    if args.screenshot:
        if not args.workspace:
            parser.error("--screenshot needs --workspace (e.g. the demo's)")
        screenshot(args.workspace.resolve(), args.screenshot)
        return
    results = {}
    for n in args.rows:
        base = Path(tempfile.mkdtemp(prefix=f"bench-grid-{n}-"))
        try:
            results[n] = measure(build(base, n), n, args.repeat)
        finally:
            shutil.rmtree(base, ignore_errors=True)
    small, big = min(results), max(results)
    print(f"\nmedian of {args.repeat} requests through the Flask app, ms")
    print(f"{'request':40s}" + "".join(f"{n:>12,}" for n in results) + f"{'ratio':>9s}")
    for name, _ in REQUESTS:
        cells = "".join(f"{results[n][name]:12.1f}" for n in results)
        print(f"{name:40s}{cells}{results[big][name] / results[small][name]:9.1f}")


if __name__ == "__main__":
    main()
