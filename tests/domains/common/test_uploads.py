"""The shared upload validator: size, type by content, generated names, the storage API."""

from __future__ import annotations

import struct
import zlib

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from domains.common.errors import Refusal
from domains.common.uploads import (
    IMAGE_KINDS,
    JPEG,
    PNG,
    WEBP,
    store_upload,
    upload_kind_for_name,
    uploads_discarded_on_error,
    validate_upload,
)


def png_bytes(width: int = 1, height: int = 1) -> bytes:
    """A real, minimal PNG: signature, IHDR, one IDAT of RGB rows, IEND (CRCs included)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\x24\x57\xc5" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


# A JFIF header (SOI, APP0) and EOI: what puremagic reads to call it JPEG.
JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
# A lossless WebP container (RIFF, WEBP, VP8L) of a 1 by 1 image.
WEBP_BYTES = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
HTML_BYTES = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00"
SVG_BYTES = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def _upload(name: str, content: bytes, content_type: str = "") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.mark.parametrize(
    ("name", "content", "content_type", "kind"),
    [
        ("logo.png", png_bytes(), "image/png", PNG),
        ("photo.JPG", JPEG_BYTES, "image/jpeg", JPEG),
        ("mark.webp", WEBP_BYTES, "image/webp", WEBP),
        ("no-extension", png_bytes(), "application/octet-stream", PNG),
    ],
)
def test_a_real_image_passes_with_its_kind_found_by_content(name, content, content_type, kind) -> None:
    validated = validate_upload(_upload(name, content, content_type), kinds=IMAGE_KINDS, max_bytes=4096)
    assert validated.kind == kind
    assert validated.content == content


@pytest.mark.parametrize(
    ("name", "content", "content_type", "code"),
    [
        ("logo.png", HTML_BYTES, "image/png", "upload_type"),  # HTML dressed as a PNG
        ("logo.png", EXE_BYTES, "image/png", "upload_type"),  # a Windows executable dressed as a PNG
        ("logo.svg", SVG_BYTES, "image/svg+xml", "upload_type"),  # scriptable: never an image kind
        ("logo.png", b"just some text", "image/png", "upload_type"),  # nothing puremagic knows
        ("logo.png", b"", "image/png", "upload_empty"),
        ("logo.png", JPEG_BYTES, "image/jpeg", "upload_disguised"),  # named PNG, is JPEG
        ("logo.jpg", JPEG_BYTES, "image/png", "upload_disguised"),  # declared PNG, is JPEG
    ],
)
def test_content_that_is_not_an_allowed_kind_or_lies_about_itself_is_refused(name, content, content_type, code) -> None:
    with pytest.raises(Refusal) as refusal:
        validate_upload(_upload(name, content, content_type), kinds=IMAGE_KINDS, max_bytes=4096, field="logo")
    assert refusal.value.code == code
    assert refusal.value.field == "logo"


def test_a_kind_outside_the_allowed_ones_is_refused_even_if_it_is_an_image() -> None:
    with pytest.raises(Refusal) as refusal:
        validate_upload(_upload("logo.jpg", JPEG_BYTES), kinds=(PNG,), max_bytes=4096)
    assert refusal.value.code == "upload_type"


def test_an_oversize_file_is_refused_by_its_size_and_by_what_is_read() -> None:
    big = png_bytes(64, 64)
    assert len(big) > 100
    with pytest.raises(Refusal) as refusal:
        validate_upload(_upload("logo.png", big), kinds=IMAGE_KINDS, max_bytes=100)
    assert refusal.value.code == "upload_too_large"

    lying = _upload("logo.png", big)
    lying.size = 10  # a body whose declared size lies is still caught while reading
    with pytest.raises(Refusal) as refusal:
        validate_upload(lying, kinds=IMAGE_KINDS, max_bytes=100)
    assert refusal.value.code == "upload_too_large"


def test_stored_files_get_a_generated_name_never_the_clients() -> None:
    validated = validate_upload(_upload("../../etc/passwd.png", png_bytes()), kinds=IMAGE_KINDS, max_bytes=4096)
    name = store_upload(validated, folder="organisations/1/logo")
    assert name.startswith("organisations/1/logo/")
    assert name.endswith(".png")
    assert "passwd" not in name
    assert ".." not in name
    assert upload_kind_for_name(name) == PNG
    with default_storage.open(name, "rb") as stored:
        assert stored.read() == png_bytes()
    second = store_upload(validated, folder="organisations/1/logo")
    assert second != name


def test_files_stored_in_a_block_that_fails_are_removed_again() -> None:
    validated = validate_upload(_upload("logo.png", png_bytes()), kinds=IMAGE_KINDS, max_bytes=4096)
    stored: list[str] = []

    def fails_after_storing() -> None:
        with uploads_discarded_on_error():
            stored.append(store_upload(validated, folder="t"))
            raise RuntimeError("a later step refused")

    with pytest.raises(RuntimeError):
        fails_after_storing()
    assert stored
    assert not default_storage.exists(stored[0])

    with uploads_discarded_on_error():
        kept = store_upload(validated, folder="t")
    assert default_storage.exists(kept)
