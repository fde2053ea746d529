"""Where the Sheets API is and who calls it: endpoint, spreadsheet id, credential files.

Which credentials a workspace's settings lead to: a key file, gspread's OAuth user flow,
nothing for a loopback test server, or application default credentials.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

import google.auth
import google.auth.exceptions
from google.auth.credentials import AnonymousCredentials, Credentials

from sheets_bridge.core.config import Config
from sheets_bridge.core.errors import AuthError, ConfigError
from sheets_bridge.core.net import is_loopback as is_loopback_host

#: Enough to open a spreadsheet by id and read and write it; Drive is not needed.
SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
#: Another Sheets API v4 server (tests, emulators, proxies); wins over the ``api_endpoint`` setting.
ENV_ENDPOINT = "SHEETS_BRIDGE_SHEETS_API"

NO_CREDENTIALS = (
    "no Google credentials found. Do one of these, then try again:\n"
    "  1. service account: create a key (JSON) in Google Cloud console (IAM > Service accounts), share "
    'the spreadsheet with the account\'s client_email as Editor, and set credentials = "/path/key.json" '
    "in sheets-bridge.toml (or export GOOGLE_APPLICATION_CREDENTIALS=/path/key.json);\n"
    "  2. your own account: set oauth = true (needs an OAuth desktop client saved as "
    "~/.config/gspread/credentials.json);\n"
    "  3. application default credentials: gcloud auth application-default login "
    "--scopes=https://www.googleapis.com/auth/spreadsheets,https://www.googleapis.com/auth/cloud-platform"
)


def spreadsheet_key(value: str) -> str:
    """The spreadsheet id from an id or any ``docs.google.com/spreadsheets/d/<id>/...`` URL."""
    value = value.strip()
    m = re.search(r"/spreadsheets/d/([a-zA-Z0-9_-]+)", value)
    key = m.group(1) if m else value
    if not re.fullmatch(r"[a-zA-Z0-9_-]+", key or ""):
        raise ConfigError(
            f"spreadsheet = {value!r} is neither a spreadsheet id nor a Google Sheets URL "
            "(https://docs.google.com/spreadsheets/d/<id>/edit)"
        )
    return key


def resolve_endpoint(config: Config, env: Mapping[str, str] | None = None) -> str | None:
    """The Sheets API server to use: ``SHEETS_BRIDGE_SHEETS_API``, else ``api_endpoint``, else Google."""
    env = os.environ if env is None else env
    endpoint = (env.get(ENV_ENDPOINT) or config.api_endpoint or "").strip().rstrip("/")
    if not endpoint:
        return None
    parsed = urlparse(endpoint)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(
            f"api_endpoint = {endpoint!r} must be an http(s) URL such as http://127.0.0.1:8085"
        )
    return endpoint


def is_loopback(endpoint: str | None) -> bool:
    """True when the Sheets API endpoint is on this machine (a test server or an emulator)."""
    return is_loopback_host(urlparse(endpoint or "").hostname or "")


def credentials_file(path: Path) -> Credentials:
    """A service-account key or a saved user sign-in (``authorized_user``), loaded by its own type
    (a generic loader would accept any credential configuration a file claims to be)."""
    from google.oauth2 import credentials as user_credentials
    from google.oauth2 import service_account

    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        kind = info.get("type") if isinstance(info, dict) else None
        if kind == "service_account":
            return service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
        if kind == "authorized_user":
            return user_credentials.Credentials.from_authorized_user_info(info, scopes=list(SCOPES))
        problem = f"its type is {kind!r}" if kind else "it has no credential type"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problem = str(exc)
    raise AuthError(
        f"{path} is not a usable Google credentials file ({problem}). Download a service-account "
        "key (JSON, type service_account) from Google Cloud console and point `credentials` to it"
    )


def principal(creds: Credentials) -> str:
    """Who the credentials are, for messages and the shared quota."""
    # A user sign-in does not carry the user's address (it would take one more request to ask).
    return str(getattr(creds, "service_account_email", None) or "your Google account")


def load_credentials(
    config: Config, workspace_root: Path, endpoint: str | None
) -> tuple[Credentials, str]:
    """Credentials and who they are (for messages and the shared quota).

    Order: the ``credentials`` key file; gspread's OAuth user flow when ``oauth = true``; nothing for a
    loopback ``api_endpoint``; else ``GOOGLE_APPLICATION_CREDENTIALS`` and application default
    credentials. Every failure is one :class:`AuthError` saying what to do.
    """
    if config.credentials:
        path = Path(config.credentials).expanduser()
        path = path if path.is_absolute() else Path(workspace_root) / path
        if not path.is_file():
            raise AuthError(
                f"the credentials file {path} does not exist (setting `credentials`). {NO_CREDENTIALS}"
            )
        creds = credentials_file(path)
        return creds, principal(creds)
    if config.oauth:
        return _oauth_credentials()
    if is_loopback(endpoint):
        return AnonymousCredentials(), "anonymous"
    try:
        creds, _ = google.auth.default(scopes=list(SCOPES))
    except google.auth.exceptions.DefaultCredentialsError as exc:
        raise AuthError(f"{NO_CREDENTIALS}\n({exc})") from None
    return creds, principal(creds)


def _oauth_credentials() -> tuple[Credentials, str]:
    import gspread
    from gspread import auth

    user_file = auth.DEFAULT_AUTHORIZED_USER_FILENAME
    client_file = auth.DEFAULT_CREDENTIALS_FILENAME
    if not user_file.exists() and not client_file.exists():
        raise AuthError(
            f"oauth = true needs an OAuth client: in Google Cloud console create an OAuth client ID of type "
            f"Desktop app, download it as {client_file}, then run the command again to sign in"
        )
    try:
        client = gspread.oauth(
            scopes=list(SCOPES),
            credentials_filename=client_file,
            authorized_user_filename=user_file,
        )
    except (ValueError, KeyError, OSError, google.auth.exceptions.GoogleAuthError) as exc:
        raise AuthError(
            f"the OAuth sign-in failed ({exc}); delete {user_file} and try again"
        ) from None
    creds = client.http_client.auth
    return creds, principal(creds)
