"""Fixtures for the Google backend tests: the local Sheets API server and sheets on it.

Import from a test module with ``from tests.conftest_google import *`` (the project's conftest.py
stays free of Google-specific fixtures).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from sheets_bridge.core.rows import image_formula, label_choices, plan_push
from sheets_bridge.core.schema import Schema
from sheets_bridge.sheets import Cell
from sheets_bridge.sheets.google import GoogleSheet
from sheets_bridge.sheets.google.client import RetryPolicy
from tests.sheets_api import SheetsApiServer

__all__ = [
    "CLASSES",
    "FAST",
    "SCHEMA",
    "api",
    "api_server",
    "google_workspace",
    "make_sheet",
    "model_rows",
    "push",
    "spreadsheet",
]

#: Retries as the real policy does them, with waits of milliseconds instead of seconds.
FAST = RetryPolicy(
    attempts=8, deadline=30.0, base=0.002, cap=0.02, connect_timeout=2.0, read_timeout=5.0
)
CLASSES = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x")
SCHEMA = Schema()


@pytest.fixture(scope="module")
def api_server() -> Iterator[SheetsApiServer]:
    with SheetsApiServer() as server:
        yield server
        assert not server.errors, f"the local Sheets API server failed: {server.errors!r}"


@pytest.fixture
def api(api_server: SheetsApiServer) -> SheetsApiServer:
    """The module's server with no faults, hooks or quota, and an empty request log."""
    api_server.reset()
    return api_server


@pytest.fixture
def spreadsheet(api: SheetsApiServer) -> str:
    """A new spreadsheet holding one default worksheet ``Sheet1`` (1000 x 26), like Google's."""
    return api.create_spreadsheet()


@pytest.fixture
def google_workspace(api: SheetsApiServer, spreadsheet: str, image_folder, tmp_path):
    """A workspace on ``image_folder`` whose sheet is ``spreadsheet`` on the local API server;
    call it with any further settings (``sheet_rows=12``)."""
    from sheets_bridge import loop

    def make(**settings: object):
        return loop.init(
            image_folder,
            tmp_path / "ws",
            backend="google",
            spreadsheet=spreadsheet,
            api_endpoint=api.url,
            **settings,
        )

    return make


@pytest.fixture
def make_sheet(api: SheetsApiServer, spreadsheet: str) -> Callable[..., GoogleSheet]:
    def make(worksheet: str = "images", **kwargs: object) -> GoogleSheet:
        kwargs.setdefault("policy", FAST)
        kwargs.setdefault("requests_per_minute", None)
        return GoogleSheet(
            kwargs.pop("spreadsheet", spreadsheet), worksheet, endpoint=api.url, **kwargs
        )  # type: ignore[arg-type]

    return make


def model_rows(n: int, version: int = 0, prefix: str = "img") -> dict[str, dict[str, Cell]]:
    """Model-owned cells of ``n`` images, shaped like ``rows.model_cells`` makes them."""
    out: dict[str, dict[str, Cell]] = {}
    for i in range(n):
        rid = f"{prefix}-{i:05d}"
        label, pred = CLASSES[i % 10], CLASSES[(i + (i % 3 == 0)) % 10]
        quality = round(((i * 7919 + version * 31) % 1000) / 1000, 4)
        out[rid] = {
            "image": image_formula(f"http://127.0.0.1:8000/images/{rid}"),
            "url": f"http://127.0.0.1:8000/images/{rid}",
            "label": label,
            "subset": "val" if i % 5 == 0 else "train",
            "pred": pred,
            "confidence": round(0.5 + quality / 2, 4),
            "label_quality": quality,
            "is_correct": pred == label,
            "typicality": 0.5,
            "nearest_label_book": "",
            "duplicate_of": "",
            "issues": "" if pred == label else f"label? (pred {pred})",
        }
    order = sorted(out, key=lambda k: (out[k]["label_quality"], k))
    for rank, rid in enumerate(order, start=1):
        out[rid]["rank"] = rank
    return out


def push(sheet: GoogleSheet, rows: dict[str, dict[str, Cell]], schema: Schema = SCHEMA) -> None:
    """What ``loop.push`` does with a sheet: read it, merge by id (rows.plan_push), write."""
    plan = plan_push(sheet.read(), rows, schema, "v0001", label_choices(CLASSES))
    sheet.write(plan.write)
