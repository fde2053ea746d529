"""The sheet's columns, who owns each one, and checks at the boundary.

Owners:
- ``key``: ``id``, written once when a row is appended.
- ``model``: rewritten on every push; people never type there.
- ``human``: one column per annotator, ``override`` and ``note``; a push never writes them.
- ``bridge``: ``consensus``, ``agreement``, ``status``; written on pull.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from sheets_bridge.core.errors import SheetError

Owner = Literal["key", "model", "human", "bridge"]

KEY = "id"
MODEL_COLUMNS: tuple[str, ...] = (
    "image",
    "url",
    "label",
    "subset",
    "pred",
    "confidence",
    "label_quality",
    "is_correct",
    "typicality",
    "nearest_label_book",
    "label_example",
    "pred_example",
    "duplicate_of",
    "issues",
    "rank",
)
#: Columns that show a picture: ``=IMAGE(url)`` in Google Sheets, a thumbnail in the local grid.
IMAGE_COLUMNS: tuple[str, ...] = ("image", "label_example", "pred_example")
BRIDGE_COLUMNS: tuple[str, ...] = ("consensus", "agreement", "status")
DEFAULT_ANNOTATORS: tuple[str, ...] = ("annotator_1", "annotator_2")
#: Every split a dataset may hold; the model trains and predicts out-of-fold on train + val.
SPLITS: tuple[str, ...] = ("train", "val", "label_book", "test")
#: The splits people review in the sheet (label_book and test stay out of it); `subset` takes these.
SHEET_SPLITS: tuple[str, ...] = ("train", "val")
OVERRIDE = "override"
NOTE = "note"

#: What each column means, shown in the README, `--help` and the grid's header tooltips.
DESCRIPTIONS: dict[str, str] = {
    "id": "stable image id (the file stem, or a content hash when stems collide)",
    "image": "thumbnail (=IMAGE(url) in Google Sheets)",
    "url": "where the image is served",
    "label": "the label in the current dataset version",
    "subset": "train or val in the current dataset version",
    "pred": "out-of-fold model prediction (from a model that never saw this image)",
    "confidence": "out-of-fold probability of the prediction",
    "label_quality": "how much the model believes the given label (0 = doubt, 1 = sure)",
    "is_correct": "TRUE when the prediction equals the label",
    "typicality": "cosine similarity to the label's class centroid",
    "nearest_label_book": "closest label-book (clean reference) image: its id, class and similarity",
    "label_example": "the label-book image of the label's class closest to this one, to compare",
    "pred_example": "the closest reference image of the predicted class (label book, else a "
    "neighbour labelled and predicted as it), to compare",
    "duplicate_of": "an identical or near-identical image",
    "issues": "what a reviewer should check, in words",
    "rank": "review order: 1 = look first (lowest label quality)",
    "override": "final say: a label, x to remove, or empty",
    "note": "free text",
    "consensus": "the decision pull took for this row",
    "agreement": "share of annotators agreeing with the consensus",
    "status": "what pull did with the row, or why it could not",
}


@dataclass(frozen=True)
class Schema:
    """The column layout of one workspace's sheet (annotator names are configurable)."""

    annotators: tuple[str, ...] = DEFAULT_ANNOTATORS

    def __post_init__(self) -> None:
        taken = {KEY, *MODEL_COLUMNS, *BRIDGE_COLUMNS, OVERRIDE, NOTE}
        clash = [a for a in self.annotators if a in taken or not a.strip()]
        if clash:
            raise SheetError(f"annotator column names clash with built-in columns: {clash}")
        if len(set(self.annotators)) != len(self.annotators):
            raise SheetError(f"annotator column names repeat: {list(self.annotators)}")

    @property
    def human_columns(self) -> tuple[str, ...]:
        return (*self.annotators, OVERRIDE, NOTE)

    @property
    def editable(self) -> tuple[str, ...]:
        """What people may type into: the human columns, and ``subset`` to move an image
        between train and val (a model column that pull reads as a request)."""
        return (*self.human_columns, "subset")

    @property
    def columns(self) -> tuple[str, ...]:
        """The header in the order a fresh sheet gets it."""
        return (KEY, *MODEL_COLUMNS, *self.human_columns, *BRIDGE_COLUMNS)

    def owner(self, column: str) -> Owner | None:
        if column == KEY:
            return "key"
        if column in MODEL_COLUMNS:
            return "model"
        if column in self.human_columns:
            return "human"
        if column in BRIDGE_COLUMNS:
            return "bridge"
        return None

    def check_header(self, header: Sequence[str]) -> list[str]:
        """Validate a header read from a sheet; return the required columns it lacks.

        Raises SheetError when the key column is missing or a column name repeats (the push would
        not know which one to write).
        """
        names = [h.strip() for h in header]
        seen: set[str] = set()
        repeated = sorted({n for n in names if n and (n in seen or seen.add(n))})
        if repeated:
            raise SheetError(
                f"the sheet's header repeats column(s) {repeated}; rename or delete the copies"
            )
        if names and KEY not in names:
            raise SheetError(
                f"the sheet has no {KEY!r} column; it matches rows by id. Restore the header cell "
                f"{KEY!r}, run `sheets-bridge sheet repair`, or clear the sheet to start over"
            )
        return [c for c in self.columns if c not in names]


def duplicate_ids(ids: Iterable[str]) -> list[str]:
    """Ids that occur more than once (a push stops on them: it could not tell the rows apart)."""
    seen: set[str] = set()
    dup: set[str] = set()
    for i in ids:
        if i in seen:
            dup.add(i)
        seen.add(i)
    return sorted(dup)
