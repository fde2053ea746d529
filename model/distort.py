"""Pixel distortions for augmentation: what hand-writing varies in (stroke width, slant, scale,
position, elastic wobble, perspective, paper background, crop and pad, ink contrast), on one
grayscale image at a time, as a registry of named ops (:data:`OPS`) so that any subset can be used
(ablations: ``distort(img, seed, ops=["slant", "elastic"])``).

Torch and torchvision load inside the functions; importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Longest side of an augmented image. The model reads 32x32; 128 leaves room for its resizing and
#: keeps the image legible in the sheet, and the distortions run in about a millisecond at this size.
MAX_SIDE = 128


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread: a 128 px image is far too small to split, and on a busy machine
    every multi-threaded op waits for its threads (measured 10 ms instead of 0.02 ms per op)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def load_gray(path: str | Path):
    """A grayscale float tensor (1, H, W) in [0, 1], longest side at most MAX_SIDE."""
    import torch
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("L")
        if max(im.size) > MAX_SIDE:
            scale = MAX_SIDE / max(im.size)
            size = (max(8, round(im.width * scale)), max(8, round(im.height * scale)))
            im = im.resize(size, Image.Resampling.LANCZOS)
        arr = np.asarray(im, dtype=np.float32) / 255.0
    return torch.from_numpy(arr.copy())[None]


def _stroke(ink, thicker: bool):
    """Thicker or thinner strokes: a 3x3 max or min filter on the ink (1 = ink, 0 = paper)."""
    import torch.nn.functional as F

    x = ink[None]
    x = F.max_pool2d(x, 3, 1, 1) if thicker else -F.max_pool2d(-x, 3, 1, 1)
    return x[0]


def _elastic(img, fill: float, grid: int = 4, pixels: float = 3.0):
    """An elastic warp: a coarse random displacement field, smoothly upsampled.

    torchvision's ``ElasticTransform`` blurs a full-size noise field with a large Gaussian kernel
    (about 50 ms per 128 px image on a CPU); a ``grid`` x ``grid`` field upsampled bicubically gives
    the same kind of smooth warp for a fraction of that. ``pixels`` is the typical displacement.
    """
    import torch
    import torch.nn.functional as F
    from torchvision.transforms.v2 import functional as TF

    h, w = img.shape[-2:]
    coarse = torch.randn(1, 2, grid, grid) * pixels
    field = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)[0]
    # elastic() takes the displacement in normalised coordinates ([-1, 1] spans the image)
    disp = torch.stack((field[0] * 2 / w, field[1] * 2 / h), dim=-1)[None]
    return TF.elastic(img, disp, fill=[fill])


# -- the ops -----------------------------------------------------------------------------------
# Each op takes the ink image (1 = ink, 0 = paper; geometry runs on ink so that the fill at the
# borders is exact, see distort) or the final picture (light paper), and returns it changed, or
# None when it chose not to act (a thin stroke that would vanish). Random numbers come from torch's
# default generator, which distort() seeds: the same seed and ops give the same bytes.


def _u(lo: float, hi: float) -> float:
    import torch

    return lo + (hi - lo) * float(torch.rand(()))


def _op_stroke(ink, fill: float):
    if float(_u(0, 1)) < 0.5:
        return _stroke(ink, True)
    thin = _stroke(ink, False)
    # a thin stroke would vanish: only thin when most of the ink survives
    return thin if (thin > 0.5).sum() >= 0.6 * (ink > 0.5).sum() else None


def _affine(ink, fill: float, **kw):
    from torchvision.transforms.v2 import functional as TF

    args = {"angle": 0.0, "translate": [0, 0], "scale": 1.0, "shear": [0.0, 0.0]} | kw
    return TF.affine(ink, **args, interpolation=TF.InterpolationMode.BILINEAR, fill=[fill])


def _op_slant(ink, fill: float):
    # hand-writing leans up to about 12 degrees either way; a page is rarely rotated more than 8
    return _affine(ink, fill, angle=_u(-8, 8), shear=[_u(-12, 12), _u(-3, 3)])


def _op_scale(ink, fill: float):
    # numerals fill 85-110% of their box in the data; smaller loses strokes at 32 px
    return _affine(ink, fill, scale=_u(0.85, 1.1))


def _op_shift(ink, fill: float):
    h, w = ink.shape[-2:]
    return _affine(ink, fill, translate=[round(_u(-0.06, 0.06) * w), round(_u(-0.06, 0.06) * h)])


def _op_perspective(ink, fill: float):
    from torchvision.transforms import v2

    # a photographed page: corners move up to a fifth of the side
    return v2.RandomPerspective(distortion_scale=0.2, p=1.0, fill=fill)(ink)


def _op_elastic(ink, fill: float):
    return _elastic(ink, fill, pixels=_u(1.5, 3.5))


def _op_crop(ink, fill: float):
    """Crop (up to 20% of the area) or pad (up to 15% each side), then back to the same size."""
    import torch.nn.functional as F
    from torchvision.transforms import v2
    from torchvision.transforms.v2 import functional as TF

    h, w = ink.shape[-2:]
    if _u(0, 1) < 0.5:
        return v2.RandomResizedCrop(
            (h, w), scale=(0.8, 1.0), ratio=(0.9 * w / h, 1.1 * w / h), antialias=True
        )(ink)
    pads = [round(_u(0, 0.15) * s) for s in (w, w, h, h)]  # left, right, top, bottom
    padded = F.pad(ink[None], pads, value=fill)[0]
    return TF.resize(padded, [h, w], antialias=True)


def _op_contrast(img, fill: float):
    """Ink contrast: faint pencil to heavy marker (darkness of the ink relative to the paper)."""
    paper = float(img.median())
    return paper + (img - paper) * _u(0.5, 1.25)


def _op_background(img, fill: float):
    """Paper: a smooth texture, a shadow across the page, or sensor noise (one of the three)."""
    import torch
    import torch.nn.functional as F

    h, w = img.shape[-2:]
    kind = _u(0, 3)
    if kind < 1:  # paper texture: coarse noise, smoothly upsampled
        coarse = torch.randn(1, 1, 6, 6) * _u(0.02, 0.06)
        return img + F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)[0]
    if kind < 2:  # a shadow: darker towards one side, up to 35% darker at the edge
        angle = _u(0, 6.2832)
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
        ramp = (xs * torch.cos(torch.tensor(angle)) + ys * torch.sin(torch.tensor(angle)) + 1) / 2
        return img * (1 - _u(0.1, 0.35) * ramp.clamp(0, 1))[None]
    return img + _u(0.02, 0.07) * torch.randn(img.shape)


@dataclass(frozen=True)
class Op:
    """One named distortion: ``stage`` "ink" (geometry, on the ink) or "paper" (on the picture),
    applied with probability ``p`` when it is among the chosen ops."""

    name: str
    stage: str
    p: float
    fn: Callable
    help: str


#: The registry, in the order the ops apply. ``p`` is chosen so that a copy gets about three ops:
#: enough to differ from its parent, few enough to stay legible.
OPS: dict[str, Op] = {
    o.name: o
    for o in (
        Op("stroke", "ink", 0.5, _op_stroke, "thicker or thinner strokes (3x3 max/min filter)"),
        Op("slant", "ink", 0.7, _op_slant, "rotation +-8 deg, slant (shear) +-12 deg"),
        Op("scale", "ink", 0.5, _op_scale, "scale 0.85-1.1"),
        Op("shift", "ink", 0.5, _op_shift, "position +-6% of the side"),
        Op("perspective", "ink", 0.3, _op_perspective, "perspective, corners move up to 20%"),
        Op("elastic", "ink", 0.3, _op_elastic, "elastic wobble, 1.5-3.5 px"),
        Op("crop", "ink", 0.3, _op_crop, "crop to 80% of the area, or pad up to 15%"),
        Op("contrast", "paper", 0.3, _op_contrast, "ink contrast x0.5-1.25"),
        Op("background", "paper", 0.4, _op_background, "paper texture, shadow, or noise"),
    )
}


def check_ops(ops: Sequence[str] | None) -> tuple[str, ...]:
    """The registry's ops in order (all when ``ops`` is None); an unknown name is a ValueError."""
    if ops is None:
        return tuple(OPS)
    unknown = [o for o in ops if o not in OPS]
    if unknown:
        raise ValueError(
            f"unknown augmentation op(s) {', '.join(unknown)}; known: {', '.join(OPS)}"
        )
    return tuple(o for o in OPS if o in set(ops))


def distort(img, seed: int, ops: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """One random distortion of ``img`` (float tensor (1, H, W) in [0, 1], light paper), seeded.

    ``ops`` picks a subset of :data:`OPS` (default: all), for ablations. Each chosen op applies
    with its probability; when none did, the first chosen op applies, so a copy always differs.
    Returns the new image (uint8 array H x W) and the names of the ops applied.

    >>> arr, applied = distort(load_gray("7.png"), seed=3, ops=["slant", "background"])  # doctest: +SKIP
    """
    import torch

    chosen = check_ops(ops)
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)  # CPU only: seeding CUDA costs a stack trace
        draws = torch.rand(len(chosen)).tolist()
        run = [n for n, r in zip(chosen, draws, strict=True) if r < OPS[n].p] or list(chosen[:1])
        applied: list[str] = []
        # The geometry runs on the ink (1 - image) with the paper's ink level as fill: torchvision
        # blends the fill at the borders in a way that is only exact for a fill near 0, and a
        # white fill on the image itself draws a faint frame around the warped picture.
        ink = 1.0 - img
        paper = float(ink.median())
        for name in (n for n in run if OPS[n].stage == "ink"):
            got = OPS[name].fn(ink, paper)
            if got is not None:
                ink, applied = got, [*applied, name]
        out = 1.0 - ink
        for name in (n for n in run if OPS[n].stage == "paper"):
            out, applied = OPS[name].fn(out, 1.0 - paper), [*applied, name]
        arr = np.rint(out[0].clamp(0, 1).numpy() * 255.0).astype(np.uint8)
    return arr, applied
