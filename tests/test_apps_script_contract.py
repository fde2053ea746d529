"""The contract between the sheet's menu (Code.js) and the bridge's JSON API, checked from both ends.

Code.js runs under node with the Apps Script stand-ins (``apps_script/tests/bridge_session.js``);
every request it sends is replayed, exactly as sent, against the real Flask app's test client, and
the app's real answer goes back to Code.js. So the app must accept what the script sends, and the
script must understand what the app answers: a change on either side that breaks the other fails here.
"""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import request

from sheets_bridge import loop
from sheets_bridge.loop.apps_script import render
from sheets_bridge.loop.jobs import Jobs
from sheets_bridge.web import create_app

ROOT = Path(__file__).resolve().parents[1]
SESSION_JS = ROOT / "apps_script" / "tests" / "bridge_session.js"
NODE = shutil.which("node")
BASE = "https://bridge.test"
TOKEN = "contract-token-5b1f"

pytestmark = [
    pytest.mark.skipif(
        NODE is None,
        reason="node is needed to run Code.js (the project's test command installs it)",
    ),
    pytest.mark.timeout(60),
]


@dataclass
class Exchange:
    method: str
    path: str
    headers: dict[str, str]
    body: str | None
    status: int
    answer: Any  # the app's JSON


@dataclass
class Session:
    exchanges: list[Exchange] = field(default_factory=list)
    calls: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    user_properties: dict[str, str] = field(default_factory=dict)
    sidebar: dict[str, Any] | None = None  # the job sidebar's page after it stopped polling
    error: str | None = None

    @property
    def alerts(self) -> list[str]:
        return [a["prompt"] for a in self.calls["alerts"]]

    @property
    def toasts(self) -> list[str]:
        return [t["msg"] for t in self.calls["toasts"]]


def replay(client, url: str, params: dict[str, Any]) -> tuple[Exchange, str]:
    """Send what UrlFetchApp.fetch(url, params) would send, to the Flask test client."""
    assert url.startswith(BASE + "/"), url
    parts = urlsplit(url)
    method = params.get("method", "get").upper()
    headers = dict(params.get("headers", {}))
    if "contentType" in params:
        headers["Content-Type"] = params["contentType"]
    body = params.get("payload")
    response = client.open(
        parts.path, method=method, headers=headers, data=body, query_string=parts.query
    )
    text = response.get_data(as_text=True)
    answer = response.get_json(silent=True)
    return Exchange(method, parts.path, headers, body, response.status_code, answer), text


def run_menu(app, action: str, *, properties=None, user_properties=None, prompts=None) -> Session:
    """Run one menu action of the rendered Code.js with the app as its bridge.

    A job's sidebar runs too (its polls go through the script's pollJob to the app) until it
    stops polling.
    """
    client = app.test_client()
    setup = {
        "action": action,
        "code": render(BASE)["Code.js"],
        "properties": properties or {},
        "userProperties": {"BRIDGE_TOKEN": TOKEN} if user_properties is None else user_properties,
        "prompts": prompts or [],
    }
    proc = subprocess.Popen(
        [NODE, str(SESSION_JS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    session = Session()
    try:
        proc.stdin.write(json.dumps(setup) + "\n")
        proc.stdin.flush()
        while True:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"node stopped without a result: {proc.stderr.read()}")
            message = json.loads(line)
            if message["type"] == "done":
                session.calls = message["calls"]
                session.properties = message["properties"]
                session.user_properties = message["userProperties"]
                session.sidebar = message["sidebar"]
                session.error = message["error"]
                break
            exchange, text = replay(client, message["url"], message["params"])
            session.exchanges.append(exchange)
            proc.stdin.write(json.dumps({"status": exchange.status, "body": text}) + "\n")
            proc.stdin.flush()
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
    assert session.error is None, f"a script error escaped the menu action: {session.error}"
    return session


@pytest.fixture
def app(workspace):
    return create_app(workspace.root, token=TOKEN, testing=True)


def final_job(app, job_id: str) -> dict[str, Any]:
    response = app.test_client().get(
        f"/api/jobs/{job_id}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200
    return response.get_json()["job"]


def check_job_conversation(session: Session, kind: str) -> str:
    """The start is accepted with a job, every poll of that job is answered; returns its id."""
    start, *polls = session.exchanges
    assert (start.method, start.path, start.status) == ("POST", f"/api/{kind}", 202)
    assert start.headers["Authorization"] == f"Bearer {TOKEN}"
    assert start.headers["Content-Type"] == "application/json" and start.body == "{}"
    job_id = start.answer["job"]["id"]
    assert start.answer["job"]["kind"] == kind
    for poll in polls:
        assert (poll.method, poll.path, poll.status) == ("GET", f"/api/jobs/{job_id}", 200)
        assert poll.body is None
    # A quick job may already have ended when the start answers; then there is nothing to poll.
    last = (polls[-1] if polls else start).answer["job"]
    assert last["state"] in ("done", "failed")
    return job_id


def test_push_from_the_menu_is_accepted_and_followed_in_the_sidebar_until_the_app_says_done(
    app, workspace
):
    # Someone else holds the sheet's write lock for a moment, so the push job is still running
    # when the sidebar polls: the app's running-job answers are parsed too, not only the final one.
    workspace.sheet().create()  # the SQLite file, so that another writer can lock it
    other_writer = sqlite3.connect(
        workspace.sheet_path, check_same_thread=False, isolation_level=None
    )
    other_writer.execute("BEGIN IMMEDIATE")
    # The other writer lets go once a poll has answered "running": no timer, so a slow machine
    # cannot let the job finish before the sidebar's first poll.
    seen_running = threading.Event()

    @app.after_request
    def _watch(response):
        if "/api/jobs/" in request.path and b'"running"' in response.get_data():
            seen_running.set()
        return response

    def release() -> None:
        seen_running.wait(timeout=300)
        other_writer.rollback()

    unlock = threading.Thread(target=release)
    unlock.start()
    try:
        session = run_menu(app, "refreshPredictions")
    finally:
        unlock.join()
        other_writer.close()
    job_id = check_job_conversation(session, "push")
    job = final_job(app, job_id)
    assert job["state"] == "done"
    running = [
        e.answer["job"] for e in session.exchanges[1:] if e.answer["job"]["state"] == "running"
    ]
    assert running, "no poll saw the job running"
    progress = f"running, {running[0]['step']}, {math.floor(running[0]['progress'] * 100 + 0.5)}%"
    assert progress in session.sidebar["shown"]
    assert session.toasts == [f"Started job {job_id}. The sidebar follows it."]
    assert session.sidebar["state"] == f"Done. {job['message']}"
    assert session.sidebar["problem"] == "" and session.sidebar["bar"] == 1
    assert session.sidebar["polls"] == len(session.exchanges) - 1
    assert session.alerts == []
    assert len(workspace.sheet().read().rows) == 36  # the push really ran


def test_pull_from_the_menu_is_accepted_and_reports_the_apps_message(app, workspace):
    loop.push(workspace)
    session = run_menu(app, "applyOverrides")
    job = final_job(app, check_job_conversation(session, "pull"))
    assert job["state"] == "done" and "v0001" in job["message"]
    assert session.sidebar["state"] == f"Done. {job['message']}"


def test_a_job_that_fails_on_the_bridge_shows_the_apps_error(app, workspace):
    # A directory where the local sheet's SQLite file should be: the push job fails for real.
    sheet_db = Path(workspace.sheet_path)
    if sheet_db.exists():
        sheet_db.unlink()
    sheet_db.mkdir()
    session = run_menu(app, "refreshPredictions")
    job = final_job(app, check_job_conversation(session, "push"))
    assert job["state"] == "failed" and job["error"]
    assert session.sidebar["state"] == f"Failed: {job['error']}."
    assert session.alerts == []


def test_a_running_job_makes_the_app_answer_409_and_the_sheet_names_it(app, workspace):
    release = threading.Event()

    def slow_retrain(root, params, on_progress):
        on_progress("train", 0.4)
        release.wait(30)

    # Another Jobs object on the same workspace, as a second server process would be: single-flight
    # is enforced through jobs.db, so the app sees this job as the running one.
    other = Jobs(workspace.root, kinds={"retrain": slow_retrain})
    running = other.start("retrain")
    try:
        session = run_menu(app, "retrainModel")
    finally:
        release.set()
        other.wait(running["id"], timeout=30)
    (start,) = session.exchanges
    assert (start.path, start.status) == ("/api/retrain", 409)
    assert start.answer["job"]["id"] == running["id"]
    (alert,) = session.alerts
    assert alert.startswith(
        f"Another job is already running on the bridge: job {running['id']} (retrain, "
    )
    assert alert.endswith("Wait for it to end, then try again.")


def test_a_wrong_token_is_refused_by_the_app_and_explained_in_the_sheet(app):
    session = run_menu(app, "retrainModel", user_properties={"BRIDGE_TOKEN": "not-the-token"})
    (start,) = session.exchanges
    assert start.status == 401 and "error" in start.answer
    (alert,) = session.alerts
    assert alert.startswith("The bridge refused the API token (HTTP 401).")
    assert "not-the-token" not in alert


def test_settings_are_checked_against_the_apps_status(app):
    session = run_menu(
        app,
        "openSettings",
        user_properties={},
        prompts=[{"button": "OK", "text": BASE + "/"}, {"button": "OK", "text": TOKEN}],
    )
    assert session.properties == {"BRIDGE_URL": BASE}
    assert session.user_properties == {"BRIDGE_TOKEN": TOKEN}
    (status,) = session.exchanges
    assert (status.method, status.path, status.status) == ("GET", "/api/status", 200)
    answer = status.answer
    assert session.toasts == [
        f"Saved. The bridge answers: dataset {answer['version']}, {answer['images']} images."
    ]


def test_the_umap_dialog_links_to_the_umap_url_the_app_reports(app):
    session = run_menu(app, "openUmapView")
    (status,) = session.exchanges
    assert status.status == 200
    (dialog,) = session.calls["dialogs"]
    assert f'<a href="{status.answer["umap_url"]}" target="_blank"' in dialog["html"]


def test_a_wrong_base_path_gets_the_apps_404_page_and_the_menu_explains_it(app):
    # A bridge URL with an extra path (a common mistake) lands outside /api/: the app answers
    # with an HTML error page, not JSON, and the menu still says what to check.
    session = run_menu(app, "refreshPredictions", properties={"BRIDGE_URL": BASE + "/nope"})
    (start,) = session.exchanges
    assert start.status == 404 and start.answer is None
    (alert,) = session.alerts
    assert alert.startswith(f"The bridge has no {BASE}/nope/api/push (HTTP 404: ")
    assert alert.endswith("Is the URL in Settings the bridge's base URL?")
