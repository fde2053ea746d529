"""Hostile names in a real browser: no dialog ever opens, the CSP lets every page work, and no other
origin can frame a page."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from sheets_bridge import loop
from sheets_bridge.store.workspace import Workspace
from tests.browser.conftest import TOKEN
from tests.browser.test_pages import POINTS_JS
from tests.test_security import HOSTILE, tiny_folder
from tests.test_web_app import write_run

pytestmark = pytest.mark.browser

#: Script that would run if any of these reached the page as markup.
PAYLOADS = (
    HOSTILE,
    "<svg/onload=alert(2)>",
    "\"'><img src=x onerror=alert(3)>",
    "<script>alert(4)</script>",
    "javascript:alert(5)",
)


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory) -> Iterator[tuple[str, list[str]]]:
    """The app on a workspace whose class names, ids, notes and overrides are all markup."""
    from werkzeug.serving import make_server

    from sheets_bridge.web import create_app

    tmp = tmp_path_factory.mktemp("xss")
    data = tiny_folder(tmp / "data", classes=(HOSTILE, "b'\"&"), train=3)
    from PIL import Image

    Image.new("L", (8, 8), 9).save(data / "train" / "b'\"&" / "<svg onload=alert(6)>.png")
    ws = loop.init(data, tmp / "ws", annotators=("ann<b>1</b>", "annotator_2"))
    write_run(ws)
    loop.push(ws)
    ids = list(Workspace(ws.root).sheet().read().ids)
    edits = []
    for n, rid in enumerate(ids):
        payload = PAYLOADS[n % len(PAYLOADS)]
        edits += [(rid, "note", payload), (rid, "ann<b>1</b>", HOSTILE)]
    ws.sheet().edit(edits, author="<img src=x onerror=alert(7)>")
    httpd = make_server("127.0.0.1", 0, create_app(ws.root, token=TOKEN), threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}", ids
    httpd.shutdown()


def watch(page) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {"dialogs": [], "csp": []}

    def on_dialog(dialog):
        seen["dialogs"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on(
        "console",
        lambda m: "Content Security Policy" in m.text and seen["csp"].append(m.text),
    )
    return seen


def test_the_dialog_counter_sees_a_dialog_when_markup_does_run(page):
    seen = watch(page)
    page.set_content(f"<div>{HOSTILE}</div>")
    page.wait_for_function("document.images[0] && document.images[0].complete")
    page.wait_for_timeout(100)
    assert seen["dialogs"] == ["1"]


def test_no_dialog_opens_on_any_page_with_hostile_names(page, hostile_server):
    base, ids = hostile_server
    seen = watch(page)
    page.goto(f"{base}/")
    page.wait_for_selector("#report[data-ready='1']", timeout=20_000)
    assert HOSTILE in page.inner_text("body") or "ann<b>1</b>" in page.inner_text("body")

    # the grid: open the annotator dropdown and the override dropdown on a hostile row
    page.goto(f"{base}/sheet")
    page.wait_for_selector("body[data-grid-ready='1']", timeout=20_000)
    for column in ("ann<b>1</b>", "override"):
        cell = page.locator(f".tabulator-cell[tabulator-field='{column}']").first
        cell.click()
        listing = page.locator(".tabulator-edit-list")
        listing.wait_for(state="visible", timeout=10_000)
        assert HOSTILE in listing.inner_text()  # shown as text
        page.keyboard.press("Escape")
    assert page.locator(".tabulator-col-title", has_text="ann<b>1</b>").count() == 1

    # the UMAP view: hover every point (the tooltip holds id, label and issues)
    page.goto(f"{base}/umap")
    page.wait_for_selector("body[data-plot-ready='1']", timeout=20_000)
    for point in page.evaluate(POINTS_JS):
        page.mouse.move(point["x"], point["y"])
        page.wait_for_timeout(30)
    page.select_option("#colour", "label")
    page.wait_for_timeout(300)
    assert seen["dialogs"] == [], seen["dialogs"]
    assert seen["csp"] == [], seen["csp"]  # the policy lets every page do its work


@pytest.fixture(scope="module")
def other_origin() -> Iterator[http.server.HTTPServer]:
    """A plain server on another port (another origin) that serves whatever page a test sets."""

    class Handler(http.server.BaseHTTPRequestHandler):
        html = b""

        def do_GET(self):  # noqa: N802 - the standard library's name
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(Handler.html)

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    httpd.handler = Handler
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()


def test_another_origin_cannot_frame_any_page(page, hostile_server, other_origin):
    base, _ = hostile_server
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text))
    for path in ("/", "/sheet", "/umap"):
        other_origin.handler.html = f'<iframe id="f" src="{base}{path}"></iframe>'.encode()
        page.goto(f"http://127.0.0.1:{other_origin.server_port}/")
        page.wait_for_load_state("load")
        frame = page.frame_locator("#f")
        # a refused frame shows Chromium's error page, never the app (whose pages hold the toast)
        assert frame.locator("#toast").count() == 0, path
        child = page.frames[1]
        assert not child.url.startswith(base) or child.url.startswith("chrome-error"), child.url
    assert any("frame-ancestors" in t or "X-Frame-Options" in t for t in refused), refused
