"""Where weights live, and the one command that touches the network: fetching SAM checkpoints.

Search order for a checkpoint file name: an explicit directory, $DEAL_WEIGHTS_DIR, ./weights, the
project's weights/ folder (beside the package in a source checkout), ~/.cache/deal/weights.
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.request
from pathlib import Path

from deal.fileio import atomic_path

SAM_BASE_URL = "https://dl.fbaipublicfiles.com/segment_anything/"
SAM_CHECKPOINTS = {
    "vit_b": "sam_vit_b_01ec64.pth",
    "vit_l": "sam_vit_l_0b3195.pth",
    "vit_h": "sam_vit_h_4b8939.pth",
}
PROJECT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
BUNDLED_DETECTOR = "deal-demo-tiny-synth.safetensors"


def weights_dirs(extra: str | os.PathLike | None = None) -> list[Path]:
    dirs = []
    if extra:
        dirs.append(Path(extra))
    if os.environ.get("DEAL_WEIGHTS_DIR"):
        dirs.append(Path(os.environ["DEAL_WEIGHTS_DIR"]))
    dirs += [Path("weights"), PROJECT_WEIGHTS, Path.home() / ".cache" / "deal" / "weights"]
    seen, out = set(), []
    for d in dirs:
        key = d.resolve()
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def default_fetch_dir() -> Path:
    if os.environ.get("DEAL_WEIGHTS_DIR"):
        return Path(os.environ["DEAL_WEIGHTS_DIR"])
    return PROJECT_WEIGHTS if PROJECT_WEIGHTS.is_dir() else Path.home() / ".cache" / "deal" / "weights"


def find_weights(filename: str, extra_dir: str | os.PathLike | None = None) -> Path | None:
    for d in weights_dirs(extra_dir):
        p = d / filename
        if p.is_file():
            return p
    return None


def sam_checkpoint_path(size: str, extra_dir: str | os.PathLike | None = None) -> Path:
    """The local official checkpoint of a SAM size, or FileNotFoundError naming the file and the fetch command."""
    if size not in SAM_CHECKPOINTS:
        raise ValueError(f"no official SAM checkpoint for {size!r}; choose from {list(SAM_CHECKPOINTS)}")
    name = SAM_CHECKPOINTS[size]
    found = find_weights(name, extra_dir)
    if found is None:
        looked = ", ".join(str(d) for d in weights_dirs(extra_dir))
        raise FileNotFoundError(f"SAM checkpoint {name} not found (looked in {looked}); run: deal weights fetch {size}")
    return found


def bundled_detector_path() -> Path | None:
    return find_weights(BUNDLED_DETECTOR)


def expected_md5_prefix(filename: str) -> str | None:
    """The official SAM file names end in the first 6 hex digits of the file's MD5."""
    stem = Path(filename).stem
    tag = stem.rsplit("_", 1)[-1]
    return tag if len(tag) == 6 and all(c in "0123456789abcdef" for c in tag) else None


def fetch(
    size: str,
    directory: str | os.PathLike | None = None,
    *,
    base_url: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> tuple[Path, str]:
    """Downloads the official checkpoint of `size` into `directory`. Returns (path, sha256).

    Written atomically: a failure or Ctrl-C leaves no partial file. The MD5 is checked against the
    prefix in the official file name.
    """
    from tqdm import tqdm

    if size not in SAM_CHECKPOINTS:
        raise ValueError(f"no official SAM checkpoint for {size!r}; choose from {list(SAM_CHECKPOINTS)}")
    name = SAM_CHECKPOINTS[size]
    url = (base_url or os.environ.get("DEAL_SAM_BASE_URL") or SAM_BASE_URL).rstrip("/") + "/" + name
    dest = Path(directory) if directory else default_fetch_dir()
    target = dest / name
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with urllib.request.urlopen(url, timeout=timeout) as response, atomic_path(target) as tmp:
        total = int(response.headers.get("Content-Length") or 0) or None
        with open(tmp, "wb") as f, tqdm(
            total=total, unit="B", unit_scale=True, desc=name, disable=not progress, file=sys.stderr
        ) as bar:
            while chunk := response.read(1 << 20):
                f.write(chunk)
                sha.update(chunk)
                md5.update(chunk)
                bar.update(len(chunk))
        prefix = expected_md5_prefix(name)
        if prefix and not md5.hexdigest().startswith(prefix):
            raise OSError(f"{url}: downloaded file's MD5 {md5.hexdigest()} does not start with {prefix}")
    return target, sha.hexdigest()
