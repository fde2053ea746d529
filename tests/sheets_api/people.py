"""What people do in the Google Sheets UI, applied to the server's state without API requests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.sheets_api.batch import delete_dimension, insert_dimension, move_dimension, sort_range
from tests.sheets_api.cells import formatted, user_entered
from tests.sheets_api.model import Sheet

if TYPE_CHECKING:
    from tests.sheets_api.server import SheetsApiServer


class People:
    """What people do in the Google Sheets UI, applied to the server's state (no API request)."""

    def __init__(self, api: SheetsApiServer, spreadsheet_id: str, title: str):
        self.api, self.sid, self.title = api, spreadsheet_id, title

    @property
    def _sheet(self) -> Sheet:
        return self.api.sheet(self.sid, self.title)

    def header(self) -> list[str]:
        with self.api.lock:
            s = self._sheet
            return [formatted(s.get(0, c)) or "" for c in range(s.extent()[1])]

    def rows(self) -> list[dict[str, str]]:
        """Data rows as shown, by header name (blank rows included, as ``{}``)."""
        with self.api.lock:
            s = self._sheet
            header = self.header()
            nrows, _ = s.extent()
            return [
                {h: formatted(s.get(r, c)) or "" for c, h in enumerate(header) if h}
                for r in range(1, nrows)
            ]

    def by_id(self) -> dict[str, dict[str, str]]:
        return {r["id"]: r for r in self.rows() if r.get("id")}

    def _locate(self, row_id: str, column: str) -> tuple[int, int]:
        header = self.header()
        c = header.index(column)
        k = header.index("id")
        s = self._sheet
        for r in range(1, s.extent()[0]):
            if (formatted(s.get(r, k)) or "") == row_id:
                return r, c
        raise KeyError(row_id)

    def type(self, row_id: str, column: str, text: str) -> None:
        """A person types ``text`` into a cell (parsed like the UI does)."""
        with self.api.lock:
            r, c = self._locate(row_id, column)
            self._sheet.set(r, c, user_entered(text))

    def stored(self, row_id: str, column: str) -> Any:
        with self.api.lock:
            r, c = self._locate(row_id, column)
            return self._sheet.get(r, c)

    def _span(self, dimension: str, start: int, end: int) -> dict:
        """A DimensionRange of this worksheet, as a batchUpdate request takes it."""
        return {
            "sheetId": self._sheet.sheet_id,
            "dimension": dimension,
            "startIndex": start,
            "endIndex": end,
        }

    def sort(self, column: str, descending: bool = False) -> None:
        with self.api.lock:
            s = self._sheet
            c = self.header().index(column)
            nrows, ncols = s.extent()
            sort_range(
                self.api.spreadsheets[self.sid],
                {
                    "range": {
                        "sheetId": s.sheet_id,
                        "startRowIndex": 1,
                        "endRowIndex": max(nrows, 1),
                        "startColumnIndex": 0,
                        "endColumnIndex": max(ncols, c + 1),
                    },
                    "sortSpecs": [
                        {
                            "dimensionIndex": c,
                            "sortOrder": "DESCENDING" if descending else "ASCENDING",
                        }
                    ],
                },
            )

    def insert_rows(self, at: int, count: int = 1) -> None:
        """Insert blank rows before sheet row ``at`` (1-based, 2 = first data row)."""
        with self.api.lock:
            span = self._span("ROWS", at - 1, at - 1 + count)
            insert_dimension(self.api.spreadsheets[self.sid], {"range": span})

    def delete_row(self, row_id: str) -> None:
        with self.api.lock:
            r, _ = self._locate(row_id, "id")
            span = self._span("ROWS", r, r + 1)
            delete_dimension(self.api.spreadsheets[self.sid], {"range": span})

    def move_column(self, column: str, to: int) -> None:
        """Drag a column so that it lands at 0-based position ``to``."""
        with self.api.lock:
            c = self.header().index(column)
            dest = to if to <= c else to + 1
            span = self._span("COLUMNS", c, c + 1)
            move_dimension(
                self.api.spreadsheets[self.sid], {"source": span, "destinationIndex": dest}
            )

    def insert_column(self, at: int) -> None:
        with self.api.lock:
            span = self._span("COLUMNS", at, at + 1)
            insert_dimension(self.api.spreadsheets[self.sid], {"range": span})

    def rename(self, column: str, new: str) -> None:
        with self.api.lock:
            c = self.header().index(column)
            self._sheet.set(0, c, new)
