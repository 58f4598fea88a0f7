"""Uploaded images: what is kept (the picture, at the sizes emails and pages need)
and what is not (metadata, files that are not images), and how /media/ serves them."""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale
from PIL import Image, PngImagePlugin

from newsletter.services import media
from newsletter.services.media import ImageRefused

GPS_IFD = 0x8825
MAKE = 0x010F
ORIENTATION = 0x0112


@pytest.fixture
def media_app(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    """An app that keeps media in a folder of this test's own."""
    return make_app(MEDIA_PATH=str(tmp_path / "media"), IMAGE_MAX_BYTES=2_000_000)


def photo(
    size: tuple[int, int] = (1600, 1000), colour: str = "#2a6f97", **save: Any
) -> bytes:
    """A JPEG photo as a phone takes it: camera, GPS position, a comment, XMP."""
    image = Image.new("RGB", size, colour)
    image.paste((200, 40, 40), (0, 0, size[0] // 4, size[1] // 4))
    exif = Image.Exif()
    exif[MAKE] = "Fotograf AB"
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (59.0, 19.0, 48.0)
    gps[3], gps[4] = "E", (18.0, 4.0, 12.0)
    exif[GPS_IFD] = gps
    out = io.BytesIO()
    image.save(
        out,
        "JPEG",
        exif=exif,
        comment=b"Hemma hos Anna, Storgatan 1",
        xmp=b"<x:xmpmeta>Anna Andersson</x:xmpmeta>",
        **save,
    )
    return out.getvalue()


def png(size: tuple[int, int], mode: str = "RGBA", text: str = "") -> bytes:
    """A PNG, half transparent when its mode has alpha, with a text chunk if given."""
    image = Image.new(mode, size, (0, 80, 122, 128) if "A" in mode else "#00507a")
    info = PngImagePlugin.PngInfo()
    if text:
        info.add_text("Author", text)
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def encoded(image: Image.Image, kind: str) -> bytes:
    """An image saved in another format."""
    out = io.BytesIO()
    image.save(out, kind)
    return out.getvalue()


def kept(stored: media.StoredImage, width: int) -> Path:
    """The file of one variant of a stored image."""
    return media.media_path() / stored.variant(width)


def test_photo_loses_camera_position_comment_and_xmp(media_app: Flask) -> None:
    with media_app.app_context():
        stored = media.store_image(photo())
        for width in media.WIDTHS:
            data = kept(stored, width).read_bytes()
            with Image.open(io.BytesIO(data)) as image:
                assert not image.getexif(), "EXIF left in the stored file"
                assert "comment" not in image.info and "xmp" not in image.info
            assert b"Fotograf" not in data
            assert b"Storgatan" not in data and b"Anna" not in data
            assert b"GPS" not in data and b"Exif" not in data


def test_png_text_chunks_are_dropped(media_app: Flask) -> None:
    with media_app.app_context():
        stored = media.store_image(png((300, 200), "RGB", text="Anna Andersson"))
        assert b"Anna Andersson" not in kept(stored, 600).read_bytes()


def test_photo_is_kept_at_600_and_1200_pixels_wide(media_app: Flask) -> None:
    with media_app.app_context():
        stored = media.store_image(photo((2400, 1500)))
        assert stored.name.endswith(".jpg")
        with (
            Image.open(kept(stored, 600)) as small,
            Image.open(kept(stored, 1200)) as large,
        ):
            assert small.size == (600, 375)
            assert large.size == (1200, 750)
            assert small.format == large.format == "JPEG"


def test_small_image_is_never_enlarged(media_app: Flask) -> None:
    with media_app.app_context():
        stored = media.store_image(photo((400, 300)))
        for width in media.WIDTHS:
            with Image.open(kept(stored, width)) as image:
                assert image.size == (400, 300)


def test_sideways_photo_is_turned_upright(media_app: Flask) -> None:
    image = Image.new("RGB", (800, 400), "white")
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # the camera was held on its side
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    with media_app.app_context():
        stored = media.store_image(out.getvalue())
        assert (stored.width, stored.height) == (400, 800)
        with Image.open(kept(stored, 600)) as variant:
            assert variant.size == (400, 800)


def test_transparency_is_kept_as_png(media_app: Flask) -> None:
    with media_app.app_context():
        stored = media.store_image(png((900, 300)))
        assert stored.name.endswith(".png")
        with Image.open(kept(stored, 600)) as image:
            assert image.format == "PNG" and image.mode == "RGBA"
            assert image.getpixel((10, 10))[3] == 128


def test_webp_is_taken_and_kept_as_jpeg(media_app: Flask) -> None:
    webp = encoded(Image.new("RGB", (700, 350), "#00507a"), "WEBP")
    with media_app.app_context():
        stored = media.store_image(webp)
        assert stored.name.endswith(".jpg")
        with Image.open(kept(stored, 1200)) as image:
            assert image.format == "JPEG" and image.size == (700, 350)


def test_same_upload_gives_same_name(media_app: Flask) -> None:
    with media_app.app_context():
        assert media.store_image(photo()).name == media.store_image(photo()).name


def refusal(app: Flask, data: bytes) -> str:
    """Store data and return the message of the refusal; no file may be left."""
    with app.app_context(), force_locale("en"):
        before = set(os.listdir(media.media_path()))
        with pytest.raises(ImageRefused) as refused:
            media.store_image(data)
        assert set(os.listdir(media.media_path())) == before
        return str(refused.value)


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (SVG, "The file is not an image we can read: use PNG, JPEG or WebP."),
        (b"MZ\x90\x00 not a picture" * 20, "The file is not an image we can read"),
        (b"", "The file is not an image we can read"),
        (
            encoded(Image.new("P", (20, 20)), "GIF"),
            "The image must be a PNG, JPEG or WebP file.",
        ),
        (
            encoded(Image.new("RGB", (20, 20)), "BMP"),
            "The image must be a PNG, JPEG or WebP file.",
        ),
    ],
    ids=["svg", "garbage", "empty", "gif", "bmp"],
)
def test_files_that_are_not_our_images_are_refused(
    media_app: Flask, data: bytes, message: str
) -> None:
    assert refusal(media_app, data).startswith(message)


def test_truncated_image_is_refused_as_damaged(media_app: Flask) -> None:
    data = photo((1200, 900), quality=95)
    assert refusal(media_app, data[: len(data) // 2]) == (
        "The image file is damaged or cut short."
    )


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG file that claims to be enormous (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + b"\x08\x02\0\0\0"
    pixels = zlib.compress(b"\0" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "size", [(8000, 6000), (12000, 10000), (20000, 20000)], ids=["40M+", "120M", "400M"]
)
def test_decompression_bomb_is_refused_for_its_pixels(
    media_app: Flask, size: tuple[int, int]
) -> None:
    assert (
        refusal(media_app, png_header_only(*size)) == "The image has too many pixels."
    )


def test_file_over_the_limit_is_refused_naming_the_limit(media_app: Flask) -> None:
    noisy = Image.effect_noise((1400, 1400), 100).convert("RGB")
    data = encoded(noisy, "PNG")
    assert len(data) > 2_000_000
    message = refusal(media_app, data)
    assert message.startswith("The image is larger than 1.9 MB.")


def test_media_route_serves_a_variant_cached_for_a_year(media_app: Flask) -> None:
    with media_app.app_context():
        stored = media.store_image(photo())
    with media_app.test_client().get(f"/media/{stored.variant(600)}") as response:
        assert response.status_code == 200
        assert response.mimetype == "image/jpeg"
        cache = response.headers["Cache-Control"]
        assert cache == "public, max-age=31536000, immutable"
        with Image.open(io.BytesIO(response.data)) as image:
            assert image.width == 600


@pytest.mark.parametrize(
    "path",
    [
        "/media/0123456789abcdef0123456789abcdef-600.jpg",  # never stored
        "/media/{stem}.jpg",  # the name an item keeps is not a file
        "/media/{stem}-600.gif",
        "/media/{stem}-600.jpg.exe",
        "/media/..%2F..%2Fetc%2Fpasswd",
        "/media/%2e%2e%2fconfig.py",
        "/media/../newsletter/__init__.py",
        "/media/.upload-123",
        "/media/",
    ],
)
def test_media_route_serves_nothing_else(media_app: Flask, path: str) -> None:
    with media_app.app_context():
        stored = media.store_image(photo())
        # A file beside the images that must stay private.
        (media.media_path() / "secret.txt").write_text("private")
    stem = stored.name.partition(".")[0]
    response = media_app.test_client().get(path.format(stem=stem))
    assert response.status_code == 404
    assert b"private" not in response.data


def test_find_image_refuses_tampered_names(media_app: Flask) -> None:
    with media_app.app_context():
        stored = media.store_image(photo())
        assert media.find_image(stored.name) == media.StoredImage(
            stored.name, 1200, 750
        )
        assert media.find_image("../" + stored.name) is None
        assert media.find_image("0123456789abcdef0123456789abcdef.jpg") is None


def test_an_image_cut_short_is_refused_after_a_pdf_was_built(media_app: Flask) -> None:
    # WeasyPrint, once imported (a worker building PDF editions, the development
    # server), tells Pillow to accept cut-short images for the whole process: an
    # interrupted upload must still be refused, not kept with a grey bottom half.
    import weasyprint  # noqa: F401
    from PIL import ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = True  # as weasyprint/images.py sets it
    try:
        data = photo((1200, 900), quality=95)
        assert refusal(media_app, data[: len(data) // 2]) == (
            "The image file is damaged or cut short."
        )
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False
