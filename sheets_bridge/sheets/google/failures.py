"""Google's and the network's failures, as the one-line errors people read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import google.auth.exceptions
import requests
from gspread.exceptions import APIError

from sheets_bridge.core.errors import AuthError, SheetError
from sheets_bridge.sheets.google.auth import NO_CREDENTIALS


@contextmanager
def translated_errors(where: str, principal: str, key: str, attempts: int) -> Iterator[None]:
    """Raise what goes wrong inside as :class:`SheetError` or :class:`AuthError` that say what to
    do (``where``: the endpoint, ``principal``: who signs in, ``key``: the spreadsheet,
    ``attempts``: how often a request was tried)."""
    try:
        yield
    except APIError as exc:
        raise api_error(exc, principal, key) from None
    except google.auth.exceptions.RefreshError as exc:
        raise AuthError(
            f"Google refused the credentials of {principal} ({exc}). The key may be deleted or "
            "revoked: create a new key, or sign in again (oauth)"
        ) from None
    except google.auth.exceptions.TransportError as exc:
        raise SheetError(
            f"cannot reach Google's sign-in server to refresh credentials ({exc}); check the network"
        ) from None
    except requests.RequestException as exc:
        raise SheetError(
            f"cannot reach the Sheets API at {where} after {attempts} tries ({exc}); "
            "check the network or api_endpoint, then try again"
        ) from None


def api_error(exc: APIError, principal: str, key: str) -> SheetError:
    """The one-line error for an answer of the Sheets API that is not a success."""
    code = exc.response.status_code if exc.response is not None else exc.code
    message = str(exc.error.get("message", "")).strip()
    if code == 401:
        return AuthError(
            f"the Sheets API refused the credentials (401: {message}). {NO_CREDENTIALS}"
        )
    if code == 403:
        if "has not been used" in message or "is disabled" in message:
            return AuthError(
                f"enable the Google Sheets API for the credentials' project (403: {message})"
            )
        return AuthError(
            f"{principal} may not edit spreadsheet {key} (403: {message}); share the "
            "spreadsheet with it as Editor"
        )
    if code == 404:
        return SheetError(
            f"spreadsheet {key} not found (404); check `spreadsheet` in sheets-bridge.toml"
        )
    if code == 429:
        return SheetError(
            f"the Sheets API quota is used up (429: {message}) even after waiting and retrying; "
            "wait a minute and try again"
        )
    if code >= 500:
        return SheetError(
            f"the Sheets API kept failing ({code}: {message}); try again in a few minutes"
        )
    return SheetError(f"the Sheets API rejected a request ({code}: {message})")


def missing_range(exc: APIError) -> bool:
    """A 400 saying the worksheet's name does not parse as a range: the worksheet does not exist."""
    return exc.code == 400 and "Unable to parse range" in str(exc.error.get("message", ""))
