"""Shared fixtures: small real image datasets and workspaces on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from PIL import Image, ImageDraw

from sheets_bridge import loop

# Property tests must not depend on how busy the machine is: no per-example deadline, no
# "too slow" health check (a loaded 2-core CI machine tripped it once).
settings.register_profile(
    "bridge", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.load_profile("bridge")

CLASSES = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x")


def draw_numeral(label: str, rng: np.random.Generator, size: int = 48) -> Image.Image:
    """A crude but real drawing of a Roman numeral: strokes for I, V and X."""
    im = Image.new("L", (size, size), 255)
    d = ImageDraw.Draw(im)
    glyphs = label.upper()
    w = size / (len(glyphs) + 1)
    for k, g in enumerate(glyphs):
        x0 = w * (k + 0.5) + rng.uniform(-2, 2)
        x1, top, bottom = (
            x0 + w * 0.8,
            size * 0.2 + rng.uniform(-2, 2),
            size * 0.8 + rng.uniform(-2, 2),
        )
        mid = (x0 + x1) / 2
        if g == "I":
            d.line([(mid, top), (mid, bottom)], fill=0, width=3)
        elif g == "V":
            d.line([(x0, top), (mid, bottom), (x1, top)], fill=0, width=3)
        else:
            d.line([(x0, top), (x1, bottom)], fill=0, width=3)
            d.line([(x1, top), (x0, bottom)], fill=0, width=3)
    return im


def make_image_folder(
    root: Path, per_class: dict[str, int], classes=CLASSES[:4], seed: int = 0
) -> Path:
    """``<root>/<split>/<label>/<split>-<label>-<n>.png`` with ``per_class[split]`` images each."""
    rng = np.random.default_rng(seed)
    for split, n in per_class.items():
        for c in classes:
            folder = root / split / c
            folder.mkdir(parents=True, exist_ok=True)
            for k in range(n):
                draw_numeral(c, rng).save(folder / f"{split}-{c}-{k:03d}.png")
    return root


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    return make_image_folder(tmp_path / "data", {"train": 6, "val": 3, "label_book": 1})


@pytest.fixture
def workspace(image_folder: Path, tmp_path: Path):
    return loop.init(image_folder, tmp_path / "ws")
