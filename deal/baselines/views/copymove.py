"""Copy-move: a region copied to another place in the same image (to hide or duplicate something). Keypoints
found in both places match each other better than anything else in the image (Amerini et al., "A SIFT-based
forensic method for copy-move attack detection", IEEE TIFS 2011; the clone view of Forensically).

1. SIFT keypoints (OpenCV) on the luma, downscaled so the longer side is at most :data:`MAX_SIDE`.
2. Each keypoint's matches within the image, by the generalized ratio test (2NN: the nearest other keypoint
   is kept when its distance is under :data:`RATIO` times the next one's), at least :data:`MIN_SHIFT` pixels
   apart.
3. Geometric verification: RANSAC similarity transforms (OpenCV ``estimateAffinePartial2D``) over the pairs,
   each pair ordered source-to-target by position; a transform with at least :data:`MIN_INLIERS` inliers is
   a copy. Up to :data:`MAX_COPIES` copies are taken, each from the pairs the earlier ones left.
4. Regions: for each copy, the pixels whose neighbourhood equals its transformed neighbourhood (mean absolute
   difference under :data:`MATCH_TOLERANCE` gray levels over a 7x7 box), kept where they connect to the inlier
   keypoints and inside their hull grown by :data:`HULL_MARGIN`; both the source and the target are marked.

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
MATCH_TOLERANCE = 6.0  # gray levels, mean absolute difference over a 7x7 box
HULL_MARGIN = 24  # pixels (working scale)


def _matched_pairs(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nx2 source and target points of the keypoint pairs passing the ratio test, ordered by position."""
    sift = cv2.SIFT_create(nfeatures=MAX_KEYPOINTS)
    keypoints, descriptors = sift.detectAndCompute(gray, None)
    if descriptors is None or len(keypoints) < 3:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    points = np.array([k.pt for k in keypoints], np.float32)
    matches = cv2.BFMatcher(cv2.NORM_L2).knnMatch(descriptors, descriptors, k=3)
    pairs = set()
    for m in matches:  # one of the three is the keypoint itself (an exact copy also has distance 0)
        others = [x for x in m if x.trainIdx != x.queryIdx]
        if len(others) < 2:
            continue
        best, second = others[0], others[1]
        if best.distance < RATIO * second.distance:
            a, b = best.queryIdx, best.trainIdx
            if np.linalg.norm(points[a] - points[b]) >= MIN_SHIFT:
                pairs.add((min(a, b), max(a, b)))
    if not pairs:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    a, b = np.array(sorted(pairs)).T
    src, dst = points[a], points[b]
    swap = (dst[:, 0] < src[:, 0]) | ((dst[:, 0] == src[:, 0]) & (dst[:, 1] < src[:, 1]))
    src[swap], dst[swap] = dst[swap], src[swap].copy()
    return src, dst


def _copies(src: np.ndarray, dst: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Up to MAX_COPIES ``(2x3 transform source->target, source inliers, target inliers)``."""
    found = []
    cv2.setRNGSeed(0)  # RANSAC's sampling: deterministic
    while len(src) >= MIN_INLIERS and len(found) < MAX_COPIES:
        transform, inliers = cv2.estimateAffinePartial2D(
            src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PIXELS, maxIters=2000, confidence=0.99
        )
        if transform is None or int(inliers.sum()) < MIN_INLIERS:
            break
        keep = inliers.ravel().astype(bool)
        found.append((transform, src[keep], dst[keep]))
        src, dst = src[~keep], dst[~keep]
    return found


def _region(gray: np.ndarray, transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """uint8 mask of the pixels p whose 7x7 neighbourhood matches that of transform(p), connected to
    ``points`` and inside their hull grown by HULL_MARGIN."""
    h, w = gray.shape
    # warped(p) = gray(transform(p)): warpAffine with WARP_INVERSE_MAP samples the source at M p
    warped = cv2.warpAffine(gray, transform, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=-1000.0)
    same = (cv2.blur(np.abs(gray - warped), (7, 7)) < MATCH_TOLERANCE).astype(np.uint8)
    hull = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(points).astype(np.int32)), 1)
    hull = cv2.dilate(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * HULL_MARGIN + 1,) * 2))
    same &= hull
    n, labels = cv2.connectedComponents(same, connectivity=8)
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
    src, dst = _matched_pairs(np.round(gray).astype(np.uint8))
    copies = _copies(src, dst)
    marked = np.zeros(gray.shape, np.uint8)
    for transform, s, d in copies:
        inverse = cv2.invertAffineTransform(transform)
        marked |= _region(gray, transform, s)  # sources: their neighbourhood matches at transform(p)
        marked |= _region(gray, inverse, d)  # targets: theirs matches at transform^-1(p)
    if scale < 1.0:
        marked = cv2.resize(marked, (w, h), interpolation=cv2.INTER_NEAREST)
    score = min(1.0, max((len(s) for _, s, _ in copies), default=0) / (2 * MIN_INLIERS))
    note = f"{len(copies)} copied region pair(s) found" if copies else None
    return marked.astype(np.float32), score, note
