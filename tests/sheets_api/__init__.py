"""A local Google Sheets API v4 server for the tests: real HTTP on 127.0.0.1, with state.

It speaks the subset the Google backend and gspread use (``spreadsheets.get`` with ranges, grid
data and field masks; ``values.get/batchGet/update/batchUpdate/append/clear/batchClear``;
``spreadsheets.batchUpdate`` with the requests listed in ``batch.REQUESTS``), plus an OAuth token
endpoint, and copies the quirks of the real API that clients trip over, checked against the
recorded traffic in ``shared/fixtures/sheets-api/`` (see ``tests/test_google_server.py``):

- ``values.get`` trims trailing empty cells of each row and trailing empty rows, sends ``[]`` for an
  empty row in the middle, and omits ``values`` for an empty range; an unbounded range (``A:A``, the
  whole sheet) is reported clamped to the grid (``Sheet1!A1:A10``); a single cell as ``Sheet1!A1``;
- ranges outside the grid are refused (``exceeds grid limits``), so writers must grow the grid first;
- ``RAW`` stores strings as strings; ``USER_ENTERED`` parses them like a person typing: ``=...`` and
  ``+x``/``-x`` become formulas, numbers, percentages, booleans and dates become typed values, a
  leading apostrophe keeps text; JSON ``null`` skips a cell, ``""`` clears it;
- ``values:batchUpdate`` answers with totals over distinct rows/columns and one response per range;
- a ``spreadsheets:batchUpdate`` is validated entirely and applied atomically;
- default values are omitted from JSON (``sheetId`` 0, ``frozenRowCount`` 0).

Tests can count requests (``log``, ``count``), inject faults at a rate (``faults``: 429 with
``Retry-After``, 500, 503, slow answers, connections dropped before or after the request is applied)
or on the next requests (``fail_next``), enforce a per-user quota, require OAuth tokens, run hooks
after a request (people acting between two requests of a push), and act as people in the UI
(``people``: type, sort, insert and delete rows, move and rename columns).

Not modelled: other sheet types, merged cells, named ranges, filters; inserting, deleting or moving
rows and columns does not shift validation, protection or format ranges (Sheets does).

Modules, one noun each: ``a1`` (A1 ranges, column letters), ``cells`` (stored cell values and how
they are parsed and shown), ``model`` (spreadsheet and worksheet state), ``masks`` (field masks),
``values`` and ``spreadsheets`` (the read and write endpoints), ``batch`` (``spreadsheets:batchUpdate``
requests), ``people`` (edits made in the UI), ``auth`` (the token endpoint), ``handler`` (HTTP, the
request log, fault injection) and ``server`` (the server object tests hold).
"""

from tests.sheets_api.a1 import Box, col_index, col_letters, show_range, show_title
from tests.sheets_api.auth import SHEETS_SCOPES
from tests.sheets_api.cells import Date, Formula, formatted, unformatted, user_entered
from tests.sheets_api.errors import ApiError
from tests.sheets_api.handler import Record
from tests.sheets_api.masks import apply_mask, parse_mask
from tests.sheets_api.model import Sheet, Spreadsheet
from tests.sheets_api.people import People
from tests.sheets_api.server import Faults, SheetsApiServer

__all__ = [
    "SHEETS_SCOPES",
    "ApiError",
    "Box",
    "Date",
    "Faults",
    "Formula",
    "People",
    "Record",
    "Sheet",
    "SheetsApiServer",
    "Spreadsheet",
    "apply_mask",
    "col_index",
    "col_letters",
    "formatted",
    "parse_mask",
    "show_range",
    "show_title",
    "unformatted",
    "user_entered",
]
