"""Generator-in-the-loop edits: regions re-rendered by a real latent-diffusion decoder (TAEF2).

Every latent-diffusion edit (Stable Diffusion / FLUX inpainting, InstructPix2Pix) pastes pixels that came
out of such a decoder; these operations make training edits that carry those traces
(``deal data synth --generator DIR``). Operations (``GENERATOR_EDIT_NAMES``):

- ``regenerate``: the region replaced by its own encoder/decoder round trip, pasted back;
- ``latent_splice``: the latents inside the region taken from another photo (``donor``) or another place
  of the same one, decoded and pasted back;
- ``hallucinate``: the latents inside the region noised, blurred, mixed with shifted latents, or replaced
  by the mean latent plus noise (an inpainter's blank start), decoded and pasted back;
- ``latent_upsample``: the region's latents taken from a 2-4x downscaled copy and upsampled in latent
  space (nearest, bilinear or bicubic) before decoding, so the decoder invents the detail;
- ``full_regen``: the whole image decoded from latents changed (spliced or hallucinated) only inside the
  region, no paste-back: every pixel carries the decoder's traces, the mask marks only the semantic change
  (the latent cells that changed, at pixel resolution), as in DEAL-300K.

Paste-back (all but ``full_regen``) uses an alpha that is the hard region or the region feathered
*inwards* (a smooth ramp over the distance to the region's border), zero outside: the mask is the region,
and pixels outside it are byte-identical to the base. The generator runs on the region's bounding box
(plus a margin, aligned to the 8-pixel latent grid), with the images it needs (crop and source) encoded in
one batch; torch runs single-threaded inside these calls so the bytes do not depend on the process.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from deal_data_tools.synthesis.edits import EditResult
from deal_data_tools.synthesis.names import GENERATOR_EDIT_NAMES
from deal_data_tools.synthesis.taef2 import SCALE, TAEF2

__all__ = ["GENERATOR_EDIT_NAMES", "apply_generator_edit"]

MARGIN = 16  # pixels of context around the region's bounding box given to the generator


def apply_generator_edit(
    base: np.ndarray,
    region: np.ndarray,
    op: str,
    rng: np.random.Generator,
    generator: TAEF2,
    donor: np.ndarray | None = None,
    feather_prob: float = 0.7,
    feather_width: tuple[float, float] = (2.0, 10.0),
) -> EditResult:
    """Apply generator edit ``op`` to ``region`` of ``base``.

    Args:
        base: ``HxWx3 uint8`` RGB image.
        region: ``HxW bool`` region to edit.
        op: one of :data:`GENERATOR_EDIT_NAMES`.
        rng: random generator (consumed).
        generator: the loaded TAEF2 autoencoder.
        donor: ``H'xW'x3 uint8`` RGB photo for ``latent_splice`` / ``full_regen`` (else another place of
            ``base`` is used).
        feather_prob: probability of an inward-feathered rather than a hard paste-back alpha.
        feather_width: (min, max) width of the inward feather ramp, pixels.
    """
    if op not in _OPS:
        raise ValueError(f"unknown generator edit {op!r}; valid: {', '.join(GENERATOR_EDIT_NAMES)}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if op == "full_regen":
            return _full_regen(base, region, rng, generator, donor)
        y0, y1, x0, x1 = _box(region)
        crop = base[y0:y1, x0:x1]
        generated, name = _OPS[op](crop, region[y0:y1, x0:x1], rng, generator, donor, base, (y0, x0))
    finally:
        torch.set_num_threads(threads)
    if rng.random() < feather_prob:
        width = rng.uniform(*feather_width)
        dist = cv2.distanceTransform(np.pad(region, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
        t = np.clip(dist / width, 0.0, 1.0)
        alpha = np.where(region, np.maximum(t * t * (3 - 2 * t), 1e-3), 0.0).astype(np.float32)
        name += f"+feather{width:.1f}"
    else:
        alpha = region.astype(np.float32)
        name += "+hard"
    full = base.copy()
    full[y0:y1, x0:x1] = generated
    a = alpha[..., None]
    out = np.rint(base.astype(np.float32) * (1.0 - a) + full.astype(np.float32) * a)
    out = np.clip(out, 0, 255).astype(np.uint8)
    out[~region] = base[~region]  # exact: nothing outside the mask changes
    change = float(np.abs(out.astype(np.int16) - base)[region].mean()) if region.any() else 0.0
    return EditResult(image=out, mask=region.copy(), name=name, change=change)


# --------------------------------------------------------------------------- tensors


def _to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(255.0)


def _to_uint8(t: torch.Tensor) -> np.ndarray:
    return t.mul(255.0).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


def _padded(image: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Reflect-pad to multiples of 8; returns the padded image and the original height and width."""
    h, w = image.shape[:2]
    ph, pw = -h % SCALE, -w % SCALE
    if ph or pw:
        image = cv2.copyMakeBorder(image, 0, ph, 0, pw, cv2.BORDER_REFLECT_101)
    return image, h, w


def _box(region: np.ndarray) -> tuple[int, int, int, int]:
    """The region's bounding box plus MARGIN, start aligned to the 8-pixel grid, clipped to the image."""
    h, w = region.shape
    ys, xs = np.nonzero(region)
    y0 = max(0, (int(ys.min()) - MARGIN) // SCALE * SCALE)
    x0 = max(0, (int(xs.min()) - MARGIN) // SCALE * SCALE)
    y1 = min(h, int(ys.max()) + 1 + MARGIN)
    x1 = min(w, int(xs.max()) + 1 + MARGIN)
    return y0, y1, x0, x1


def _latent_mask(region: np.ndarray, shape: tuple[int, int], threshold: float) -> torch.Tensor:
    """1x1xhxw float mask of the latent cells whose area share of ``region`` exceeds ``threshold``."""
    h, w = shape
    padded = np.zeros((h * SCALE, w * SCALE), np.float32)
    padded[: region.shape[0], : region.shape[1]] = region
    share = padded.reshape(h, SCALE, w, SCALE).mean(axis=(1, 3))
    return torch.from_numpy((share > threshold).astype(np.float32))[None, None]


def _roundtrip(generator: TAEF2, images: list[np.ndarray]) -> list[np.ndarray]:
    padded = [_padded(im) for im in images]
    out = _to_uint8(generator(_to_tensor([p[0] for p in padded])))
    return [o[:h, :w] for o, (_, h, w) in zip(out, padded)]


def roundtrip(generator: TAEF2, image: np.ndarray) -> np.ndarray:
    """``image`` (HxWx3 uint8 RGB) encoded and decoded by the generator: decoder traces everywhere."""
    return _roundtrip(generator, [image])[0]


def _source(
    crop: np.ndarray,
    rng: np.random.Generator,
    donor: np.ndarray | None,
    base: np.ndarray,
    at: tuple[int, int],
) -> tuple[np.ndarray, str]:
    """A crop-sized source: a random window of the donor photo, or of ``base`` at least 1/5 side away."""
    ch, cw = crop.shape[:2]
    if donor is not None and rng.random() < 0.7:
        dh, dw = donor.shape[:2]
        scale = max(ch / dh, cw / dw, math.exp(rng.uniform(math.log(0.5), 0.0)))
        sized = cv2.resize(
            donor,
            (max(cw, math.ceil(dw * scale)), max(ch, math.ceil(dh * scale))),
            interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC,
        )
        y, x = int(rng.integers(0, sized.shape[0] - ch + 1)), int(rng.integers(0, sized.shape[1] - cw + 1))
        return np.ascontiguousarray(sized[y : y + ch, x : x + cw]), "donor"
    h, w = base.shape[:2]
    best, best_d = at, -1.0
    for _ in range(8):
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        d = math.hypot(y - at[0], x - at[1])
        if d > best_d:
            best, best_d = (y, x), d
        if d >= 0.2 * min(h, w):
            break
    y, x = best
    source = base[y : y + ch, x : x + cw]
    if rng.random() < 0.3:
        source = source[:, ::-1]
    return np.ascontiguousarray(source), "self"


def _encode_pair(
    generator: TAEF2, a: np.ndarray, b: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    (pa, h, w), (pb, _, _) = _padded(a), _padded(b)
    z = generator.encode(_to_tensor([pa, pb]))  # one batch
    return z[:1], z[1:], h, w


def _decode(generator: TAEF2, z: torch.Tensor, h: int, w: int) -> np.ndarray:
    return _to_uint8(generator.decode(z))[0, :h, :w]


def _hallucinate_latents(
    z: torch.Tensor, rng: np.random.Generator, other: torch.Tensor
) -> tuple[torch.Tensor, str]:
    kind = str(rng.choice(["noise", "blur", "mix", "blank"]))
    std = z.std(dim=(2, 3), keepdim=True)
    noise = torch.from_numpy(rng.standard_normal(z.shape).astype(np.float32))
    if kind == "noise":
        s = rng.uniform(0.3, 1.0)
        return z + s * std * noise, f"noise{s:.2f}"
    if kind == "blur":
        k = int(rng.integers(1, 4)) * 2 + 1
        return F.avg_pool2d(F.pad(z, [k // 2] * 4, mode="replicate"), k, stride=1), f"blur{k}"
    if kind == "mix":
        t = rng.uniform(0.3, 0.8)
        return (1 - t) * z + t * other, f"mix{t:.2f}"
    s = rng.uniform(0.1, 0.5)
    return z.mean(dim=(2, 3), keepdim=True) + s * std * noise, f"blank{s:.2f}"


# --------------------------------------------------------------------------- operations


def _regenerate(crop, region, rng, generator, donor, base, at) -> tuple[np.ndarray, str]:  # noqa: ANN001
    return _roundtrip(generator, [crop])[0], "regenerate"


def _latent_splice(crop, region, rng, generator, donor, base, at) -> tuple[np.ndarray, str]:  # noqa: ANN001
    source, kind = _source(crop, rng, donor, base, at)
    z, zs, h, w = _encode_pair(generator, crop, source)
    m = _latent_mask(region, z.shape[-2:], 0.0)
    return _decode(generator, z * (1 - m) + zs * m, h, w), f"latent_splice:{kind}"


def _hallucinate(crop, region, rng, generator, donor, base, at) -> tuple[np.ndarray, str]:  # noqa: ANN001
    source, _ = _source(crop, rng, None, base, at)
    z, zs, h, w = _encode_pair(generator, crop, source)
    changed, kind = _hallucinate_latents(z, rng, zs)
    m = _latent_mask(region, z.shape[-2:], 0.0)
    return _decode(generator, z * (1 - m) + changed * m, h, w), f"hallucinate:{kind}"


def _latent_upsample(crop, region, rng, generator, donor, base, at) -> tuple[np.ndarray, str]:  # noqa: ANN001
    factor = rng.uniform(2.0, 4.0)
    padded, h, w = _padded(crop)
    ph, pw = padded.shape[:2]
    sh, sw = (max(SCALE, round(s / factor / SCALE) * SCALE) for s in (ph, pw))
    small = cv2.resize(padded, (sw, sh), interpolation=cv2.INTER_AREA)
    mode = str(rng.choice(["nearest", "bilinear", "bicubic"]))
    z_small = generator.encode(_to_tensor([small]))
    kwargs = {} if mode == "nearest" else {"align_corners": False}
    z = F.interpolate(z_small, size=(ph // SCALE, pw // SCALE), mode=mode, **kwargs)
    return _decode(generator, z, h, w), f"latent_upsample:x{factor:.1f}:{mode}"


def _full_regen(
    base: np.ndarray, region: np.ndarray, rng: np.random.Generator, generator: TAEF2, donor: np.ndarray | None
) -> EditResult:
    if donor is not None and rng.random() < 0.5:
        source, _ = _source(base, rng, donor, base, (0, 0))
        z, changed, h, w = _encode_pair(generator, base, source)
        name = "full_regen:splice"
    else:
        padded, h, w = _padded(base)
        z = generator.encode(_to_tensor([padded]))
        shift = (int(rng.integers(1, z.shape[-2])), int(rng.integers(1, z.shape[-1])))
        changed, kind = _hallucinate_latents(z, rng, torch.roll(z, shift, dims=(2, 3)))
        name = f"full_regen:{kind}"
    m = _latent_mask(region, z.shape[-2:], 0.5)
    out = _decode(generator, z * (1 - m) + changed * m, h, w)
    mask = np.kron(m[0, 0].numpy(), np.ones((SCALE, SCALE), np.float32))[:h, :w] > 0.5
    change = float(np.abs(out.astype(np.int16) - base)[mask].mean()) if mask.any() else 0.0
    return EditResult(image=out, mask=mask, name=name, change=change)


_OPS: dict[str, Callable[..., tuple[np.ndarray, str]] | None] = {
    "regenerate": _regenerate,
    "latent_splice": _latent_splice,
    "hallucinate": _hallucinate,
    "latent_upsample": _latent_upsample,
    "full_regen": None,  # whole image: handled by _full_regen
}
