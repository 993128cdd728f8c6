"""Still images in and out: RGB uint8 arrays, EXIF orientation applied, colours converted to sRGB from an
embedded ICC profile, huge files downscaled while decoding."""

from __future__ import annotations

import functools
import io
import math
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageCms, PngImagePlugin, UnidentifiedImageError

from thead.errors import BadInputError, OutputError
from thead.io.atomic import atomic_path
from thead.io.probe import require_file

MIN_SIDE = 32  # below this no face detector finds anything
MAX_DECODE_PIXELS = 150_000_000  # larger files are refused: a full decode would need gigabytes

_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
_ORIENTATION_FIX = {  # EXIF orientation -> the transpose that makes the picture upright
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class ImageDownscaledWarning(UserWarning):
    """``read_image`` returned a smaller image than the file holds (it exceeded ``max_pixels``)."""


class ColourProfileWarning(UserWarning):
    """``read_image`` could not use the file's embedded colour profile and took its pixels as sRGB."""


def read_image(path: str | os.PathLike, max_pixels: int = 40_000_000) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3), upright per its EXIF orientation.

    Grayscale, palette and 16-bit images are converted; transparency is flattened onto white. Colours are
    converted to sRGB (what thead writes, and what its videos are tagged as) from an embedded RGB ICC profile
    (a phone's Display P3, Adobe RGB); an unreadable profile is ignored with a ``ColourProfileWarning``.
    Sizes are checked from the file header before decoding: images with a side under ``MIN_SIDE``
    pixels are refused (too small for a face), and so are images over ``MAX_DECODE_PIXELS``.
    Images over ``max_pixels`` are downscaled by the smallest integer factor that fits them under it
    (area averaging), with an ``ImageDownscaledWarning``: JPEGs are decoded directly at 1/2, 1/4 or 1/8
    scale (DCT scaling, so memory stays near the output size); other formats are decoded at full size
    first, which for a 12000x12000 PNG peaks near 0.7 GB.
    """
    path = require_file(path, "image")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limits apply below
        try:
            image = Image.open(path)
        except Image.DecompressionBombError:
            raise _too_large(path) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise BadInputError(
                f"image {path} is not an image (unknown format, or not a picture at all)", "give a .png or .jpg image"
            ) from None
    with image:
        width, height = image.size
        if min(width, height) < MIN_SIDE:
            raise BadInputError(
                f"image {path} is {width}x{height} pixels, too small for a face",
                f"give an image at least {MIN_SIDE} pixels on each side (512 or more works best)",
            )
        if width * height > MAX_DECODE_PIXELS:
            raise _too_large(path)
        factor = math.ceil(math.sqrt(width * height / max_pixels))  # 1 when the image fits
        try:
            orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
            profile = image.info.get("icc_profile")
            if factor > 1 and image.format == "JPEG":
                image.draft("RGB", (width // factor, height // factor))  # decode at a DCT scale of 1/2, 1/4 or 1/8
            image.load()
            picture = _normalize_mode(image)
        except (OSError, SyntaxError, ValueError) as error:
            raise BadInputError(f"image {path} is truncated or corrupt ({error})", "use a complete copy") from None
    if factor > 1:
        target = (width // factor, height // factor)
        step = picture.width // target[0]  # the reduction still needed after a JPEG's DCT scaling
        if step > 1:
            reduced = picture.reduce(step)  # box filter over step x step blocks: fast and anti-aliased
            picture.close()  # free the full-size pixels now
            picture = reduced
        if picture.size != target:
            picture = picture.resize(target, Image.Resampling.BOX)
        warnings.warn(
            f"{path} is {width}x{height}; downscaled to {picture.width}x{picture.height} (max_pixels={max_pixels})",
            ImageDownscaledWarning,
            stacklevel=2,
        )
    if profile:
        picture = _to_srgb(picture, profile, path)
    if orientation in _ORIENTATION_FIX:
        picture = picture.transpose(_ORIENTATION_FIX[orientation])
    return _flatten(picture)


def write_image(path: str | os.PathLike, rgb: np.ndarray, metadata: dict[str, str] | None = None) -> None:
    """Write RGB uint8 (H, W, 3) to ``path`` (.png or .jpg/.jpeg) atomically.

    ``metadata`` goes into PNG text chunks, or the JPEG comment as ``key=value`` lines;
    ``synthetic=true`` is always included unless overridden.
    """
    path = Path(path)
    image_format = _FORMATS.get(path.suffix.lower())
    if image_format is None:
        raise OutputError(f"cannot write image {path}: unknown extension {path.suffix!r}", "use .png or .jpg")
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"images must be RGB uint8 arrays of shape (H, W, 3), got {rgb.dtype} {rgb.shape}")
    tags = {"synthetic": "true", **(metadata or {})}
    if image_format == "PNG":
        info = PngImagePlugin.PngInfo()
        for key, value in tags.items():
            info.add_itxt(key, value)
        options = {"pnginfo": info}
    else:
        options = {"quality": 95, "comment": "\n".join(f"{key}={value}" for key, value in tags.items())}
    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(rgb)).save(tmp, format=image_format, **options)


def _too_large(path: Path) -> BadInputError:
    return BadInputError(
        f"image {path} is too large to decode (over {MAX_DECODE_PIXELS // 1_000_000} megapixels)",
        "downscale it first, e.g. to 4096 pixels on the longest side",
    )


def _normalize_mode(image: Image.Image) -> Image.Image:
    """The image in L, LA, RGB or RGBA mode (the modes Pillow resizes), 16-bit scaled to 8-bit."""
    if image.mode in ("L", "LA", "RGB", "RGBA"):
        return image
    if image.mode.startswith("I"):  # 16-bit grayscale (PNG/TIFF): keep the top 8 bits instead of clipping
        values = np.asarray(image).astype(np.int64) >> 8
        return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8), "L")
    has_alpha = "A" in image.mode or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def _to_srgb(image: Image.Image, profile: bytes, path: Path) -> Image.Image:
    """``image`` (L, LA, RGB or RGBA) converted from the RGB ICC ``profile`` to sRGB; unchanged when the profile
    is sRGB already, not an RGB profile, or unreadable (then with a ``ColourProfileWarning``)."""
    if image.mode not in ("RGB", "RGBA"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        if source.profile.xcolor_space.strip() != "RGB" or "srgb" in ImageCms.getProfileDescription(source).lower():
            return image
        return ImageCms.profileToProfile(image, source, _srgb(), outputMode=image.mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as error:
        warnings.warn(f"{path}: its colour profile cannot be read ({error}); colours taken as sRGB",
                      ColourProfileWarning, stacklevel=3)
        return image


@functools.cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _flatten(image: Image.Image) -> np.ndarray:
    """RGB uint8 array; transparent pixels become white."""
    if image.mode in ("LA", "RGBA"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return np.array(image if image.mode == "RGB" else image.convert("RGB"), dtype=np.uint8)
