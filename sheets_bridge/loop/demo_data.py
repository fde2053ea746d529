"""A synthetic hand-written Roman-numerals dataset with known, planted problems.

The demo needs data that behaves like the 2021 Data-Centric AI competition set without shipping or
downloading it: hand-drawn-looking numerals ``i`` .. ``x`` in upper and lower case and several pen
styles, plus the faults that made that data hard (wrong labels, junk images, near-duplicates, class
imbalance, a style shift between train and val). Everything planted is written to
``<root>/ground_truth.csv`` so that the tool's findings can be scored.

Strokes are drawn with Pillow at twice the size and reduced (cheap anti-aliasing); no fonts.

Example::

    >>> summary = make_demo_data(Path("demo-data"), n_images=1500, seed=0)  # doctest: +SKIP
    >>> print(summary.describe())  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import math
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "CLASSES",
    "GROUND_TRUTH_COLUMNS",
    "GROUND_TRUTH_NAME",
    "PROBLEMS",
    "SPLITS",
    "DemoSummary",
    "make_demo_data",
]

CLASSES: tuple[str, ...] = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x")
SPLITS: tuple[str, ...] = ("train", "val", "label_book")
PROBLEMS: tuple[str, ...] = ("", "wrong_label", "junk", "near_duplicate")
GROUND_TRUTH_NAME = "ground_truth.csv"
GROUND_TRUTH_COLUMNS: tuple[str, ...] = (
    "id", "split", "given_label", "true_label", "problem", "duplicate_of", "style"
)  # fmt: skip
MIN_IMAGES = 100

# Rates of the planted problems. Wrong labels are counted against train+val (the label book is
# always clean); junk and near-duplicates against the whole dataset.
WRONG_LABEL_RATE = 0.08
JUNK_RATE = 0.03
DUPLICATE_RATE = 0.03
TRAIN_SHARE = 0.70
# Most wrong labels in real data are near misses (one stroke too many or too few, V and I swapped).
CONFUSABLE_SHARE = 0.75
CONFUSABLE: dict[str, tuple[str, ...]] = {
    "i": ("ii",), "ii": ("iii", "i"), "iii": ("ii",), "iv": ("vi", "v"), "v": ("iv",),
    "vi": ("iv", "vii"), "vii": ("viii", "vi"), "viii": ("vii",), "ix": ("x", "iv"), "x": ("ix",)
}  # fmt: skip
# Near-duplicates that land in the other split leak between train and val, as in the real data.
DUPLICATE_OTHER_SPLIT = 0.35
DUPLICATE_RELABELLED = 0.20

# Style weights per split. "tiny" and "ruled" are (nearly) only in val and "barred" (nearly) only
# in train: a style shift between the splits, so val accuracy is lower than train accuracy for
# reasons the labels cannot explain.
STYLE_WEIGHTS: dict[str, dict[str, float]] = {
    "train": {"pen": 3.0, "marker": 2.0, "serif": 2.0, "slanted": 1.5, "barred": 1.5,
              "tiny": 0.05, "ruled": 0.05},
    "val": {"pen": 3.0, "marker": 2.0, "serif": 1.0, "slanted": 1.5, "barred": 0.05,
            "tiny": 1.5, "ruled": 2.0},
    "label_book": {"pen": 1.0, "marker": 1.0, "serif": 1.0},
}  # fmt: skip
UPPER_ONLY = frozenset({"serif", "barred"})
LOWER_CASE_SHARE = 0.4
JUNK_KINDS: tuple[str, ...] = ("scribble", "blank", "blob", "partial")
SUPERSAMPLE = 2  # draw at 2x and reduce with a box filter: anti-aliased strokes at little cost

Point = tuple[float, float]


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`make_demo_data` wrote.

    ``split_counts`` maps ``train``/``val``/``label_book`` to image counts; ``problem_counts`` maps
    ``wrong_label``/``junk``/``near_duplicate`` to the number of planted cases.
    """

    root: Path
    split_counts: dict[str, int]
    problem_counts: dict[str, int]
    ground_truth: Path

    @property
    def total(self) -> int:
        """Number of images written."""
        return sum(self.split_counts.values())

    def describe(self) -> str:
        """A few lines for people: where the data is, split sizes and what was planted."""
        splits = ", ".join(f"{s} {self.split_counts.get(s, 0):,}" for s in SPLITS)
        p = self.problem_counts
        return (
            f"{self.total:,} images in {self.root}: {splits}\n"
            f"planted: {p.get('wrong_label', 0):,} wrong labels, {p.get('junk', 0):,} junk, "
            f"{p.get('near_duplicate', 0):,} near-duplicates\n"
            f"ground truth: {self.ground_truth}"
        )


@dataclass
class _Record:
    """One image to write: what it shows, where it goes and what was planted."""

    split: str
    true_label: str  # "" for junk
    given_label: str
    style: str
    case: str = "upper"
    problem: str = ""
    source: int = -1  # index of the original, for near-duplicates
    junk_kind: str = ""


# --------------------------------------------------------------------------------------- plan


def _allocate(total: int, weights: np.ndarray) -> list[int]:
    """Split ``total`` into integer parts proportional to ``weights`` (largest remainder)."""
    exact = weights / weights.sum() * total
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: total - counts.sum()]:
        counts[i] += 1
    return counts.tolist()


def _pick_style(split: str, rng: np.random.Generator) -> tuple[str, str]:
    names = list(STYLE_WEIGHTS[split])
    w = np.array([STYLE_WEIGHTS[split][k] for k in names])
    style = names[rng.choice(len(names), p=w / w.sum())]
    case = "lower" if style not in UPPER_ONLY and rng.random() < LOWER_CASE_SHARE else "upper"
    return style, case


def _wrong_label(true: str, rng: np.random.Generator) -> str:
    if rng.random() < CONFUSABLE_SHARE:
        options = CONFUSABLE[true]
    else:
        options = tuple(c for c in CLASSES if c != true)
    return options[rng.integers(len(options))]


def _plan(n_images: int, rng: np.random.Generator) -> list[_Record]:
    """Decide every image's split, labels, style and problem before drawing anything."""
    per_class_book = int(np.clip(round(n_images / 300), 2, 5))
    n_book = per_class_book * len(CLASSES)
    n_dup = round(DUPLICATE_RATE * n_images)
    n_junk = round(JUNK_RATE * n_images)
    n_numerals = n_images - n_book - n_dup - n_junk
    n_train = round(TRAIN_SHARE * n_numerals)

    records: list[_Record] = []
    for label in CLASSES:
        for _ in range(per_class_book):
            style, case = _pick_style("label_book", rng)
            records.append(_Record("label_book", label, label, style, case))

    # Train is imbalanced (rarest class about 40% of the commonest), val roughly balanced.
    train_w = rng.permutation(np.linspace(1.0, 0.4, len(CLASSES)))
    val_w = rng.uniform(0.85, 1.15, len(CLASSES))
    for split, total, w in (("train", n_train, train_w), ("val", n_numerals - n_train, val_w)):
        for label, count in zip(CLASSES, _allocate(total, w), strict=True):
            for _ in range(count):
                style, case = _pick_style(split, rng)
                records.append(_Record(split, label, label, style, case))

    numerals = [i for i, r in enumerate(records) if r.split != "label_book"]
    n_wrong = round(WRONG_LABEL_RATE * (n_images - n_book))
    for i in rng.choice(numerals, size=n_wrong, replace=False):
        records[i].given_label = _wrong_label(records[i].true_label, rng)
        records[i].problem = "wrong_label"

    n_junk_train = round(TRAIN_SHARE * n_junk)
    for k in range(n_junk):
        kind = JUNK_KINDS[k % len(JUNK_KINDS)]
        split = "train" if k < n_junk_train else "val"
        given = CLASSES[rng.integers(len(CLASSES))]
        records.append(_Record(split, "", given, f"junk-{kind}", problem="junk", junk_kind=kind))

    for src in rng.choice(numerals, size=n_dup, replace=False):
        orig = records[src]
        split = orig.split
        if rng.random() < DUPLICATE_OTHER_SPLIT:
            split = "val" if split == "train" else "train"
        given = orig.given_label
        if rng.random() < DUPLICATE_RELABELLED:
            given = _wrong_label(orig.given_label, rng)
        records.append(
            _Record(split, orig.true_label, given, orig.style, orig.case, "near_duplicate", src)
        )
    return records


# ------------------------------------------------------------------------------------ drawing


def _glyph(ch: str, case: str) -> tuple[float, list[list[Point]], list[Point], list[Point]]:
    """Width, strokes, dots and serif anchors of one letter; y grows downwards, height 1."""
    if case == "upper":
        if ch == "i":
            return 0.0, [[(0.0, 0.0), (0.0, 1.0)]], [], [(0.0, 0.0), (0.0, 1.0)]
        if ch == "v":
            return 0.7, [[(0.0, 0.0), (0.35, 1.0), (0.7, 0.0)]], [], [(0.0, 0.0), (0.7, 0.0)]
        ends = [(0.0, 0.0), (0.7, 0.0), (0.0, 1.0), (0.7, 1.0)]
        return 0.7, [[(0.0, 0.0), (0.7, 1.0)], [(0.7, 0.0), (0.0, 1.0)]], [], ends
    top = 0.42  # x-height: lower-case letters fill the lower part of the line
    if ch == "i":
        return 0.0, [[(0.0, top), (0.0, 1.0)]], [(0.0, 0.17)], []
    if ch == "v":
        return 0.44, [[(0.0, top), (0.22, 1.0), (0.44, top)]], [], []
    return 0.44, [[(0.0, top), (0.44, 1.0)], [(0.44, top), (0.0, 1.0)]], [], []


def _wobble(pts: list[Point], rng: np.random.Generator, scale: float) -> list[list[Point]]:
    """Turn a polyline into slightly bent, jittered segments, as a hand would draw it."""
    out = []
    for (ax, ay), (bx, by) in zip(pts, pts[1:], strict=False):
        length = math.hypot(bx - ax, by - ay) or 1.0
        nx, ny = -(by - ay) / length, (bx - ax) / length
        bend = rng.normal(0.0, 0.05) * length
        cx, cy = (ax + bx) / 2 + 2 * nx * bend, (ay + by) / 2 + 2 * ny * bend
        k = int(np.clip(length / (6 * SUPERSAMPLE), 2, 7))
        t = np.linspace(0.0, 1.0, k + 1)
        xs = (1 - t) ** 2 * ax + 2 * t * (1 - t) * cx + t**2 * bx
        ys = (1 - t) ** 2 * ay + 2 * t * (1 - t) * cy + t**2 * by
        jitter = rng.normal(0.0, 0.012 * scale, (2, k + 1))
        jitter[:, [0, -1]] = 0.0  # keep corners where the glyph put them
        out.append(list(zip((xs + jitter[0]).tolist(), (ys + jitter[1]).tolist(), strict=True)))
    return out


def _stroke(draw: ImageDraw.ImageDraw, pts: list[Point], width: float, fill: int) -> None:
    """Draw one polyline with round caps and joins."""
    w = max(1, round(width))
    draw.line(pts, fill=fill, width=w, joint="curve")
    r = w / 2
    if w > 2:
        for x, y in (pts[0], pts[-1]):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)


def _background(h: int, w: int, style: str, rng: np.random.Generator) -> np.ndarray:
    """White-ish paper with uneven scan lighting; lined paper for the ``ruled`` style."""
    level = rng.uniform(232, 255)
    gy = np.linspace(-1, 1, h, dtype=np.float32)[:, None] * rng.uniform(-8, 8)
    gx = np.linspace(-1, 1, w, dtype=np.float32)[None, :] * rng.uniform(-8, 8)
    bg = np.minimum(level + gy + gx, 255.0).astype(np.float32)
    if style == "ruled":
        gap = rng.uniform(0.16, 0.3) * h
        y = rng.uniform(0, gap)
        shade = rng.uniform(45, 85)
        while y < h:
            bg[int(y), :] -= shade
            y += gap
        if rng.random() < 0.5:
            bg[:, int(rng.uniform(0.05, 0.2) * w)] -= shade * 0.8
    return bg


def _finish(
    bg: np.ndarray, mask: Image.Image, rng: np.random.Generator, noise: float
) -> np.ndarray:
    """Lay reduced ink ``mask`` over the paper, add sensor noise, quantise to 8 bits."""
    small = mask.resize((bg.shape[1], bg.shape[0]), Image.Resampling.BOX)
    alpha = np.asarray(small, dtype=np.float32) / 255.0
    ink = rng.uniform(5, 70)
    out = bg * (1.0 - alpha) + ink * alpha
    if noise > 0:
        out += rng.standard_normal(out.shape, dtype=np.float32) * noise
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _canvas(rng: np.random.Generator) -> tuple[int, int]:
    w = int(rng.integers(64, 201))
    h = int(np.clip(round(w * rng.uniform(0.55, 1.15)), 48, 200))
    return h, w


def _draw_numeral(
    label: str, style: str, case: str, rng: np.random.Generator, *, clean: bool, cut: bool = False
) -> np.ndarray:
    """Render one numeral as an 8-bit grayscale array."""
    h, w = _canvas(rng)
    s = SUPERSAMPLE
    gap = 0.3 if case == "upper" else 0.24
    glyphs = []
    cursor = 0.0
    for ch in label:
        gw, strokes, dots, serifs = _glyph(ch, case)
        sx = rng.uniform(0.85, 1.2)
        dy = rng.normal(0.0, 0.03)
        sy = rng.uniform(0.92, 1.04)
        glyphs.append((cursor, sx, dy, sy, strokes, dots, serifs))
        cursor += gw * sx + gap * rng.uniform(0.7, 1.3)
    text_w = cursor - gap

    slant = {"slanted": rng.uniform(0.25, 0.45)}.get(style, rng.normal(0.0, 0.08))
    angle = math.radians(rng.normal(0.0, 2.5 if clean else 5.0))
    fill = rng.uniform(0.22, 0.38) if style == "tiny" else rng.uniform(0.55, 0.82)
    span = max(text_w + 0.35 + abs(slant), 0.6)
    size = min(fill * h, fill * 1.1 * w / span)  # glyph height in pixels
    if style == "tiny":  # small numeral anywhere on a big page
        cx = rng.uniform(size * span / 2 + 2, w - size * span / 2 - 2)
        cy = rng.uniform(size / 2 + 2, h - size / 2 - 2)
    else:
        cx = w / 2 + rng.normal(0.0, 0.05) * w
        cy = h / 2 + rng.normal(0.0, 0.05) * h
    if cut:  # a glyph cut off by the page edge: large and pushed mostly outside
        size = min(h, w) * rng.uniform(1.2, 2.0)
        cx += rng.choice([-1, 1]) * w * rng.uniform(0.5, 0.7)
        cy += rng.choice([-1, 1]) * h * rng.uniform(0.3, 0.6)
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    jit = 0.0 if clean else 0.035

    def to_px(u: float, v: float) -> Point:
        x = (u - text_w / 2 + slant * (0.5 - v)) * size
        y = (v - 0.5) * size
        return ((cx + x * cos_a - y * sin_a) * s, (cy + x * sin_a + y * cos_a) * s)

    base_w = {
        "pen": (0.035, 0.06),
        "marker": (0.1, 0.16),
        "tiny": (0.07, 0.11),
        "serif": (0.05, 0.09),
    }.get(style, (0.045, 0.09))
    width = max(1.0, size * rng.uniform(*base_w)) * s
    mask = Image.new("L", (w * s, h * s), 0)
    draw = ImageDraw.Draw(mask)

    def stroke(pts: list[Point]) -> None:
        pix = [to_px(u + rng.normal(0, jit), v + rng.normal(0, jit)) for u, v in pts]
        for seg in _wobble(pix, rng, size * s):
            _stroke(draw, seg, width * rng.uniform(0.8, 1.15), int(rng.integers(200, 256)))

    for x0, sx, dy, sy, strokes, dots, serifs in glyphs:
        for line in strokes:
            stroke([(x0 + u * sx, 0.5 + (v - 0.5) * sy + dy) for u, v in line])
        for u, v in dots:
            px, py = to_px(x0 + u * sx + rng.normal(0, 0.04), v + dy + rng.normal(0, 0.03))
            r = max(width * rng.uniform(0.45, 0.65), 1.2 * s)  # a dot, not a blob
            draw.ellipse((px - r, py - r, px + r, py + r), fill=255)
        if style == "serif":
            half = 0.13 * rng.uniform(0.8, 1.2)
            for u, v in serifs:
                y = 0.5 + (v - 0.5) * sy + dy
                stroke([(x0 + u * sx - half, y), (x0 + u * sx + half, y)])
    if style == "barred":  # the "VII" with a bar over and under the whole numeral
        over = 0.15 * rng.uniform(0.5, 1.5)
        for v in (0.0, 1.0):
            stroke([(-over, v), (text_w + over, v)])
    noise = rng.uniform(0.5, 2.0) if clean else rng.uniform(1.0, 6.0)
    return _finish(_background(h, w, style, rng), mask, rng, noise)


def _draw_junk(kind: str, rng: np.random.Generator) -> np.ndarray:
    """Scribbles, near-blank pages, ink blots and cut-off glyphs: nothing a class describes."""
    if kind == "partial":
        label = CLASSES[rng.integers(len(CLASSES))]
        return _draw_numeral(label, "pen", "upper", rng, clean=False, cut=True)
    h, w = _canvas(rng)
    s = SUPERSAMPLE
    mask = Image.new("L", (w * s, h * s), 0)
    draw = ImageDraw.Draw(mask)
    if kind == "scribble":
        n = int(rng.integers(4, 10))
        pts = [(rng.uniform(0.1, 0.9) * w * s, rng.uniform(0.1, 0.9) * h * s) for _ in range(n)]
        width = rng.uniform(0.02, 0.08) * min(h, w) * s
        for seg in _wobble(pts, rng, min(h, w) * s):
            _stroke(draw, seg, width, 255)
    elif kind == "blob":
        for _ in range(int(rng.integers(1, 4))):
            x, y = rng.uniform(0.2, 0.8) * w * s, rng.uniform(0.2, 0.8) * h * s
            rx, ry = rng.uniform(0.05, 0.25, 2) * min(h, w) * s
            draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=int(rng.integers(150, 256)))
    else:  # blank: a few specks of dust, maybe a faint smudge
        for _ in range(int(rng.integers(0, 6))):
            x, y, r = rng.uniform(0, w * s), rng.uniform(0, h * s), rng.uniform(1, 2.5) * s
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    style = "ruled" if rng.random() < 0.2 else "pen"
    return _finish(_background(h, w, style, rng), mask, rng, rng.uniform(1.0, 5.0))


def _near_duplicate(src: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A slightly rescaled, shifted, re-exposed and re-noised copy of ``src``."""
    h, w = src.shape
    scale = rng.uniform(0.9, 1.1)
    nh, nw = max(32, round(h * scale)), max(32, round(w * scale))
    img = np.asarray(Image.fromarray(src).resize((nw, nh), Image.Resampling.BILINEAR))
    dy, dx = rng.integers(-3, 4, 2)
    padded = np.pad(img, 3, mode="edge")
    img = padded[3 + dy : 3 + dy + nh, 3 + dx : 3 + dx + nw].astype(np.float32)
    img = img * rng.uniform(0.95, 1.03) + rng.uniform(-6, 6)
    img += rng.standard_normal(img.shape, dtype=np.float32) * rng.uniform(1.5, 5.0)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# -------------------------------------------------------------------------------------- write


def _prepare_root(root: Path) -> None:
    """Refuse folders that hold someone else's files; clear a demo folder written earlier."""
    if root.exists() and not root.is_dir():
        raise ValueError(f"{root} is a file; give a folder for the demo dataset")
    if not root.exists() or not any(root.iterdir()):
        root.mkdir(parents=True, exist_ok=True)
        return
    truth = root / GROUND_TRUTH_NAME
    header = ""
    if truth.is_file():
        with truth.open(encoding="utf-8") as f:
            header = f.readline().strip()
    if header != ",".join(GROUND_TRUTH_COLUMNS):
        raise ValueError(
            f"{root} is not empty and holds no demo {GROUND_TRUTH_NAME}; refusing to write the "
            "demo dataset into it. Choose a new or empty folder."
        )
    for split in SPLITS:
        if (root / split).is_dir():
            shutil.rmtree(root / split)
    truth.unlink()


def make_demo_data(root: Path, n_images: int = 1500, seed: int = 0) -> DemoSummary:
    """Write the synthetic dataset to ``<root>/<split>/<label>/<id>.png`` and its ground truth.

    Same ``seed`` and ``n_images`` give byte-identical files. ``root`` must be new, empty, or a
    demo folder written by this function earlier (only its split folders and ground truth are
    replaced).

    >>> make_demo_data(tmp / "demo", n_images=200, seed=1).split_counts  # doctest: +SKIP
    {'train': 127, 'val': 53, 'label_book': 20}
    """
    if int(n_images) != n_images or n_images < MIN_IMAGES:
        raise ValueError(f"n_images must be an integer of at least {MIN_IMAGES}, got {n_images!r}")
    n_images = int(n_images)
    root = Path(root)
    _prepare_root(root)

    rng = np.random.default_rng(seed)
    records = _plan(n_images, rng)
    width = max(5, len(str(n_images - 1)))
    ids = [f"img-{k:0{width}d}" for k in rng.permutation(n_images)]

    # only the sources of near-duplicates are needed again: keeping every image's pixels grew
    # memory with the dataset (about 5 GB at 1M images)
    sources = {r.source for r in records if r.source >= 0}
    pixels: dict[int, np.ndarray] = {}
    for k, r in enumerate(records):
        # One generator per image: an image's pixels do not depend on how others were drawn.
        img_rng = np.random.default_rng([seed, k])
        if r.problem == "junk":
            arr = _draw_junk(r.junk_kind, img_rng)
        elif r.problem == "near_duplicate":
            arr = _near_duplicate(pixels[r.source], img_rng)
        else:
            arr = _draw_numeral(
                r.true_label, r.style, r.case, img_rng, clean=r.split == "label_book"
            )
        if k in sources:
            pixels[k] = arr
        folder = root / r.split / r.given_label
        folder.mkdir(parents=True, exist_ok=True)
        # Pillow writes no tIME chunk unless asked: the bytes depend on the pixels only. Level 1
        # because noisy scans barely compress and encoding is the slowest step.
        Image.fromarray(arr).save(folder / f"{ids[k]}.png", format="PNG", compress_level=1)

    truth = root / GROUND_TRUTH_NAME
    rows = [
        (
            ids[k],
            r.split,
            r.given_label,
            r.true_label,
            r.problem,
            ids[r.source] if r.source >= 0 else "",
            r.style if r.problem == "junk" else f"{r.style}-{r.case}",
        )
        for k, r in enumerate(records)
    ]
    with truth.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(GROUND_TRUTH_COLUMNS)
        writer.writerows(sorted(rows))

    splits = Counter(r.split for r in records)
    problems = Counter(r.problem for r in records if r.problem)
    return DemoSummary(
        root=root,
        split_counts={s: splits.get(s, 0) for s in SPLITS},
        problem_counts={p: problems.get(p, 0) for p in PROBLEMS if p},
        ground_truth=truth,
    )
