"""Copy-move: a region copied to another place in the same image (to hide or duplicate something). Keypoints
found in both places match each other better than anything else in the image (Amerini et al., "A SIFT-based
forensic method for copy-move attack detection", IEEE TIFS 2011; the clone view of Forensically).

1. SIFT keypoints (OpenCV) on the luma, downscaled so the longer side is at most :data:`MAX_SIDE`, and on its
   mirror image (SIFT descriptors are not mirror-invariant: a mirrored copy matches only there).
2. Each keypoint's match within the image by the generalized ratio test (2NN: the nearest other keypoint is
   kept when its distance is under :data:`RATIO` times the next one's), at least :data:`MIN_SHIFT` pixels
   apart.
3. Geometric verification: RANSAC (OpenCV) over the pairs, each ordered source-to-target by position: a
   similarity transform (rotation, scale, shift) for direct matches, an affine one for mirrored matches; a
   transform with at least :data:`MIN_INLIERS` inliers is a copy. Up to :data:`MAX_COPIES` copies of each
   kind are taken, each from the pairs the earlier ones left.
4. Regions: for each copy, the pixels whose neighbourhood equals its transformed neighbourhood once each is
   taken relative to its local mean (so a copy blended in with its surroundings' colours still matches):
   mean absolute difference under :data:`MATCH_TOLERANCE` gray levels over a 7x7 box, kept where they
   connect to the inlier keypoints and inside their hull grown by :data:`HULL_MARGIN`; both the source and
   the target are marked. A copy whose source or target covers under :data:`MIN_REGION` pixels is left out
   (repeated structure such as windows matches at keypoints, not over a region).

Map: 1 on every source and target region, 0 elsewhere (at the image's size). Score: the largest inlier
count over :data:`MIN_INLIERS` x 2, capped at 1; 0 when nothing is found. Which of the two is the copy cannot
be told from the pixels: both are marked.
"""

from __future__ import annotations

import cv2
import numpy as np

from deal.baselines.views.common import luma

MAX_SIDE = 1024  # keypoints are found on the image downscaled to this longer side (bounded time)
MAX_KEYPOINTS = 4000
RATIO = 0.6  # 2NN ratio test
MIN_SHIFT = 16  # pixels (working scale): nearer matches are the same structure, not a copy
MIN_INLIERS = 8
RANSAC_PIXELS = 3.0
MAX_COPIES = 3
MATCH_TOLERANCE = 6.0  # gray levels, mean absolute difference over a 7x7 box, relative to the local mean
LOCAL_MEAN = 15  # box of the local mean the region check subtracts, pixels
HULL_MARGIN = 24  # pixels (working scale)
MIN_REGION = 256  # pixels (working scale) each region must cover: fewer is repeated structure, not a copy
_NONE = (np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32))


def _ordered(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pairs with the leftmost (then topmost) point first: one direction for RANSAC."""
    swap = (dst[:, 0] < src[:, 0]) | ((dst[:, 0] == src[:, 0]) & (dst[:, 1] < src[:, 1]))
    src, dst = src.copy(), dst.copy()
    src[swap], dst[swap] = dst[swap], src[swap].copy()
    return src, dst


def _ratio_pairs(matches: list, points: np.ndarray, others: np.ndarray, skip_self: bool) -> set[tuple[int, int]]:
    """(query, train) index pairs passing the 2NN ratio test at least MIN_SHIFT apart."""
    pairs = set()
    for m in matches:
        candidates = [x for x in m if not (skip_self and x.trainIdx == x.queryIdx)]
        if len(candidates) < 2 or candidates[0].distance >= RATIO * candidates[1].distance:
            continue
        a, b = candidates[0].queryIdx, candidates[0].trainIdx
        if np.linalg.norm(points[a] - others[b]) >= MIN_SHIFT:
            pairs.add((min(a, b), max(a, b)) if skip_self else (a, b))
    return pairs


def matched_pairs(gray: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(direct, mirrored) keypoint pairs, each (Nx2 source points, Nx2 target points) ordered by position."""
    sift = cv2.SIFT_create(nfeatures=MAX_KEYPOINTS)
    keypoints, descriptors = sift.detectAndCompute(gray, None)
    if descriptors is None or len(keypoints) < 3:
        return _NONE, _NONE
    points = np.array([k.pt for k in keypoints], np.float32)
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    # one of the three nearest is the keypoint itself (an exact copy also has distance 0): left out by index
    direct = _ratio_pairs(matcher.knnMatch(descriptors, descriptors, k=3), points, points, skip_self=True)
    flipped_kp, flipped_desc = sift.detectAndCompute(np.ascontiguousarray(gray[:, ::-1]), None)
    mirrored: set[tuple[int, int]] = set()
    if flipped_desc is not None and len(flipped_kp) >= 2:
        mirror_points = np.array([(gray.shape[1] - 1 - k.pt[0], k.pt[1]) for k in flipped_kp], np.float32)
        mirrored = _ratio_pairs(matcher.knnMatch(descriptors, flipped_desc, k=2), points, mirror_points, False)
    else:
        mirror_points = points
    out = []
    for pairs, targets in ((direct, points), (mirrored, mirror_points)):
        if not pairs:
            out.append(_NONE)
            continue
        a, b = np.array(sorted(pairs)).T
        out.append(_ordered(points[a], targets[b]))
    return out[0], out[1]


def copies(src: np.ndarray, dst: np.ndarray, mirrored: bool) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Up to MAX_COPIES ``(2x3 transform source->target, source inliers, target inliers)``."""
    found = []
    cv2.setRNGSeed(0)  # RANSAC's sampling: deterministic
    estimate = cv2.estimateAffine2D if mirrored else cv2.estimateAffinePartial2D
    while len(src) >= MIN_INLIERS and len(found) < MAX_COPIES:
        transform, inliers = estimate(
            src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PIXELS, maxIters=2000, confidence=0.99
        )
        if transform is None or int(inliers.sum()) < MIN_INLIERS:
            break
        keep = inliers.ravel().astype(bool)
        found.append((transform, src[keep], dst[keep]))
        src, dst = src[~keep], dst[~keep]
    return found


def _region(detail: np.ndarray, transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """uint8 mask of the pixels p whose 7x7 neighbourhood of ``detail`` (luma minus its local mean) matches
    that of transform(p), connected to ``points`` and inside their hull grown by HULL_MARGIN."""
    h, w = detail.shape
    # warped(p) = detail(transform(p)): warpAffine with WARP_INVERSE_MAP samples the source at M p
    warped = cv2.warpAffine(detail, transform, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=-1000.0)  # fmt: skip
    same = (cv2.blur(np.abs(detail - warped), (7, 7)) < MATCH_TOLERANCE).astype(np.uint8)
    hull = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(points).astype(np.int32)), 1)
    hull = cv2.dilate(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * HULL_MARGIN + 1,) * 2))
    same &= hull
    _, labels = cv2.connectedComponents(same, connectivity=8)
    xs = np.clip(np.round(points[:, 0]).astype(int), 0, w - 1)
    ys = np.clip(np.round(points[:, 1]).astype(int), 0, h - 1)
    hit = np.unique(labels[ys, xs])
    return np.isin(labels, hit[hit > 0]).astype(np.uint8)


def copymove_view(image: np.ndarray) -> tuple[np.ndarray, float, str | None]:
    """The copy-move view: ``(map, score, note)``; the note says how many copies were found."""
    h, w = image.shape[:2]
    scale = min(1.0, MAX_SIDE / max(h, w))
    gray = luma(image)
    if scale < 1.0:
        gray = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    direct, mirrored = matched_pairs(np.round(gray).astype(np.uint8))
    found = copies(*direct, mirrored=False) + copies(*mirrored, mirrored=True)
    detail = gray - cv2.blur(gray, (LOCAL_MEAN, LOCAL_MEAN), borderType=cv2.BORDER_REFLECT)
    marked = np.zeros(gray.shape, np.uint8)
    kept = []
    for transform, s, d in found:
        source = _region(detail, transform, s)  # sources: their neighbourhood matches at transform(p)
        target = _region(detail, cv2.invertAffineTransform(transform), d)  # targets: at transform^-1(p)
        if min(int(source.sum()), int(target.sum())) >= MIN_REGION:
            marked |= source | target
            kept.append(len(s))
    if scale < 1.0:
        marked = cv2.resize(marked, (w, h), interpolation=cv2.INTER_NEAREST)
    score = min(1.0, max(kept, default=0) / (2 * MIN_INLIERS))
    note = f"{len(kept)} copied region pair(s) found" if kept else None
    return marked.astype(np.float32), score, note
