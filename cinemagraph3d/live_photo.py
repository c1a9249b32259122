"""Apple Live Photo pairs, as bytes: a JPEG key photo and a QuickTime movie that share one
content identifier (pure functions; :mod:`cinemagraph3d.io` writes the files).

What Apple's Photos app reads (QuickTime File Format specification for the atoms; the Apple
maker-note and key names as documented by Apple's Core Media / Image I/O constants):

- the **JPEG**: an EXIF maker note in Apple's layout (``"Apple iOS\\0"``, version 1, ``"MM"``, then
  an IFD whose offsets count from the maker note's start) holding tag 17 (0x0011), the asset
  identifier, as an ASCII UUID;
- the **MOV**: a movie-level ``meta`` atom with an ``mdta`` handler, a ``keys`` atom declaring
  ``com.apple.quicktime.content.identifier`` and an ``ilst`` item with the same UUID (UTF-8); and a
  timed-metadata track (handler ``meta``, sample entry ``mebx``) declaring the key
  ``com.apple.quicktime.still-image-time`` (namespace ``mdta``, data type: well-known type 65,
  signed 8-bit integer) with one sample of value −1 at the time of the key photo.

:func:`add_live_photo_metadata` adds both atoms to a movie written by ffmpeg (``mdat`` before
``moov``): the sample goes into a new ``mdat`` after the first one, so no existing chunk offset
moves, and the rewritten ``moov`` follows it.
"""

from __future__ import annotations

import hashlib
import struct
import uuid

__all__ = [
    "CONTENT_IDENTIFIER_KEY",
    "STILL_IMAGE_TIME_KEY",
    "content_identifier",
    "jpeg_with_asset_identifier",
    "add_live_photo_metadata",
    "boxes",
]

CONTENT_IDENTIFIER_KEY = "com.apple.quicktime.content.identifier"
STILL_IMAGE_TIME_KEY = "com.apple.quicktime.still-image-time"
_WELL_KNOWN_SINT8 = 65  # QuickTime well-known data type: signed 8-bit integer
_WELL_KNOWN_UTF8 = 1


def content_identifier(data: bytes) -> str:
    """A deterministic UUID (upper case, as Apple writes them) derived from ``data``: the same
    video gives the same identifier, so renders stay bit-identical."""
    digest = hashlib.sha256(data).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4)).upper()


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full(kind: bytes, payload: bytes, version: int = 0, flags: int = 0) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags) + payload)


def boxes(data: bytes, start: int = 0, end: int | None = None):
    """Yield ``(type, payload_start, box_end)`` of the boxes in ``data[start:end]``."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        head = 8
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
            head = 16
        elif size == 0:
            size = end - pos
        if size < head or pos + size > end:
            raise ValueError(f"malformed box {kind!r} at {pos}")
        yield kind, pos + head, pos + size
        pos += size


def jpeg_with_asset_identifier(jpeg: bytes, identifier: str) -> bytes:
    """``jpeg`` with an EXIF APP1 segment (right after SOI and any APP0) whose Apple maker note
    holds tag 17, the Live Photo asset identifier."""
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    value = identifier.encode("ascii") + b"\x00"
    # Apple maker note: header, then an IFD with one ASCII entry; offsets from the note's start.
    head = b"Apple iOS\x00" + struct.pack(">H", 1) + b"MM"
    ifd_at = len(head)
    string_at = ifd_at + 2 + 12 + 4
    note = head + struct.pack(">H", 1) + struct.pack(">HHII", 0x0011, 2, len(value), string_at) + b"\0\0\0\0"
    note += value
    # TIFF (big endian): IFD0 -> Exif IFD -> MakerNote (UNDEFINED)
    ifd0_at = 8
    exif_at = ifd0_at + 2 + 12 + 4
    note_at = exif_at + 2 + 12 + 4
    tiff = b"MM" + struct.pack(">HI", 42, ifd0_at)
    tiff += struct.pack(">H", 1) + struct.pack(">HHII", 0x8769, 4, 1, exif_at) + b"\0\0\0\0"
    tiff += struct.pack(">H", 1) + struct.pack(">HHII", 0x927C, 7, len(note), note_at) + b"\0\0\0\0"
    tiff += note
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    pos = 2
    if jpeg[2:4] == b"\xff\xe0":
        pos = 4 + struct.unpack(">H", jpeg[4:6])[0]
    return jpeg[:pos] + app1 + jpeg[pos:]


def _content_meta(identifier: str) -> bytes:
    key = CONTENT_IDENTIFIER_KEY.encode()
    hdlr = _full(b"hdlr", b"\0\0\0\0" + b"mdta" + b"\0" * 12 + b"\0")
    keys = _full(b"keys", struct.pack(">I", 1) + struct.pack(">I", 8 + len(key)) + b"mdta" + key)
    data = _box(b"data", struct.pack(">II", _WELL_KNOWN_UTF8, 0) + identifier.encode())
    ilst = _box(b"ilst", _box(struct.pack(">I", 1), data))
    return _box(b"meta", hdlr + keys + ilst)  # QuickTime's movie-level meta is a plain atom


def _still_time_track(track_id: int, timescale: int, duration: int, offset: int, sample: bytes) -> bytes:
    key = STILL_IMAGE_TIME_KEY.encode()
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    tkhd = _full(b"tkhd", struct.pack(">IIIII", 0, 0, track_id, 0, duration) + b"\0" * 8
                 + struct.pack(">hhhH", 0, 0, 0, 0) + matrix + struct.pack(">II", 0, 0), flags=0x3)  # fmt: skip
    mdhd = _full(b"mdhd", struct.pack(">IIIIHH", 0, 0, timescale, duration, 0x55C4, 0))
    hdlr = _full(b"hdlr", b"\0\0\0\0" + b"meta" + b"\0" * 12 + b"Core Media Metadata\0")
    keyd = _box(b"keyd", b"mdta" + key)
    dtyp = _box(b"dtyp", struct.pack(">II", 0, _WELL_KNOWN_SINT8))
    mebx = _box(
        b"mebx", b"\0" * 6 + struct.pack(">H", 1) + _box(b"keys", _box(struct.pack(">I", 1), keyd + dtyp))
    )
    stsd = _full(b"stsd", struct.pack(">I", 1) + mebx)
    stts = _full(b"stts", struct.pack(">III", 1, 1, duration))
    stsc = _full(b"stsc", struct.pack(">IIII", 1, 1, 1, 1))
    stsz = _full(b"stsz", struct.pack(">III", 0, 1, len(sample)))
    stco = _full(b"stco", struct.pack(">II", 1, offset))
    stbl = _box(b"stbl", stsd + stts + stsc + stsz + stco)
    dinf = _box(b"dinf", _full(b"dref", struct.pack(">I", 1) + _full(b"url ", b"", flags=1)))
    minf = _box(b"minf", _full(b"nmhd", b"") + dinf + stbl)
    return _box(b"trak", tkhd + _box(b"mdia", mdhd + hdlr + minf))


def add_live_photo_metadata(mov: bytes, identifier: str) -> bytes:
    """``mov`` (written by ffmpeg, ``mdat`` before ``moov``) with the Live Photo atoms: the
    content identifier in a movie-level ``meta`` atom and a still-image-time metadata track whose
    one sample (value −1) is at time 0, the key photo's time.

    Raises:
        ValueError: a movie without ``mvhd``, or with ``moov`` before ``mdat``.
    """
    top = list(boxes(mov))
    kinds = [k for k, _, _ in top]
    if b"moov" not in kinds or b"mdat" not in kinds or kinds.index(b"moov") < kinds.index(b"mdat"):
        raise ValueError("expected a movie with mdat before moov")
    _, moov_start, moov_end = top[kinds.index(b"moov")]
    children = list(boxes(mov, moov_start, moov_end))
    mvhd = next((c for c in children if c[0] == b"mvhd"), None)
    if mvhd is None:
        raise ValueError("movie without mvhd")
    _, p, e = mvhd
    version = mov[p]
    body = bytearray(mov[p:e])
    if version == 1:
        timescale, duration = struct.unpack(">IQ", body[20:32])
    else:
        timescale, duration = struct.unpack(">II", body[12:20])
    next_id = struct.unpack(">I", body[-4:])[0]
    body[-4:] = struct.pack(">I", next_id + 1)
    before = mov[: top[kinds.index(b"moov")][1] - 8]
    sample = struct.pack(">I", 9) + struct.pack(">I", 1) + struct.pack(">b", -1)
    extra_mdat = _box(b"mdat", sample)
    sample_offset = len(before) + 8
    parts = []
    for kind, s, e2 in children:
        if kind == b"mvhd":
            parts.append(_box(b"mvhd", bytes(body)))
        elif kind != b"meta":
            parts.append(mov[s - 8 : e2])
    parts.append(_still_time_track(next_id, timescale, int(duration), sample_offset, sample))
    parts.append(_content_meta(identifier))
    tail = mov[moov_end:]
    return before + extra_mdat + _box(b"moov", b"".join(parts)) + tail
