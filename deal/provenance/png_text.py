"""PNG text chunks (tEXt, zTXt, iTXt), read with a bounded chunk walker.

Hand-rolled on purpose: Pillow refuses a whole image whose text chunk inflates past its limit and keeps no
record of chunks it skipped; a forensic reader must report such a chunk as a note and read the others.
Each chunk's declared length is checked against the bytes left, compressed text is inflated to at most
limits.MAX_INFLATED_BYTES, and at most limits.MAX_PNG_CHUNKS chunks are walked.
"""

from __future__ import annotations

import struct
import zlib

from deal.provenance.limits import MAX_INFLATED_BYTES, MAX_PNG_CHUNKS, MAX_TEXT_CHUNK_BYTES

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")


def _inflate(data: bytes) -> str | None:
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, MAX_INFLATED_BYTES)
    except zlib.error:
        return None
    if d.unconsumed_tail:
        return None
    return out.decode("utf-8", errors="replace")


def _parse(kind: bytes, body: bytes) -> tuple[str, str | None, str | None]:
    """(keyword, text or None, problem or None) of one text chunk."""
    keyword, sep, rest = body.partition(b"\x00")
    key = keyword.decode("latin-1", errors="replace")[:79]
    if not sep:
        return key, None, "no keyword separator"
    if kind == b"tEXt":
        return key, rest.decode("latin-1", errors="replace"), None
    if kind == b"zTXt":
        text = _inflate(rest[1:])
        return key, text, None if text is not None else "compressed text is corrupt or inflates too large"
    # iTXt: compression flag, method, language\0, translated keyword\0, text
    if len(rest) < 2:
        return key, None, "truncated iTXt header"
    compressed, payload = rest[0], rest[2:]
    parts = payload.split(b"\x00", 2)
    if len(parts) < 3:
        return key, None, "truncated iTXt header"
    raw = parts[2]
    if compressed:
        text = _inflate(raw)
        return key, text, None if text is not None else "compressed text is corrupt or inflates too large"
    return key, raw.decode("utf-8", errors="replace"), None


def read_png_text(data: bytes) -> tuple[dict[str, str], list[str]]:
    """({keyword: text} of the file's text chunks, notes on chunks that could not be read).

    A keyword that appears more than once keeps its first text. Returns ({}, []) for a non-PNG file.
    """
    if not data.startswith(PNG_SIGNATURE):
        return {}, []
    texts: dict[str, str] = {}
    notes: list[str] = []
    pos, n = len(PNG_SIGNATURE), 0
    while pos + 8 <= len(data):
        n += 1
        if n > MAX_PNG_CHUNKS:
            notes.append(f"PNG: more than {MAX_PNG_CHUNKS} chunks; the rest were not read")
            break
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body_start = pos + 8
        if body_start + length + 4 > len(data):
            if kind in _TEXT_CHUNKS or kind != b"IEND":
                notes.append(
                    f"PNG: chunk {kind.decode('latin-1', 'replace')!r} declares {length:,} bytes but the file "
                    "ends first (truncated)"
                )
            break
        if kind in _TEXT_CHUNKS:
            if length > MAX_TEXT_CHUNK_BYTES:
                notes.append(
                    f"PNG: a {kind.decode()} chunk of {length:,} bytes was not read (over "
                    f"{MAX_TEXT_CHUNK_BYTES // 2**20} MiB)"
                )
            else:
                key, text, problem = _parse(kind, data[body_start : body_start + length])
                if problem:
                    notes.append(f"PNG: {kind.decode()} chunk {key!r}: {problem}")
                elif text is not None:
                    texts.setdefault(key, text)
        if kind == b"IEND":
            break
        pos = body_start + length + 4
    return texts, notes
