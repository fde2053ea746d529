"""Addresses: which hosts are this machine (no token for local pages, no credentials or quota
pacing for a local Sheets API server)."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """True for ``127.0.0.1``, ``::1`` (bracketed or not), ``localhost`` and the rest of 127.0.0.0/8."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
