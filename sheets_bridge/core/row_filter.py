"""What the local grid asks of a sheet: one page of rows after some conditions
(:meth:`sheets_bridge.sheets.local.LocalSheet.page`), and what it gets back."""

from __future__ import annotations

from dataclasses import dataclass

from sheets_bridge.core.errors import SheetError

#: What a :class:`RowFilter` can ask of a cell.
FILTER_OPS = ("contains", "=", ">=", "<=", "empty", "filled")


@dataclass(frozen=True)
class RowFilter:
    """One condition of :meth:`LocalSheet.page`: ``contains`` (case-insensitive text; with several
    columns, any of them), ``=`` (the cell's text, ignoring case and spaces at the ends), ``>=`` and
    ``<=`` (numbers), ``empty`` and ``filled`` (a blank cell, or not)."""

    column: str | tuple[str, ...]
    op: str
    value: object = None

    def __post_init__(self) -> None:
        if self.op not in FILTER_OPS:
            raise SheetError(f"unknown filter {self.op!r}; known: {', '.join(FILTER_OPS)}")
        if self.op in (">=", "<="):
            try:
                float(self.value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise SheetError(f"filter {self.op} needs a number, not {self.value!r}") from None


@dataclass
class RowPage:
    """One page of :meth:`LocalSheet.page`: the header, the rows, how many rows match the filters
    (at most the count limit: ``more`` says there are more) and how many the sheet holds."""

    header: tuple[str, ...]
    rows: list[dict[str, object]]
    matched: int
    total: int
    more: bool = False
