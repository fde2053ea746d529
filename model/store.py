"""The decoded images of one run as one memory-mapped uint8 file, read a batch at a time.

A run's images are decoded once (through the per-image cache of :mod:`model.data`) into
``<cache_dir>/stack<size>/<key>.u8``, the raw uint8 array ``[N, size, size]`` (gray) or
``[N, 3, size, size]`` (RGB), where ``key`` is the SHA-256 of the images' content hashes in order,
the size, the channels and the fitting. Training, out-of-fold prediction
and embedding read rows from it by index (:meth:`ImageStore.rows`), so a process holds the batch
it works on, never the whole data set; the operating system's page cache keeps the hot part of the
file in memory when there is room.

A :class:`StoreSpec` names the file and how to rebuild it, so a worker on another machine opens
the same file when the cache folder is shared, and rebuilds it from the image paths when not.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.data import file_sha256, load_images

#: images decoded per slice while the file is written (bounds the decoder's memory)
BUILD_CHUNK = 4096


class ImageStore:
    """Rows of a uint8 ``[N, H, W]`` or ``[N, C, H, W]`` array, memory-mapped or in memory."""

    def __init__(self, array: np.ndarray, path: Path | None = None) -> None:
        if array.ndim not in (3, 4) or array.dtype != np.uint8:
            raise ValueError(
                f"an image store holds uint8 [N, H, W] or [N, C, H, W], got {array.dtype} "
                f"{array.shape}"
            )
        self.array = array
        self.path = path

    @classmethod
    def open(cls, path: str | os.PathLike[str], n: int, size: int, channels: int = 1) -> ImageStore:
        """Map an existing store file read-only."""
        path = Path(path)
        shape = (n, *image_shape(size, channels))
        if n == 0:
            return cls(np.zeros(shape, dtype=np.uint8), path)
        return cls(np.memmap(path, dtype=np.uint8, mode="r", shape=shape), path)

    def __len__(self) -> int:
        return len(self.array)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    def rows(self, idx: np.ndarray) -> np.ndarray:
        """The images at ``idx`` (any shape of indices -> ``idx.shape + one image's shape``)."""
        idx = np.asarray(idx, dtype=np.int64)
        # reading in file order touches each page once; the result keeps the caller's order
        flat = idx.ravel()
        order = np.argsort(flat, kind="stable")
        out = np.empty((len(flat), *self.array.shape[1:]), dtype=np.uint8)
        out[order] = self.array[flat[order]]
        return out.reshape(*idx.shape, *self.array.shape[1:])


def image_shape(size: int, channels: int = 1) -> tuple[int, ...]:
    """One stored image's shape: ``(size, size)`` gray, ``(channels, size, size)`` otherwise."""
    return (size, size) if channels == 1 else (channels, size, size)


def content_key(shas: Sequence[str], size: int, channels: int = 1, fit: str = "stretch") -> str:
    """The store's name: SHA-256 over the ordered content hashes, size, channels and fitting."""
    # the gray stretched key is unchanged, so stores written before channels existed stay valid
    head = ("gray" if channels == 1 else f"c{channels}-") + str(size)
    if fit != "stretch":
        head += f"-{fit}"
    digest = hashlib.sha256(f"{head}\n".encode())
    for sha in shas:
        digest.update(sha.encode())
        digest.update(b"\n")
    return digest.hexdigest()


@dataclass(frozen=True)
class StoreSpec:
    """Where a run's store lives and what it holds (picklable: sent to remote workers)."""

    path: str
    n: int
    size: int
    paths: tuple[str, ...]
    shas: tuple[str, ...]
    cache_dir: str | None
    channels: int = 1
    fit: str = "stretch"

    def open(self) -> ImageStore:
        """The store, rebuilt here from the image files when this machine lacks it."""
        path = Path(self.path)
        if not _complete(path, self.n, self.size, self.channels):
            cache = self.cache_dir if self.cache_dir and Path(self.cache_dir).is_dir() else None
            if cache is None:
                path = Path(tempfile.mkdtemp(prefix="model-store-")) / path.name
            _write(path, self.paths, self.shas, cache, self.size, self.channels, self.fit)
        return ImageStore.open(path, self.n, self.size, self.channels)


def _complete(path: Path, n: int, size: int, channels: int = 1) -> bool:
    try:
        return path.stat().st_size == n * size * size * channels
    except FileNotFoundError:
        return False


def _write(
    path: Path,
    paths: Sequence[str],
    shas: Sequence[str],
    cache: str | None,
    size: int,
    channels: int = 1,
    fit: str = "stretch",
) -> None:
    """Decode into a temporary file slice by slice, then rename it into place (atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(paths)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        if n:
            shape = (n, *image_shape(size, channels))
            out = np.memmap(tmp, dtype=np.uint8, mode="w+", shape=shape)
            for start in range(0, n, BUILD_CHUNK):
                end = min(start + BUILD_CHUNK, n)
                load_images(
                    paths[start:end],
                    shas[start:end],
                    cache_dir=cache,
                    size=size,
                    channels=channels,
                    fit=fit,
                    out=out[start:end],
                )
            out.flush()
            del out
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_store(
    paths: Sequence[str],
    shas: Sequence[str | None] | None,
    *,
    cache_dir: str | os.PathLike[str] | None,
    size: int,
    channels: int = 1,
    fit: str = "stretch",
    scratch: str | os.PathLike[str] | None = None,
) -> StoreSpec:
    """Write (once) and describe the store of ``paths``; missing hashes are computed.

    With ``cache_dir`` the store lives in ``<cache_dir>/stack<size>/`` and later runs over the
    same images reuse it; without it, in ``scratch`` (a folder the caller removes).
    """
    paths = [str(p) for p in paths]
    given = list(shas) if shas is not None else [None] * len(paths)
    if len(given) != len(paths):
        raise ValueError(f"got {len(paths)} paths but {len(given)} sha256 values")
    hashes = [
        s if isinstance(s, str) and len(s) == 64 else file_sha256(p)
        for s, p in zip(given, paths, strict=True)
    ]
    key = content_key(hashes, size, channels, fit)
    if cache_dir is not None:
        folder = Path(cache_dir) / f"stack{size}"
    elif scratch is not None:
        folder = Path(scratch)
    else:
        raise ValueError("build_store needs a cache_dir or a scratch folder")
    path = folder / f"{key}.u8"
    if not _complete(path, len(paths), size, channels):
        cache = str(cache_dir) if cache_dir else None
        _write(path, paths, hashes, cache, size, channels, fit)
    return StoreSpec(
        path=str(path),
        n=len(paths),
        size=size,
        paths=tuple(paths),
        shas=tuple(hashes),
        cache_dir=str(cache_dir) if cache_dir is not None else None,
        channels=channels,
        fit=fit,
    )
