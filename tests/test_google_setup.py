"""`sheets-bridge google setup` against the local Sheets API server, with real signed sign-ins.

The server plays Google: a real RSA service-account key signs the JWT, the server checks it and
knows whom each spreadsheet is shared with, so "not shared" is a real 403 and an unknown id a real
404. clasp, when a test wants it, is a small executable on the PATH that does what clasp does to
its folder (create writes .clasp.json and fetches the project's manifest; push reads the files).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sheets_bridge import loop
from sheets_bridge.cli import main
from sheets_bridge.core import config as config_mod
from sheets_bridge.loop import apps_script
from sheets_bridge.sheets.google.auth import ENV_ENDPOINT
from sheets_bridge.store.workspace import Workspace
from tests.conftest_google import *  # noqa: F403

EMAIL = "bridge@demo-project.iam.gserviceaccount.com"
URL = "https://bridge.example.org"


@pytest.fixture(autouse=True)
def google_here(api, monkeypatch, tmp_path):
    """The Sheets API is the local server; no credentials of this machine leak in; no clasp."""
    monkeypatch.setenv(ENV_ENDPOINT, api.url)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    api.require_auth = True


def key_file(path: Path, api, email: str = EMAIL) -> Path:
    """A real service-account key whose token endpoint is the local server."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    api.service_accounts[email] = key.public_key()
    info = {
        "type": "service_account",
        "project_id": "demo-project",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": email,
        "client_id": "1234",
        "token_uri": f"{api.url}/token",
    }
    path.write_text(json.dumps(info), encoding="utf-8")
    return path


def run(*args: str):
    return CliRunner().invoke(main, ["google", "setup", *args], catch_exceptions=False)


def test_setup_checks_opens_writes_pushes_and_prints_the_menu(api, workspace, tmp_path):
    sid = api.create_spreadsheet(title="Numerals review", editors={EMAIL})
    key = key_file(tmp_path / "key.json", api)
    result = run(
        "-w",
        str(workspace.root),
        "--spreadsheet",
        f"https://docs.google.com/spreadsheets/d/{sid}/edit#gid=0",
        "--credentials",
        str(key),
        "--url",
        URL,
        "--no-clasp",
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"ok  credentials: {EMAIL} (key {key})" in lines
    assert "ok  spreadsheet: Numerals review opens (worksheets: Sheet1)" in lines
    assert any(line.startswith("ok  push: ") for line in lines)

    cfg = config_mod.load(workspace.root, env={})
    assert (cfg.backend, cfg.spreadsheet, cfg.credentials, cfg.worksheet) == (
        "google",
        sid,
        str(key),
        "images",
    )
    rows = api.people(sid, "images").rows()
    assert len(rows) == 36
    assert {r.principal for r in api.log if r.kind != "token"} == {EMAIL}

    # The menu script, ready to paste, in the output and in the workspace.
    assert "// ===== Code.js =====" in result.output
    assert f'const DEFAULT_BRIDGE_URL = "{URL}";' in result.output
    assert "// ===== Sidebar.html =====" in result.output
    folder = workspace.root / "apps-script"
    assert sorted(p.name for p in folder.iterdir()) == sorted(apps_script.FILES)
    assert json.loads((folder / "appsscript.json").read_text())["urlFetchWhitelist"] == [URL + "/"]
    assert lines[-2:] == [
        "note: each person enters the API token in the menu's Settings once: `token` in "
        "sheets-bridge.toml (made by the first `sheets-bridge serve`)",
        f"open the sheet: https://docs.google.com/spreadsheets/d/{sid}/edit",
    ]

    # The written settings are all a later command needs.
    again = loop.push(Workspace(workspace.root))
    assert again.appended == 0 and again.updated == 36


def test_not_shared_says_which_email_to_share_with_and_writes_nothing(api, workspace, tmp_path):
    sid = api.create_spreadsheet(editors={"ana@example.com"})
    key = key_file(tmp_path / "key.json", api)
    before = (workspace.root / config_mod.CONFIG_FILE).read_text()
    result = CliRunner().invoke(
        main,
        [
            "google",
            "setup",
            "-w",
            str(workspace.root),
            "--spreadsheet",
            sid,
            "--credentials",
            str(key),
        ],
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"{EMAIL} may not open spreadsheet {sid} (403: The caller does not have permission)" in (
        result.output
    )
    assert (
        f"Share it with {EMAIL} as Editor: open https://docs.google.com/spreadsheets/d/{sid}/edit, "
        f"click Share, paste {EMAIL}, choose Editor, then run `sheets-bridge google setup` again"
        in (result.output)
    )
    assert f"ok  credentials: {EMAIL}" in result.output  # the step before passed
    assert (workspace.root / config_mod.CONFIG_FILE).read_text() == before
    assert not (workspace.root / "apps-script").exists()
    assert [r.kind for r in api.log if r.kind != "token"] == ["spreadsheets.get"]

    # Once shared, the same command goes through.
    api.spreadsheets[sid].editors = {"ana@example.com", EMAIL}
    assert (
        run(
            "-w", str(workspace.root), "--spreadsheet", sid, "--credentials", str(key), "--no-clasp"
        ).exit_code
        == 0
    )
    assert config_mod.load(workspace.root, env={}).backend == "google"


def test_an_unknown_spreadsheet_says_to_share_it_or_check_the_id(api, workspace, tmp_path):
    key = key_file(tmp_path / "key.json", api)
    missing = "1NoSuchSpreadsheetxxxxxxxxxxxxxxxxxxxxxxxxx"
    result = CliRunner().invoke(
        main,
        [
            "google",
            "setup",
            "-w",
            str(workspace.root),
            "--spreadsheet",
            missing,
            "--credentials",
            str(key),
        ],
    )
    assert result.exit_code == 1
    assert f"spreadsheet {missing} was not found for {EMAIL} (404: " in result.output
    assert f"it is not shared yet: share it with {EMAIL} as Editor" in result.output
    assert "otherwise check --spreadsheet" in result.output
    assert config_mod.load(workspace.root, env={}).backend == "local"


def test_the_key_from_google_application_credentials_is_written_into_the_settings(
    api, workspace, tmp_path, monkeypatch
):
    sid = api.create_spreadsheet(editors={EMAIL})
    (tmp_path / "keys").mkdir()
    key = key_file(tmp_path / "keys" / "sa.json", api)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    result = run("-w", str(workspace.root), "--spreadsheet", sid, "--no-clasp")
    assert result.exit_code == 0, result.output
    assert config_mod.load(workspace.root, env={}).credentials == str(key)


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (
            ["--credentials", "nowhere.json"],
            "nowhere.json does not exist. Create a service-account key",
        ),
        ([], "which spreadsheet? Create one (https://sheets.new)"),
        (
            ["--spreadsheet", "https://example.org/x y"],
            "is neither a spreadsheet id nor a Google Sheets URL",
        ),
    ],
)
def test_bad_input_is_one_line_that_says_what_to_do(api, workspace, tmp_path, args, expect):
    if args and args[0] == "--credentials":
        args = [*args, "--spreadsheet", api.create_spreadsheet()]
    result = CliRunner().invoke(main, ["google", "setup", "-w", str(workspace.root), *args])
    assert result.exit_code == 1
    assert expect in result.output and "Traceback" not in result.output
    assert config_mod.load(workspace.root, env={}).backend == "local"


def test_without_an_https_bridge_url_the_script_is_rendered_with_the_placeholder_and_a_note(
    api, workspace, tmp_path
):
    sid = api.create_spreadsheet(editors={EMAIL})
    key = key_file(tmp_path / "key.json", api)
    result = run(
        "-w", str(workspace.root), "--spreadsheet", sid, "--credentials", str(key), "--no-clasp"
    )
    assert result.exit_code == 0, result.output
    assert f'const DEFAULT_BRIDGE_URL = "{apps_script.PLACEHOLDER_URL}";' in result.output
    assert "note: the script has no bridge URL yet: expose `sheets-bridge serve` over HTTPS" in (
        result.output
    )


FAKE_CLASP = """#!/bin/sh
# Does to its folder what clasp does: create binds a project and fetches its manifest; push reads.
echo "$@" >> "{log}"
case "$1" in
  create)
    [ -n "{fail_create}" ] && {{ echo "User has not enabled the Apps Script API." >&2; exit 1; }}
    printf '{{"scriptId": "script-123", "rootDir": "."}}' > .clasp.json
    printf '{{"timeZone": "America/New_York", "dependencies": {{}}}}' > appsscript.json ;;
  push)
    for f in Code.js Sidebar.html appsscript.json; do [ -f "$f" ] || exit 2; done
    cat appsscript.json >> "{log}.pushed" ;;
esac
"""


def fake_clasp(tmp_path: Path, monkeypatch, fail_create: bool = False) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "clasp.log"
    exe = bin_dir / "clasp"
    exe.write_text(FAKE_CLASP.format(log=log, fail_create="yes" if fail_create else ""))
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_with_clasp_the_menu_is_installed_into_the_spreadsheet_once_and_pushed_again(
    api, workspace, tmp_path, monkeypatch
):
    log = fake_clasp(tmp_path, monkeypatch)
    sid = api.create_spreadsheet(editors={EMAIL})
    key = key_file(tmp_path / "key.json", api)
    args = (
        "-w",
        str(workspace.root),
        "--spreadsheet",
        sid,
        "--credentials",
        str(key),
        "--url",
        URL,
    )
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "ok  menu script: installed into the spreadsheet with clasp push" in result.output
    assert "// ===== Code.js =====" not in result.output  # nothing to paste
    calls = log.read_text().splitlines()
    assert calls == [
        f"create --type sheets --title Data-centric AI menu --parentId {sid} --rootDir .",
        "push --force",
    ]
    # What was pushed is our manifest, not the one clasp create fetched.
    pushed = json.loads(Path(f"{log}.pushed").read_text())
    assert pushed["urlFetchWhitelist"] == [URL + "/"]
    assert pushed["dependencies"]["enabledAdvancedServices"][0]["userSymbol"] == "Sheets"

    assert run(*args).exit_code == 0
    assert log.read_text().splitlines()[2:] == ["push --force"]  # bound once, pushed again


def test_when_clasp_fails_the_script_is_printed_with_what_clasp_said(
    api, workspace, tmp_path, monkeypatch
):
    fake_clasp(tmp_path, monkeypatch, fail_create=True)
    sid = api.create_spreadsheet(editors={EMAIL})
    key = key_file(tmp_path / "key.json", api)
    result = run(
        "-w", str(workspace.root), "--spreadsheet", sid, "--credentials", str(key), "--url", URL
    )
    assert result.exit_code == 0, result.output
    assert (
        "note: clasp could not install the script (User has not enabled the Apps Script API.); "
        "run `clasp login` and try again, or paste the script printed above"
    ) in result.output
    assert "// ===== Code.js =====" in result.output
    assert config_mod.load(workspace.root, env={}).backend == "google"


def test_clasp_asked_for_but_missing_says_how_to_get_it(api, workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    sid = api.create_spreadsheet(editors={EMAIL})
    key = key_file(tmp_path / "key.json", api)
    result = CliRunner().invoke(
        main,
        [
            "google",
            "setup",
            "-w",
            str(workspace.root),
            "--spreadsheet",
            sid,
            "--credentials",
            str(key),
            "--clasp",
        ],
    )
    assert result.exit_code == 1
    assert "--clasp needs clasp on the PATH: npm install -g @google/clasp" in result.output
    assert config_mod.load(workspace.root, env={}).backend == "local"  # checked before anything


def test_a_name_added_while_setup_runs_stays_in_the_settings(api, workspace, tmp_path, monkeypatch):
    """Setup reads the settings, checks access, then writes: someone who adds themselves as an
    annotator in between (another process, the web app) keeps their column, because setup writes
    only the settings it decides, under the settings lock, on the file as it is then."""
    from sheets_bridge.loop import annotators, google_setup

    sid = api.create_spreadsheet(title="Numerals review", editors={EMAIL})
    key = key_file(tmp_path / "key.json", api)
    check = google_setup.check_access

    def check_then_someone_joins(sheet):
        out = check(sheet)
        annotators.add_annotator(Workspace(workspace.root), "Mina")
        return out

    monkeypatch.setattr(google_setup, "check_access", check_then_someone_joins)
    result = run(
        "-w", str(workspace.root), "--spreadsheet", sid, "--credentials", str(key), "--url", URL,
        "--no-clasp",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    cfg = config_mod.load(workspace.root, env={})
    assert "Mina" in cfg.annotators
    assert (cfg.backend, cfg.spreadsheet, cfg.credentials) == ("google", sid, str(key))
    assert "Mina" in api.people(sid, "images").header()


def test_settings_update_changes_only_what_it_names(workspace):
    stale = config_mod.load(workspace.root, env={})
    annotators_now = (*stale.annotators, "Ola")
    config_mod.update(workspace.root, annotators=annotators_now)
    config_mod.update(workspace.root, spreadsheet="abc")  # knows nothing of Ola, keeps her
    cfg = config_mod.load(workspace.root, env={})
    assert cfg.annotators == annotators_now and cfg.spreadsheet == "abc"
