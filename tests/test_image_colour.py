"""Colour profiles of source images: pixels are converted to sRGB from an embedded RGB ICC profile."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from PIL import Image, ImageCms

from thead.io.image import ColourProfileWarning, read_image


def linear_profile() -> bytes:
    """Pillow's sRGB profile with linear tone curves and another name: its pixels are linear light."""
    data = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    count = struct.unpack(">I", data[128:132])[0]
    tags = {}
    for k in range(count):
        signature, offset, size = struct.unpack(">4sII", data[132 + 12 * k : 144 + 12 * k])
        tags[signature] = data[offset : offset + size]
    for signature in (b"rTRC", b"gTRC", b"bTRC"):
        tags[signature] = b"curv" + bytes(4) + struct.pack(">IH", 1, 0x0100) + bytes(2)  # gamma 1.0
    name = b"linear-light test RGB\0"
    tags[b"desc"] = b"desc" + bytes(4) + struct.pack(">I", len(name)) + name + bytes(78)
    body, table, start = b"", b"", 128 + 4 + 12 * len(tags)
    for signature, blob in tags.items():
        table += struct.pack(">4sII", signature, start + len(body), len(blob))
        body += blob + bytes(-len(blob) % 4)
    header = bytearray(data[:128])
    header[0:4] = struct.pack(">I", start + len(body))
    header[84:100] = bytes(16)  # no profile ID
    return bytes(header) + struct.pack(">I", len(tags)) + table + body


def srgb_encoded(linear: np.ndarray) -> np.ndarray:
    """The sRGB transfer function (IEC 61966-2-1) of linear light 0..1, in 0..255."""
    return 255 * np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


LEVELS = np.array([0, 16, 64, 128, 200, 255], np.uint8)


def _strip(tmp_path, suffix: str, profile: bytes | None, mode: str = "RGB"):
    pixels = np.repeat(np.repeat(LEVELS, 8)[None, :, None], 8, axis=0).repeat(3, axis=2)  # 8x48 grey steps
    if mode == "RGBA":
        pixels = np.concatenate([pixels, np.full(pixels.shape[:2] + (1,), 255, np.uint8)], axis=2)
    path = tmp_path / f"strip{suffix}"
    Image.fromarray(pixels, mode).resize((480, 80), Image.Resampling.NEAREST).save(
        path, **({"icc_profile": profile} if profile else {}), **({"quality": 100} if suffix == ".jpg" else {}))
    return path


@pytest.mark.parametrize("suffix, mode", [(".png", "RGB"), (".jpg", "RGB"), (".png", "RGBA")])
def test_pixels_in_a_linear_profile_are_converted_to_srgb(tmp_path, suffix, mode):
    picture = read_image(_strip(tmp_path, suffix, linear_profile(), mode)).astype(np.float64)
    steps = picture[40, 40::80]  # the middle of each step, one channel per column
    np.testing.assert_allclose(steps, np.repeat(srgb_encoded(LEVELS / 255.0)[:, None], 3, axis=1), atol=1.5)


def test_untagged_and_srgb_images_keep_their_pixels(tmp_path):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for name, profile in (("untagged", None), ("srgb", srgb)):
        folder = tmp_path / name
        folder.mkdir()
        picture = read_image(_strip(folder, ".png", profile))
        np.testing.assert_array_equal(picture[40, 40::80, 0], LEVELS)


def test_an_unreadable_profile_is_ignored_with_a_warning(tmp_path):
    path = _strip(tmp_path, ".png", b"not a colour profile" * 8)
    with pytest.warns(ColourProfileWarning, match="colour profile cannot be read"):
        picture = read_image(path)
    np.testing.assert_array_equal(picture[40, 40::80, 0], LEVELS)
