"""The Google Sheets backend: one worksheet of a spreadsheet, through gspread.

This package is the only place that imports gspread. One noun per module:

- ``sheet``: :class:`GoogleSheet`, the :class:`~sheets_bridge.sheets.Sheet` (reads, writes, races);
- ``client``: the HTTP session gspread sends through (redirection, per-user pacing, bounded
  retries with ``tenacity``);
- ``auth``: endpoint, spreadsheet id and credentials;
- ``plan``: pure planning of a write onto the grid that was read (which cells change, A1 ranges,
  payload packing);
- ``repair``: noticing rows or columns moved under a write, and putting back what it hit;
- ``formatting``: the ``spreadsheets:batchUpdate`` requests for set-up, growth, notes and the sort.
"""

from sheets_bridge.sheets.google.auth import (
    ENV_ENDPOINT,
    SCOPES,
    load_credentials,
    resolve_endpoint,
    spreadsheet_key,
)
from sheets_bridge.sheets.google.sheet import GoogleSheet, plan_edit, table

__all__ = [
    "ENV_ENDPOINT",
    "SCOPES",
    "GoogleSheet",
    "load_credentials",
    "plan_edit",
    "resolve_endpoint",
    "spreadsheet_key",
    "table",
]
