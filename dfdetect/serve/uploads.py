"""Uploads: streamed into a private folder, capped while they arrive, and checked by content.

The body is parsed as it arrives (python-multipart's streaming parser) rather than through
Starlette's form parser, which spools every upload, whatever its size, to a shared temporary
file first. Here the bytes go straight to a file in a folder only this user can read (0700), the
cap stops the upload at the byte it is crossed, and every early exit (too big, truncated, the
client gone) deletes what was written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dfdetect.serve.http_errors import ApiError

if TYPE_CHECKING:
    from starlette.requests import Request

FIELD = "file"
# After the cap is crossed the rest of the body is read and thrown away (up to this much), so the
# client can read the 413 instead of a reset connection; past it the connection is closed.
DRAIN_LIMIT = 32 * 1024 * 1024
# A multipart envelope around the file: boundaries and part headers.
ENVELOPE_SLACK = 64 * 1024
SNIFF_BYTES = 512


@dataclass
class Upload:
    path: Path
    filename: str  # the client's name, for display only: never used as a path
    size: int


def make_private_folder(root: str | None = None) -> Path:
    """A fresh folder readable by this user only (mkdtemp makes it 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="dfdetect-serve-", dir=root))
    os.chmod(folder, 0o700)
    return folder


def remove_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def looks_like_video(head: bytes) -> str | None:
    """The container a file's first bytes announce (mp4/mov, mkv/webm, avi, ...), else None.

    A name says nothing (a text file called .mp4 is a text file); these signatures are what the
    decoders themselves check first."""
    if len(head) >= 12 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith(b"RIFF") and head[8:12] in (b"AVI ", b"AVIX"):
        return "avi"
    if head.startswith(b"FLV\x01"):
        return "flv"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "asf"
    if head.startswith(b"\x00\x00\x01\xba") or head.startswith(b"\x00\x00\x01\xb3"):
        return "mpeg"
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return "mpeg-ts"
    return None


def check_video_file(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if not head:
        raise ApiError(400, "the uploaded file is empty", "choose a video file and upload it again")
    kind = looks_like_video(head)
    if kind is None:
        raise ApiError(415, "the uploaded file is not a video (its content matches no video container)",
                       "upload an mp4, mov, mkv, webm or avi video; the file name's extension is not checked")
    return kind


def display_name(filename: str | None) -> str:
    base = os.path.basename((filename or "").replace("\\", "/")).strip()
    return base[:200] if base and base.isprintable() else "upload"


class _Receiver:
    """python-multipart callbacks: the `file` part's bytes go to `path`, capped at `limit`."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path, self.limit = path, limit
        self.fh = None
        self.size = 0
        self.filename: str | None = None
        self.found = self.ended = self.over = False
        self._header_field = b""
        self._headers: dict[bytes, bytes] = {}
        self._in_file = False

    def on_part_begin(self) -> None:
        self._headers, self._in_file = {}, False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        key = self._header_field.lower()
        self._headers[key] = self._headers.get(key, b"") + data[start:end]

    def on_header_end(self) -> None:
        self._header_field = b""

    def on_headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        if params.get(b"name") == FIELD.encode() and not self.found:
            self.found = self._in_file = True
            self.filename = params.get(b"filename", b"").decode("utf-8", "replace")
            self.fh = open(self.path, "wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._in_file or self.over:
            return
        self.size += end - start
        if self.size > self.limit:
            self.over = True
            return
        self.fh.write(data[start:end])

    def on_part_end(self) -> None:
        if self._in_file and self.fh is not None:
            self.fh.close()
        self._in_file = False

    def on_end(self) -> None:
        self.ended = True

    def close(self) -> None:
        if self.fh is not None and not self.fh.closed:
            self.fh.close()


def _boundary(content_type: str) -> bytes:
    from python_multipart.multipart import parse_options_header

    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise ApiError(400, "expected a multipart/form-data body with a `file` field",
                       "send the video as a form field named file, e.g. curl -F file=@clip.mp4 ...")
    return boundary


def too_large(limit: int) -> ApiError:
    mb = limit / (1024 * 1024)
    return ApiError(413, f"the upload is larger than the server's limit of {mb:g} MB",
                    "trim or re-encode the video, or start the server with a larger --max-upload-mb")


async def receive_upload(request: "Request", folder: Path, limit: int) -> Upload:
    """Stream the request's `file` field into FOLDER; the Upload, or ApiError (the file deleted)."""
    from python_multipart import MultipartParser
    from starlette.requests import ClientDisconnect

    boundary = _boundary(request.headers.get("content-type", ""))
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + ENVELOPE_SLACK:
        await _drain(request, int(declared))
        raise too_large(limit)
    path = folder / f"{uuid.uuid4().hex}.upload"
    receiver = _Receiver(path, limit)
    parser = MultipartParser(boundary, {name: getattr(receiver, name) for name in (
        "on_part_begin", "on_header_field", "on_header_value", "on_header_end", "on_headers_finished",
        "on_part_data", "on_part_end", "on_end")})
    received, kept = 0, False
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if receiver.over:
                if received > limit + DRAIN_LIMIT:
                    break
                continue
            parser.write(chunk)
        parser.finalize()
        if receiver.over:
            raise too_large(limit)
        if not receiver.found:
            raise ApiError(400, "no `file` field in the form", "send the video as a form field named file")
        if not receiver.ended:
            raise ApiError(400, "the upload was cut short (the form data ends before its closing boundary)",
                           "upload the file again; check the connection")
        receiver.close()
        check_video_file(path)
        kept = True
        return Upload(path, display_name(receiver.filename), receiver.size)
    except ClientDisconnect:
        raise ApiError(400, "the client disconnected during the upload", "upload the file again") from None
    except ApiError:
        raise
    except Exception as exc:  # a malformed body the parser refuses
        raise ApiError(400, f"malformed form data ({type(exc).__name__}: {str(exc)[:120]})",
                       "send a multipart/form-data body with a `file` field") from None
    finally:
        receiver.close()
        if not kept:  # too big, cut short, not a video, the client gone: nothing stays behind
            path.unlink(missing_ok=True)


async def _drain(request: "Request", declared: int) -> None:
    """Read and discard a body we refuse (bounded), so the client gets to read the answer."""
    from starlette.requests import ClientDisconnect

    if declared > DRAIN_LIMIT:
        return
    try:
        async for _ in request.stream():
            pass
    except ClientDisconnect:
        pass
