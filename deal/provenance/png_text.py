"""PNG chunks: the text chunks (tEXt, zTXt, iTXt) read with a bounded chunk walker, and the text chunks Pillow
refuses set aside so that the pixels still decode.

Hand-rolled on purpose: Pillow refuses a whole image whose text chunk inflates past its limit
(PngImagePlugin.MAX_TEXT_CHUNK, 1 MiB; ComfyUI and A1111 workflows pass it) and keeps no record of chunks it
skipped; a forensic reader must decode the pixels regardless, report such a chunk as a note and read the
others. Each chunk's declared length is checked against the bytes left, compressed text is inflated to at
most limits.MAX_INFLATED_BYTES, and at most limits.MAX_PNG_CHUNKS chunks are walked.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from deal.provenance.limits import MAX_INFLATED_BYTES, MAX_PNG_CHUNKS, MAX_TEXT_CHUNK_BYTES

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")


@dataclass(frozen=True)
class PngChunk:
    """One complete chunk: its type, the offset of its length field, and its declared data length."""

    kind: bytes
    start: int
    length: int

    @property
    def name(self) -> str:
        return self.kind.decode("latin-1", "replace")

    @property
    def end(self) -> int:
        """The offset just past its CRC."""
        return self.start + 12 + self.length

    def body(self, data: bytes) -> bytes:
        return data[self.start + 8 : self.start + 8 + self.length]


def png_chunks(data: bytes, notes: list[str] | None = None) -> Iterator[PngChunk]:
    """The complete chunks of a PNG, in order, up to IEND (none for a file that is not a PNG). A chunk that
    runs past the end of the file, or more than MAX_PNG_CHUNKS chunks, ends the walk with a note."""
    if not data.startswith(PNG_SIGNATURE):
        return
    pos = len(PNG_SIGNATURE)
    for _ in range(MAX_PNG_CHUNKS):
        if pos + 8 > len(data):
            return
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if pos + 12 + length > len(data):
            if notes is not None and kind != b"IEND":
                notes.append(
                    f"PNG: chunk {kind.decode('latin-1', 'replace')!r} declares {length:,} bytes but the file "
                    "ends first (truncated)"
                )
            return
        yield PngChunk(kind, pos, length)
        if kind == b"IEND":
            return
        pos += 12 + length
    if notes is not None:
        notes.append(f"PNG: more than {MAX_PNG_CHUNKS} chunks; the rest were not read")


def _inflate(data: bytes, limit: int = MAX_INFLATED_BYTES) -> str | None:
    """The text of zlib data inflated to at most `limit` bytes; None when corrupt or larger."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, limit)
    except zlib.error:
        return None
    if d.unconsumed_tail:
        return None
    return out.decode("utf-8", errors="replace")


def _split(kind: bytes, body: bytes) -> tuple[str, bytes | None, bool, str | None]:
    """(keyword, the text's bytes, whether they are compressed, problem or None) of one text chunk."""
    keyword, sep, rest = body.partition(b"\x00")
    key = keyword.decode("latin-1", errors="replace")[:79]
    if not sep:
        return key, None, False, "no keyword separator"
    if kind == b"tEXt":
        return key, rest, False, None
    if kind == b"zTXt":
        return key, rest[1:], True, None
    # iTXt: compression flag, method, language\0, translated keyword\0, text
    parts = rest[2:].split(b"\x00", 2) if len(rest) >= 2 else []
    if len(parts) < 3:
        return key, None, False, "truncated iTXt header"
    return key, parts[2], bool(rest[0]), None


def _parse(kind: bytes, body: bytes) -> tuple[str, str | None, str | None]:
    """(keyword, text or None, problem or None) of one text chunk."""
    key, raw, compressed, problem = _split(kind, body)
    if raw is None:
        return key, None, problem
    if compressed:
        text = _inflate(raw)
        return key, text, None if text is not None else "compressed text is corrupt or inflates too large"
    return key, raw.decode("latin-1" if kind == b"tEXt" else "utf-8", errors="replace"), None


def read_png_text(data: bytes) -> tuple[dict[str, str], list[str]]:
    """({keyword: text} of the file's text chunks, notes on chunks that could not be read).

    A keyword that appears more than once keeps its first text. Returns ({}, []) for a non-PNG file.
    """
    texts: dict[str, str] = {}
    notes: list[str] = []
    for chunk in png_chunks(data, notes):
        if chunk.kind not in _TEXT_CHUNKS:
            continue
        if chunk.length > MAX_TEXT_CHUNK_BYTES:
            notes.append(
                f"PNG: a {chunk.name} chunk of {chunk.length:,} bytes was not read (over "
                f"{MAX_TEXT_CHUNK_BYTES // 2**20} MiB)"
            )
            continue
        key, text, problem = _parse(chunk.kind, chunk.body(data))
        if problem:
            notes.append(f"PNG: {chunk.name} chunk {key!r}: {problem}")
        elif text is not None:
            texts.setdefault(key, text)
    return texts, notes


def _pillow_refuses(kind: bytes, body: bytes, text_so_far: int) -> tuple[str, int, str | None]:
    """(keyword, the text's size, why Pillow refuses the chunk or None), by Pillow's own rules: compressed
    text that inflates past PngImagePlugin.MAX_TEXT_CHUNK, or text past MAX_TEXT_MEMORY in all."""
    from PIL import PngImagePlugin

    key, raw, compressed, _ = _split(kind, body)
    if raw is None:
        return key, 0, None
    size = len(raw)
    if compressed:
        limit = PngImagePlugin.MAX_TEXT_CHUNK
        d = zlib.decompressobj()
        try:
            size = len(d.decompress(raw, limit))
        except zlib.error:  # Pillow keeps an empty text for corrupt data: no refusal
            return key, 0, None
        if d.unconsumed_tail:
            return key, size, f"its text inflates past Pillow's {limit // 2**20} MiB limit for one chunk"
    if text_so_far + size > PngImagePlugin.MAX_TEXT_MEMORY:
        return key, size, f"the file's text passes Pillow's {PngImagePlugin.MAX_TEXT_MEMORY // 2**20} MiB limit"
    return key, size, None


def pillow_readable(data: bytes) -> tuple[bytes, list[str]]:
    """The bytes Pillow can open, and a note for each chunk set aside to get them.

    For a PNG: without the text chunks Pillow refuses (a compressed text over its limit, or too much text
    in all): text chunks are ancillary and each carries its own CRC, so the pixels decode exactly as they
    would with them. The provenance reader still reads those chunks itself (read_png_text). Any other file:
    unchanged, no note.
    """
    refused: list[PngChunk] = []
    notes: list[str] = []
    text = 0
    for chunk in png_chunks(data):
        if chunk.kind not in _TEXT_CHUNKS:
            continue
        key, size, why = _pillow_refuses(chunk.kind, chunk.body(data), text)
        if why is None:
            text += size
            continue
        refused.append(chunk)
        notes.append(
            f"PNG: {chunk.name} chunk {key!r} of {chunk.length:,} bytes was skipped to decode the pixels "
            f"({why})"
        )
    if not refused:
        return data, []
    parts, pos = [], 0
    for chunk in refused:
        parts.append(data[pos : chunk.start])
        pos = chunk.end
    parts.append(data[pos:])
    return b"".join(parts), notes
