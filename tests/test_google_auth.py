"""Signing in: service-account keys, GOOGLE_APPLICATION_CREDENTIALS, ADC, gspread's OAuth, and the
one clear message every bad or missing credential gets.

The local server also plays Google's token endpoint: keys are real RSA keys, the JWT is really
signed by google-auth and checked by the server, and the scope it asks for is recorded.
"""

from __future__ import annotations

import json
from pathlib import Path

import google.oauth2.credentials
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from gspread import auth as gspread_auth

from sheets_bridge.core.config import Config
from sheets_bridge.core.errors import AuthError, ConfigError
from sheets_bridge.sheets.google import ENV_ENDPOINT, SCOPES, GoogleSheet, resolve_endpoint
from tests.conftest_google import *  # noqa: F403
from tests.conftest_google import model_rows, push

EMAIL = "bridge@demo-project.iam.gserviceaccount.com"
SPREADSHEETS = "https://www.googleapis.com/auth/spreadsheets"


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch, tmp_path):
    """No credentials of the machine running the tests leak in (ADC, gcloud, metadata server)."""
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.delenv(ENV_ENDPOINT, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    monkeypatch.setattr(
        gspread_auth, "DEFAULT_CREDENTIALS_FILENAME", tmp_path / "gspread" / "credentials.json"
    )
    monkeypatch.setattr(
        gspread_auth,
        "DEFAULT_AUTHORIZED_USER_FILENAME",
        tmp_path / "gspread" / "authorized_user.json",
    )


def key_file(path: Path, api, email: str = EMAIL, known: bool = True) -> Path:
    """A real service-account key whose token_uri is the local server."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    if known:
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


def config(spreadsheet: str, **settings) -> Config:
    return Config(backend="google", spreadsheet=spreadsheet, **settings)


def test_a_loopback_endpoint_needs_no_credentials(api, spreadsheet, tmp_path, monkeypatch):
    monkeypatch.setenv(
        "GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "nowhere.json")
    )  # not consulted
    sheet = GoogleSheet.from_config(config(spreadsheet, api_endpoint=api.url), tmp_path)
    push(sheet, model_rows(3))
    assert len(sheet.read().rows) == 3 and {r.principal for r in api.log} == {"anonymous"}


def test_the_environment_variable_points_the_backend_at_another_server(
    api, spreadsheet, tmp_path, monkeypatch
):
    monkeypatch.setenv(ENV_ENDPOINT, api.url + "/")
    sheet = GoogleSheet.from_config(config(spreadsheet, api_endpoint="http://10.9.9.9:1"), tmp_path)
    assert sheet.endpoint == api.url and sheet.read().header == ()
    monkeypatch.setenv(ENV_ENDPOINT, "sheets.example.com")
    with pytest.raises(ConfigError, match="must be an http"):
        resolve_endpoint(config(spreadsheet))


def test_a_service_account_key_signs_in_with_the_spreadsheets_scope_only(
    api, spreadsheet, tmp_path
):
    api.require_auth = True
    api.spreadsheets[spreadsheet].editors = {EMAIL}
    key_file(tmp_path / "key.json", api)
    cfg = config(
        spreadsheet, credentials="key.json", api_endpoint=api.url
    )  # relative to the workspace
    sheet = GoogleSheet.from_config(cfg, tmp_path)
    push(sheet, model_rows(4))
    assert len(sheet.read().rows) == 4
    assert SCOPES == (SPREADSHEETS,)
    assert {scopes for _, scopes in [(p, frozenset(s)) for p, s in api.tokens.values()]} == {
        frozenset({SPREADSHEETS})
    }
    assert {r.principal for r in api.log if r.kind != "token"} == {EMAIL}
    assert [r.kind for r in api.log].count("token") == 1  # one sign-in, reused


def test_a_missing_key_file_says_where_it_looked_and_what_to_do(api, spreadsheet, tmp_path):
    with pytest.raises(AuthError, match=r"key.json does not exist") as err:
        GoogleSheet.from_config(config(spreadsheet, credentials="key.json"), tmp_path)
    assert "share" in str(err.value) and "GOOGLE_APPLICATION_CREDENTIALS" in str(err.value)


@pytest.mark.parametrize(
    "content",
    [
        "not json at all",
        json.dumps({"installed": {"client_id": "x", "client_secret": "y"}}),
        json.dumps({"type": "service_account"}),
    ],
    ids=["garbage", "oauth-client-file", "incomplete-key"],
)
def test_a_file_that_is_not_a_usable_key_is_refused_in_one_message(
    api, spreadsheet, tmp_path, content
):
    (tmp_path / "key.json").write_text(content, encoding="utf-8")
    with pytest.raises(AuthError, match="is not a usable Google credentials file"):
        GoogleSheet.from_config(
            config(spreadsheet, credentials=str(tmp_path / "key.json")), tmp_path
        )


def test_no_credentials_anywhere_lists_the_three_ways_to_sign_in(tmp_path):
    with pytest.raises(AuthError, match="no Google credentials found") as err:
        GoogleSheet.from_config(config("1AbCdEf"), tmp_path)
    text = str(err.value)
    assert (
        "credentials = " in text
        and "oauth = true" in text
        and "gcloud auth application-default" in text
    )


def test_google_application_credentials_is_used_and_checked(
    api, spreadsheet, tmp_path, monkeypatch
):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(AuthError, match="no Google credentials found"):
        GoogleSheet.from_config(config(spreadsheet), tmp_path)
    key_file(tmp_path / "adc.json", api)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "adc.json"))
    api.require_auth = True
    sheet = GoogleSheet.from_config(config(spreadsheet), tmp_path)
    sheet.session.endpoint = api.url  # a remote endpoint uses ADC; redirect it here for the test
    assert sheet.principal == EMAIL and sheet.read().header == ()


def test_a_revoked_key_is_refused_with_one_clear_message(api, spreadsheet, tmp_path):
    api.require_auth = True
    key_file(tmp_path / "key.json", api, known=False)
    sheet = GoogleSheet.from_config(
        config(spreadsheet, credentials="key.json", api_endpoint=api.url), tmp_path
    )
    with pytest.raises(
        AuthError, match=f"Google refused the credentials of {EMAIL}.*create a new key"
    ):
        sheet.read()


def test_a_spreadsheet_not_shared_with_the_account_says_whom_to_share_it_with(
    api, spreadsheet, tmp_path
):
    api.require_auth = True
    api.spreadsheets[spreadsheet].editors = {"ana@example.com"}
    key_file(tmp_path / "key.json", api)
    sheet = GoogleSheet.from_config(
        config(spreadsheet, credentials="key.json", api_endpoint=api.url), tmp_path
    )
    with pytest.raises(
        AuthError,
        match=f"{EMAIL} may not edit spreadsheet .*share the spreadsheet with it as Editor",
    ):
        push(sheet, model_rows(2))


def test_a_server_that_wants_a_token_gets_none_and_says_so(api, spreadsheet, tmp_path):
    api.require_auth = True
    sheet = GoogleSheet.from_config(config(spreadsheet, api_endpoint=api.url), tmp_path)
    with pytest.raises(AuthError, match="refused the credentials \\(401"):
        sheet.read()
    assert len(api.log) == 1  # a 401 is not retried


def test_the_oauth_user_flow_reuses_a_saved_sign_in(api, spreadsheet, tmp_path, monkeypatch):
    # google-auth sends user sign-ins to Google's token endpoint whatever the saved file says;
    # point that one constant (the network's edge) at the local server.
    monkeypatch.setattr(
        google.oauth2.credentials, "_GOOGLE_OAUTH2_TOKEN_ENDPOINT", f"{api.url}/token"
    )
    api.require_auth = True
    api.refresh_tokens["1//refresh"] = "ana@example.com"
    saved = Path(gspread_auth.DEFAULT_AUTHORIZED_USER_FILENAME)
    saved.parent.mkdir(parents=True)
    saved.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "desktop.apps.googleusercontent.com",
                "client_secret": "s",
                "refresh_token": "1//refresh",
                "token_uri": f"{api.url}/token",
            }
        ),
        encoding="utf-8",
    )
    sheet = GoogleSheet.from_config(config(spreadsheet, oauth=True, api_endpoint=api.url), tmp_path)
    push(sheet, model_rows(2))
    assert {r.principal for r in api.log if r.kind != "token"} == {"ana@example.com"}


def test_oauth_without_a_client_file_says_how_to_make_one(spreadsheet, tmp_path):
    with pytest.raises(AuthError, match="OAuth client ID of type Desktop app"):
        GoogleSheet.from_config(config(spreadsheet, oauth=True), tmp_path)
