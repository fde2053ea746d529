"""Security: hostile class names and cells are text everywhere, export stays in its folder, pages
cannot be framed, the token stays out of logs and other users' reach, the API answers 4xx to
hostile bodies. (The same pages in a real browser: tests/browser/test_xss.py.)"""

from __future__ import annotations

import http.client
import json
import os
import re
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from sheets_bridge import loop
from sheets_bridge.cli import main
from sheets_bridge.core import config as config_mod
from sheets_bridge.core.errors import DatasetError
from sheets_bridge.store.versions import create_version
from sheets_bridge.store.workspace import Workspace
from sheets_bridge.web import create_app
from tests.test_web_app import write_run

HOSTILE = "<img src=x onerror=alert(1)>"
TOKEN = "security-token-0001"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def tiny_folder(root: Path, classes=("a", "b"), train: int = 2, val: int = 1) -> Path:
    """``<root>/<split>/<class>/<file>.png``: small real PNGs, one grey level per file."""
    n = 0
    for split, count in (("train", train), ("val", val)):
        for c in classes:
            folder = root / split / c
            folder.mkdir(parents=True, exist_ok=True)
            for k in range(count):
                n += 1
                Image.new("L", (8, 8), (n * 37) % 256).save(folder / f"{split}-{k}-{n}.png")
    return root


@pytest.fixture(scope="module")
def hostile_ws(tmp_path_factory) -> Path:
    """A pushed workspace whose class names, ids and notes are markup."""
    tmp = tmp_path_factory.mktemp("hostile")
    data = tiny_folder(tmp / "data", classes=(HOSTILE, "b'\"&"))
    bad = data / "train" / HOSTILE / f"{HOSTILE.replace('>', '')}.png"  # an id with markup too
    Image.new("L", (8, 8), 3).save(bad)
    ws = loop.init(data, tmp / "ws")
    write_run(ws)
    loop.push(ws)
    return ws.root


# -- class names at init -----------------------------------------------------------------------
def test_a_markup_class_name_is_accepted_and_kept_as_text(hostile_ws):
    assert HOSTILE in Workspace(hostile_ws).classes


@pytest.mark.parametrize(
    ("label", "fragment"),
    [
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("..", "not a folder name"),
        (" a", "leading or trailing spaces"),
        ("a\tb", "control character"),
        ("a\u202eb", "control character"),  # right-to-left override: reads as another name
        ("x" * 65, "at most 64"),
    ],
)
def test_init_refuses_a_class_name_that_cannot_be_a_folder(tmp_path, label, fragment):
    tiny_folder(tmp_path / "img", classes=("ok", "fine"))
    rows = ["path,label,split"]
    for p in sorted((tmp_path / "img").rglob("*.png")):
        cls = label if p.parent.name == "ok" else "fine"
        rows.append(f'{p},"{cls}",{p.parent.parent.name}')
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError) as err:
        loop.init(tmp_path / "m.csv", tmp_path / "ws")
    assert fragment in str(err.value) and repr(label)[1:-1][:20] in str(err.value)
    assert not (tmp_path / "ws").exists()


def test_a_folder_name_with_a_control_character_is_named(tmp_path):
    tiny_folder(tmp_path / "d", classes=("a\x07b", "c"))
    result = CliRunner().invoke(main, ["init", str(tmp_path / "d"), "-w", str(tmp_path / "ws")])
    assert result.exit_code == 1 and "control character" in result.output
    assert "'a\\x07b'" in result.output and "Traceback" not in result.output


# -- the pages escape what people and files wrote ------------------------------------------------
def test_no_page_carries_a_hostile_name_as_markup(hostile_ws):
    client = create_app(hostile_ws, token=TOKEN, testing=True).test_client()
    rid = next(r["id"] for r in Workspace(hostile_ws).sheet().read().rows if "<" in r["id"])
    edits = [
        {"id": rid, "column": "note", "value": HOSTILE},
        {"id": rid, "column": "override", "value": HOSTILE},
    ]
    response = client.post("/api/edit", json={"edits": edits, "author": HOSTILE}, headers=AUTH)
    assert response.status_code == 200, response.json
    for path in ("/", "/umap", "/sheet", "/umap?colour=label"):
        page = client.get(path)
        assert page.status_code == 200
        assert "<img src=x" not in page.get_data(as_text=True), path


# -- export ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("label", ["../../escaped", "/tmp/absolute-export", "..", "a/../../b"])
def test_export_refuses_a_label_that_would_leave_the_target_folder(tmp_path, label):
    ws = loop.init(tiny_folder(tmp_path / "d"), tmp_path / "ws")
    manifest = ws.current.manifest()
    manifest.loc[0, "label"] = label
    bad = create_version(ws.versions_dir, manifest, parent="v0001", message="hand-edited")
    out = tmp_path / "out" / "inner"
    result = CliRunner().invoke(main, ["export", bad.name, str(out), "-w", str(ws.root)])
    assert result.exit_code == 1, result.output
    assert "cannot export" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "escaped").exists() and not Path("/tmp/absolute-export").exists()
    assert not out.exists() or not any(out.rglob("*"))  # nothing half-exported


def test_export_of_a_clean_version_still_writes_every_image(tmp_path):
    ws = loop.init(tiny_folder(tmp_path / "d"), tmp_path / "ws")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["export", "v0001", str(out), "-w", str(ws.root)])
    assert result.exit_code == 0 and len(list(out.rglob("*.png"))) == 6


# -- headers --------------------------------------------------------------------------------------
def test_every_response_forbids_framing_and_sniffing(hostile_ws):
    client = create_app(hostile_ws, token=TOKEN, testing=True).test_client()
    rid = Workspace(hostile_ws).current.manifest()["id"][0]
    for path in ("/", "/umap", "/sheet", "/api/status", "/static/app.css", f"/images/{rid}", "/x"):
        response = client.get(path, headers=AUTH)
        h = response.headers
        assert h["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"], path
        assert h["X-Content-Type-Options"] == "nosniff" and h["Referrer-Policy"] == "no-referrer"


def test_the_umap_pages_inline_script_runs_by_its_nonce_alone(hostile_ws):
    client = create_app(hostile_ws, token=TOKEN, testing=True).test_client()
    response = client.get("/umap")
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    html = response.get_data(as_text=True)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline and all(
        f'nonce="{nonce}"' in attrs or "application/json" in attrs for attrs in inline
    )
    script_src = response.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    assert "unsafe-inline" not in script_src
    other = client.get("/umap").headers["Content-Security-Policy"]
    assert nonce not in other  # a new nonce per response


# -- the token ------------------------------------------------------------------------------------
def test_the_config_file_holding_the_token_is_readable_by_its_owner_only(tmp_path):
    ws = loop.init(tiny_folder(tmp_path / "d"), tmp_path / "ws")
    path = ws.root / config_mod.CONFIG_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chmod(path, 0o644)  # a file written by an older version
    config_mod.ensure_token(ws.root)  # generates the token: the next save
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert config_mod.load(ws.root, env={}).token


def test_a_token_link_never_reaches_the_access_log(tmp_path):
    ws = loop.init(tiny_folder(tmp_path / "d"), tmp_path / "ws")
    secret = config_mod.ensure_token(ws.root)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("SHEETS_BRIDGE_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sheets_bridge.cli", "serve", "-w", str(ws.root), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        port = None
        for line in proc.stdout:
            found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            if found:
                port = int(found.group(1))
                break
        assert port, "the server printed no URL"
        for query in (f"?token={secret}", "?token=wrong-secret-guess", f"?x=1&token={secret}"):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/" + query)
            assert conn.getresponse().status in (302, 401)
            conn.close()
    finally:
        proc.terminate()
        _, log = proc.communicate(timeout=30)
    assert "GET /?token=[redacted]" in log
    assert secret not in log and "wrong-secret-guess" not in log


# -- API bodies -----------------------------------------------------------------------------------
def test_deeply_nested_json_is_a_400_not_a_500(hostile_ws):
    client = create_app(hostile_ws, token=TOKEN, testing=True).test_client()
    for body in ("[" * 100_000 + "]" * 100_000, '{"edits":' + "[" * 50_000 + "]" * 50_000 + "}"):
        response = client.post("/api/edit", data=body, headers=AUTH)
        assert response.status_code == 400 and "nested too deeply" in response.json["error"]


@pytest.mark.parametrize("since", ["99999999999999999999999", "-1", str(2**63), "1e3", "abc"])
def test_an_out_of_range_since_is_a_400(hostile_ws, since):
    client = create_app(hostile_ws, token=TOKEN, testing=True).test_client()
    response = client.get(f"/api/sheet/edits?since={since}", headers=AUTH)
    assert response.status_code == 400 and "since must be" in response.json["error"]


def _serve_app(app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _post_chunked(port: int, path: str, chunks: list[bytes]) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "POST",
        path,
        body=iter(chunks),
        headers={**AUTH, "Content-Type": "application/json"},
        encode_chunked=True,
    )
    response = conn.getresponse()
    data = json.loads(response.read() or b"{}")
    conn.close()
    return response.status, data


def test_a_chunked_body_over_the_limit_is_a_413_and_one_under_it_works(hostile_ws):
    app = create_app(hostile_ws, token=TOKEN)
    app.config["MAX_CONTENT_LENGTH"] = 2048
    server = _serve_app(app)
    try:
        rid = Workspace(hostile_ws).sheet().read().rows[0]["id"]
        edit = {"edits": [{"id": rid, "column": "note", "value": "x" * 1500}]}
        big = json.dumps(edit).encode()
        assert len(big) < 2048
        status, data = _post_chunked(server.server_port, "/api/edit", [big[:700], big[700:]])
        assert status == 200 and data["changed"] in (0, 1)
        edit["edits"][0]["value"] = "y" * 1900
        bigger = json.dumps(edit).encode() + b" " * 400
        status, data = _post_chunked(server.server_port, "/api/edit", [bigger[:900], bigger[900:]])
        assert status == 413 and "larger than 2048" in data["error"]
    finally:
        server.shutdown()


def test_a_declared_body_over_the_limit_is_a_413(hostile_ws):
    app = create_app(hostile_ws, token=TOKEN, testing=True)
    app.config["MAX_CONTENT_LENGTH"] = 100
    response = app.test_client().post("/api/edit", data="x" * 500, headers=AUTH)
    assert response.status_code == 413 and response.is_json
