"""Pixel distortions for augmentation: what hand-writing varies in (stroke width, slant, scale,
position, elastic wobble, contrast, noise), on one grayscale image at a time.

Torch and torchvision load inside the functions; importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


def distort(img, seed: int) -> tuple[np.ndarray, list[str]]:
    """One random distortion of ``img`` (float tensor (1, H, W) in [0, 1], light paper), seeded.

    Returns the new image (uint8 array H x W) and the names of the operations applied.
    """
    import torch
    from torchvision.transforms import v2

    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)  # CPU only: seeding CUDA costs a stack trace
        ops: list[str] = []
        r = torch.rand(6).tolist()
        h, w = img.shape[-2:]
        # The geometry runs on the ink (1 - image) with the paper's ink level as fill: torchvision
        # blends the fill at the borders in a way that is only exact for a fill near 0, and a
        # white fill on the image itself draws a faint frame around the warped picture.
        ink = 1.0 - img
        paper = float(ink.median())
        if r[0] < 0.25:
            ink = _stroke(ink, True)
            ops.append("thicker strokes")
        elif r[0] < 0.5:
            thin = _stroke(ink, False)
            # a thin stroke would vanish: only thin when most of the ink survives
            if (thin > 0.5).sum() >= 0.6 * (ink > 0.5).sum():
                ink = thin
                ops.append("thinner strokes")
        ink = v2.RandomAffine(
            degrees=10,
            translate=(0.05, 0.05),
            scale=(0.88, 1.08),
            shear=(-8, 8, -4, 4),
            interpolation=v2.InterpolationMode.BILINEAR,
            fill=paper,
        )(ink)
        ops.append("affine")
        if r[1] < 0.35:
            ink = v2.RandomPerspective(distortion_scale=0.2, p=1.0, fill=paper)(ink)
            ops.append("perspective")
        if r[2] < 0.35:
            ink = _elastic(ink, paper)
            ops.append("elastic")
        if r[3] < 0.3:
            ink = v2.RandomResizedCrop(
                (h, w), scale=(0.8, 1.0), ratio=(0.9 * w / h, 1.1 * w / h), antialias=True
            )(ink)
            ops.append("crop")
        out = 1.0 - ink
        if r[4] < 0.5:
            sigma = 0.02 + 0.05 * r[5]
            out = out + sigma * torch.randn(out.shape)
            ops.append("noise")
        arr = np.rint(out[0].clamp(0, 1).numpy() * 255.0).astype(np.uint8)
    return arr, ops
