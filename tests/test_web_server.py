"""The real server in a subprocess: pages, the API and a job over HTTP on 127.0.0.1."""

from __future__ import annotations

import http.cookiejar
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sheets_bridge import loop
from tests.conftest import make_image_folder
from tests.test_web_app import write_run

TOKEN = "smoke-token-5678"
_SERVE = """
import json, sys
from sheets_bridge.web import serve
serve(sys.argv[1], host=sys.argv[2], port=0, on_ready=lambda urls: print(json.dumps(urls), flush=True))
"""


@pytest.fixture(scope="module")
def ws_root(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("server")
    ws = loop.init(make_image_folder(tmp / "data", {"train": 3, "val": 2}), tmp / "ws")
    write_run(ws)
    return ws.root


def start(ws_root: Path, host: str):
    env = {**os.environ, "SHEETS_BRIDGE_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(ws_root), host],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
    )
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise AssertionError(f"the server did not start: {proc.stderr.read()}")
    return proc, json.loads(line)


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        assert proc.wait(timeout=10) == 0  # Ctrl-C is a clean stop
    finally:
        if proc.poll() is None:
            proc.kill()


def fetch(
    url: str,
    *,
    method: str = "GET",
    token: str | None = None,
    body: dict | None = None,
    opener=None,
):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_server_serves_pages_and_runs_a_job_over_http(ws_root):
    proc, urls = start(ws_root, "127.0.0.1")
    try:
        base = urls["dashboard"].rstrip("/")
        assert base.startswith("http://127.0.0.1:") and "token" not in base
        for name in ("dashboard", "umap", "sheet"):
            status, html = fetch(urls[name])
            assert status == 200 and b"sheets-bridge" in html
        assert fetch(urls["api"])[0] == 401
        status, body = fetch(urls["api"], token=TOKEN)
        assert status == 200 and json.loads(body)["version"] == "v0001"
        status, body = fetch(f"{base}/api/push", method="POST", token=TOKEN, body={})
        assert status == 202
        job = json.loads(body)["job"]
        deadline = time.monotonic() + 300  # generous: a loaded CI machine is slow, not wrong
        while job["state"] in ("queued", "running"):
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
            job = json.loads(fetch(f"{base}/api/jobs/{job['id']}", token=TOKEN)[1])["job"]
        assert job["state"] == "done" and job["result"]["rows"] == 20
        status, body = fetch(f"{base}/api/sheet/rows", token=TOKEN)
        assert status == 200 and len(json.loads(body)["rows"]) == 20
    finally:
        stop(proc)


def test_bound_to_all_addresses_the_pages_need_the_token_link(ws_root):
    proc, urls = start(ws_root, "0.0.0.0")
    try:
        assert urls["dashboard"].endswith(f"/?token={TOKEN}")
        plain = urls["dashboard"].split("?")[0]
        assert fetch(plain)[0] == 401
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        status, html = fetch(urls["umap"], opener=browser)  # follows the redirect with the cookie
        assert status == 200 and b"points_source" in html
        assert fetch(plain, opener=browser)[0] == 200
    finally:
        stop(proc)
