"""Cell values as Sheets stores them, and how it parses, shows and sorts them."""

from __future__ import annotations

import ast
import datetime as dt
import operator
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Formula:
    text: str


@dataclass(frozen=True)
class Date:
    serial: float  # days since 1899-12-30, as Sheets stores dates

    @property
    def text(self) -> str:
        d = dt.date(1899, 12, 30) + dt.timedelta(days=int(self.serial))
        return f"{d.month}/{d.day}/{d.year}"


_NUMBER = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?([eE][+-]?\d+)?%?$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})(/(\d{2,4}))?$")


def _date(y: int, m: int, d: int) -> Date | None:
    try:
        return Date(float((dt.date(y, m, d) - dt.date(1899, 12, 30)).days))
    except ValueError:
        return None


def user_entered(text: str) -> Any:
    """What Sheets stores when a person types ``text`` (or a client sends it USER_ENTERED)."""
    if text == "":
        return None
    if text.startswith("'"):
        return text[1:]
    if text.startswith("="):
        return Formula(text)
    if text.upper() in ("TRUE", "FALSE"):
        return text.upper() == "TRUE"
    if _NUMBER.match(text) and any(ch.isdigit() for ch in text):
        pct = text.endswith("%")
        n = float(text.rstrip("%").replace(",", ""))
        return n / 100 if pct else n
    if text[0] in "+-" and len(text) > 1:
        return Formula("=" + text)  # the UI turns +x / -x into a formula
    m = _ISO_DATE.match(text)
    if m and (d := _date(int(m[1]), int(m[2]), int(m[3]))):
        return d
    m = _US_DATE.match(text)
    if m:
        year = int(m[4]) if m[4] else dt.date.today().year
        year = year + 2000 if year < 100 else year
        if d := _date(year, int(m[1]), int(m[2])):
            return d
    return text


def _number_text(x: float) -> str:
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.10g}".replace("e", "E")


_ARITH = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def _evaluate(formula: str) -> Any:
    body = formula[1:].strip()
    if re.match(r"(?i)^IMAGE\(", body):
        return None  # shows a picture, no text
    m = re.match(r'(?i)^HYPERLINK\("[^"]*"\s*,\s*"([^"]*)"\)$', body)
    if m:
        return m[1]

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            return _ARITH[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        raise ValueError

    try:
        return ev(ast.parse(body, mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError):
        return "#NAME?" if re.match(r"^[A-Za-z]", body) else "#ERROR!"


def formatted(v: Any) -> str | None:
    """FORMATTED_VALUE of a stored cell (None: the cell shows nothing)."""
    if type(v) is str:
        return v or None
    if isinstance(v, Formula):
        v = _evaluate(v.text)
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float)):
        return _number_text(float(v))
    if isinstance(v, Date):
        return v.text
    return str(v)


def unformatted(v: Any, render: str) -> Any:
    if isinstance(v, Formula):
        if render == "FORMULA":
            return v.text
        v = _evaluate(v.text)
    if isinstance(v, Date):
        return v.serial
    if isinstance(v, float) and v == int(v) and abs(v) < 1e15:
        return int(v)
    return v


def user_entered_value(v: Any) -> dict:
    if isinstance(v, Formula):
        return {"formulaValue": v.text}
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, (int, float, Date)):
        return {"numberValue": v.serial if isinstance(v, Date) else v}
    return {"stringValue": v}


def sort_key(v: Any) -> tuple:
    if isinstance(v, Formula):
        v = _evaluate(v.text)
    if v is None or v == "":
        return (3,)
    if isinstance(v, bool):
        return (2, v)
    if isinstance(v, (int, float)):
        return (0, float(v))
    if isinstance(v, Date):
        return (0, v.serial)
    return (1, str(v).casefold())
