"""Real headless Chromium (Debian's package, driven by Playwright) against the app on 127.0.0.1.

The workspace is built once per session with a real, tiny training run (one epoch on 40 images).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("SHEETS_BRIDGE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "browser-token-0000"


def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(
        reason=f"no Chromium at {CHROMIUM}: apt-get install -y chromium (tests/run_all.sh does)"
    )
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def trained_workspace(tmp_path_factory) -> Path:
    """init -> train (1 epoch) -> push, on 4 classes x 10 drawn images."""
    from sheets_bridge import loop
    from tests.conftest import make_image_folder

    tmp = tmp_path_factory.mktemp("browser")
    data = make_image_folder(tmp / "data", {"train": 6, "val": 3, "label_book": 1})
    ws = loop.init(data, tmp / "ws")
    run = loop.train(ws, epochs=1, progress=False)
    loop.push(ws, run=run)
    return ws.root


@pytest.fixture(scope="session")
def server(trained_workspace) -> Iterator[str]:
    """The app on a free port of 127.0.0.1, in a thread (the same server `serve()` runs)."""
    from werkzeug.serving import make_server

    from sheets_bridge.web import create_app

    httpd = make_server("127.0.0.1", 0, create_app(trained_workspace, token=TOKEN), threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
