"""CoCoGlide (TruFor's GLIDE-inpainting benchmark) in its distribution layout::

    fake/glide_inpainting_val2017_<id>_up.png   inpainted image, label 1
    mask/<class>_<id>_mask.png                  its mask (255 = inpainted)
    real/<class>_<id>.png                       the COCO original, label 0

Files pair by the COCO ``<id>``; ``<class>`` (the inpainting prompt) may contain spaces
(``cell phone``) and becomes the edited record's ``tag``. CoCoGlide is a test-only benchmark,
so every record has split ``"test"``.
"""

from __future__ import annotations

import re
from pathlib import Path

from deal.data.errors import DatasetError
from deal.data.paths import is_image_file, list_names
from deal.data.sample import Record

FAKE_STEM = re.compile(r"^glide_inpainting_val2017_(?P<id>\d+)_up$")
MASK_STEM = re.compile(r"^(?P<cls>.+)_(?P<id>\d+)_mask$")
REAL_STEM = re.compile(r"^(?P<cls>.+)_(?P<id>\d+)$")
SPLIT = "test"


def is_cocoglide_root(path: Path) -> bool:
    """True when ``path`` has ``fake/`` and ``mask/`` folders and ``fake/`` holds a GLIDE image."""
    fake = path / "fake"
    if not (fake.is_dir() and (path / "mask").is_dir()):
        return False
    return any(FAKE_STEM.match(p.stem) for p in fake.iterdir() if is_image_file(p))


def _by_id(folder: Path, pattern: re.Pattern[str]) -> dict[str, tuple[Path, re.Match[str]]]:
    found: dict[str, tuple[Path, re.Match[str]]] = {}
    if not folder.is_dir():
        return found
    for p in sorted(folder.iterdir()):
        m = pattern.match(p.stem) if is_image_file(p) else None
        if m is None:
            continue
        if m["id"] in found:
            raise DatasetError(
                f"CoCoGlide id {m['id']} occurs twice in {folder}: {found[m['id']][0].name}, {p.name}"
            )
        found[m["id"]] = (p, m)
    return found


def load_cocoglide(root: str | Path, *, include_authentic: bool = True) -> list[Record]:
    """CoCoGlide records: one edited record per ``fake/`` image (mask required, ``original`` = its
    ``real/`` image when present) and, with ``include_authentic``, one authentic record per
    ``real/`` image. Sorted: edited first, then authentic, each by name.

    Raises:
        DatasetError: not a CoCoGlide folder, a fake image without mask (names listed), duplicate ids.
    """
    root = Path(root)
    fakes = _by_id(root / "fake", FAKE_STEM)
    if not fakes:
        raise DatasetError(
            f"no CoCoGlide images in {root}: looked for fake/glide_inpainting_val2017_<id>_up.png "
            "with mask/<class>_<id>_mask.png and real/<class>_<id>.png"
        )
    masks = _by_id(root / "mask", MASK_STEM)
    reals = _by_id(root / "real", REAL_STEM)
    missing = [fakes[i][0].name for i in sorted(fakes) if i not in masks]
    if missing:
        raise DatasetError(
            f"{len(missing)} CoCoGlide fake image(s) in {root / 'fake'} have no mask/<class>_<id>_mask.png: "
            + list_names(missing)
        )
    records = []
    for i in sorted(fakes, key=lambda k: fakes[k][0].stem):
        fake, _ = fakes[i]
        mask, m = masks[i]
        real = reals.get(i)
        records.append(
            Record(
                image=str(fake),
                mask=str(mask),
                label=1,
                name=fake.stem,
                split=SPLIT,
                original=str(real[0]) if real else None,
                tag=m["cls"],
            )
        )
    if include_authentic:
        for i in sorted(reals, key=lambda k: reals[k][0].stem):
            real, m = reals[i]
            records.append(
                Record(image=str(real), mask=None, label=0, name=real.stem, split=SPLIT, tag=m["cls"])
            )
    return records
