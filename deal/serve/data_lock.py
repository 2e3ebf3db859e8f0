"""One `deal serve` per data folder: an exclusive lock on ``<data>/serve.lock``, held while the server lives.

Two servers on one data folder would run the same jobs. The lock is taken first, before the detector loads
(which takes seconds), so that a second server refuses at once; it needs nothing but the standard library.
"""

from __future__ import annotations

import os
from pathlib import Path

from deal.serve.settings import SettingsError

LOCK_FILE = "serve.lock"


class DataFolderLock:
    """Holds the lock of `data` (created if needed) until close().

    Raises:
        SettingsError: another deal serve holds it, or the folder cannot be created (one sentence).
    """

    def __init__(self, data: str | os.PathLike) -> None:
        self.data = Path(data)
        try:
            self.data.mkdir(parents=True, exist_ok=True)
            self._fd: int | None = os.open(self.data / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise SettingsError(f"cannot use the data folder {self.data}: {err.strerror or err}") from None
        try:
            import fcntl
        except ImportError:  # no flock on this platform
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.close()
            raise SettingsError(f"another deal serve is using the data folder {self.data}") from None

    def close(self) -> None:
        """Releases the data folder."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
