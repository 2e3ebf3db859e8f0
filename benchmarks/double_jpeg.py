"""How often deal's double-JPEG-compression indicator fires on JPEGs compressed twice, and on JPEGs compressed
once: the table of docs/provenance.md ("Double JPEG compression, measured").

    python -m deal_benchmarks.double_jpeg ../shared/data/natural --out double_jpeg.md

For each photograph (BSDS500's test split and Kodak, or any folders of images given) and each quality pair
(Q1, Q2): the photo is saved as JPEG at Q1, decoded, saved again at Q2 (Pillow, 4:2:0, the same grid; one
row crops CROP pixels off the top and left in between, moving the grid), and the indicator of
deal.provenance.jpeg reads the second file. The same photo saved once at Q2 gives the false alarms. Each
cell counts the files where the indicator said "indicated", and those it could not measure (null: steps of
1 where it looks, at quality near 100).

BSDS500's files are themselves JPEGs (quality 95); they are resized to 3/4 of their size with area
averaging first, which removes that compression's block grid, so that "once" means once. Kodak's are
lossless PNGs and are used as they are.
"""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from deal.fileio import atomic_write_text
from deal.provenance.jpeg import DOUBLE_COMPRESSION_THRESHOLD, read_jpeg

FIRST_QUALITIES = (50, 60, 70, 80, 90, 95)
SECOND_QUALITIES = (70, 80, 90, 95, 98)
CROP = 4  # pixels cropped off the top and left between the two compressions (the cropped row)
CROPPED_FIRST = 60  # the first quality of the cropped row
RESIZE_JPEG_SOURCES = 0.75  # a JPEG source is resized by this factor (area averaging) to erase its own grid


@dataclass
class Counts:
    """How the indicator answered on a set of files."""

    indicated: int = 0
    not_indicated: int = 0
    unmeasured: int = 0
    scores: list[float] = field(default_factory=list)

    def add(self, section: dict) -> None:
        dc = section["double_compression"]
        if dc["indicated"] is None:
            self.unmeasured += 1
            return
        self.scores.append(dc["score"])
        if dc["indicated"]:
            self.indicated += 1
        else:
            self.not_indicated += 1

    @property
    def total(self) -> int:
        return self.indicated + self.not_indicated + self.unmeasured



def photos(roots: Sequence[Path], limit: int = 0) -> Iterator[tuple[str, np.ndarray]]:
    """(name, HxWx3 uint8 RGB) of the photographs under `roots` (BSDS500/test and Kodak/all inside a
    `natural` folder, else every image file under each root), JPEG sources resized (see the docstring)."""
    files: list[Path] = []
    for root in roots:
        named = [root / "BSDS500" / "test", root / "Kodak" / "all"]
        folders = [f for f in named if f.is_dir()] or [root]
        for folder in folders:
            files += sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    for path in files[:limit] if limit else files:
        with Image.open(path) as img:
            rgb = img.convert("RGB")
            if img.format == "JPEG":
                w, h = rgb.size
                size = (round(w * RESIZE_JPEG_SOURCES), round(h * RESIZE_JPEG_SOURCES))
                rgb = rgb.resize(size, Image.Resampling.BOX)
        yield path.name, np.asarray(rgb)


def _jpeg(rgb: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality, subsampling=2)
    return buf.getvalue()


def _indicator(data: bytes) -> dict:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return read_jpeg(img)


Row = tuple[int, int]  # (first quality, pixels cropped between the compressions)
ROWS: tuple[Row, ...] = (*((q, 0) for q in FIRST_QUALITIES), (CROPPED_FIRST, CROP))


Results = tuple[dict[tuple[Row, int], Counts], dict[int, Counts], int]


def measure(roots: Sequence[Path], limit: int = 0) -> Results:
    """({((Q1, crop), Q2): counts of double compressions}, {Q2: counts of single compressions}, photos)."""
    double = {(row, q2): Counts() for row in ROWS for q2 in SECOND_QUALITIES}
    single = {q2: Counts() for q2 in SECOND_QUALITIES}
    n = 0
    for _, rgb in photos(roots, limit):
        n += 1
        for q2 in SECOND_QUALITIES:
            single[q2].add(_indicator(_jpeg(rgb, q2)))
        for q1, crop in ROWS:
            once = np.asarray(Image.open(io.BytesIO(_jpeg(rgb, q1))).convert("RGB"))[crop:, crop:]
            for q2 in SECOND_QUALITIES:
                double[((q1, crop), q2)].add(_indicator(_jpeg(np.ascontiguousarray(once), q2)))
    return double, single, n


def _cell(c: Counts) -> str:
    return f"{c.indicated}/{c.total}" + (f" ({c.unmeasured} n/m)" if c.unmeasured else "")


def _row_name(row: Row) -> str:
    q1, crop = row
    return f"{q1}, then cropped by {crop} px" if crop else str(q1)


def table(double: dict[tuple[Row, int], Counts], single: dict[int, Counts], n: int) -> str:
    """The Markdown tables: files where the indicator fired, per (Q1, Q2), with those it could not measure
    ("n/m"); and its false alarms on single compressions per Q2."""
    head = "| first Q1, then Q2: | " + " | ".join(str(q) for q in SECOND_QUALITIES) + " |"
    rule = "|---|" + "---|" * len(SECOND_QUALITIES)
    lines = [f"Double compressions: files indicated, of {n} photos (n/m: not measured)", "", head, rule]
    for row in ROWS:
        cells = " | ".join(_cell(double[(row, q2)]) for q2 in SECOND_QUALITIES)
        lines.append(f"| {_row_name(row)} | {cells} |")
    lines += [
        "",
        f"Single compressions: false alarms, of {n} photos (n/m: not measured)",
        "",
        "| saved once at Q2 | " + " | ".join(str(q) for q in SECOND_QUALITIES) + " |",
        rule,
        "| indicated | " + " | ".join(_cell(single[q]) for q in SECOND_QUALITIES) + " |",
        "",
        f"Indicated: score > {DOUBLE_COMPRESSION_THRESHOLD}.",
    ]
    return "\n".join(lines) + "\n"


def summary(double: dict[tuple[Row, int], Counts], single: dict[int, Counts], n: int) -> dict:
    """The counts as JSON-ready numbers (for the record beside the table)."""
    return {
        "photos": n,
        "threshold": DOUBLE_COMPRESSION_THRESHOLD,
        "double": {
            f"{_row_name(row)} -> {q2}": {
                "indicated": c.indicated, "not_indicated": c.not_indicated, "unmeasured": c.unmeasured,
                "median_score": float(np.median(c.scores)) if c.scores else None,
            }
            for (row, q2), c in double.items()
        },
        "single": {
            str(q): {"indicated": c.indicated, "not_indicated": c.not_indicated, "unmeasured": c.unmeasured}
            for q, c in single.items()
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("roots", nargs="+", type=Path, help="the natural-images folder, or folders of photos")
    parser.add_argument("--limit", type=int, default=0, help="at most N photos (0: all)")
    parser.add_argument("--out", type=Path, help="write the table here (and the counts beside it, .json)")
    args = parser.parse_args(argv)
    double, single, n = measure(args.roots, args.limit)
    if n == 0:
        parser.error(f"no photos found under {', '.join(map(str, args.roots))}")
    text = table(double, single, n)
    print(text, end="")
    if args.out:
        atomic_write_text(args.out, text)
        counts = json.dumps(summary(double, single, n), indent=2) + "\n"
        atomic_write_text(args.out.with_suffix(".json"), counts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
