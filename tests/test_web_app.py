"""The Flask app through its test client: every page and API route, and every error."""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import threading

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sheets_bridge import config as config_mod
from sheets_bridge import loop
from sheets_bridge.core.signing import image_signature
from sheets_bridge.sheets.local import LocalSheet
from sheets_bridge.store.workspace import Workspace
from sheets_bridge.web import create_app, page_urls
from sheets_bridge.web.security import COOKIE
from tests.conftest import make_image_folder

TOKEN = "test-token-1234"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def write_run(ws: Workspace, seed: int = 0, val_accuracy: float = 0.75):
    """A finished run's files without training: predictions, 2-D map, scores, metrics."""
    rng = np.random.default_rng(seed)
    version = ws.current
    m = version.manifest()
    run = ws.new_run(version, "fast", seed)
    classes = list(ws.classes)
    probs = rng.dirichlet(np.ones(len(classes)), size=len(m))
    preds = pd.DataFrame(
        {
            "id": m["id"],
            "label": m["label"],
            "split": m["split"],
            "pred": [classes[i] for i in probs.argmax(1)],
            "confidence": probs.max(1),
        }
    )
    for k, c in enumerate(classes):
        preds[f"p_{c}"] = probs[:, k]
    preds.to_csv(run.path / "predictions.csv", index=False)
    np.save(run.path / "umap.npy", rng.normal(size=(len(m), 2)).astype("float32"))
    pd.DataFrame(
        {
            "id": m["id"],
            "label_quality": rng.random(len(m)),
            "typicality": rng.random(len(m)),
            "issues": np.where(
                preds["pred"] != preds["label"], "label? (pred " + preds["pred"] + ")", ""
            ),
            "cluster": rng.integers(0, 3, len(m)),
            "label_example": m["id"].iloc[0],
        }
    ).to_csv(run.path / "scores.csv", index=False)
    (run.path / "metrics.json").write_text(json.dumps({"val_accuracy": val_accuracy}))
    ws.update_run(run, state="done", val_accuracy=val_accuracy)
    return run


@pytest.fixture(scope="module")
def ws_root(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("web")
    data = make_image_folder(tmp / "data", {"train": 6, "val": 3, "label_book": 1})
    ws = loop.init(data, tmp / "ws")
    write_run(ws)
    loop.push(ws)
    return ws.root


@pytest.fixture
def app(ws_root):
    return create_app(ws_root, token=TOKEN, testing=True)


@pytest.fixture
def client(app):
    return app.test_client()


def a_train_id(ws_root) -> str:
    return next(
        r["id"] for r in LocalSheet(ws_root / "sheet.db").read().rows if r["subset"] == "train"
    )


# -- pages ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path, needle",
    [
        ("/", "Accuracy per version"),
        ("/umap", "points_source"),
        ("/sheet", "tabulator.min.js"),
    ],
)
def test_pages_render_on_localhost_without_a_token_and_load_nothing_from_other_sites(
    client, path, needle
):
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert needle in html
    assert f'content="{TOKEN}"' in html  # the page's scripts call the API with it
    sources = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), sources  # no CDN


def test_the_dashboard_lists_versions_with_accuracy_and_links(client):
    html = client.get("/").get_data(as_text=True)
    assert "v0001" in html and "75.0 %" in html and "<svg" in html
    assert 'href="/sheet"' in html and 'href="/umap"' in html


def test_the_umap_page_embeds_every_point_and_serves_bokehjs_from_the_package(client, ws_root):
    html = client.get("/umap?colour=issue").get_data(as_text=True)
    ids = LocalSheet(ws_root / "sheet.db").read().ids
    assert all(i in html for i in ids)
    assert "data:image" not in html and "?thumb=1" in html  # thumbnails load on hover, not inlined
    assert '<option value="issue" selected>' in html
    js = re.search(r'src="(/bokeh/static/js/bokeh\.min\.js\?v=[^"]+)"', html).group(1)
    response = client.get(js)
    assert response.status_code == 200 and b"Bokeh" in response.data[:5000]
    assert "immutable" in response.headers["Cache-Control"]


def test_the_umap_page_says_what_to_do_when_there_is_no_run(tmp_path):
    data = make_image_folder(tmp_path / "data", {"train": 2, "val": 1})
    ws = loop.init(data, tmp_path / "ws")
    html = create_app(ws.root, token=TOKEN).test_client().get("/umap").get_data(as_text=True)
    assert "No map yet" in html and "sheets-bridge train" in html


def test_big_text_responses_are_gzipped_for_clients_that_accept_it(client):
    response = client.get("/umap", headers={"Accept-Encoding": "gzip, deflate"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert b"points_source" in gzip.decompress(response.data)
    assert "Accept-Encoding" in response.headers["Vary"]


def test_a_google_workspace_links_to_the_google_sheet(tmp_path):
    data = make_image_folder(tmp_path / "data", {"train": 2, "val": 1})
    ws = loop.init(data, tmp_path / "ws")
    config_mod.save(ws.root, ws.config.replace(backend="google", spreadsheet="abc123"))
    client = create_app(ws.root, token=TOKEN).test_client()
    google = "https://docs.google.com/spreadsheets/d/abc123/edit"
    assert client.get("/sheet").headers["Location"] == google
    assert google in client.get("/").get_data(as_text=True)
    assert client.get("/api/status", headers=AUTH).json["sheet_url"] == google
    assert client.get("/api/sheet/rows", headers=AUTH).status_code == 404


# -- images -----------------------------------------------------------------------------------
def test_images_are_served_by_id_with_validators_and_cached_thumbnails(client, ws_root):
    rid = a_train_id(ws_root)
    full = client.get(f"/images/{rid}")
    assert full.status_code == 200 and full.mimetype == "image/png" and full.headers["ETag"]
    assert "private" in full.headers["Cache-Control"] and "max-age" in full.headers["Cache-Control"]
    again = client.get(f"/images/{rid}", headers={"If-None-Match": full.headers["ETag"]})
    assert again.status_code == 304
    thumb = client.get(f"/images/{rid}?thumb=1")
    assert thumb.status_code == 200 and thumb.headers["ETag"] != full.headers["ETag"]
    assert max(Image.open(io.BytesIO(thumb.data)).size) == 96
    assert list((ws_root / "media" / "thumbs").rglob("*-96.png"))


@pytest.mark.parametrize(
    "path",
    [
        "/images/no-such-image",
        "/images/..%2Fsheets-bridge.toml",
        "/images/%2e%2e",
        "/images/sheet.db",
        "/images/media",
        "/images/v0001",
    ],
)
def test_only_images_of_the_workspace_are_served(client, path):
    response = client.get(path)
    assert response.status_code == 404 and response.mimetype == "text/html"


# -- the API: auth and errors -----------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
)
def test_the_api_needs_the_bearer_token(client, headers):
    for method, path in [
        ("GET", "/api/status"),
        ("POST", "/api/retrain"),
        ("GET", "/api/jobs/x"),
        ("POST", "/api/edit"),
        ("GET", "/api/sheet/rows"),
        ("GET", "/api/report"),
    ]:
        response = client.open(path, method=method, headers=headers)
        assert response.status_code == 401, path
        assert "token" in response.json["error"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_status_reports_the_workspace_version_run_and_links(client, ws_root):
    status = client.get("/api/status", headers=AUTH).json
    assert status["workspace"] == str(ws_root) and status["version"] == "v0001"
    assert status["versions"] == 1 and status["images"] == 40
    assert status["run"]["id"].startswith("run-0001") and status["run"]["val_accuracy"] == 0.75
    assert status["run"]["version"] == "v0001" and status["run"]["preset"] == "fast"
    assert (
        status["sheet_url"] == "http://localhost/sheet"
        and status["umap_url"] == "http://localhost/umap"
    )
    assert "job" in status


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"preset": "huge"}', "unknown preset 'huge'"),
        (b'{"colour": "red"}', "unknown field"),
    ],
)
def test_bad_json_is_a_400_with_a_message(client, body, message):
    response = client.post(
        "/api/retrain", data=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 400 and message in response.json["error"]


def test_unknown_jobs_routes_and_methods_answer_json_on_the_api_and_a_page_elsewhere(client):
    assert client.get("/api/jobs/nope", headers=AUTH).json == {"error": "no job 'nope'"}
    assert client.get("/api/jobs/nope", headers=AUTH).status_code == 404
    missing = client.get("/api/nothing-here", headers=AUTH)
    assert missing.status_code == 404 and "not found" in missing.json["error"]
    wrong = client.get("/api/push", headers=AUTH)
    assert wrong.status_code == 405 and "GET is not allowed" in wrong.json["error"]
    page = client.get("/nothing-here")
    assert (
        page.status_code == 404
        and page.mimetype == "text/html"
        and "not found" in page.get_data(as_text=True)
    )


def test_an_unexpected_failure_is_a_500_that_says_what_failed(tmp_path):
    data = make_image_folder(tmp_path / "data", {"train": 2, "val": 1})
    ws = loop.init(data, tmp_path / "ws")
    client = create_app(ws.root, token=TOKEN).test_client()
    (ws.root / "state.json").write_text('{"current": "v0042"}')  # a checkout of a deleted version
    response = client.get("/api/status", headers=AUTH)
    assert response.status_code == 500 and "no version 'v0042'" in response.json["error"]
    page = client.get("/")
    assert page.status_code == 500 and "v0042" in page.get_data(as_text=True)


# -- the API: disagreement report ------------------------------------------------------------
def test_the_report_of_a_sheet_without_rows_answers_with_empty_sections(tmp_path):
    data = make_image_folder(tmp_path / "data", {"train": 2, "val": 1})
    ws = loop.init(data, tmp_path / "ws")  # no push yet: the sheet has no rows
    response = create_app(ws.root, token=TOKEN).test_client().get("/api/report", headers=AUTH)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    report = response.json
    assert report["rows"] == 0 and report["reviewed"] == 0 and report["run"] is None
    assert report["top_pairs"] == [] and report["crowdlab"]["used"] is False
    assert set(report["annotator_stats"]) == {"annotator_1", "annotator_2"}
    assert all(u["rows"] == 0 and u["unreviewed"] == 0 for u in report["unreviewed"])


def test_the_report_shows_where_the_annotators_typed_different_labels(tmp_path):
    data = make_image_folder(tmp_path / "data", {"train": 6, "val": 3})
    ws = loop.init(data, tmp_path / "ws")
    write_run(ws)
    loop.push(ws)
    sheet = LocalSheet(ws.sheet_path)
    rows = sheet.read().rows
    voted = rows[:24]
    # annotator_2 reads four ii as iii and three iii as ii; everything else both agree on.
    swap = {"ii": "iii", "iii": "ii"}
    flipped = [r["id"] for r in voted if r["label"] == "ii"][:4]
    flipped += [r["id"] for r in voted if r["label"] == "iii"][:3]
    assert len(flipped) == 7
    sheet.edit([(r["id"], "annotator_1", r["label"]) for r in voted], author="ana")
    sheet.edit(
        [
            (r["id"], "annotator_2", swap[r["label"]] if r["id"] in flipped else r["label"].upper())
            for r in voted
        ],
        author="ben",
    )
    client = create_app(ws.root, token=TOKEN).test_client()
    assert client.get("/api/report").status_code == 401
    report = client.get("/api/report", headers=AUTH).json
    assert report["rows"] == 36 and report["reviewed"] == 24 and report["run"]
    # Each flipped row counts once between the annotators and once against the given label.
    assert report["top_pairs"] == [{"a": "ii", "b": "iii", "count": 14}]
    a1, a2 = report["annotator_stats"]["annotator_1"], report["annotator_stats"]["annotator_2"]
    assert a1["votes"] == a2["votes"] == 24
    assert a1["agreement_with_others"] == a2["agreement_with_others"] == round(17 / 24, 4)
    assert a1["agreement_with_label"] == 1.0 and a2["agreement_with_label"] == round(17 / 24, 4)
    assert report["decisions"]["conflict"] == 7  # two annotators, two labels: nobody wins
    assert report["crowdlab"]["used"] is True
    assert 0 < a2["crowdlab_quality"] < a1["crowdlab_quality"] <= 1
    assert report["unreviewed"][0] == {"top": 50, "rows": 36, "unreviewed": 12}
    html = client.get("/").get_data(as_text=True)
    assert 'id="report"' in html and "/static/report.js" in html


def test_a_report_whose_sheet_cannot_be_read_is_an_error_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no gcloud default credentials either
    data = make_image_folder(tmp_path / "data", {"train": 2, "val": 1})
    ws = loop.init(data, tmp_path / "ws")
    config_mod.save(ws.root, ws.config.replace(backend="google", spreadsheet="abc123"))
    response = create_app(ws.root, token=TOKEN).test_client().get("/api/report", headers=AUTH)
    assert response.status_code == 500 and "credentials" in response.json["error"]


# -- the API: jobs ----------------------------------------------------------------------------
def test_push_starts_a_job_that_writes_the_sheet(client, ws_root):
    response = client.post("/api/push", headers=AUTH)
    assert response.status_code == 202
    job = response.json["job"]
    assert job["kind"] == "push" and job["state"] in ("queued", "running", "done")
    jobs = client.application.extensions["sheets_bridge.loop.jobs"]
    done = jobs.wait(job["id"], timeout=30)
    assert (
        done["state"] == "done"
        and done["result"]["rows"] == 36
        and "pushed 36 rows" in done["message"]
    )
    assert client.get(f"/api/jobs/{job['id']}", headers=AUTH).json["job"] == done
    assert client.get("/api/status", headers=AUTH).json["job"]["id"] == job["id"]


def test_a_second_start_while_a_job_runs_is_a_409_with_the_running_job(app, client):
    release = threading.Event()
    jobs = app.extensions["sheets_bridge.loop.jobs"]
    jobs.kinds["pull"] = lambda root, params, cb: release.wait(30)
    first = client.post("/api/pull", json={}, headers=AUTH).json["job"]
    try:
        for path in ("/api/retrain", "/api/push", "/api/pull"):
            response = client.post(path, headers=AUTH)
            assert response.status_code == 409
            assert (
                response.json["job"]["id"] == first["id"]
                and "still running" in response.json["error"]
            )
        assert client.get("/api/status", headers=AUTH).json["job"]["id"] == first["id"]
    finally:
        release.set()
    assert jobs.wait(first["id"], timeout=10)["state"] == "done"


# -- edits --------------------------------------------------------------------------------------
def test_edits_write_human_cells_and_subset_through_the_sheet(client, ws_root):
    rid = a_train_id(ws_root)
    response = client.post(
        "/api/edit",
        headers=AUTH,
        json={
            "author": "ana",
            "edits": [
                {"id": rid, "column": "annotator_1", "value": " iii "},
                {"id": rid, "column": "override", "value": "x"},
                {"id": rid, "column": "subset", "value": "VAL"},
                {"id": rid, "column": "note", "value": "=HYPERLINK(1)"},
            ],
        },
    )
    assert response.status_code == 200 and response.json["changed"] == 4
    row = LocalSheet(ws_root / "sheet.db").read().by_id()[rid]
    assert (row["annotator_1"], row["override"], row["subset"], row["note"]) == (
        "iii",
        "x",
        "val",
        "=HYPERLINK(1)",
    )
    log = LocalSheet(ws_root / "sheet.db").edit_log()
    assert {e["author"] for e in log[-4:]} == {"ana"}
    appended = client.post(
        "/api/edit",
        headers=AUTH,
        json={"edits": [{"id": rid, "column": "note", "value": "blurry", "append": True}]},
    )
    assert appended.json["edits"][0]["value"] == "=HYPERLINK(1); blurry"
    client.post(
        "/api/edit",
        headers=AUTH,
        json={"edits": [{"id": rid, "column": "subset", "value": "train"}]},
    )


@pytest.mark.parametrize(
    "edit, message",
    [
        ({"column": "label", "value": "ii"}, "not editable"),
        ({"column": "pred", "value": "ii"}, "not editable"),
        ({"column": "consensus", "value": "ii"}, "not editable"),
        ({"column": "annotator_1", "value": "vij"}, "unknown label 'vij'"),
        ({"column": "override", "value": "eleven"}, "unknown label"),
        ({"column": "subset", "value": "test"}, "subset must be train or val"),
        ({"column": "note", "value": ["a"]}, "value must be a string"),
        ({"column": "annotator_1", "value": "ii", "append": True}, "only note"),
        ({"id": "no-such-id", "column": "note", "value": "a"}, "no row with id"),
        ({"id": "", "column": "note", "value": "a"}, "id must be a non-empty string"),
    ],
)
def test_edits_outside_the_human_columns_or_with_bad_values_are_refused(
    client, ws_root, edit, message
):
    before = LocalSheet(ws_root / "sheet.db").read()
    response = client.post(
        "/api/edit", headers=AUTH, json={"edits": [{"id": a_train_id(ws_root), **edit}]}
    )
    assert response.status_code == 400 and message in response.json["error"]
    assert LocalSheet(ws_root / "sheet.db").read() == before


def test_edits_need_a_list(client):
    for body in ({}, {"edits": []}, {"edits": "x"}, {"edits": [1]}):
        assert client.post("/api/edit", headers=AUTH, json=body).status_code == 400


def test_the_grid_reads_rows_as_arrays_and_polls_other_peoples_edits(client, ws_root):
    data = client.get("/api/sheet/rows", headers=AUTH).json
    assert (
        data["columns"][0] == "id"
        and "image" not in data["columns"]
        and "annotator_1" in data["columns"]
    )
    assert len(data["rows"]) == 36 and all(len(r) == len(data["columns"]) for r in data["rows"])
    assert "subset" in data["editable"] and "label" not in data["editable"]
    # reference pictures come as their URLs (the sheet holds =IMAGE("url")), like the images' paths
    assert data["image_columns"] == ["image", "label_example", "pred_example"]
    col = data["columns"].index("label_example")
    assert all(str(r[col]).startswith("/images/") for r in data["rows"])
    rid = a_train_id(ws_root)
    LocalSheet(ws_root / "sheet.db").edit(
        [(rid, "annotator_2", "ii")], author="bo"
    )  # another browser
    news = client.get(f"/api/sheet/edits?since={data['seq']}", headers=AUTH).json
    assert news["edits"][-1] == {
        "seq": news["seq"],
        "id": rid,
        "column": "annotator_2",
        "value": "ii",
        "author": "bo",
    }
    assert client.get(f"/api/sheet/edits?since={news['seq']}", headers=AUTH).json["edits"] == []
    assert client.get("/api/sheet/edits?since=abc", headers=AUTH).status_code == 400


# -- pages when bound to another address --------------------------------------------------------
@pytest.fixture
def public_client(ws_root):
    return create_app(ws_root, token=TOKEN, pages_need_token=True).test_client()


def test_off_localhost_every_page_needs_the_token(public_client, ws_root):
    for path in ("/", "/umap", "/sheet", f"/images/{a_train_id(ws_root)}"):
        response = public_client.get(path)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith(
            "Basic"
        )
    assert public_client.post("/api/edit", json={"edits": []}).status_code == 401


def test_a_token_link_sets_a_cookie_and_drops_the_token_from_the_address(public_client):
    response = public_client.get(f"/umap?colour=pred&token={TOKEN}")
    assert response.status_code == 302 and response.headers["Location"] == "/umap?colour=pred"
    cookie = response.headers["Set-Cookie"]
    assert (
        cookie.startswith(COOKIE)
        and "HttpOnly" in cookie
        and "SameSite=Strict" in cookie
        and TOKEN not in cookie
    )
    assert public_client.get("/umap?colour=pred").status_code == 200  # the cookie is enough now
    assert public_client.get("/?token=wrong").status_code == 401


def test_basic_auth_with_the_token_as_password_opens_the_pages(public_client):
    good = base64.b64encode(f"ana:{TOKEN}".encode()).decode()
    bad = base64.b64encode(b"ana:guess").decode()
    assert public_client.get("/", headers={"Authorization": f"Basic {good}"}).status_code == 200
    assert public_client.get("/", headers={"Authorization": f"Basic {bad}"}).status_code == 401


def test_a_signed_image_url_works_without_the_token(public_client, ws_root):
    rid = a_train_id(ws_root)
    assert public_client.get(f"/images/{rid}?sig={image_signature(TOKEN, rid)}").status_code == 200
    other = next(r for r in LocalSheet(ws_root / "sheet.db").read().ids if r != rid)
    assert (
        public_client.get(f"/images/{other}?sig={image_signature(TOKEN, rid)}").status_code == 401
    )


def test_on_localhost_a_page_asked_for_under_another_host_name_needs_the_token(client):
    # DNS rebinding: a web site whose name points at 127.0.0.1 must not read the pages.
    assert client.get("/", headers={"Host": "evil.example:8000"}).status_code == 401
    assert client.get("/", headers={"Host": "127.0.0.1:8000"}).status_code == 200
    assert client.get("/", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 401


def test_page_urls_carry_the_token_only_when_asked():
    assert page_urls("http://127.0.0.1:8000")["umap"] == "http://127.0.0.1:8000/umap"
    urls = page_urls("http://10.0.0.2:8000/", token="a b")
    assert urls["dashboard"] == "http://10.0.0.2:8000/?token=a%20b" and urls["api"].endswith(
        "/api/status"
    )


def test_the_token_is_generated_into_the_workspace_config_when_none_is_given(tmp_path, monkeypatch):
    monkeypatch.delenv("SHEETS_BRIDGE_TOKEN", raising=False)
    data = make_image_folder(tmp_path / "data", {"train": 2, "val": 1})
    ws = loop.init(data, tmp_path / "ws")
    app = create_app(ws.root)
    token = app.config["SB_TOKEN"]
    assert len(token) > 30 and config_mod.load(ws.root).token == token
    client = app.test_client()
    assert (
        client.get("/api/status", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
