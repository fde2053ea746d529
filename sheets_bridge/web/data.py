"""What the pages show, read from the workspace: images by id, thumbnails, UMAP points, versions.

Nothing here knows about HTTP; the blueprints turn these values into responses.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from sheets_bridge.core.consensus import decide_votes
from sheets_bridge.core.rows import ISSUES_SEP
from sheets_bridge.core.schema import SHEET_SPLITS
from sheets_bridge.core.votes import RowVotes, read_votes, shown
from sheets_bridge.store.workspace import Run, Workspace

THUMB_PX = 96
#: Colour options of the UMAP view: (column, title shown in the selector).
COLOUR_OPTIONS: tuple[tuple[str, str], ...] = (
    ("label", "label"),
    ("pred", "prediction"),
    ("correct", "prediction = label"),
    ("subset", "subset"),
    ("issue", "issue type"),
    ("cluster", "style cluster"),
    ("agreement", "annotator agreement"),
    ("decision", "sheet decision"),
)


# -- images ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageRef:
    path: Path
    sha256: str


def image_index(ws: Workspace) -> dict[str, ImageRef]:
    """Every image id of every version -> its file (current version first: it wins on a clash).

    Only files inside the workspace are listed; a request can name an id, never a path.
    """
    index: dict[str, ImageRef] = {}
    current = ws.current.name if ws.versions() else None
    versions = sorted(ws.versions(), key=lambda v: (v.name != current, -v.number))
    root = ws.root
    for version in versions:
        manifest = version.manifest()
        for rid, rel, sha in zip(manifest["id"], manifest["path"], manifest["sha256"], strict=True):
            if rid in index:
                continue
            path = (root / rel).resolve()
            if path.is_relative_to(root):
                index[rid] = ImageRef(path, sha or rid)
    return index


def thumbnail(ws: Workspace, ref: ImageRef, size: int = THUMB_PX) -> Path | io.BytesIO:
    """A cached PNG whose longer side is ``size`` px (small images are enlarged without blur).

    In a read-only workspace the PNG is made in memory each time instead of cached.
    """
    key = re.sub(r"[^0-9a-zA-Z_-]", "_", ref.sha256)
    out = ws.media_dir / "thumbs" / key[:2] / f"{key}-{size}.png"
    if out.exists():
        return out
    from PIL import Image

    with Image.open(ref.path) as im:
        im = to_8bit(im)
        scale = size / max(im.size)
        new = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
        # Enlarged strokes stay crisp with NEAREST; reduced ones alias without LANCZOS.
        im = im.resize(new, Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
        except OSError:
            buffer = io.BytesIO()
            im.save(buffer, format="PNG")
            buffer.seek(0)
            return buffer
        with os.fdopen(fd, "wb") as fh:
            im.save(fh, format="PNG", optimize=True)
    os.replace(tmp, out)  # two requests for the same thumbnail both write whole files
    return out


def to_8bit(im):
    """An 8-bit ``L`` or ``RGB`` image for display. 16-bit, 32-bit and float pixels are scaled
    to 0..255 (Pillow's own conversion clips them: a 16-bit gradient would turn white)."""
    from PIL import Image

    if im.mode in ("1", "L"):
        return im.convert("L")
    if not (im.mode.startswith("I") or im.mode == "F"):
        return im.convert("RGB")
    a = np.asarray(im, dtype=np.float64)
    finite = a[np.isfinite(a)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if im.mode == "F" and lo >= 0 and hi <= 1:
        scaled = a * 255  # float images in 0..1
    elif lo >= 0 and hi <= 255:
        scaled = a
    elif lo >= 0 and hi <= 65535:
        scaled = a / 257  # 16-bit: the full range maps onto 0..255
    else:
        scaled = (a - lo) * (255 / (hi - lo)) if hi > lo else np.zeros_like(a)
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))


# -- sheet links -------------------------------------------------------------------------------
def google_url(spreadsheet: str) -> str:
    if spreadsheet.startswith(("http://", "https://")):
        return spreadsheet
    return f"https://docs.google.com/spreadsheets/d/{spreadsheet}/edit"


def sheet_link(ws: Workspace, base_url: str = "") -> str:
    """Where people open the sheet: the Google URL, or the local grid."""
    if ws.remote_sheet:
        return google_url(ws.config.spreadsheet)
    return base_url.rstrip("/") + "/sheet"


# -- UMAP points -------------------------------------------------------------------------------
def umap_run(ws: Workspace) -> Run | None:
    """The newest complete run of the current version, else the newest complete run."""
    return ws.latest_run(ws.current.name) or ws.latest_run()


def _issue_type(text: str) -> str:
    """The kind of the first (most important) issue: "label?", "near-duplicate", "junk?", ...

    The tag before ``": "`` (older runs' short words: what names no image or number)."""
    from model.words import tag

    first = text.split(ISSUES_SEP)[0].strip()
    if not first:
        return "none"
    return tag(first) or "other"


def _agreement(rv: RowVotes) -> str:
    """How the annotators' cast votes relate (colour "annotator agreement")."""
    votes = [shown(v) for v in rv.votes.values()]
    if not votes:
        return "no votes"
    if len(votes) == 1:
        return "one vote"
    top = Counter(votes).most_common(1)[0][1]
    return "all agree" if top == len(votes) else "disagree"


def _decision(rv: RowVotes, label: str) -> str:
    """What a (majority) pull would do with the row (colour "sheet decision")."""
    d = decide_votes(rv, label)
    if d.action == "none" and rv.invalid:
        return "invalid"
    return d.action


def umap_points(
    ws: Workspace, sheet_rows: dict[str, dict[str, str]] | None = None
) -> pd.DataFrame | None:
    """One row per point of the run's UMAP, with what the hover, colours and actions need.

    ``sheet_rows`` (id -> cells) adds what people typed; ``subset`` shows a pending move typed in
    the sheet. Returns None when the workspace has no complete run with a UMAP.
    """
    run = umap_run(ws)
    if run is None or not (run.path / "umap.npy").exists():
        return None
    preds = run.predictions()
    xy = np.load(run.path / "umap.npy")
    if len(xy) != len(preds):
        raise ValueError(f"{run.path}: umap.npy has {len(xy)} rows, predictions.csv {len(preds)}")
    df = pd.DataFrame({"id": preds["id"].astype(str), "x": xy[:, 0], "y": xy[:, 1]})
    df["label"] = preds["label"].astype(str) if "label" in preds else ""
    df["pred"] = preds["pred"].astype(str) if "pred" in preds else ""
    df["confidence"] = pd.to_numeric(preds.get("confidence", np.nan), errors="coerce")
    df["subset"] = preds["split"].astype(str) if "split" in preds else ""
    scores = run.scores()
    if scores is not None:
        s = scores.set_index("id")
        df["issues"] = df["id"].map(s["issues"]).fillna("").astype(str) if "issues" in s else ""
        df["cluster"] = df["id"].map(s["cluster"]).fillna("").astype(str) if "cluster" in s else ""
    else:
        df["issues"], df["cluster"] = "", ""
    # The current version decides label and subset (the run may be older).
    manifest = ws.current.manifest().set_index("id")
    in_version = df["id"].isin(manifest.index)
    df.loc[in_version, "label"] = df.loc[in_version, "id"].map(manifest["label"])
    df.loc[in_version, "subset"] = df.loc[in_version, "id"].map(manifest["split"])
    df.loc[~in_version, "subset"] = "removed"
    classes, annotators = ws.classes, tuple(ws.config.annotators)
    rows = sheet_rows or {}
    empty: dict[str, str] = {}
    cells = [rows.get(i, empty) for i in df["id"]]
    typed = [str(c.get("subset", "")).strip().lower() for c in cells]
    df["subset"] = [
        t if t in SHEET_SPLITS and s in SHEET_SPLITS else s
        for t, s in zip(typed, df["subset"], strict=True)
    ]
    df["override"] = [str(c.get("override", "")) for c in cells]
    df["note"] = [str(c.get("note", "")) for c in cells]
    votes = [read_votes(c, annotators, classes) for c in cells]
    df["agreement"] = [_agreement(rv) for rv in votes]
    df["decision"] = [_decision(rv, lab) for rv, lab in zip(votes, df["label"], strict=True)]
    df["correct"] = np.where(
        df["pred"] == "", "no prediction", np.where(df["pred"] == df["label"], "yes", "no")
    )
    df["issue"] = [_issue_type(t) for t in df["issues"]]
    df["cluster"] = df["cluster"].replace("", "none")
    return df


# -- dashboard ---------------------------------------------------------------------------------
#: what each line of the accuracy chart measures (the legend)
SERIES_TITLES = {
    "val": "val (each version's own)",
    "fixed_val": "fixed val (same images every version)",
    "label_book": "label book",
}


def accuracy_chart(rows: list[dict], width: int = 640, height: int = 220) -> str:
    """An inline SVG line chart of accuracy per version: on each version's own val set (``val``),
    and on every evaluation set the runs report: ``fixed_val`` (the same images for every
    version), ``label_book`` and any ``--eval-dir``. Each line says which set it is."""
    series: dict[str, list[tuple[int, float]]] = {"val": []}
    for i, r in enumerate(rows):
        if r.get("val_accuracy") is not None:
            series["val"].append((i, float(r["val_accuracy"])))
        for name, acc in (r.get("eval") or {}).items():
            value = acc.get("accuracy") if isinstance(acc, dict) else acc
            if isinstance(value, (int, float)):
                series.setdefault(name, []).append((i, float(value)))
    points = [p for s in series.values() for p in s]
    if not points:
        return ""
    left, right, top, bottom = 48, 16, 16, 40
    n = max(len(rows) - 1, 1)
    lo = max(0.0, min(v for _, v in points) - 0.05)
    hi = min(1.0, max(v for _, v in points) + 0.05)
    hi = hi if hi > lo else lo + 0.1

    def px(i: float) -> float:
        return left + (width - left - right) * (i / n if len(rows) > 1 else 0.5)

    def py(v: float) -> float:
        return top + (height - top - bottom) * (1 - (v - lo) / (hi - lo))

    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="accuracy per version">'
    ]
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{py(v):.1f}" y2="{py(v):.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{py(v) + 4:.1f}" text-anchor="end">{v:.0%}</text>'
        )
    for i, r in enumerate(rows):
        out.append(
            f'<text x="{px(i):.1f}" y="{height - bottom + 18}" text-anchor="middle">{escape(str(r["version"]))}</text>'
        )
    for (name, pts), colour in zip(series.items(), colours, strict=False):
        if not pts:
            continue
        path = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in pts)
        title = escape(SERIES_TITLES.get(name, name))
        out.append(
            f'<polyline data-series="{escape(name)}" points="{path}" fill="none" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        for i, v in pts:
            out.append(
                f'<circle cx="{px(i):.1f}" cy="{py(v):.1f}" r="4" fill="{colour}">'
                f"<title>{title} {escape(str(rows[i]['version']))}: {v:.1%}</title></circle>"
            )
    legend_x = left
    for (name, pts), colour in zip(series.items(), colours, strict=False):
        if pts:
            title = SERIES_TITLES.get(name, name)
            out.append(
                f'<rect x="{legend_x}" y="{height - 12}" width="10" height="10" fill="{colour}"/>'
                f'<text x="{legend_x + 14}" y="{height - 3}">{escape(title)}</text>'
            )
            legend_x += 14 + 7 * len(title) + 16
    out.append("</svg>")
    return "".join(out)
