"""A1 notation: column letters, how the API writes ranges, and parsing the cell part of a range."""

from __future__ import annotations

import re
from dataclasses import dataclass


def col_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


def col_letters(index: int) -> str:
    out, n = "", index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def show_title(title: str) -> str:
    """How the API writes a sheet name in a range: bare when simple, else quoted."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", title) and not re.fullmatch(
        r"[A-Za-z]{1,3}\d+", title
    ):
        return title
    return "'" + title.replace("'", "''") + "'"


def show_range(title: str, r0: int, c0: int, r1: int, c1: int) -> str:
    a = f"{col_letters(c0)}{r0 + 1}"
    b = f"{col_letters(c1)}{r1 + 1}"
    return f"{show_title(title)}!{a}" + ("" if a == b else f":{b}")


_PART = re.compile(r"^([A-Za-z]{0,3})(\d*)$")


@dataclass
class Box:
    """A parsed range: 0-based inclusive bounds; None = open (to the grid's edge)."""

    r0: int
    c0: int
    r1: int | None
    c1: int | None


def parse_cells(text: str) -> Box | None:
    parts = text.split(":")
    if len(parts) > 2 or not text:
        return None
    parsed = [_PART.match(p) for p in parts]
    if not all(parsed):
        return None
    (ca, ra), (cb, rb) = (parsed[0][1], parsed[0][2]), (parsed[-1][1], parsed[-1][2])
    if not (ca or ra) or not (cb or rb):
        return None
    if len(parts) == 1:
        if not (ca and ra):
            return None
        r, c = int(ra) - 1, col_index(ca)
        return Box(r, c, r, c)
    r0 = int(ra) - 1 if ra else 0
    c0 = col_index(ca) if ca else 0
    r1 = int(rb) - 1 if rb else None
    c1 = col_index(cb) if cb else None
    if (ra and not ca and cb) or (ca and not ra and rb and not cb):
        return None
    if r0 < 0 or (r1 is not None and r1 < r0) or (c1 is not None and c1 < c0):
        return None
    return Box(r0, c0, r1, c1)
