"""A synthetic RGB dataset: coloured shapes on textured backgrounds, with known, planted problems.

The second demo (``make-demo-data --kind shapes``) exercises the RGB path: 96x96 colour images of
six shapes in random colours, sizes, positions and rotations on plain, striped, checked, noisy or
graded backgrounds. Planted like the numerals demo: wrong labels (mostly between look-alike
shapes), junk (very dark, overexposed, blurred, blank, pure noise, a thin strip of odd aspect
ratio, and a gray picture stored as RGB) and near-duplicates; all of it written to
``<root>/ground_truth.csv`` with the same columns (the junk's kind in ``style`` as
``junk-<kind>``).

Example::

    >>> make_shapes_data(Path("shapes"), n_images=600, seed=0).describe()  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from sheets_bridge.loop.demo_data import (
    GROUND_TRUTH_COLUMNS,
    GROUND_TRUTH_NAME,
    MIN_IMAGES,
    PROBLEMS,
    SPLITS,
    DemoSummary,
    _allocate,
    _prepare_root,
)

__all__ = ["SHAPE_CLASSES", "JUNK_KINDS", "SIZE", "make_shapes_data"]

SHAPE_CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "half moon")
SIZE = 96
TEXTURES: tuple[str, ...] = ("plain", "stripes", "checker", "noise", "gradient")
#: what each kind of junk is, so that an image-quality check can be scored per kind
JUNK_KINDS: tuple[str, ...] = (
    "dark", "overexposed", "blurry", "blank", "noise", "strip", "grayscale"
)  # fmt: skip
WRONG_LABEL_RATE = 0.08
JUNK_RATE = 0.05
DUPLICATE_RATE = 0.03
TRAIN_SHARE = 0.70
CONFUSABLE: dict[str, tuple[str, ...]] = {
    "circle": ("half moon", "square"), "square": ("circle", "cross"), "triangle": ("star",),
    "star": ("triangle", "cross"), "cross": ("star", "square"), "half moon": ("circle",),
}  # fmt: skip
CONFUSABLE_SHARE = 0.75
SUPERSAMPLE = 2


def _colour(rng: np.random.Generator, lo: int = 0, hi: int = 256) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(lo, hi, 3))  # type: ignore[return-value]


def _background(rng: np.random.Generator, texture: str) -> Image.Image:
    a, b = _colour(rng, 150, 256), _colour(rng, 120, 240)
    n = SIZE * SUPERSAMPLE
    if texture == "plain":
        return Image.new("RGB", (n, n), a)
    yy, xx = np.mgrid[0:n, 0:n]
    if texture == "stripes":
        period = int(rng.integers(8, 24)) * SUPERSAMPLE
        mask = ((xx + yy * rng.choice([0, 1])) // period) % 2 == 0
    elif texture == "checker":
        cell = int(rng.integers(8, 20)) * SUPERSAMPLE
        mask = ((xx // cell) + (yy // cell)) % 2 == 0
    elif texture == "noise":
        mask = rng.random((n, n)) < 0.5
    else:  # gradient
        t = (xx / n)[..., None]
        arr = np.asarray(a, float) * (1 - t) + np.asarray(b, float) * t
        return Image.fromarray(arr.astype(np.uint8), "RGB")
    arr = np.where(mask[..., None], np.asarray(a, np.uint8), np.asarray(b, np.uint8))
    return Image.fromarray(arr.astype(np.uint8), "RGB")


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    if shape in ("square", "triangle"):
        nv = 4 if shape == "square" else 3
        return [
            (cx + r * math.cos(angle + k * 2 * math.pi / nv),
             cy + r * math.sin(angle + k * 2 * math.pi / nv))
            for k in range(nv)
        ]  # fmt: skip
    if shape == "star":
        return [
            (cx + (r if k % 2 == 0 else 0.45 * r) * math.cos(angle + k * math.pi / 5),
             cy + (r if k % 2 == 0 else 0.45 * r) * math.sin(angle + k * math.pi / 5))
            for k in range(10)
        ]  # fmt: skip
    # cross: a plus sign of arm half-width w
    w = 0.32 * r
    base = [(-w, -r), (w, -r), (w, -w), (r, -w), (r, w), (w, w), (w, r), (-w, r), (-w, w),
            (-r, w), (-r, -w), (-w, -w)]  # fmt: skip
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in base]


def _draw_shape(shape: str, rng: np.random.Generator, texture: str) -> Image.Image:
    im = _background(rng, texture)
    d = ImageDraw.Draw(im)
    n = SIZE * SUPERSAMPLE
    r = rng.uniform(0.22, 0.38) * n
    cx, cy = rng.uniform(r, n - r), rng.uniform(r, n - r)
    fill = _colour(rng, 0, 140)  # darker than every background: the shape always shows
    box = (cx - r, cy - r, cx + r, cy + r)
    if shape == "circle":
        d.ellipse(box, fill=fill)
    elif shape == "half moon":
        start = float(rng.uniform(0, 360))
        d.pieslice(box, start, start + 180, fill=fill)
    else:
        d.polygon(_polygon(shape, cx, cy, r, float(rng.uniform(0, 2 * math.pi))), fill=fill)
    return im.resize((SIZE, SIZE), Image.Resampling.BOX)


def _draw_junk(kind: str, rng: np.random.Generator) -> Image.Image:
    shape = SHAPE_CLASSES[rng.integers(len(SHAPE_CLASSES))]
    if kind == "dark":
        arr = np.asarray(_draw_shape(shape, rng, "plain"), float) * rng.uniform(0.02, 0.08)
        return Image.fromarray(arr.astype(np.uint8), "RGB")
    if kind == "overexposed":
        arr = 255 - (255 - np.asarray(_draw_shape(shape, rng, "plain"), float)) * 0.05
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    if kind == "blurry":
        im = _draw_shape(
            shape, rng, str(rng.choice(TEXTURES[1:]))
        )  # a textured photo, out of focus
        return im.filter(ImageFilter.GaussianBlur(rng.uniform(3.0, 5.0)))
    if kind == "blank":
        return Image.new("RGB", (SIZE, SIZE), _colour(rng, 60, 200))
    if kind == "noise":
        return Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8), "RGB")
    if kind == "strip":  # a sliver of a shape image: 96 wide, a few pixels tall
        im = _draw_shape(shape, rng, str(rng.choice(TEXTURES)))
        top = int(rng.integers(0, SIZE - 12))
        return im.crop((0, top, SIZE, top + int(rng.integers(6, 12))))
    # grayscale stored as RGB, and no shape worth the name: a washed-out gray texture
    gray = _background(rng, "noise").convert("L").resize((SIZE, SIZE), Image.Resampling.BOX)
    return gray.convert("RGB")


def _near_duplicate(src: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A shifted, re-exposed, re-noised copy of ``src`` (same size)."""
    dx, dy = (int(v) for v in rng.integers(-3, 4, 2))
    arr = np.asarray(src, np.float32)
    arr = np.roll(arr, (dy, dx), axis=(0, 1)) * rng.uniform(0.95, 1.05) + rng.uniform(-6, 6)
    arr += rng.standard_normal(arr.shape, dtype=np.float32) * 2.0
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "RGB")


def _wrong(label: str, rng: np.random.Generator) -> str:
    if rng.random() < CONFUSABLE_SHARE:
        return str(rng.choice(CONFUSABLE[label]))
    return str(rng.choice([c for c in SHAPE_CLASSES if c != label]))


def _plan(n_images: int, rng: np.random.Generator) -> list[dict]:
    per_book = int(np.clip(round(n_images / 300), 2, 5))
    n_book = per_book * len(SHAPE_CLASSES)
    n_dup, n_junk = round(DUPLICATE_RATE * n_images), round(JUNK_RATE * n_images)
    n_shapes = n_images - n_book - n_dup - n_junk
    n_train = round(TRAIN_SHARE * n_shapes)

    def rec(split: str, label: str, **kw) -> dict:
        base = {"split": split, "true": label, "given": label, "style": "", "problem": ""}
        return {**base, "source": -1, **kw}

    records = [rec("label_book", c, style="plain") for c in SHAPE_CLASSES for _ in range(per_book)]
    for split, total in (("train", n_train), ("val", n_shapes - n_train)):
        weights = rng.uniform(0.7, 1.3, len(SHAPE_CLASSES))
        for label, count in zip(SHAPE_CLASSES, _allocate(total, weights), strict=True):
            records += [rec(split, label, style=str(rng.choice(TEXTURES))) for _ in range(count)]
    shapes = [i for i, r in enumerate(records) if r["split"] != "label_book"]
    for i in rng.choice(shapes, size=round(WRONG_LABEL_RATE * len(shapes)), replace=False):
        records[i].update(given=_wrong(records[i]["true"], rng), problem="wrong_label")
    for k in range(n_junk):
        split = "train" if k < round(TRAIN_SHARE * n_junk) else "val"
        given = SHAPE_CLASSES[rng.integers(len(SHAPE_CLASSES))]
        kind = JUNK_KINDS[k % len(JUNK_KINDS)]
        records.append(rec(split, "", given=given, style=f"junk-{kind}", problem="junk"))
    for src in rng.choice(shapes, size=n_dup, replace=False):
        orig = records[src]
        records.append(
            rec(orig["split"], orig["true"], given=orig["given"], style=orig["style"],
                problem="near_duplicate", source=int(src))
        )  # fmt: skip
    return records


def make_shapes_data(root: Path, n_images: int = 1200, seed: int = 0) -> DemoSummary:
    """Write the shapes dataset to ``<root>/<split>/<label>/<id>.png`` and its ground truth.

    Same ``seed`` and ``n_images``, same files. ``root`` must be new, empty, or a demo folder.
    """
    if int(n_images) != n_images or n_images < MIN_IMAGES:
        raise ValueError(f"n_images must be an integer of at least {MIN_IMAGES}, got {n_images!r}")
    n_images = int(n_images)
    root = Path(root)
    _prepare_root(root)
    rng = np.random.default_rng(seed)
    records = _plan(n_images, rng)
    width = max(5, len(str(n_images - 1)))
    ids = [f"shape-{k:0{width}d}" for k in rng.permutation(len(records))]
    images: list[Image.Image] = []
    for k, r in enumerate(records):
        img_rng = np.random.default_rng([seed, k])
        if r["problem"] == "junk":
            im = _draw_junk(r["style"].removeprefix("junk-"), img_rng)
        elif r["problem"] == "near_duplicate":
            im = _near_duplicate(images[r["source"]], img_rng)
        else:
            im = _draw_shape(r["true"], img_rng, r["style"])
        images.append(im)
        folder = root / r["split"] / r["given"]
        folder.mkdir(parents=True, exist_ok=True)
        im.save(folder / f"{ids[k]}.png", format="PNG", compress_level=1)
    rows = [
        (ids[k], r["split"], r["given"], r["true"], r["problem"],
         ids[r["source"]] if r["source"] >= 0 else "", r["style"])
        for k, r in enumerate(records)
    ]  # fmt: skip
    truth = root / GROUND_TRUTH_NAME
    with truth.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(GROUND_TRUTH_COLUMNS)
        writer.writerows(sorted(rows))
    splits = Counter(r["split"] for r in records)
    problems = Counter(r["problem"] for r in records if r["problem"])
    return DemoSummary(
        root=root,
        split_counts={s: splits.get(s, 0) for s in SPLITS},
        problem_counts={p: problems.get(p, 0) for p in PROBLEMS if p},
        ground_truth=truth,
    )
