"""Remake docs/dashboard.png and docs/umap.png from a real run of the demo.

    .venv/bin/python docs/make_screenshots.py                  # demo in a temp dir, PNGs in docs/
    .venv/bin/python docs/make_screenshots.py --dir /tmp/shots --keep   # keep the workspace
    .venv/bin/python docs/make_screenshots.py --workspace /tmp/shots/workspace   # pictures only

What it does, all through the library (no fake numbers): ``sheets-bridge demo`` (synthetic numerals,
init, train, push); two reviewers go through the first rows of the sheet's review order and type
what the demo's ground truth says (the second one disagrees now and then, as people do); pull;
retrain and push, so the dashboard has two versions to compare on the fixed evaluation set. Then
the app runs on 127.0.0.1 and Debian's Chromium (through Playwright, as the browser tests) takes
the two pictures. Every wait is on a condition the page sets, never on a timer. The PNGs are
reduced to 1000 px and 256 colours so they stay small. ``docs/grid.png`` is made elsewhere.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sheets_bridge import loop  # noqa: E402
from sheets_bridge.loop.demo import run_demo  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
TOKEN = "screenshots-token"
#: rows of the review order the two reviewers go through
REVIEWED = 120
#: width of the PNGs in docs/ (the README shows them side by side)
WIDTH = 1000


def review(ws, data: Path) -> int:
    """Votes from the demo's ground truth on the first REVIEWED rows; returns the edits made."""
    import pandas as pd

    truth = pd.read_csv(data / "ground_truth.csv", dtype=str)
    truth = truth.fillna("").set_index("id")
    rows = sorted(ws.sheet().read().rows, key=lambda r: float(r.get("rank") or "inf"))
    first, second = ws.config.annotators[:2]
    edits = []
    for k, row in enumerate(rows[:REVIEWED]):
        t = truth.loc[row["id"]]
        vote = "x" if t["problem"] == "junk" else t["true_label"]
        edits.append((row["id"], first, vote))
        # the second reviewer skips some rows and, on every fifth, keeps the given label
        if k % 3 != 2:
            edits.append((row["id"], second, t["given_label"] if k % 5 == 4 else vote))
    ws.sheet().edit(edits, author="screenshots")
    return len(edits)


def shrink(path: Path, width: int = WIDTH) -> None:
    """At most ``width`` px wide and 256 colours: the pages are flat colours, text and small
    grey thumbnails, so little visible is lost and the PNG stays small."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
        if im.width > width:
            im = im.resize((width, round(im.height * width / im.width)), Image.Resampling.LANCZOS)
        small = im.quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    small.save(path, optimize=True)


def decoded(page) -> None:
    """Wait until every image on the page (shadow DOM included) is loaded and decoded."""
    page.locator("img").evaluate_all(
        "(imgs) => Promise.all(imgs.map((i) => { i.loading = 'eager'; "
        "return i.decode().catch(() => null); }))"
    )


def shoot(ws_root: Path, out: Path) -> None:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from sheets_bridge.web import create_app

    httpd = make_server("127.0.0.1", 0, create_app(ws_root, token=TOKEN), threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{url}/?token={TOKEN}")
            page.wait_for_selector("#clusters[data-ready='1']", timeout=60_000)
            decoded(page)  # lazy ones below the fold too: the picture is the whole page
            page.screenshot(path=str(out / "dashboard.png"), full_page=True)

            page.goto(f"{url}/umap?colour=cluster")
            page.wait_for_selector("body[data-plot-ready='1']", timeout=60_000)
            # select the points around the first flagged image, then hover one of them
            point = page.evaluate("""() => {
              const src = Bokeh.documents[0].get_model_by_name("points_source");
              const view = [...Bokeh.index.roots].find((v) => v.frame);
              const i0 = Math.max(0, src.data.issue.findIndex((v) => v !== "none"));
              const [x0, y0] = [src.data.x[i0], src.data.y[i0]];
              src.selected.indices = src.data.x.map((x, i) => i).filter((i) =>
                (src.data.x[i] - x0) ** 2 + (src.data.y[i] - y0) ** 2 < 0.6);
              const box = view.canvas_view.el.getBoundingClientRect();
              return [box.left + view.frame.x_scale.compute(x0),
                      box.top + view.frame.y_scale.compute(y0)];
            }""")
            page.wait_for_function("Number(document.getElementById('sel-count').textContent) > 0")
            page.mouse.move(point[0] + 30, point[1] + 30)
            page.mouse.move(point[0], point[1])
            tip = page.locator("img[src*='?thumb=1']").first
            tip.wait_for(state="visible", timeout=20_000)
            decoded(page)  # the tooltip's images and the selection grid's
            page.screenshot(path=str(out / "umap.png"))
            browser.close()
    finally:
        httpd.shutdown()
    for name in ("dashboard.png", "umap.png"):
        shrink(out / name)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, help="where the demo goes [default: a temp dir]")
    parser.add_argument("--keep", action="store_true", help="keep the demo workspace")
    parser.add_argument("--images", type=int, default=1500, help="demo size [default: 1500]")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="[default: docs/]")
    parser.add_argument(
        "--workspace", type=Path, help="only take the pictures, of this (kept) workspace"
    )
    args = parser.parse_args()
    if args.workspace:
        shoot(args.workspace.resolve(), args.out)
        return
    tmp = None if args.dir else tempfile.TemporaryDirectory(prefix="sb-shots-")
    root = args.dir or Path(tmp.name)
    try:
        demo = run_demo(root, n_images=args.images, progress=False, on_step=print)
        ws = loop.workspace_or_error(demo.workspace)
        print(f"review: {review(ws, demo.data)} votes typed")
        print(loop.pull(ws, yes=True).describe())
        ws = loop.workspace_or_error(demo.workspace)
        run = loop.train(ws, progress=False)
        print(loop.push(ws, run=run).describe())
        print(loop.describe_versions(loop.versions_table(ws)))
        args.out.mkdir(parents=True, exist_ok=True)
        shoot(demo.workspace, args.out)
        for name in ("dashboard.png", "umap.png"):
            f = args.out / name
            print(f"{f}: {f.stat().st_size / 1024:.0f} KiB")
    finally:
        if tmp is not None and not args.keep:
            tmp.cleanup()


if __name__ == "__main__":
    main()
