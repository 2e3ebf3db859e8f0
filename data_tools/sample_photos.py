"""Writes the colour photos bundled with scikit-image to a folder, as PNG files: source photos for
``deal data synth`` when no photo folder is at hand (the newcomer training recipe in docs/training.md).

    python -m deal_data_tools.sample_photos photos/
"""

from __future__ import annotations

import sys
from pathlib import Path


def write_sample_photos(out: str | Path) -> list[Path]:
    import cv2
    import numpy as np
    from deal_data_tools.synthesis.photos import sample_photos

    from deal.fileio import atomic_write_bytes

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, photo in sample_photos():
        path = out / f"{name}.png"
        _, buf = cv2.imencode(".png", np.ascontiguousarray(photo[..., ::-1]))
        atomic_write_bytes(path, buf.tobytes())
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m deal_data_tools.sample_photos OUT_DIR", file=sys.stderr)
        return 2
    paths = write_sample_photos(args[0])
    print(f"wrote {len(paths)} photos to {args[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
