"""ServeSettings: what `deal serve` binds to, where jobs live, who may call it and how much it accepts.

Safe by default: the server binds to 127.0.0.1; any other address refuses to start without a bearer
token. Without a token, only requests addressed to a loopback name are answered (a page on another site
cannot reach the server through DNS rebinding). Server-side paths are accepted only under the allowed
roots, each addressed by its folder name (``--allow-root /srv/photos`` -> ``photos/2024/*.jpg``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from deal.imageio import DEFAULT_MAX_PIXELS, default_decode_workers
from deal.modeling.constants import DEFAULT_BATCH_SIZE
from deal.serve.retention import DAY, DEFAULT_KEEP_DAYS, DEFAULT_KEEP_GB, Retention

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
MIN_TOKEN_LENGTH = 16


class SettingsError(ValueError):
    """A setting that the server refuses to start with (one sentence)."""


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or a name) only ever reaches this machine."""
    if host.strip("[]").lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name other than localhost may resolve anywhere
        return False


@dataclass
class ServeSettings:
    """Everything `deal serve` is started with.

    Args:
        data: the folder that holds the jobs (``<data>/jobs/<id>/``), created if needed.
        host, port: where to listen.
        token: the bearer token every /v1 request must carry (required for a non-loopback host).
        allow_roots: folders whose files jobs may name by path (none: uploads only).
        cors_origins: origins allowed to call the API from a browser (none: no CORS headers at all).
        detector: the detector file (None: the bundled one); device, tile, max_pixels as in `deal detect`.
        batch_size, workers: as in `deal detect` (images per batch; decoding threads).
        engine, address: "local", or "ray" on a Ray cluster (address as in `deal detect --address`).
        max_file_bytes, max_files, max_request_bytes: upload limits (one file; files per job; one request).
        max_queued: jobs waiting or running at once; more are refused with 503.
        keep_days, keep_bytes: retention (deal.serve.retention): ended jobs are deleted keep_days after they
            ended, and the oldest ended ones while all jobs hold more than keep_bytes.
    """

    data: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None
    allow_roots: list[Path] = field(default_factory=list)
    cors_origins: list[str] = field(default_factory=list)
    detector: Path | None = None
    device: str = "auto"
    tile: bool = True
    max_pixels: int = DEFAULT_MAX_PIXELS
    batch_size: int = DEFAULT_BATCH_SIZE
    workers: int = field(default_factory=default_decode_workers)
    engine: str = "local"
    address: str | None = None
    max_file_bytes: int = 64 * 2**20
    max_files: int = 500
    max_request_bytes: int = 1024 * 2**20
    max_queued: int = 100
    keep_days: float = DEFAULT_KEEP_DAYS
    keep_bytes: int = int(DEFAULT_KEEP_GB * 2**30)

    def __post_init__(self) -> None:
        self.data = Path(self.data)
        self.allow_roots = [Path(r) for r in self.allow_roots]
        if not is_loopback(self.host) and not self.token:
            raise SettingsError(
                f"refusing to listen on {self.host}, which other machines can reach, without --token "
                "(or bind to 127.0.0.1 and put a reverse proxy in front)"
            )
        if self.token is not None and len(self.token) < MIN_TOKEN_LENGTH:
            raise SettingsError(f"--token must be at least {MIN_TOKEN_LENGTH} characters long")
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"--port must be in [0, 65535], got {self.port}")
        for name, value in (
            ("batch_size", self.batch_size),
            ("max_pixels", self.max_pixels),
            ("max_file_bytes", self.max_file_bytes),
            ("max_files", self.max_files),
            ("max_request_bytes", self.max_request_bytes),
            ("max_queued", self.max_queued),
        ):
            if value < 1:
                raise SettingsError(f"{name} must be >= 1, got {value}")
        if not self.keep_days > 0:
            raise SettingsError(f"--keep-days must be > 0, got {self.keep_days}")
        if self.keep_bytes < 1:
            raise SettingsError(f"--keep-gb must be > 0, got {self.keep_bytes / 2**30:g}")
        if self.workers < 0:
            raise SettingsError(f"workers must be >= 0, got {self.workers}")
        if self.engine not in ("local", "ray"):
            raise SettingsError(f"engine must be local or ray, got {self.engine!r}")
        names: dict[str, Path] = {}
        for root in self.allow_roots:
            if not root.is_dir():
                raise SettingsError(f"--allow-root {root}: no such folder")
            real = root.resolve()
            if real.name in names:
                raise SettingsError(
                    f"--allow-root {root} and {names[real.name]} have the same folder name {real.name!r}: "
                    "jobs name a root by its folder name, so each must be different"
                )
            names[real.name] = root

    @property
    def roots(self) -> dict[str, Path]:
        """Allowed roots by the name clients use (the folder's name), each fully resolved."""
        return {r.resolve().name: r.resolve() for r in self.allow_roots}

    @property
    def retention(self) -> Retention:
        return Retention(max_age=self.keep_days * DAY, max_bytes=self.keep_bytes)

    @property
    def check_host_header(self) -> bool:
        """Without a token, answer only requests addressed to a loopback name (DNS-rebinding guard)."""
        return not self.token

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"
