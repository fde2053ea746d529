"""Junk made from a data set's own images: what an image of no class may look like.

:func:`synthetic_junk` turns one decoded image (uint8 ``[H, W]`` or ``[H, W, C]``) into an image
that belongs to no class, keeping its page, ink colour, stroke width and noise, so that a model
trained to tell the two apart (:mod:`model.junk_model`) learns *what makes an image junk*, not
what makes it synthetic. The kinds (:data:`KINDS`), each a way a real data set collects junk:

- ``zoom``: a window of a quarter to a half of the side, around an ink pixel, blown up to the
  whole image (a fragment: strokes crossing the page);
- ``corner``: the foreground blown up 1.3-2.5 times (against its bounding box) around the ink
  nearest one of the box's corners (a fragment near a glyph's corner);
- ``cut``: the foreground enlarged 1.2-2.5 times and pushed past the page edge on one axis or
  both, so that 15-60% of its enlarged box stays on the erased page (a glyph cut off by the
  page edge: often one stroke running off the page, which a class never is);
- ``tiles``: the image cut into 3x3 or 4x4 tiles, shuffled and turned (pieces of strokes that
  make no class);
- ``blank``: the page with its ink erased;
- ``blob``: the ink smeared into solid blots (its mask blurred and thresholded);
- ``scribble``: the page with its ink erased and a wobbly random polyline (3-14 corners) drawn
  on it in the ink's colour and stroke width;
- ``crossed``: its own ink again, turned 30-150 degrees and laid across itself (a crossed-out or
  overwritten image).

The foreground is what differs from the border's median colour by more than the border's own
spread (the rule of :func:`model.junk.foreground_crop`). An image without foreground becomes a
blank page whatever the kind.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from model.junk import foreground_mask

KINDS: tuple[str, ...] = ("zoom", "corner", "cut", "tiles", "blank", "blob", "scribble", "crossed")


def _resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    return np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.BILINEAR))


def _hwc(image: np.ndarray) -> np.ndarray:
    return image[..., None] if image.ndim == 2 else image


def _like(out: np.ndarray, image: np.ndarray) -> np.ndarray:
    """``out`` (``[H, W, C]``) as uint8 (rounded and clipped) in ``image``'s layout: :func:`_hwc`
    undone."""
    if out.dtype != np.uint8:
        out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out if image.ndim == 3 else out[..., 0]


def _blank(image: np.ndarray, mask: np.ndarray, bg: np.ndarray, rng: np.random.Generator):
    img = _hwc(image).astype(np.float32)
    wide = ndimage.binary_dilation(mask, iterations=2) if mask.any() else mask
    noise = rng.normal(0.0, 2.0, (int(wide.sum()), img.shape[2]))
    img[wide] = bg + noise
    return _like(img, image)


def _cut(image: np.ndarray, mask: np.ndarray, bg: np.ndarray, rng: np.random.Generator):
    """The foreground enlarged and pushed past the page edge on the blank page: on each axis
    pushed, only a 15-60% slice of the enlarged glyph's box stays on the page."""
    h, w = image.shape[:2]
    ys, xs = np.nonzero(mask)
    centre = np.array([(ys.min() + ys.max()) / 2, (xs.min() + xs.max()) / 2])
    extent = np.array([ys.max() + 1 - ys.min(), xs.max() + 1 - xs.min()], dtype=np.float64)
    page = _hwc(_blank(image, mask, bg, rng)).astype(np.float32)
    img = _hwc(image).astype(np.float32)
    for _ in range(4):
        scale = rng.uniform(1.2, 2.5)
        span = extent * scale
        pushed = rng.random(2) < 0.6
        if not pushed.any():
            pushed[rng.integers(2)] = True
        target = np.empty(2)
        for a, size in enumerate((h, w)):
            keep = rng.uniform(0.15, 0.6) * span[a]
            if not pushed[a]:
                target[a] = size / 2 + rng.normal(0, 0.05) * size
            elif rng.random() < 0.5:
                target[a] = keep - span[a] / 2
            else:
                target[a] = size - keep + span[a] / 2
        # output pixel o shows input pixel centre + (o - target) / scale
        offset = centre - target / scale
        alpha = ndimage.affine_transform(
            mask.astype(np.float32), np.full(2, 1 / scale), offset, order=1, cval=0.0
        )
        if (alpha > 0.5).sum() >= 4:
            break
    else:
        return _blank(image, mask, bg, rng)
    ink = np.stack(
        [
            ndimage.affine_transform(img[..., c], np.full(2, 1 / scale), offset, order=1)
            for c in range(img.shape[2])
        ],
        axis=-1,
    )
    return _like(alpha[..., None] * ink + (1 - alpha[..., None]) * page, image)


def synthetic_junk(image: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """``image`` (uint8 ``[H, W]`` or ``[H, W, C]``) made into junk of ``kind`` (:data:`KINDS`),
    same shape and dtype.

    >>> synthetic_junk(np.full((32, 32), 255, np.uint8), "blob", rng).shape  # doctest: +SKIP
    (32, 32)
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    h, w = image.shape[:2]
    mask, bg = foreground_mask(image)
    if mask.sum() < 4 or kind == "blank":
        return _blank(image, mask, bg, rng)
    img = _hwc(image)
    ink = np.median(img[mask].astype(np.float32), axis=0)
    ink_u8 = np.clip(np.rint(ink), 0, 255).astype(np.uint8)
    ys, xs = np.nonzero(mask)
    if kind == "zoom":
        side = max(4, int(min(h, w) / rng.uniform(2.0, 4.0)))
        k = int(rng.integers(len(ys)))
        y0 = int(np.clip(ys[k] - rng.integers(0, side), 0, h - side))
        x0 = int(np.clip(xs[k] - rng.integers(0, side), 0, w - side))
        return _resize(image[y0 : y0 + side, x0 : x0 + side], (h, w))
    if kind == "corner":
        box = max(ys.max() + 1 - ys.min(), xs.max() + 1 - xs.min())
        side = int(np.clip(box / rng.uniform(1.3, 2.5), 4, min(h, w)))
        # centred near the ink closest to a corner of the box, so the window holds ink
        corner = rng.choice([ys.min(), ys.max() + 1]), rng.choice([xs.min(), xs.max() + 1])
        k = int(np.argmin((ys - corner[0]) ** 2 + (xs - corner[1]) ** 2))
        cy = ys[k] + rng.uniform(-0.2, 0.2) * side
        cx = xs[k] + rng.uniform(-0.2, 0.2) * side
        y0 = int(np.clip(cy - side / 2, 0, h - side))
        x0 = int(np.clip(cx - side / 2, 0, w - side))
        return _resize(image[y0 : y0 + side, x0 : x0 + side], (h, w))
    if kind == "cut":
        return _cut(image, mask, bg, rng)
    if kind == "tiles":
        g = int(rng.choice([3, 4]))
        s = min(h, w) // g
        out = image.copy()
        if s < 2:
            return _blank(image, mask, bg, rng)
        tiles = [
            image[i * s : (i + 1) * s, j * s : (j + 1) * s] for i in range(g) for j in range(g)
        ]
        for k, t in enumerate(rng.permutation(len(tiles))):
            i, j = divmod(k, g)
            out[i * s : (i + 1) * s, j * s : (j + 1) * s] = np.rot90(tiles[t], int(rng.integers(4)))
        return out
    if kind == "blob":
        soft = ndimage.gaussian_filter(mask.astype(np.float32), rng.uniform(0.04, 0.09) * min(h, w))
        blot = soft > rng.uniform(0.15, 0.35) * soft.max()
        out = img.copy()
        out[blot] = ink_u8
        return _like(out, image)
    if kind == "crossed":  # its own ink again, turned and laid across itself
        turned = ndimage.rotate(
            mask.astype(np.float32), rng.uniform(30, 150), reshape=False, order=1
        )
        out = img.copy()
        out[turned > 0.5] = ink_u8
        return _like(out, image)
    # scribble: a wobbly random polyline in the ink's colour and stroke width on the erased page
    width = max(1, round(2.6 * float(ndimage.distance_transform_edt(mask)[mask].mean())))
    page = Image.fromarray(_blank(image, mask, bg, rng))
    corners = rng.uniform(0.1, 0.9, (int(rng.integers(3, 15)), 2)) * (w, h)
    points = [corners[0]]
    for a, b in zip(corners[:-1], corners[1:], strict=True):
        normal = np.array([a[1] - b[1], b[0] - a[0]])
        for t in np.linspace(0, 1, 5)[1:]:
            points.append(a + t * (b - a) + (rng.normal(0, 0.06) if t < 1 else 0) * normal)
    line = [(float(x), float(y)) for x, y in points]
    fill = int(ink_u8[0]) if img.shape[2] == 1 else tuple(int(v) for v in ink_u8)
    ImageDraw.Draw(page).line(line, fill=fill, width=width, joint="curve")
    return np.asarray(page)
