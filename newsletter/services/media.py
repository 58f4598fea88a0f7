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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from sqlalchemy import select

from newsletter.config import settings
from newsletter.errors import DomainError
from newsletter.extensions import db
from newsletter.models import IssuePdf, Item, Revision, Setting
from newsletter.request_limits import image_too_large

# Email: 600 px, and twice that for sharp screens; the archive uses both.
WIDTHS = (600, 1200)
# Formats taken from uploads; anything else (SVG, GIF, HEIC…) is refused.
ACCEPTED = {"PNG", "JPEG", "WEBP"}
# Larger pictures than this many pixels are refused before they are decoded.
MAX_PIXELS = 40_000_000
# The images /media/ serves; PDF editions have a route of their own.
FILE = re.compile(r"^[0-9a-f]{32}-[0-9]{1,5}\.(?:png|jpg)$")
# The name an item keeps: the hash and the extension of its variants.
NAME = re.compile(r"^[0-9a-f]{32}\.(?:png|jpg)$")
# A built PDF edition kept by store_file.
PDF_FILE = re.compile(r"^[0-9a-f]{32}\.pdf$")
# A file being written by _write (left behind if its process died).
TEMPORARY = re.compile(r"^\.upload-[A-Za-z0-9_]+$")
# The width an image is shown at in the email and at most in the archive.
SHOWN_WIDTH = 600


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
        raise ImageRefused(image_too_large(settings().image_max_bytes))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED:
                raise ImageRefused(_("The image must be a PNG, JPEG or WebP file."))
            if image.width * image.height > MAX_PIXELS:
                raise ImageRefused(_("The image has too many pixels."))
            # WeasyPrint, once imported (a worker building PDF editions), lets
            # Pillow take cut-short files for the whole process; an upload cut
            # short must be refused, never kept with a grey part. The PDFs only
            # draw stored images, which are whole.
            ImageFile.LOAD_TRUNCATED_IMAGES = False
            image.load()
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused(_("The image has too many pixels.")) from None
    except (UnidentifiedImageError, Warning):
        raise ImageRefused(
            _("The file is not an image we can read: use PNG, JPEG or WebP.")
        ) from None
    except (OSError, ValueError, SyntaxError):
        raise ImageRefused(_("The image file is damaged or cut short.")) from None
    return image


def _write(path: Path, data: bytes) -> None:
    """Write a file whole or not at all: a reader never sees half a file."""
    if path.exists():
        # The same upload again: the file is young again, so that a purge does not
        # take it while the form that uploaded it is still open.
        os.utime(path)
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
    # Pillow writes some metadata it read (a JPEG comment, XMP, an ICC profile in
    # PNG) back out unless asked not to: forget all of it.
    image.info.clear()
    digest = hashlib.sha256(data).hexdigest()[:32]
    stored = StoredImage(f"{digest}.{ext}", image.width, image.height)
    folder = media_path()
    for width in widths:
        target = folder / stored.variant(width)
        if target.exists():
            os.utime(target)  # young again: see _write
            continue
        shown = stored.size_at(width)
        variant = (
            image
            if shown == image.size
            else image.resize(shown, Image.Resampling.LANCZOS)
        )
        variant.info.clear()
        _write(target, _encode(variant, ext))
    return stored


def stored_image(name: str, width: int, height: int) -> StoredImage:
    """The StoredImage of a name kept in the database."""
    return StoredImage(name, width, height)


def find_image(name: str, width: int = max(WIDTHS)) -> StoredImage | None:
    """The stored image of a name handed back by a form, measured by its variant
    of the given width, or None when no such image is kept (a tampered or
    forgotten name)."""
    if not NAME.match(name):
        return None
    largest = media_path() / variant_name(name, width)
    try:
        with Image.open(largest) as image:
            return StoredImage(name, image.width, image.height)
    except (OSError, UnidentifiedImageError):
        return None


@dataclass(frozen=True)
class Picture:
    """An item's image as a page or an email shows it: its variants' file names
    and widths, the size it is shown at, and its alt text ("" if decorative)."""

    small: str
    small_width: int
    large: str
    large_width: int
    width: int
    height: int
    alt: str

    def fit(self, room: int) -> tuple[int, int]:
        """The size the picture is shown at in a column room pixels wide."""
        width = min(self.width, room)
        return width, max(1, round(self.height * width / self.width))

    @property
    def sharper(self) -> bool:
        """Whether the large variant has more pixels than the small one."""
        return self.large_width > self.small_width


def picture(item: Any) -> Picture | None:
    """The picture of an item (anything with image fields), or None without one."""
    if not item.image or not item.image_width or not item.image_height:
        return None
    stored = StoredImage(item.image, item.image_width, item.image_height)
    small, large = WIDTHS[0], WIDTHS[-1]
    width, height = stored.size_at(SHOWN_WIDTH)
    return Picture(
        small=stored.variant(small),
        small_width=stored.size_at(small)[0],
        large=stored.variant(large),
        large_width=stored.size_at(large)[0],
        width=width,
        height=height,
        alt="" if item.image_decorative else item.image_alt,
    )


def store_file(data: bytes, ext: str) -> str:
    """Keep a built file (a PDF edition) under its content hash; return its name."""
    name = f"{hashlib.sha256(data).hexdigest()[:32]}.{ext}"
    _write(media_path() / name, data)
    return name


@dataclass(frozen=True)
class PurgeReport:
    """What a purge removed (or, in a dry run, would remove): (name, bytes) pairs."""

    removed: tuple[tuple[str, int], ...]
    dry_run: bool = False

    @property
    def files(self) -> int:
        """How many files."""
        return len(self.removed)

    @property
    def bytes(self) -> int:
        """How many bytes they held."""
        return sum(size for _name, size in self.removed)


def referenced() -> tuple[set[str], set[str]]:
    """The stored images ("<hash>.<ext>") and PDF files that something names: an
    item, any revision's fields (a restore brings the image back), the identity's
    logo; an issue's PDF row."""
    images = {name for name in db.session.scalars(select(Item.image).distinct())}
    for fields in db.session.scalars(select(Revision.fields)):
        if isinstance(fields, dict) and isinstance(fields.get("image"), str):
            images.add(fields["image"])
    # Read here, not through services.identity (which imports this module).
    row = db.session.get(Setting, "IDENTITY")
    if row is not None and isinstance(row.value, dict):
        logo = row.value.get("logo")
        if isinstance(logo, str):
            images.add(logo)
    images.discard("")
    pdfs = set(db.session.scalars(select(IssuePdf.filename)))
    return images, pdfs


def _unreferenced(name: str, images: set[str], pdfs: set[str]) -> bool | None:
    """Whether a file of ours is named by nothing; None for a name not ours."""
    if FILE.match(name):
        stem, _dash, rest = name.rpartition("-")
        return f"{stem}.{rest.partition('.')[2]}" not in images
    if PDF_FILE.match(name):
        return name not in pdfs
    if TEMPORARY.match(name):
        return True
    return None


def purge(
    now: datetime,
    keep_younger_than: timedelta = timedelta(days=1),
    dry_run: bool = False,
) -> PurgeReport:
    """Remove the files in MEDIA_PATH that nothing refers to any more (see
    referenced()), and temporary files left behind, unless they are younger than
    keep_younger_than: an upload waiting in an open form, a PDF being written.

    Only regular files whose names are ours are looked at: other files and every
    symbolic link stay as they are, and nothing outside the folder is reached.
    With dry_run, report what would go and remove nothing. Does not audit."""
    images, pdfs = referenced()
    if now.tzinfo is None:  # a naive time is UTC here, like the database's
        now = now.replace(tzinfo=UTC)
    before = (now - keep_younger_than).timestamp()
    folder = media_path()
    removed: list[tuple[str, int]] = []
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if not _unreferenced(entry.name, images, pdfs):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue  # a symbolic link, a folder: not ours to remove
                stat = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed meanwhile (another worker's purge)
            if stat.st_mtime >= before:
                continue
            if not dry_run:
                try:
                    os.unlink(entry.path)
                except FileNotFoundError:
                    continue
            removed.append((entry.name, stat.st_size))
    return PurgeReport(tuple(removed), dry_run)


def remove_image(name: str) -> PurgeReport:
    """Delete a stored image's variants now, whatever their age, unless something
    still names it (see referenced()); an erased picture must not wait for the
    daily purge. Does not audit."""
    if not NAME.match(name) or name in referenced()[0]:
        return PurgeReport(())
    stem, _dot, ext = name.partition(".")
    removed: list[tuple[str, int]] = []
    for path in sorted(media_path().glob(f"{stem}-*.{ext}")):
        if not FILE.match(path.name) or path.is_symlink():
            continue
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            continue  # removed meanwhile
        removed.append((path.name, size))
    return PurgeReport(tuple(removed))
