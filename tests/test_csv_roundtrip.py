"""Property: exporting the sheet as CSV and importing it back is a compare-and-set. What people
typed comes back unchanged, edits nobody else touched apply, and cells teammates changed after
the export are reported as conflicts and keep the teammate's value."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from sheets_bridge.core.schema import Schema
from sheets_bridge.loop.sheet_csv import editable_columns, render, update_from_csv
from sheets_bridge.sheets import SheetWrite
from sheets_bridge.sheets.local import LocalSheet

SCHEMA = Schema()
COLUMNS = editable_columns(SCHEMA)
IDS = ("a", "b", "c")
CELLS = [(i, c) for i in IDS for c in COLUMNS]

# Anything a person can type into a cell: quotes, commas, line breaks, any script.
typed = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=12)
cell_values = st.dictionaries(st.sampled_from(CELLS), typed, max_size=len(CELLS))


@settings(max_examples=40, deadline=None)
@given(start=cell_values, mine=cell_values, theirs=cell_values)
def test_export_then_import_applies_edits_and_reports_conflicts(start, mine, theirs):
    with tempfile.TemporaryDirectory() as tmp:
        sheet = LocalSheet(Path(tmp) / "sheet.db")
        sheet.write(SheetWrite(SCHEMA.columns, appends=[{"id": i} for i in IDS]))
        sheet.edit([(i, c, v) for (i, c), v in start.items()], author="before")
        exported_text = render(sheet.read(), "csv", SCHEMA)
        exported = sheet.read().by_id()

        # Re-importing the untouched export changes nothing: what people typed comes back.
        untouched = Path(tmp) / "untouched.csv"
        untouched.write_text(exported_text, encoding="utf-8", newline="")
        report = update_from_csv(sheet, SCHEMA, untouched, "me")
        assert report.changed == 0 and report.conflicts == []
        assert sheet.read().by_id() == exported

        # A teammate changes cells after the export; I edit my copy of the file.
        sheet.edit([(i, c, v) for (i, c), v in theirs.items()], author="teammate")
        after_teammate = sheet.read().by_id()
        rows = list(csv.DictReader(io.StringIO(exported_text, newline="")))
        for row in rows:
            for c in COLUMNS:
                if (row["id"], c) in mine:
                    row[c] = mine[(row["id"], c)]
        edited = Path(tmp) / "edited.csv"
        with open(edited, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        report = update_from_csv(sheet, SCHEMA, edited, "me")

        final = sheet.read().by_id()
        conflicts = {(c["id"], c["column"]) for c in report.conflicts}
        for i, c in CELLS:
            was = exported[i][c].strip()
            now = after_teammate[i][c]
            want = mine.get((i, c), exported[i][c]).strip()
            if want == was:  # not edited in the file: whatever the sheet holds stays
                assert final[i][c] == now and (i, c) not in conflicts
            elif now.strip() == was:  # edited, and nobody changed it since: applied
                assert final[i][c] == want and (i, c) not in conflicts
            elif now.strip() == want:  # the teammate typed the same: nothing to do
                assert final[i][c] == now and (i, c) not in conflicts
            else:  # edited here and there: reported, the teammate's value kept
                assert final[i][c] == now and (i, c) in conflicts
