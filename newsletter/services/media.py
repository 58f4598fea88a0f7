"""Uploaded images and built files, kept in MEDIA_PATH under content-hashed names.

An image is checked, turned upright, stripped of its metadata (EXIF, GPS, ICC
comments) by re-encoding, and resized to the widths that the email and the
archive need. Its name is the hash of what was uploaded, so the same upload
gives the same files and a name never changes what it points to: the files are
served with a year-long cache lifetime.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from newsletter.config import settings
from newsletter.errors import DomainError

# Email: 600 px, and twice that for sharp screens; the archive uses both.
WIDTHS = (600, 1200)
# Formats taken from uploads; anything else (SVG, GIF, HEIC…) is refused.
ACCEPTED = {"PNG", "JPEG", "WEBP"}
# Larger pictures than this many pixels are refused before they are decoded.
MAX_PIXELS = 40_000_000
# The images /media/ serves; PDF editions have a route of their own.
FILE = re.compile(r"^[0-9a-f]{32}-[0-9]{1,5}\.(?:png|jpg)$")


class ImageRefused(DomainError):
    """The upload is not an image we take; the message says why, for its user."""


@dataclass(frozen=True)
class StoredImage:
    """An image kept in MEDIA_PATH: `name` is "<hash>.<ext>", its variants are
    "<hash>-<width>.<ext>" for each of WIDTHS (never wider than the original)."""

    name: str
    width: int
    height: int

    def variant(self, width: int) -> str:
        """The file name of the variant at most `width` pixels wide."""
        return variant_name(self.name, width)

    def size_at(self, width: int) -> tuple[int, int]:
        """The pixel size of the variant at most `width` pixels wide."""
        shown = min(width, self.width)
        return shown, max(1, round(self.height * shown / self.width))


def media_path() -> Path:
    """The folder of stored media, made on first use."""
    path = Path(settings().media_path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def variant_name(name: str, width: int) -> str:
    """The file name of a stored image's variant of the given width."""
    stem, _dot, ext = name.partition(".")
    return f"{stem}-{width}.{ext}"


def is_image_file(name: str) -> bool:
    """Whether name can be a stored image variant (nothing else is served)."""
    return bool(FILE.match(name))


def _open(data: bytes) -> Image.Image:
    """Open and check an upload; raise ImageRefused with a readable reason."""
    if len(data) > settings().image_max_bytes:
        limit = settings().image_max_bytes // (1024 * 1024)
        raise ImageRefused(_("The image is larger than %(limit)s MB.", limit=limit))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED:
                raise ImageRefused(_("The image must be a PNG, JPEG or WebP file."))
            if image.width * image.height > MAX_PIXELS:
                raise ImageRefused(_("The image has too many pixels."))
            image.load()
    except ImageRefused:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Warning):
        raise ImageRefused(
            _("The file is not an image we can read: use PNG, JPEG or WebP.")
        ) from None
    except (OSError, ValueError, SyntaxError):
        raise ImageRefused(_("The image file is damaged or cut short.")) from None
    return image


def _write(path: Path, data: bytes) -> None:
    """Write a file whole or not at all: a reader never sees half a file."""
    if path.exists():
        return
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _encode(image: Image.Image, ext: str) -> bytes:
    """Encode without metadata: no exif=, icc_profile= or pnginfo= is passed."""
    out = io.BytesIO()
    if ext == "png":
        image.save(out, "PNG", optimize=True)
    else:
        image.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return out.getvalue()


def store_image(data: bytes, widths: tuple[int, ...] = WIDTHS) -> StoredImage:
    """Check, clean and keep an uploaded image; return where it is kept.

    Images with transparency stay PNG, all others become JPEG, which every
    email program shows (WebP is not shown by some)."""
    image = _open(data)
    image = ImageOps.exif_transpose(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    ext = "png" if has_alpha else "jpg"
    image = image.convert("RGBA" if has_alpha else "RGB")
    digest = hashlib.sha256(data).hexdigest()[:32]
    stored = StoredImage(f"{digest}.{ext}", image.width, image.height)
    folder = media_path()
    for width in widths:
        target = folder / stored.variant(width)
        if target.exists():
            continue
        shown = stored.size_at(width)
        variant = (
            image
            if shown == image.size
            else image.resize(shown, Image.Resampling.LANCZOS)
        )
        _write(target, _encode(variant, ext))
    return stored


def stored_image(name: str, width: int, height: int) -> StoredImage:
    """The StoredImage of a name kept in the database."""
    return StoredImage(name, width, height)


def store_file(data: bytes, ext: str) -> str:
    """Keep a built file (a PDF edition) under its content hash; return its name."""
    name = f"{hashlib.sha256(data).hexdigest()[:32]}.{ext}"
    _write(media_path() / name, data)
    return name
