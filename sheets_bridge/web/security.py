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
import re
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


# -- response headers ------------------------------------------------------------------------------
def content_security_policy(nonce: str, *, allow_eval: bool = False) -> str:
    """The pages' CSP: scripts from this server or carrying this response's nonce (the UMAP page's
    inline Bokeh script), nothing may frame a page, no plugins, forms and fetches to this origin.
    BokehJS compiles the hover formatter with ``new Function``: only the UMAP page allows eval."""
    script = f"'self' 'nonce-{nonce}'" + (" 'unsafe-eval'" if allow_eval else "")
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {script}",
            # Bokeh and Tabulator set inline styles; styles cannot run script.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def security_headers(headers, nonce: str, *, allow_eval: bool = False) -> None:
    """Headers every response gets: no framing (clickjacking), no MIME sniffing, no referrer (a
    page URL may still hold ``?token=`` on the first request), and the CSP."""
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault(
        "Content-Security-Policy", content_security_policy(nonce, allow_eval=allow_eval)
    )


# -- the access log ------------------------------------------------------------------------------
_SECRET_PARAM = re.compile(r"(?i)([?&;](?:token|sig)=)[^&;\s\"']*")


def redact(text: str) -> str:
    """``/?token=abc&x=1`` -> ``/?token=[redacted]&x=1`` (also ``sig=``, the image signatures)."""
    return _SECRET_PARAM.sub(r"\1[redacted]", text)


def _request_handler():
    from werkzeug.serving import WSGIRequestHandler

    class RedactingRequestHandler(WSGIRequestHandler):
        """werkzeug's request handler, whose log lines (the request line included) never hold
        the token of a ``?token=`` link or an image signature."""

        def log(self, type: str, message: str, *args) -> None:  # noqa: A002 - werkzeug's name
            try:
                text = message % args if args else message
            except (TypeError, ValueError):
                text = " ".join([message, *map(str, args)])
            super().log(type, "%s", redact(text))

    return RedactingRequestHandler


def request_handler():
    """The request handler class for :func:`werkzeug.serving.make_server`."""
    return _request_handler()
