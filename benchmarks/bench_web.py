"""Web app speed with 10,000 sheet rows: server time, page weight, and time to first paint.

    .venv/bin/python benchmarks/bench_web.py                 # builds a synthetic workspace in a temp dir
    .venv/bin/python benchmarks/bench_web.py --keep /tmp/w10k   # ... and keeps it for another run
    .venv/bin/python benchmarks/bench_web.py --screenshots docs --workspace demo/workspace

The synthetic workspace has real images (the demo generator) and the sheet a push writes, but its run
files (predictions, 2-D map, scores) are drawn at random instead of trained: the web app only reads
them, and training 10,000 images is not what this measures. Browser timings use Debian's Chromium
through Playwright (no download).
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sheets_bridge import loop  # noqa: E402
from sheets_bridge.web import create_app  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "bench-token"


def synthetic_run(ws, seed: int = 0) -> None:
    """Run files shaped like a real run's: clusters per class, some mislabelled points."""
    rng = np.random.default_rng(seed)
    version = ws.current
    m = version.manifest()
    run = ws.new_run(version, "fast", seed)
    classes = list(ws.classes)
    centre = {c: rng.normal(0, 10, 2) for c in classes}
    true = [c if rng.random() > 0.08 else classes[rng.integers(len(classes))] for c in m["label"]]
    probs = rng.dirichlet(np.ones(len(classes)) * 0.2, size=len(m))
    for i, c in enumerate(true):
        probs[i, classes.index(c)] += 2.0
    probs /= probs.sum(1, keepdims=True)
    preds = pd.DataFrame(
        {
            "id": m["id"],
            "label": m["label"],
            "split": m["split"],
            "pred": [classes[k] for k in probs.argmax(1)],
            "confidence": probs.max(1),
        }
    )
    for k, c in enumerate(classes):
        preds[f"p_{c}"] = probs[:, k]
    preds.to_csv(run.path / "predictions.csv", index=False)
    xy = np.array([centre[c] + rng.normal(0, 1.5, 2) for c in true], dtype="float32")
    np.save(run.path / "umap.npy", xy)
    quality = probs[np.arange(len(m)), [classes.index(c) for c in m["label"]]]
    pd.DataFrame(
        {
            "id": m["id"],
            "label_quality": quality,
            "typicality": rng.random(len(m)),
            "issues": np.where(
                preds["pred"] != preds["label"], "label? (pred " + preds["pred"] + ")", ""
            ),
            "cluster": rng.integers(0, 8, len(m)),
        }
    ).to_csv(run.path / "scores.csv", index=False)
    (run.path / "metrics.json").write_text(
        json.dumps({"val_accuracy": float((preds["pred"] == preds["label"]).mean())})
    )
    ws.update_run(run, state="done")


def build(root: Path, rows: int) -> Path:
    from sheets_bridge.loop.demo_data import make_demo_data

    n_images = (
        int(rows / 0.9) + 1
    )  # about a tenth goes to the label book, which is not in the sheet
    t = time.perf_counter()
    make_demo_data(root / "data", n_images=n_images, seed=0)
    ws = loop.init(root / "data", root / "ws")
    synthetic_run(ws)
    loop.push(ws)
    print(
        f"built {n_images} images, {len(ws.sheet().read().rows)} sheet rows in {time.perf_counter() - t:.0f} s"
    )
    return ws.root


def server_times(ws_root: Path, repeat: int) -> dict:
    app = create_app(ws_root, token=TOKEN)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    out = {}
    for name, path, headers in [
        ("/umap", "/umap", {}),
        ("/sheet", "/sheet", {}),
        ("/api/sheet/rows", "/api/sheet/rows", auth),
        ("/api/sheet/page (100 rows)", "/api/sheet/page?limit=100", auth),
        ("/ (dashboard)", "/", {}),
        ("/images/<id>?thumb=1 (cached)", None, {}),
    ]:
        if path is None:
            rid = (
                ws_root.joinpath("versions", "v0001", "manifest.csv")
                .read_text()
                .splitlines()[1]
                .split(",")[0]
            )
            path = f"/images/{rid}?thumb=1"
        times, size, gz = [], 0, 0
        for _ in range(repeat):
            t = time.perf_counter()
            response = client.get(path, headers={**headers, "Accept-Encoding": "gzip"})
            times.append(time.perf_counter() - t)
            assert response.status_code == 200, (path, response.status_code)
            gz = len(response.data)
            body = (
                gzip.decompress(response.data)
                if response.headers.get("Content-Encoding") == "gzip"
                else response.data
            )
            size = len(body)
        out[name] = {"median_ms": 1000 * statistics.median(times), "bytes": size, "gzip_bytes": gz}
    for asset in [
        "/bokeh/static/js/bokeh.min.js",
        "/static/tabulator/tabulator.min.js",
        "/static/tabulator/tabulator.min.css",
        "/static/app.css",
        "/static/umap.js",
        "/static/sheet.js",
    ]:
        response = client.get(asset, headers={"Accept-Encoding": "gzip"})
        out[asset] = {
            "bytes": len(gzip.decompress(response.data))
            if response.headers.get("Content-Encoding") == "gzip"
            else len(response.data),
            "gzip_bytes": len(response.data),
        }
    return out


class Server:
    def __init__(self, ws_root: Path):
        from werkzeug.serving import make_server

        self.httpd = make_server("127.0.0.1", 0, create_app(ws_root, token=TOKEN), threaded=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


READY_JS = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const paint = Object.fromEntries(performance.getEntriesByType("paint").map((p) => [p.name, p.startTime]));
  return {fcp: paint["first-contentful-paint"], fp: paint["first-paint"], dcl: nav.domContentLoadedEventEnd,
          load: nav.loadEventEnd, transfer: performance.getEntriesByType("resource").reduce((a, r) => a + r.transferSize, nav.transferSize)};
}"""


def browser_times(ws_root: Path, repeat: int) -> dict:
    from playwright.sync_api import sync_playwright

    server = Server(ws_root)
    out: dict = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for name, path, ready in [
                ("/umap", "/umap", "plotReady"),
                ("/sheet", "/sheet", "gridReady"),
            ]:
                runs = []
                context = browser.new_context(viewport={"width": 1400, "height": 860})
                for k in range(repeat):  # first load has a cold cache, the rest a warm one
                    page = context.new_page()
                    page.goto(server.url + path)
                    page.wait_for_function(
                        f"() => document.body.dataset.{ready} === '1'", timeout=120_000
                    )
                    ready_ms = page.evaluate("performance.now()")
                    timing = page.evaluate(READY_JS)
                    timing["ready"] = ready_ms
                    timing["cold"] = k == 0
                    runs.append(timing)
                    if name == "/umap" and k == repeat - 1:
                        out["umap interaction"] = umap_interaction(page)
                    if name == "/sheet" and k == repeat - 1:
                        out["grid interaction"] = grid_interaction(page)
                    page.close()
                context.close()
                out[name] = runs
            browser.close()
    finally:
        server.close()
    return out


def umap_interaction(page) -> dict:
    """Colour switch and a box selection of about half the points, each until the next frame."""
    switch = page.evaluate("""async () => {
      const t = performance.now();
      const s = document.getElementById("colour"); s.value = "issue"; s.dispatchEvent(new Event("change"));
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      return performance.now() - t; }""")
    select = page.evaluate("""async () => {
      const src = Bokeh.documents[0].get_model_by_name("points_source");
      const half = src.data.x.map((x, i) => i).filter((i) => src.data.x[i] < 0);
      const t = performance.now();
      src.selected.indices = half;
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      return [performance.now() - t, half.length]; }""")
    return {"colour_switch_ms": switch, "select_ms": select[0], "selected": select[1]}


def grid_interaction(page) -> dict:
    """Sort by a column and filter by text, each until the server's page is drawn (the grid
    sorts and filters on the server)."""

    def until_loaded(action) -> float:
        loads = page.evaluate("document.body.dataset.loads")
        t = page.evaluate("performance.now()")
        action()
        page.wait_for_function(f"() => document.body.dataset.loads !== {loads!r}")
        return page.evaluate("performance.now()") - t

    sort = until_loaded(
        lambda: page.evaluate(
            "() => Tabulator.findTable('#grid')[0].setSort('label_quality', 'desc')"
        )
    )
    # (includes the 250 ms pause the page waits for typing to stop)
    filt = until_loaded(lambda: page.fill("#search", "label?"))
    return {
        "sort_ms": sort,
        "filter_ms_incl_250ms_debounce": filt,
        "rows_after_filter": page.inner_text("#grid-count"),
    }


def screenshots(ws_root: Path, out_dir: Path) -> None:
    """docs/dashboard.png, docs/umap.png (with a selection), docs/grid.png."""
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    server = Server(ws_root)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 860})
            page.goto(server.url + "/")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(out_dir / "dashboard.png"))
            page.goto(server.url + "/umap?colour=issue")
            page.wait_for_function("() => document.body.dataset.plotReady === '1'")
            page.evaluate("""() => {
              const src = Bokeh.documents[0].get_model_by_name("points_source");
              const i0 = src.data.issue.findIndex((v) => v !== "none");
              const [x0, y0] = [src.data.x[i0], src.data.y[i0]];
              src.selected.indices = src.data.x.map((x, i) => i).filter((i) =>
                (src.data.x[i] - x0) ** 2 + (src.data.y[i] - y0) ** 2 < 1.2);
            }""")
            point = page.evaluate("""() => {
              const view = [...Bokeh.index.roots].find((v) => v.frame);
              const src = Bokeh.documents[0].get_model_by_name("points_source");
              const i = src.selected.indices[0]; const box = view.canvas_view.el.getBoundingClientRect();
              return [box.left + view.frame.x_scale.compute(src.data.x[i]), box.top + view.frame.y_scale.compute(src.data.y[i])];
            }""")
            page.mouse.move(point[0], point[1])
            page.wait_for_timeout(1500)
            page.screenshot(path=str(out_dir / "umap.png"))
            page.goto(server.url + "/sheet")
            page.wait_for_function("() => document.body.dataset.gridReady === '1'")
            page.wait_for_timeout(1500)
            page.screenshot(path=str(out_dir / "grid.png"))
            browser.close()
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the synthetic workspace here")
    parser.add_argument(
        "--workspace", type=Path, help="use this workspace instead of a synthetic one"
    )
    parser.add_argument(
        "--screenshots", type=Path, help="only save page screenshots into this folder"
    )
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()

    tmp = None
    if args.workspace:
        ws_root = args.workspace.resolve()
    elif args.keep and (args.keep / "ws").exists():
        ws_root = (args.keep / "ws").resolve()
    else:
        base = args.keep or Path(tempfile.mkdtemp(prefix="bench-web-"))
        tmp = None if args.keep else base
        ws_root = build(base, args.rows)
    try:
        if args.screenshots:
            screenshots(ws_root, args.screenshots)
            return
        result = {
            "server": server_times(ws_root, args.repeat),
            "browser": browser_times(ws_root, args.repeat),
        }
        print("server (Flask test client, median of", args.repeat, "):")
        for name, r in result["server"].items():
            ms = f"{r['median_ms']:7.1f} ms" if "median_ms" in r else " " * 10
            print(
                f"  {name:40s} {ms}  {r['bytes'] / 1024:8.1f} KiB  gzip {r['gzip_bytes'] / 1024:8.1f} KiB"
            )
        print("browser (headless Chromium; first load cold, then warm cache):")
        for name in ("/umap", "/sheet"):
            for r in result["browser"][name]:
                print(
                    f"  {name:8s} {'cold' if r['cold'] else 'warm'}  first paint {r['fp']:6.0f} ms  "
                    f"first contentful paint {r['fcp']:6.0f} ms  load {r['load']:6.0f} ms  "
                    f"interactive (data drawn) {r['ready']:6.0f} ms  transferred {r['transfer'] / 1024:7.0f} KiB"
                )
        print("  umap:", {k: round(v, 1) for k, v in result["browser"]["umap interaction"].items()})
        print("  grid:", result["browser"]["grid interaction"])
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
