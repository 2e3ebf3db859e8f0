"""The calibration manifest of the bundled detector: half of the CoCoGlide development split plus authentic photos.

    python -m deal_benchmarks.calibration_set --out calibration/manifest.csv
    deal export CHECKPOINT_OR_DETECTOR --val calibration/manifest.csv --out detector.safetensors

Rows (a manifest CSV in deal's generic format, absolute paths): the GLIDE edits of half ``a`` of the
development split (:func:`deal_benchmarks.dev_card.dev_triplets`, the even positions of its sorted
``IDS.txt``) with their masks, their unedited originals (label 0), and the BSDS500 test and Kodak photos
(label 0). ``deal export`` chooses the pixel threshold and the verdict's two image thresholds on them, so
that ``authentic`` is said where a threshold reaches the stated precision; half ``b`` is then the held-out
half on which the card reports the verdicts (``python -m deal_benchmarks.dev_card --half b``).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from deal_benchmarks.dev_card import DEV, dev_triplets

NATURAL = DEV.parents[1] / "natural"
AUTHENTIC = (NATURAL / "BSDS500" / "test", NATURAL / "Kodak")


def calibration_rows(dev: Path = DEV, authentic: tuple[Path, ...] = AUTHENTIC) -> list[dict[str, str]]:
    """Manifest rows: half a's edits (label 1) and originals (label 0), then every authentic photo (label 0)."""
    from deal.data.paths import iter_image_files

    rows = []
    for edit, mask, original in dev_triplets(dev, "a"):
        rows.append({"image": str(Path(edit).resolve()), "mask": str(Path(mask).resolve()), "label": "1"})
        rows.append({"image": str(Path(original).resolve()), "mask": "", "label": "0"})
    for folder in authentic:
        rows += [{"image": str(p.resolve()), "mask": "", "label": "0"} for p in sorted(iter_image_files(folder))]
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, type=Path, help="the manifest CSV to write")
    p.add_argument("--dev", type=Path, default=DEV)
    args = p.parse_args(argv)
    if not (args.dev / "IDS.txt").is_file():
        print(f"calibration_set: {args.dev}: not a development split (no IDS.txt)", file=sys.stderr)
        return 2
    rows = calibration_rows(args.dev)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["image", "mask", "label"])
        writer.writeheader()
        writer.writerows(rows)
    edited = sum(r["label"] == "1" for r in rows)
    print(f"wrote {args.out}: {edited} edited, {len(rows) - edited} authentic")
    return 0


if __name__ == "__main__":
    sys.exit(main())
