"""Signatures derived from the workspace token (the token itself never leaves the workspace)."""

from __future__ import annotations

import hashlib
import hmac


def derive(token: str, purpose: str) -> str:
    """A key for one purpose, derived from the token (HMAC-SHA256, hex)."""
    return hmac.new(token.encode("utf-8"), purpose.encode("utf-8"), hashlib.sha256).hexdigest()


def image_signature(token: str, image_id: str) -> str:
    """``sig`` for ``/images/<id>?sig=...``: lets a sheet show one image without the token.

    >>> image_signature("t", "a") == image_signature("t", "a") != image_signature("t", "b")
    True
    """
    return derive(token, f"image:{image_id}")[:24]
