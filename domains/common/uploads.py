"""The one upload validator and store: every upload (logos today; CVs, submissions, receipts later)
goes through `validate_upload` and `store_upload`.

- **Size** first, from the upload's own count and again while reading, so a body that lies about its
  size is refused too.
- **Type by content**, with puremagic (magic numbers, never the client's name or Content-Type): the
  best match must be one of the allowed kinds, and a name or declared type that says otherwise is
  refused as a disguise. SVG is never a kind: it is a document that can carry script.
- **Names** are generated (`<folder>/<random hex><kind's extension>`); the client's name is never
  used for storage, so it cannot traverse, collide or smuggle an extension.
- **Storage** is Django's storage API (`default_storage`): the filesystem, InMemoryStorage in tests,
  or an S3-compatible backend through django-storages, with no code change.

puremagic is pinned to the 1.x line: 2.x needs Python 3.12 and the project runs on 3.11.
"""

from __future__ import annotations

import contextlib
import contextvars
import posixpath
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import puremagic
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage

from domains.common.errors import Refusal


@dataclass(frozen=True)
class UploadKind:
    """A file type an upload may be: its MIME type and the extensions a name may honestly carry."""

    name: str
    mime_type: str
    extensions: tuple[str, ...]

    @property
    def extension(self) -> str:
        return self.extensions[0]


PNG = UploadKind("PNG", "image/png", (".png",))
JPEG = UploadKind("JPEG", "image/jpeg", (".jpg", ".jpeg", ".jpe", ".jfif"))
WEBP = UploadKind("WebP", "image/webp", (".webp",))
IMAGE_KINDS: tuple[UploadKind, ...] = (PNG, JPEG, WEBP)

# Types that a browser may run or render as a document: refused whatever the allowed kinds say.
_SCRIPTABLE = frozenset(
    {"image/svg+xml", "text/html", "application/xhtml+xml", "application/xml", "text/xml", "application/javascript"}
)
# What a browser says when it does not know; it asserts nothing, so it cannot contradict the content.
_UNDECLARED = frozenset({"", "application/octet-stream"})


@dataclass(frozen=True)
class ValidatedUpload:
    """An upload that passed: its content (read once, bounded) and its kind by content."""

    content: bytes
    kind: UploadKind

    @property
    def size(self) -> int:
        return len(self.content)


def _refuse(code: str, message: str, field: str | None) -> Refusal:
    return Refusal(code, message, field=field)


def _read_bounded(file: File, max_bytes: int) -> bytes:
    file.seek(0)
    content = file.read(max_bytes + 1)
    file.seek(0)
    return content


def _kinds_text(kinds: tuple[UploadKind, ...]) -> str:
    return ", ".join(kind.name for kind in kinds)


def validate_upload(
    file: File, *, kinds: tuple[UploadKind, ...], max_bytes: int, field: str | None = None
) -> ValidatedUpload:
    """The upload's content and kind, or a `Refusal` naming `field`: too large, empty, of a type not
    in `kinds` (by content), scriptable, or named/declared as something it is not."""
    limit_text = f"{max_bytes // 1024} KiB" if max_bytes >= 1024 else f"{max_bytes} bytes"
    if (file.size or 0) > max_bytes:
        raise _refuse("upload_too_large", f"The file is larger than {limit_text}.", field)
    content = _read_bounded(file, max_bytes)
    if len(content) > max_bytes:
        raise _refuse("upload_too_large", f"The file is larger than {limit_text}.", field)
    if not content:
        raise _refuse("upload_empty", "The file is empty.", field)
    wrong_type = _refuse("upload_type", f"The file must be one of: {_kinds_text(kinds)}.", field)
    try:
        matches = puremagic.magic_string(content)
    except (puremagic.PureError, ValueError):
        raise wrong_type from None
    if not matches or any(match.mime_type in _SCRIPTABLE for match in matches):
        raise wrong_type
    best = max(match.confidence for match in matches)
    found = {match.mime_type for match in matches if match.confidence == best}
    kind = next((kind for kind in kinds if kind.mime_type in found), None)
    if kind is None:
        raise wrong_type
    declared_extension = posixpath.splitext((file.name or "").lower())[1]
    declared_type = (getattr(file, "content_type", None) or "").split(";", 1)[0].strip().lower()
    if (declared_extension and declared_extension not in kind.extensions) or (
        declared_type not in _UNDECLARED and declared_type != kind.mime_type
    ):
        raise _refuse("upload_disguised", f"The file's name or type does not match its content ({kind.name}).", field)
    return ValidatedUpload(content=content, kind=kind)


_stored: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("uploads_stored", default=None)


def store_upload(upload: ValidatedUpload, *, folder: str) -> str:
    """Save a validated upload through the storage API under a generated name; returns the name the
    storage chose. Inside `uploads_discarded_on_error`, the file is deleted again if that block fails."""
    name = default_storage.save(
        posixpath.join(folder, secrets.token_hex(16) + upload.kind.extension), ContentFile(upload.content)
    )
    stored = _stored.get()
    if stored is not None:
        stored.append(name)
    return name


@contextlib.contextmanager
def uploads_discarded_on_error() -> Iterator[None]:
    """Wrap a write that stores files and may still fail (a later refusal in the same transaction):
    the database rolls back, and this removes the files stored inside, so no orphan is left."""
    token = _stored.set([])
    try:
        yield
    except BaseException:
        for name in _stored.get() or []:
            default_storage.delete(name)
        raise
    finally:
        _stored.reset(token)


def upload_kind_for_name(name: str, kinds: tuple[UploadKind, ...] = IMAGE_KINDS) -> UploadKind | None:
    """The kind of a stored file, from the extension `store_upload` gave it (trusted: we chose it)."""
    extension = posixpath.splitext(name.lower())[1]
    return next((kind for kind in kinds if extension in kind.extensions), None)
