"""Who may see the pages and call the API.

- ``/api/*`` always needs ``Authorization: Bearer <token>`` (compared in constant time).
- Pages (and ``/images``) need nothing when the server is bound to a loopback address *and* the
  request comes from this machine to a loopback host name (a page served under another host name
  could be a DNS-rebinding attack). Otherwise every page needs the token, given one of three ways:
  ``?token=<token>`` once (sets an HttpOnly, SameSite=Strict cookie and redirects to the clean URL),
  HTTP Basic auth with the token as password (the browser asks), or a Bearer header.
- An image URL may instead carry ``?sig=`` (:func:`image_signature`), so that Google Sheets'
  ``=IMAGE()`` can fetch images without holding the token.
"""

from __future__ import annotations

import base64
import hmac
from urllib.parse import urlsplit

from flask import Request

from sheets_bridge.core.net import is_loopback
from sheets_bridge.core.signing import derive as _derive

COOKIE = "sheets_bridge_auth"


def same(a: str | None, b: str) -> bool:
    """Constant-time comparison of a presented secret with the expected one."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def cookie_value(token: str) -> str:
    """What the page cookie holds: derived from the token, so the cookie never is the token."""
    return _derive(token, "pages")


def bearer(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def basic_password(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2]


def api_allowed(request: Request, token: str) -> bool:
    return same(bearer(request), token)


def local_request(request: Request) -> bool:
    """From this machine, to a loopback host name."""
    try:
        host = urlsplit("//" + (request.host or "")).hostname or ""
    except ValueError:  # a malformed Host header is not a local request
        return False
    return is_loopback(request.remote_addr or "") and is_loopback(host)


def page_allowed(request: Request, token: str, *, pages_need_token: bool) -> bool:
    """Whether a page request may proceed (see the module docstring)."""
    if not pages_need_token and local_request(request):
        return True
    return (
        same(request.cookies.get(COOKIE), cookie_value(token))
        or same(bearer(request), token)
        or same(basic_password(request), token)
    )
