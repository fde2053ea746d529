"""Decode images once into small grayscale arrays, cached on disk by content hash.

Every image becomes a ``size x size`` uint8 grayscale array: PIL decode -> ``convert("L")`` ->
bilinear resize of the whole image (aspect ratio not kept, like Keras'
``image_dataset_from_directory(image_size=(32, 32))``; Pillow's resize filters over the source
pixels it reduces, where ``tf.image.resize`` samples without antialiasing). The networks repeat the
gray channel when they need RGB.

The cache holds one file per image, ``<cache_dir>/gray<size>/<sha[:2]>/<sha256>.u8`` with the raw
``size*size`` bytes, so dataset versions that share images share their cache entries.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes (the image's content address)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def decode_image(path: str | os.PathLike[str], size: int = 32) -> np.ndarray:
    """Read one image file as a ``size x size`` uint8 grayscale array.

    >>> decode_image("digit.png").shape  # doctest: +SKIP
    (32, 32)
    """
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L").resize((size, size), Image.BILINEAR), dtype=np.uint8)
    except (OSError, ValueError) as exc:  # PIL raises OSError subclasses for broken files
        raise ValueError(f"cannot read image {path}: {exc}") from exc


def _cache_file(cache_dir: Path, sha: str, size: int) -> Path:
    return cache_dir / f"gray{size}" / sha[:2] / f"{sha}.u8"


def _write_atomic(path: Path, data: bytes) -> None:
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
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Decode ``paths`` into a uint8 array ``[N, size, size]``, using and filling the cache.

    ``sha256s`` (hex digests, e.g. the manifest's ``sha256`` column) name the cache entries; missing
    ones are computed from the files. Without ``cache_dir`` every image is decoded. Decoding runs on
    a few threads (Pillow releases the GIL while it decodes and resizes). ``out`` (e.g. a slice of
    a memory-mapped file, see :mod:`model.store`) receives the images instead of a new array.
    """
    n = len(paths)
    if out is None:
        out = np.empty((n, size, size), dtype=np.uint8)
    elif out.shape != (n, size, size) or out.dtype != np.uint8:
        raise ValueError(f"out must be uint8 {(n, size, size)}, got {out.dtype} {out.shape}")
    cache = Path(cache_dir) if cache_dir is not None else None
    shas = list(sha256s) if sha256s is not None else [None] * n
    if len(shas) != n:
        raise ValueError(f"got {n} paths but {len(shas)} sha256 values")

    def one(i: int) -> None:
        path = paths[i]
        if cache is None:
            out[i] = decode_image(path, size)
            return
        sha = shas[i] if isinstance(shas[i], str) and len(shas[i]) == 64 else file_sha256(path)
        entry = _cache_file(cache, sha, size)
        try:
            raw = entry.read_bytes()
        except FileNotFoundError:
            raw = b""
        if len(raw) == size * size:
            out[i] = np.frombuffer(raw, dtype=np.uint8).reshape(size, size)
            return
        out[i] = decode_image(path, size)
        _write_atomic(entry, out[i].tobytes())

    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # list() re-raises the first worker error here
        list(pool.map(one, range(n)))
    return out
