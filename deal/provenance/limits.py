"""The bounds every provenance reader respects: a hostile file costs at most this much memory and time.

The provenance readers parse bytes chosen by whoever made the file. Each part reads at most these sizes
(a larger block is skipped with a note), and the pixel heuristics look at a bounded central crop, so the
time per file is bounded by the file's size whatever its metadata claims.
"""

from __future__ import annotations

MAX_C2PA_FILE_BYTES = 512 * 1024 * 1024  # files larger than this are not handed to the C2PA reader
MAX_TEXT_CHUNK_BYTES = 4 * 1024 * 1024  # a PNG text chunk (compressed or not) larger than this is skipped
MAX_INFLATED_BYTES = 4 * 1024 * 1024  # a zTXt/iTXt chunk is inflated to at most this many bytes
MAX_PNG_CHUNKS = 10_000  # PNG chunks walked before giving up (a file of millions of empty chunks)
MAX_SEGMENTS = 10_000  # JPEG segments or WebP chunks walked looking for a C2PA manifest store
MAX_XMP_BYTES = 2 * 1024 * 1024  # an XMP packet larger than this is not searched
MAX_THUMBNAIL_BYTES = 1024 * 1024  # an EXIF thumbnail larger than this is not decoded
MAX_THUMBNAIL_PIXELS = 1024 * 1024
MAX_EXCERPT_CHARS = 300  # text kept from a generator trace (a prompt, a workflow) in the record
MAX_PIXEL_CROP = 1024  # the JPEG histogram and the spectrum look at most at a central crop this size
