"""The OAuth token endpoint: service-account JWTs and refresh tokens become access tokens."""

from __future__ import annotations

import base64
import json
import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.sheets_api.server import SheetsApiServer

SHEETS_SCOPES = {
    "https://www.googleapis.com/auth/spreadsheets",
    "https://www.googleapis.com/auth/drive",
}


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def grant_token(api: SheetsApiServer, form: dict[str, list[str]]) -> tuple[int, dict]:
    """Answer a POST to ``/token``: (HTTP status, JSON body), registering the new access token."""
    grant = (form.get("grant_type") or [""])[0]
    if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
        try:
            head, payload, sig = (form.get("assertion") or [""])[0].split(".")
            claims = json.loads(_b64(payload))
        except ValueError:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT."}
        key = api.service_accounts.get(claims.get("iss", ""))
        if key is None:
            return 400, {
                "error": "invalid_grant",
                "error_description": "Invalid grant: account not found",
            }
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        try:
            key.verify(_b64(sig), f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return 400, {
                "error": "invalid_grant",
                "error_description": "Invalid JWT Signature.",
            }
        principal, scopes = claims["iss"], set(str(claims.get("scope", "")).split())
    elif grant == "refresh_token":
        principal = api.refresh_tokens.get((form.get("refresh_token") or [""])[0])
        if principal is None:
            return 400, {
                "error": "invalid_grant",
                "error_description": "Token has been expired or revoked.",
            }
        scopes = set((form.get("scope") or [" ".join(SHEETS_SCOPES)])[0].split())
    else:
        return 400, {
            "error": "unsupported_grant_type",
            "error_description": f"Invalid grant_type: {grant}",
        }
    token = "ya29." + secrets.token_urlsafe(24)
    with api.lock:
        api.tokens[token] = (principal, scopes)
    return 200, {
        "access_token": token,
        "expires_in": 3599,
        "token_type": "Bearer",
        "scope": " ".join(sorted(scopes)),
    }
