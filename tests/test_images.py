"""decode_image on real files of every kind: RGB, gray, odd sizes, EXIF, 16-bit, float, palette,
alpha, CMYK, oversized and broken files; load_images' cache for RGB input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from model.data import PAD_VALUE, decode_image, load_images


def _save(im: Image.Image, path, **kw):
    im.save(path, **kw)
    return path


def test_rgb_colours_survive_and_stretch_fills_the_square(tmp_path):
    arr = np.zeros((60, 120, 3), dtype=np.uint8)
    arr[:, :60] = (200, 20, 20)  # left half red
    arr[:, 60:] = (20, 20, 200)  # right half blue
    path = _save(Image.fromarray(arr), tmp_path / "wide.png")
    out = decode_image(path, 32, channels=3)
    assert out.shape == (3, 32, 32) and out.dtype == np.uint8
    assert tuple(out[:, 16, 2]) == (200, 20, 20)
    assert tuple(out[:, 16, 29]) == (20, 20, 200)
    gray = decode_image(path, 32)  # the default stays one gray channel
    assert gray.shape == (32, 32)
    assert abs(int(gray[16, 2]) - round(0.299 * 200 + 0.587 * 20 + 0.114 * 20)) <= 1


def test_pad_keeps_the_aspect_ratio_and_pads_with_mid_gray(tmp_path):
    path = _save(Image.new("RGB", (120, 60), (0, 200, 0)), tmp_path / "wide.png")
    out = decode_image(path, 32, channels=3, fit="pad")
    # 120x60 -> 32x16 centred: rows 0..7 and 24..31 are padding
    assert (out[:, :8] == PAD_VALUE).all() and (out[:, 24:] == PAD_VALUE).all()
    assert (out[:, 8:24] == np.array([0, 200, 0])[:, None, None]).all()
    tall = _save(Image.new("L", (10, 1000), 0), tmp_path / "tall.png")
    col = decode_image(tall, 64, fit="pad")
    assert (col[:, :31] == PAD_VALUE).all() and (col[:, 32:] == PAD_VALUE).all()
    assert (col[:, 31] == 0).all()  # 10 px wide at 1000 tall -> 1 px at 64 tall


def test_gray_image_as_rgb_is_three_equal_channels(tmp_path):
    grad = np.tile(np.arange(0, 256, 8, dtype=np.uint8), (32, 1))
    path = _save(Image.fromarray(grad, mode="L"), tmp_path / "g.png")
    out = decode_image(path, 32, channels=3)
    assert (out[0] == out[1]).all() and (out[1] == out[2]).all()
    assert (decode_image(path, 32) == grad).all()


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((20, 40), dtype=np.uint8)
    arr[:, :20] = 255  # left half white, landscape as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    path = _save(Image.fromarray(arr, mode="L"), tmp_path / "rot.jpg", exif=exif, quality=95)
    out = decode_image(path, 40, fit="pad")
    # displayed upright it is portrait (20 wide, 40 tall), white on top after the rotation
    assert (out[:, :9] == PAD_VALUE).all() and (out[:, 31:] == PAD_VALUE).all()
    assert out[5, 20] > 200 and out[35, 20] < 50


def test_sixteen_bit_gradient_stays_a_gradient(tmp_path):
    ramp = np.linspace(0, 65535, 256).astype(np.uint16)
    path = _save(Image.fromarray(np.tile(ramp, (8, 1))), tmp_path / "deep.png")
    with Image.open(path) as im:
        assert im.mode.startswith("I")  # really a 16-bit file
    out = decode_image(path, 256)[0]
    assert out[0] == 0 and out[-1] == 255
    assert (np.diff(out.astype(int)) >= 0).all()
    assert abs(int(out[128]) - 128) <= 2  # linear, not saturated to white
    dark = np.full((8, 8), 1000, dtype=np.uint16)  # a dim 16-bit image stays dim
    assert decode_image(_save(Image.fromarray(dark), tmp_path / "dim.png"), 8).max() <= 4


def test_float_images_scale_by_their_range(tmp_path):
    unit = np.tile(np.linspace(0.0, 1.0, 64, dtype=np.float32), (4, 1))
    out = decode_image(_save(Image.fromarray(unit, mode="F"), tmp_path / "u.tif"), 64)[0]
    assert out[0] == 0 and out[-1] == 255 and abs(int(out[32]) - 130) <= 3
    wide = np.tile(np.linspace(-5.0, 5.0, 64, dtype=np.float32), (4, 1))
    out = decode_image(_save(Image.fromarray(wide, mode="F"), tmp_path / "w.tif"), 64)[0]
    assert out[0] == 0 and out[-1] == 255 and (np.diff(out.astype(int)) >= 0).all()


def test_palette_and_alpha_become_opaque_on_white(tmp_path):
    pal = Image.new("P", (16, 16), 1)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.paste(0, (0, 0, 8, 16))  # left half index 0, declared transparent
    pal.info["transparency"] = 0
    path = _save(pal, tmp_path / "p.png", transparency=0)
    out = decode_image(path, 16, channels=3)
    assert tuple(out[:, 8, 2]) == (255, 255, 255)  # transparent -> white
    assert tuple(out[:, 8, 13]) == (255, 0, 0)
    rgba = np.zeros((16, 16, 4), dtype=np.uint8)
    rgba[..., 2] = 255
    rgba[:, 8:, 3] = 255  # right half opaque blue, left half fully transparent
    out = decode_image(_save(Image.fromarray(rgba, "RGBA"), tmp_path / "a.png"), 16, channels=3)
    assert tuple(out[:, 8, 2]) == (255, 255, 255) and tuple(out[:, 8, 13]) == (0, 0, 255)
    la = Image.fromarray(
        np.stack([np.zeros((8, 8)), np.full((8, 8), 0)], -1).astype(np.uint8), "LA"
    )
    assert (decode_image(_save(la, tmp_path / "la.png"), 8) == 255).all()


def test_cmyk_and_bilevel_files_decode(tmp_path):
    cmyk = _save(Image.new("CMYK", (20, 10), (0, 255, 255, 0)), tmp_path / "c.jpg")
    out = decode_image(cmyk, 8, channels=3)
    assert out[0].mean() > 200 and out[1].mean() < 60  # red
    bilevel = _save(Image.new("1", (9, 9), 1), tmp_path / "b.png")
    assert (decode_image(bilevel, 4) == 255).all()


@pytest.mark.parametrize("limit", [6_000, 1_000])  # warning zone (1-2x), refusal zone (>2x)
def test_decompression_bomb_is_a_clear_error(tmp_path, monkeypatch, limit):
    path = _save(Image.new("RGB", (100, 100)), tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    with pytest.raises(ValueError, match=r"image .*bomb\.png is too large to decode safely"):
        decode_image(path, 8)


def test_broken_file_names_itself(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8not really a jpeg")
    with pytest.raises(ValueError, match="cannot read image .*broken.jpg"):
        decode_image(bad)
    with pytest.raises(ValueError, match="channels"):
        decode_image(bad, channels=2)


def test_load_images_caches_rgb_apart_from_gray(tmp_path):
    paths = []
    for i, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        size = (30 + 20 * i, 40)
        paths.append(str(_save(Image.new("RGB", size, colour), tmp_path / f"{i}.png")))
    cache = tmp_path / "cache"
    first = load_images(paths, cache_dir=cache, size=24, channels=3, fit="pad")
    assert first.shape == (3, 3, 24, 24)
    assert (cache / "rgb24-pad").is_dir()
    again = load_images(paths, cache_dir=cache, size=24, channels=3, fit="pad")
    assert (again == first).all()
    gray = load_images(paths, cache_dir=cache, size=24)
    assert gray.shape == (3, 24, 24) and (cache / "gray24").is_dir()
    assert first[1, 1, 12, 12] == 255 and first[1, 0, 12, 12] == 0
