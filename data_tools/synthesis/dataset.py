"""The dataset writer of ``deal data synth`` (see :mod:`deal_data_tools.synth` for the recipe and layout).

One image = one source photo + one generator seeded from ``(seed, index)``: the output does not depend
on the worker count or the order of work. Images are written atomically and a per-image record
(``.records/<name>.json``) marks each finished image, so an interrupted run resumes where it stopped;
the manifest is rebuilt from the records at the end.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from deal_data_tools.synthesis.config import DEFAULT_GENERATOR_WEIGHTS, DEFAULT_WEIGHTS, SynthConfig
from deal_data_tools.synthesis.edits import EditResult, apply_edit
from deal_data_tools.synthesis.history import decode_jpeg, encode_jpeg, global_resample
from deal_data_tools.synthesis.io import (
    IMAGE_SUFFIXES,
    encode_png,
    list_images,
    mask_png,
    read_rgb,
    write_bytes_atomic,
    write_csv_atomic,
)
from deal_data_tools.synthesis.names import ALL_EDIT_NAMES, GENERATOR_EDIT_NAMES
from deal_data_tools.synthesis.pool import ordered_map
from deal_data_tools.synthesis.shapes import random_region, uniform_shift

__all__ = [
    "MANIFEST_COLUMNS",
    "Example",
    "SynthesisError",
    "is_authentic",
    "make_edited_example",
    "reproduce_example",
    "synthesize_dataset",
    "synthesize_example",
]

MANIFEST_COLUMNS: tuple[str, ...] = (
    "image",
    "mask",
    "label",
    "split",
    "width",
    "height",
    "edited_fraction",
    "edit",
    "source",
    "original",
)
_RECORDS = ".records"

DonorFn = Callable[[np.random.Generator], tuple[np.ndarray, str]]


@dataclass(frozen=True)
class Example:
    """One synthesized image.

    Attributes:
        image: ``HxWx3 uint8`` RGB, the final pixels (decoded from ``jpeg`` when recompressed).
        mask: ``HxW uint8`` {0, 1}, 1 = edited (all zero for an authentic image).
        base: ``HxWx3 uint8`` RGB, the photo after the global resize/crop, before the local edit.
        pre_jpeg: ``HxWx3 uint8`` RGB, after the local edit, before JPEG recompression.
        label: 1 edited, 0 authentic.
        history: the processing history, ``|``-separated (the manifest's ``edit`` column).
        jpeg: the JPEG file bytes when recompressed, else None (the image is stored as PNG).
        original: for an edited image, the same photo without the local edit, through the same history
            (pixel-aligned with the mask, recompressed at the same JPEG quality): the objectness control's
            input. None for an authentic image.
        original_jpeg: its JPEG bytes when recompressed, else None.
    """

    image: np.ndarray
    mask: np.ndarray
    base: np.ndarray
    pre_jpeg: np.ndarray
    label: int
    history: str
    jpeg: bytes | None
    original: np.ndarray | None = None
    original_jpeg: bytes | None = None


class SynthesisError(RuntimeError):
    """Some images could not be synthesized; the manifest lists the others.

    Attributes:
        failures: ``(name, message)`` for each failed image.
        manifest: path of the manifest written for the successful images.
    """

    def __init__(self, failures: list[tuple[str, str]], manifest: Path) -> None:
        self.failures = failures
        self.manifest = manifest
        lines = "\n".join(f"  {name}: {msg}" for name, msg in failures[:20])
        more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
        super().__init__(f"{len(failures)} image(s) failed:\n{lines}{more}")


def is_authentic(index: int, share: float) -> bool:
    """Whether image ``index`` is authentic: an exact, evenly spread share, independent of ``n``.

    Index ``i`` is authentic when ``floor((i + 1) * share)`` exceeds ``floor(i * share)``, so the first
    ``k`` images always hold ``floor(k * share)`` authentic ones (share 0.2: indices 4, 9, 14, ...).
    """
    micro = round(share * 1_000_000)
    return ((index + 1) * micro) // 1_000_000 > (index * micro) // 1_000_000


def synthesize_example(
    photo: np.ndarray,
    rng: np.random.Generator,
    *,
    edited: bool = True,
    config: SynthConfig | None = None,
    donor: DonorFn | None = None,
    generator: Any = None,
) -> Example:
    """Synthesize one image from ``photo``: global history, local edit (if ``edited``), JPEG.

    ``rng`` is split into three independent streams (global history, edit, recompression), so an
    authentic and an edited image drawn from the same state share their global history.

    Args:
        photo: ``HxWx3 uint8`` RGB source photo.
        rng: random generator (consumed).
        edited: make a local edit (label 1) or not (label 0).
        config: synthesis settings (defaults: :class:`SynthConfig`).
        donor: returns ``(photo, name)`` of another photo for ``splice``; without it ``splice`` is
            never drawn.
        generator: the loaded TAEF2 (:func:`deal_data_tools.synthesis.taef2.load_taef2`) for the generator
            edits; without it they are never drawn.

    Raises:
        RuntimeError: no acceptable edit within ``config.max_attempts`` attempts.
    """
    config = config or SynthConfig()
    rng_global, rng_edit, rng_post = rng.spawn(3)
    base, history = global_resample(photo, rng_global, config.size, config.scale_range)
    mask = np.zeros(base.shape[:2], np.uint8)
    image = base
    if not edited and generator is not None and rng_edit.random() < config.authentic_regen:
        from deal_data_tools.synthesis.generator_edits import roundtrip

        image = roundtrip(generator, base)
        history += "|authentic_regen"
    if edited:
        result, shape, donor_name = _edit(base, rng_edit, config, donor, generator)
        image, mask = result.image, result.mask.astype(np.uint8)
        history += f"|shape:{shape}|{result.name}" + (f"+donor={donor_name}" if donor_name else "")
    jpeg, pre_jpeg = None, image
    original, original_jpeg = (base if edited else None), None
    if rng_post.random() < config.jpeg_prob:
        quality = int(rng_post.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
        jpeg = encode_jpeg(image, quality)
        image = decode_jpeg(jpeg)
        history += f"|jpeg:{quality}"
        if edited:
            original_jpeg = encode_jpeg(base, quality)
            original = decode_jpeg(original_jpeg)
    return Example(
        image=image, mask=mask, base=base, pre_jpeg=pre_jpeg, label=int(edited), history=history, jpeg=jpeg,
        original=original, original_jpeg=original_jpeg,
    )


def _edit(
    base: np.ndarray, rng: np.random.Generator, config: SynthConfig, donor: DonorFn | None, generator: Any
) -> tuple[EditResult, str, str]:
    """Draw region + operation until the mask fraction and the change are acceptable."""
    names = [
        n
        for n in ALL_EDIT_NAMES
        if config.weights.get(n, 0.0) > 0
        and (n != "splice" or donor)
        and (n not in GENERATOR_EDIT_NAMES or generator is not None)
    ]
    if not names:
        raise ValueError("no edit operation available (only 'splice' has weight, but there is no donor)")
    p = np.array([config.weights[n] for n in names], float)
    p /= p.sum()
    h, w = base.shape[:2]
    lo, hi = config.fraction_range
    best: tuple[EditResult, str, str] | None = None
    for _ in range(config.max_attempts):
        target = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        region, shape = random_region(rng, h, w, target)
        if config.placement == "uniform":
            region = uniform_shift(region, rng)
        if not lo <= region.mean() <= hi:
            continue
        op = str(rng.choice(names, p=p))
        if op in GENERATOR_EDIT_NAMES:
            from deal_data_tools.synthesis.generator_edits import apply_generator_edit

            wants_donor = op in ("latent_splice", "full_regen") and donor is not None
            donor_photo, donor_name = donor(rng) if wants_donor else (None, "")
            result = apply_generator_edit(
                base, region, op, rng, generator, donor_photo, feather_prob=config.feather_prob
            )
        else:
            donor_photo, donor_name = donor(rng) if op == "splice" and donor else (None, "")
            result = apply_edit(base, region, op, rng, donor_photo, feather_prob=config.feather_prob)
        if not lo <= result.mask.mean() <= hi:
            continue
        if best is None or result.change > best[0].change:
            best = (result, shape, donor_name)
        if result.change >= config.min_change:
            break
    if best is None:
        raise RuntimeError(
            f"no edit with an edited fraction in [{lo}, {hi}] after {config.max_attempts} attempts"
        )
    return best


def make_edited_example(
    photo: np.ndarray, rng: np.random.Generator, size: int | None = None
) -> tuple[np.ndarray, np.ndarray, str]:
    """One synthetic local edit of ``photo`` (the demo's example), with the dataset's full history.

    Args:
        photo: ``HxWx3 uint8`` RGB.
        rng: random generator (consumed).
        size: random square crop side, or None for the whole (randomly resized) photo.

    Returns:
        (edited ``HxWx3 uint8`` RGB, mask ``HxW uint8`` {0, 1} with 1 = edited, description). No
        donor photo is given, so ``splice`` is never drawn.
    """
    example = synthesize_example(photo, rng, edited=True, config=SynthConfig(size=size))
    return example.image, example.mask, example.history


# --------------------------------------------------------------------------- dataset


def synthesize_dataset(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    n: int,
    seed: int = 0,
    size: int | None = None,
    authentic_share: float = 0.2,
    workers: int | None = None,
    *,
    split: str = "",
    weights: Mapping[str, float] | None = None,
    jpeg_prob: float = 0.5,
    generator: str | os.PathLike[str] | None = None,
    authentic_regen: float = 0.0,
    scale_range: tuple[float, float] | None = None,
    fraction_range: tuple[float, float] | None = None,
    placement: str = "object",
    progress: bool = True,
) -> Path:
    """Write ``n`` synthetic images, their masks and ``manifest.csv`` under ``out``.

    Args:
        src: folder of authentic photos (searched recursively, sorted by relative path).
        out: output folder (created).
        n: number of images.
        seed: global seed; image ``i`` uses ``np.random.default_rng([seed, i])``.
        size: random square crop side, or None.
        authentic_share: share of authentic images.
        workers: worker processes (default ``os.cpu_count()``); 1 runs in this process.
        split: value of the manifest's ``split`` column.
        weights: edit operation weights (default :data:`DEFAULT_WEIGHTS`).
        jpeg_prob: probability of JPEG recompression.
        generator: folder of the TAEF2 autoencoder (sha256-checked) for the generator edits; with it and
            no ``weights``, the default weights plus weight 1 for each generator edit.
        authentic_regen: share of authentic images round-tripped through the generator (needs it).
        scale_range: (min, max) of the global resize factor (default: :class:`SynthConfig`'s).
        fraction_range: (min, max) edited fraction (default: :class:`SynthConfig`'s).
        placement: ``"object"`` or ``"uniform"`` region placement (:class:`SynthConfig`).
        progress: show a tqdm progress bar.

    Returns:
        Path of ``manifest.csv``.

    Raises:
        FileNotFoundError: ``src`` is not a folder or holds no images.
        GeneratorError: (a ValueError) the generator folder or a file is missing or has another sha256.
        SynthesisError: some images failed (the manifest lists the rest).
    """
    from tqdm import tqdm

    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if generator is not None:
        from deal_data_tools.synthesis.taef2 import load_taef2

        load_taef2(generator)  # fail early, with one sentence, before any work
        generator = str(Path(generator).resolve())
    default = {**DEFAULT_WEIGHTS, **DEFAULT_GENERATOR_WEIGHTS} if generator else DEFAULT_WEIGHTS
    config = SynthConfig(
        size=size,
        authentic_share=authentic_share,
        weights=dict(weights or default),
        jpeg_prob=jpeg_prob,
        generator=generator,
        authentic_regen=authentic_regen,
        placement=placement,
        **({"scale_range": tuple(scale_range)} if scale_range is not None else {}),
        **({"fraction_range": tuple(fraction_range)} if fraction_range is not None else {}),
    )
    src, out = Path(src), Path(out)
    sources = [p.relative_to(src).as_posix() for p in list_images(src)]
    if not sources:
        raise FileNotFoundError(f"{src}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
    fingerprint = {
        "seed": seed,
        "split": split,
        "config": {**asdict(config), "generator": "taef2" if config.generator else None},
        "sources": _sha256("\n".join(sources)),
    }
    key = _sha256(json.dumps(fingerprint, sort_keys=True))
    for sub in ("images", "masks", "originals", _RECORDS):
        (out / sub).mkdir(parents=True, exist_ok=True)
    state = (str(src), sources, str(out), seed, config, split, key)
    workers = max(1, min(workers or os.cpu_count() or 1, n))
    records: list[dict] = []
    failures: list[tuple[str, str]] = []
    with tqdm(total=n, desc="synth", unit="img", disable=not progress, file=sys.stderr) as bar:
        for record, failure in ordered_map(_work, range(n), workers, _init_worker, state):
            if record is not None:
                records.append(record)
            if failure is not None:
                failures.append(failure)
            bar.update()
    records.sort(key=lambda r: r["index"])
    manifest = write_csv_atomic(
        out / "manifest.csv", MANIFEST_COLUMNS, ({c: r.get(c, "") for c in MANIFEST_COLUMNS} for r in records)
    )
    if failures:
        raise SynthesisError(failures, manifest)
    return manifest


_STATE: dict = {}


def _init_worker(
    src: str, sources: list[str], out: str, seed: int, config: SynthConfig, split: str, key: str
) -> None:
    order = _photo_order(seed, len(sources))
    _STATE.clear()
    _STATE.update(
        src=Path(src),
        sources=sources,
        out=Path(out),
        seed=seed,
        config=config,
        split=split,
        key=key,
        order=order,
        generator=_load_generator(config.generator),
    )


def _load_generator(folder: str | None) -> Any:
    if folder is None:
        return None
    from deal_data_tools.synthesis.taef2 import load_taef2

    return load_taef2(folder)


def _work(index: int) -> tuple[dict | None, tuple[str, str] | None]:
    """Synthesize (or resume) image ``index``; returns (record, None) or (None, (name, error))."""
    s = _STATE
    name = f"{index:06d}"
    sources: list[str] = s["sources"]
    photo_idx = int(s["order"][index % len(sources)])
    source = sources[photo_idx]
    out: Path = s["out"]
    record_path = out / _RECORDS / f"{name}.json"
    try:
        record = _load_record(record_path, s["key"], source)
        if record is not None and (out / record["image"]).is_file() and (out / record["mask"]).is_file():
            return record, None
        example = _example_at(s["src"], sources, photo_idx, index, s["seed"], s["config"], s["generator"])
        ext = ".jpg" if example.jpeg is not None else ".png"
        image_rel, mask_rel = f"images/{name}{ext}", f"masks/{name}.png"
        (out / "images" / f"{name}{'.png' if ext == '.jpg' else '.jpg'}").unlink(missing_ok=True)  # stale
        write_bytes_atomic(
            out / image_rel, example.jpeg if example.jpeg is not None else encode_png(example.image)
        )
        write_bytes_atomic(out / mask_rel, mask_png(example.mask))
        original_rel = ""
        if example.original is not None:
            original_rel = f"originals/{name}{ext}"
            data = example.original_jpeg if example.original_jpeg is not None else encode_png(example.original)
            write_bytes_atomic(out / original_rel, data)
        h, w = example.mask.shape
        record = {
            "index": index,
            "image": image_rel,
            "mask": mask_rel,
            "label": example.label,
            "split": s["split"],
            "width": w,
            "height": h,
            "edited_fraction": f"{example.mask.mean():.6f}",
            "edit": example.history,
            "source": source,
            "original": original_rel,
            "key": s["key"],
        }
        write_bytes_atomic(record_path, json.dumps(record, sort_keys=True).encode())  # last: marks completion
        return record, None
    except Exception as err:  # noqa: BLE001 - one bad photo must not stop the run; reported at the end
        return None, (name, f"{source}: {type(err).__name__}: {err}")


def _example_at(
    src: Path,
    sources: list[str],
    photo_idx: int,
    index: int,
    seed: int,
    config: SynthConfig,
    generator: Any = None,
) -> Example:
    """Image ``index`` of a dataset: photo ``sources[photo_idx]``, generator ``default_rng([seed, i])``."""
    photo = read_rgb(src / sources[photo_idx])

    def donor(rng: np.random.Generator) -> tuple[np.ndarray, str]:
        j = int(rng.integers(0, len(sources) - 1))
        j += j >= photo_idx  # any photo but the source itself
        return read_rgb(src / sources[j]), sources[j]

    return synthesize_example(
        photo,
        np.random.default_rng([seed, index]),
        edited=not is_authentic(index, config.authentic_share),
        config=config,
        donor=donor if len(sources) > 1 else None,
        generator=generator,
    )


def reproduce_example(
    src: str | os.PathLike[str], index: int, seed: int = 0, config: SynthConfig | None = None
) -> Example:
    """Recompute image ``index`` of the dataset ``synthesize_dataset(src, ..., seed, ...)`` would write
    with these settings, including its pre-edit ``base`` (for inspection and tests)."""
    src = Path(src)
    config = config or SynthConfig()
    sources = [p.relative_to(src).as_posix() for p in list_images(src)]
    if not sources:
        raise FileNotFoundError(f"{src}: no images found")
    order = _photo_order(seed, len(sources))
    generator = _load_generator(config.generator)
    return _example_at(src, sources, int(order[index % len(sources)]), index, seed, config, generator)


def _photo_order(seed: int, count: int) -> np.ndarray:
    """Which photo each image uses: image i takes photo ``order[i % count]`` (a seeded permutation)."""
    return np.random.default_rng(seed).permutation(count)


def _load_record(path: Path, key: str, source: str) -> dict | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("key") == key and record.get("source") == source else None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
