"""``sheets-bridge google setup``: from a spreadsheet and a key to a sheet with rows and a menu.

Each step checks one thing and, when it fails, says exactly what to do; nothing is written until
the spreadsheet opens with the credentials:

1. the credentials: ``--credentials``, else the workspace's ``credentials``, else
   ``GOOGLE_APPLICATION_CREDENTIALS`` (a service-account key), else ``oauth = true`` or application
   default credentials;
2. the spreadsheet opens with them (one ``spreadsheets.get``); on 403 or 404 the message names the
   e-mail address to share it with (a service account's ``client_email``);
3. the settings (``backend``, ``spreadsheet``, ``credentials``, ``worksheet``) go into the
   workspace's ``sheets-bridge.toml``;
4. a push writes one row per image;
5. the menu script is rendered into a folder, and installed into the spreadsheet with ``clasp``
   when it is on the PATH (else it is ready to paste).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sheets_bridge.core import config as config_mod
from sheets_bridge.core.errors import AuthError, ConfigError, SheetError
from sheets_bridge.loop import apps_script
from sheets_bridge.loop.steps import PushReport, push, workspace_or_error
from sheets_bridge.store.workspace import Workspace

if TYPE_CHECKING:
    from sheets_bridge.sheets.google import GoogleSheet

__all__ = ["PASTE_STEPS", "Access", "SetupReport", "check_access", "choose_credentials", "setup"]

#: Where the rendered menu script goes inside the workspace (a clasp project folder).
SCRIPT_DIR = "apps-script"
#: The title of the script project clasp creates in the spreadsheet.
SCRIPT_TITLE = "Data-centric AI menu"
CLASP_TIMEOUT_S = 120


#: How to install the printed script by hand (when clasp did not).
PASTE_STEPS = (
    "To install the menu: in the spreadsheet, Extensions > Apps Script; paste Code.js into "
    "Code.gs, add an HTML file named Sidebar with Sidebar.html, and (Project Settings > show the "
    "manifest) replace appsscript.json. The files are in {folder}."
)


@dataclass(frozen=True)
class Access:
    """What opening the spreadsheet showed."""

    key: str
    title: str
    worksheets: tuple[str, ...]


@dataclass
class SetupReport:
    spreadsheet: str
    title: str
    principal: str
    credentials: str  # the key file written into the settings ("" for oauth, ADC or none)
    settings: Path
    push: PushReport
    script_dir: Path
    bridge_url: str  # the URL rendered into the script (the placeholder when none is known)
    installed: bool = False  # clasp pushed the script into the spreadsheet
    notes: list[str] = field(default_factory=list)  # what still needs doing, in order

    @property
    def sheet_url(self) -> str:
        return f"https://docs.google.com/spreadsheets/d/{self.spreadsheet}/edit"


def choose_credentials(
    config: config_mod.Config,
    workspace_root: Path,
    given: str | Path | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """The ``credentials`` setting to write: an absolute key-file path, or "" (oauth, ADC, none).

    ``given`` is relative to the current folder (it was typed on the command line); the
    workspace's own setting is relative to the workspace, as everywhere else.
    """
    env = os.environ if env is None else env
    if given:
        path = Path(given).expanduser().resolve()
    elif config.credentials:
        path = Path(config.credentials).expanduser()
        path = path if path.is_absolute() else (Path(workspace_root) / path).resolve()
    elif env.get("GOOGLE_APPLICATION_CREDENTIALS") and not config.oauth:
        path = Path(env["GOOGLE_APPLICATION_CREDENTIALS"]).expanduser().resolve()
    else:
        return ""
    if not path.is_file():
        raise AuthError(
            f"the credentials file {path} does not exist. Create a service-account key (JSON) in "
            "Google Cloud console (IAM > Service accounts > Keys > Add key), save it, and pass it "
            "with --credentials /path/to/key.json"
        )
    return str(path)


def _share_with(principal: str) -> str:
    if "@" in principal:
        return principal
    return "the Google account you signed in with"


def check_access(sheet: GoogleSheet) -> Access:
    """Open the spreadsheet (one ``spreadsheets.get`` of its title and worksheet names).

    403 and 404 become an :class:`AuthError` that names the address to share the spreadsheet
    with: Google answers 404 to an account a spreadsheet is not shared with as well.
    """
    import google.auth.exceptions
    import requests

    who = sheet.principal
    url = f"https://sheets.googleapis.com/v4/spreadsheets/{sheet.key}"
    try:
        response = sheet.session.get(
            url, params={"fields": "properties.title,sheets.properties.title"}
        )
    except google.auth.exceptions.RefreshError as exc:
        raise AuthError(
            f"Google refused the credentials of {who} ({exc}). The key may be deleted or revoked: "
            "create a new key for the service account and pass it with --credentials"
        ) from None
    except (google.auth.exceptions.TransportError, requests.RequestException) as exc:
        raise SheetError(
            f"cannot reach the Sheets API to open spreadsheet {sheet.key} ({exc}); check the "
            "network, then run `sheets-bridge google setup` again"
        ) from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    message = str(error.get("message", "")).strip() or response.reason
    code = response.status_code
    share = _share_with(who)
    steps = (
        f"open {sheet.url}, click Share, paste {share}, choose Editor, then run "
        "`sheets-bridge google setup` again"
    )
    if code == 200:
        title = str((body.get("properties") or {}).get("title", ""))
        names = tuple(
            str((s.get("properties") or {}).get("title", "")) for s in body.get("sheets") or []
        )
        return Access(sheet.key, title, names)
    if code == 403 and ("has not been used" in message or "is disabled" in message):
        raise AuthError(
            f"the Google Sheets API is off for the credentials' project (403: {message}); switch "
            "it on in Google Cloud console (APIs & Services > Library > Google Sheets API), then "
            "run `sheets-bridge google setup` again"
        )
    if code == 403:
        raise AuthError(
            f"{who} may not open spreadsheet {sheet.key} (403: {message}). "
            f"Share it with {share} as Editor: {steps}"
        )
    if code == 404:
        raise AuthError(
            f"spreadsheet {sheet.key} was not found for {who} (404: {message}). If the id or URL "
            f"is right, it is not shared yet: share it with {share} as Editor ({steps}); "
            "otherwise check --spreadsheet"
        )
    if code == 401:
        raise AuthError(
            f"the Sheets API refused the credentials of {who} (401: {message}); pass a "
            "service-account key with --credentials"
        )
    raise SheetError(
        f"the Sheets API answered {code} ({message}) when opening spreadsheet {sheet.key}; "
        "try again in a minute"
    )


def _clasp(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("clasp")
    assert exe is not None
    return subprocess.run(
        [exe, *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=CLASP_TIMEOUT_S,
        check=False,
    )


def _install_with_clasp(folder: Path, key: str, url: str) -> str | None:
    """Create (once) the spreadsheet's script project with clasp and push the files into it.

    Returns None when it worked, else what clasp said (the files stay ready to paste).
    """
    if not (folder / ".clasp.json").exists():
        made = _clasp(
            folder,
            "create",
            "--type",
            "sheets",
            "--title",
            SCRIPT_TITLE,
            "--parentId",
            key,
            "--rootDir",
            ".",
        )
        if made.returncode != 0 or not (folder / ".clasp.json").exists():
            return (made.stderr or made.stdout).strip() or f"clasp create exited {made.returncode}"
        # `clasp create` fetches the new project's own manifest over ours: write ours again.
        apps_script.write(folder, url)
    pushed = _clasp(folder, "push", "--force")
    if pushed.returncode != 0:
        return (pushed.stderr or pushed.stdout).strip() or f"clasp push exited {pushed.returncode}"
    return None


def setup(
    workspace: Path | str,
    *,
    spreadsheet: str | None = None,
    credentials: str | Path | None = None,
    worksheet: str | None = None,
    bridge_url: str | None = None,
    use_clasp: bool | None = None,
    script_dir: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> SetupReport:
    """Point a workspace at a Google spreadsheet, push, and render (or install) the menu script.

    ``use_clasp``: None installs with clasp when it is on the PATH; False never; True requires it.
    """
    from sheets_bridge.sheets.google import GoogleSheet
    from sheets_bridge.sheets.google.auth import spreadsheet_key

    say = on_step or (lambda _line: None)
    if use_clasp is True and shutil.which("clasp") is None:
        raise ConfigError(
            "--clasp needs clasp on the PATH: npm install -g @google/clasp, then clasp login; "
            "or leave --clasp out to get the script to paste"
        )
    ws = workspace_or_error(workspace)
    current = config_mod.load(ws.root, env={})  # env overrides must not be written into the file
    wanted = spreadsheet or current.spreadsheet
    if not wanted:
        raise ConfigError(
            "which spreadsheet? Create one (https://sheets.new) and pass its URL or id with "
            "--spreadsheet"
        )
    key = spreadsheet_key(wanted)
    key_file = choose_credentials(current, ws.root, credentials, env)
    candidate = current.replace(
        backend="google",
        spreadsheet=key,
        credentials=key_file,
        worksheet=worksheet or current.worksheet,
    ).validate()

    sheet = GoogleSheet.from_config(candidate, ws.root)
    source = f"key {key_file}" if key_file else "oauth" if candidate.oauth else "no key file"
    say(f"credentials: {sheet.principal} ({source})")
    access = check_access(sheet)
    tabs = ", ".join(access.worksheets) or "none"
    say(f"spreadsheet: {access.title or key} opens (worksheets: {tabs})")

    # only what setup decides, on the file as it is now: a name added meanwhile stays
    settings = config_mod.update(
        ws.root,
        backend=candidate.backend,
        spreadsheet=candidate.spreadsheet,
        credentials=candidate.credentials,
        worksheet=candidate.worksheet,
    )
    say(
        f"settings: backend = google, spreadsheet = {key}, worksheet = {candidate.worksheet}"
        + (f", credentials = {key_file}" if key_file else "")
        + f" written to {settings}"
    )
    pushed = push(Workspace(ws.root))
    say(f"push: {pushed.describe()}")

    url = bridge_url or apps_script.menu_url(current.public_url)
    folder = Path(script_dir) if script_dir else ws.root / SCRIPT_DIR
    apps_script.write(folder, url)
    report = SetupReport(
        spreadsheet=key,
        title=access.title,
        principal=sheet.principal,
        credentials=key_file,
        settings=settings,
        push=pushed,
        script_dir=folder,
        bridge_url=url,
    )
    say(f"menu script: written to {folder}")
    if use_clasp is not False and shutil.which("clasp") is not None:
        problem = _install_with_clasp(folder, key, url)
        if problem is None:
            report.installed = True
            say("menu script: installed into the spreadsheet with clasp push")
        else:
            report.notes.append(
                f"clasp could not install the script ({problem.splitlines()[-1]}); run `clasp "
                "login` and try again, or paste the script printed above"
            )
    report.notes.append(
        "each person enters the API token in the menu's Settings once: `token` in "
        f"{settings.name} (made by the first `sheets-bridge serve`)"
    )
    if url == apps_script.PLACEHOLDER_URL:
        report.notes.append(
            "the script has no bridge URL yet: expose `sheets-bridge serve` over HTTPS (see "
            "apps_script/README.md), set public_url, and run this again (or pass --url)"
        )
    return report
