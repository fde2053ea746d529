"""Decode images once into small uint8 arrays, cached on disk by content hash.

The preset decides the input: its size, its channels (1: gray, 3: RGB) and how an image of any
size and aspect ratio is fitted (``stretch`` or ``pad``, see :data:`FITS`). The default, which the
``fast`` and ``dcai`` presets use, is a ``size x size`` gray array: PIL decode ->
``convert("L")`` -> bilinear resize of the whole image (aspect ratio not kept, like Keras'
``image_dataset_from_directory(image_size=(32, 32))``; Pillow's resize filters over the source
pixels it reduces, where ``tf.image.resize`` samples without antialiasing). Before that, every
image has its EXIF orientation applied and deep, palette and transparent images made plain 8-bit
(see :func:`decode_image`).

The cache holds one file per image, ``<cache_dir>/<kind>/<sha[:2]>/<sha256>.u8`` with the raw
bytes (``kind`` is e.g. ``gray32`` or ``rgb224-pad``), so dataset versions that share images share
their cache entries.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes (the image's content address)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


#: how an image is fitted to the preset's square input: ``stretch`` resizes the whole image to
#: ``size x size`` (aspect ratio not kept, like Keras' ``image_dataset_from_directory``); ``pad``
#: scales it so that its longer side is ``size`` (aspect ratio kept) and centres it on a square of
#: :data:`PAD_VALUE`, so nothing of the image is cut off.
FITS = ("stretch", "pad")
#: the padding colour of ``fit="pad"``: mid-gray, which every common normalisation maps near zero
PAD_VALUE = 128
#: where transparent pixels are, the image shows white (documents and product shots sit on white)
BACKGROUND = (255, 255, 255)

# Pillow announces an oversized image with a warning (and refuses one twice that size); the
# warning becomes an error only inside this lock, as warning filters are process-wide.
_OPEN_LOCK = threading.Lock()


def _open(path: str | os.PathLike[str]) -> Image.Image:
    with _OPEN_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(path)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise ValueError(
                f"image {path} is too large to decode safely ({exc}); shrink the file or raise "
                "PIL.Image.MAX_IMAGE_PIXELS if you trust it"
            ) from None


def _to_8bit(im: Image.Image) -> Image.Image:
    """Deep images (16/32-bit integer, float) as 8-bit gray, scaled by their value range.

    Integer images are divided by their type's full range (65535 for 16-bit; a 32-bit ``I``
    image holds 16-bit data when Pillow opens a 16-bit PNG/TIFF, so it is scaled as 16-bit unless
    its values exceed that); float images in 0..1 are multiplied by 255, other float ranges are
    stretched from their minimum to their maximum.
    """
    arr = np.asarray(im)
    if im.mode == "F":
        arr = arr.astype(np.float64)
        finite = arr[np.isfinite(arr)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        arr = np.nan_to_num(arr, nan=lo, posinf=hi, neginf=lo)
        if lo >= 0.0 and hi <= 1.0:
            scaled = arr * 255.0
        else:
            scaled = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
    else:
        arr = arr.astype(np.float64)
        top = 65535.0 if arr.max(initial=0) <= 65535 else float(np.iinfo(np.int32).max)
        scaled = np.clip(arr, 0, None) * (255.0 / top)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")


def _normalise_mode(im: Image.Image) -> Image.Image:
    """Any Pillow mode -> ``L`` or ``RGB`` (alpha composited over :data:`BACKGROUND`)."""
    if im.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        return _to_8bit(im)
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode in ("LA", "La", "PA", "RGBa"):
        im = im.convert("RGBA")
    if im.mode == "RGBA":
        canvas = Image.new("RGB", im.size, BACKGROUND)
        canvas.paste(im, mask=im.getchannel("A"))
        return canvas
    if im.mode in ("L", "RGB"):
        return im
    return im.convert("L" if im.mode == "1" else "RGB")  # 1, CMYK, YCbCr, LAB, HSV


def decode_image(
    path: str | os.PathLike[str], size: int = 32, *, channels: int = 1, fit: str = "stretch"
) -> np.ndarray:
    """Read one image file as uint8: ``[size, size]`` for ``channels=1``, else ``[3, size, size]``.

    The steps, in order: EXIF orientation applied; deep (16-bit, 32-bit, float) images scaled to
    8 bits by their value range (see :func:`_to_8bit`); palettes expanded; transparency
    composited over white; then gray (``channels=1``, ITU-R 601 luma) or RGB (``channels=3``, a
    gray image repeated); then fitted to ``size x size`` by ``fit`` (see :data:`FITS`) with
    bilinear filtering over the source pixels.

    >>> decode_image("digit.png").shape  # doctest: +SKIP
    (32, 32)
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    try:
        with _open(path) as im:
            im = ImageOps.exif_transpose(im) or im
            im = _normalise_mode(im)
            im = im.convert("L" if channels == 1 else "RGB")
            if fit == "stretch":
                im = im.resize((size, size), Image.BILINEAR)
            else:
                w, h = im.size
                scale = size / max(w, h)
                new = (max(1, round(w * scale)), max(1, round(h * scale)))
                fill = PAD_VALUE if channels == 1 else (PAD_VALUE,) * 3
                canvas = Image.new(im.mode, (size, size), fill)
                canvas.paste(
                    im.resize(new, Image.BILINEAR), ((size - new[0]) // 2, (size - new[1]) // 2)
                )
                im = canvas
            arr = np.asarray(im, dtype=np.uint8)
    except (
        OSError,
        ValueError,
        SyntaxError,
    ) as exc:  # PIL raises OSError subclasses for broken files
        if isinstance(exc, ValueError) and str(exc).startswith("image "):
            raise
        raise ValueError(f"cannot read image {path}: {exc}") from exc
    return arr if channels == 1 else np.ascontiguousarray(arr.transpose(2, 0, 1))


def _cache_file(
    cache_dir: Path, sha: str, size: int, channels: int = 1, fit: str = "stretch"
) -> Path:
    # the original gray stretch layout keeps its folder name, so existing caches stay valid
    kind = (
        ("gray" if channels == 1 else "rgb") + str(size) + ("" if fit == "stretch" else f"-{fit}")
    )
    return cache_dir / kind / sha[:2] / f"{sha}.u8"


def write_atomic(path: Path, data: bytes) -> None:
    # Several runs may share one cache: write aside, then rename into place.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_images(
    paths: Sequence[str | os.PathLike[str]],
    sha256s: Sequence[str | None] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    size: int = 32,
    workers: int | None = None,
    channels: int = 1,
    fit: str = "stretch",
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Decode ``paths`` into uint8 ``[N, size, size]`` (``[N, 3, size, size]`` for RGB), cached.

    ``sha256s`` (hex digests, e.g. the manifest's ``sha256`` column) name the cache entries; missing
    ones are computed from the files. Without ``cache_dir`` every image is decoded. Decoding runs on
    a few threads (Pillow releases the GIL while it decodes and resizes). ``out`` (e.g. a slice of
    a memory-mapped file, see :mod:`model.store`) receives the images instead of a new array.
    """
    n = len(paths)
    shape = (size, size) if channels == 1 else (channels, size, size)
    if out is None:
        out = np.empty((n, *shape), dtype=np.uint8)
    elif out.shape != (n, *shape) or out.dtype != np.uint8:
        raise ValueError(f"out must be uint8 {(n, *shape)}, got {out.dtype} {out.shape}")
    cache = Path(cache_dir) if cache_dir is not None else None
    shas = list(sha256s) if sha256s is not None else [None] * n
    if len(shas) != n:
        raise ValueError(f"got {n} paths but {len(shas)} sha256 values")

    def one(i: int) -> None:
        path = paths[i]
        if cache is None:
            out[i] = decode_image(path, size, channels=channels, fit=fit)
            return
        sha = shas[i] if isinstance(shas[i], str) and len(shas[i]) == 64 else file_sha256(path)
        entry = _cache_file(cache, sha, size, channels, fit)
        try:
            raw = entry.read_bytes()
        except FileNotFoundError:
            raw = b""
        if len(raw) == out[i].size:
            out[i] = np.frombuffer(raw, dtype=np.uint8).reshape(shape)
            return
        out[i] = decode_image(path, size, channels=channels, fit=fit)
        write_atomic(entry, out[i].tobytes())

    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # list() re-raises the first worker error here
        list(pool.map(one, range(n)))
    return out
