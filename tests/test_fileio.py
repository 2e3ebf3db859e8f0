"""deal.fileio: finished files get the usual permissions, whatever the writer did to the temporary file."""

from __future__ import annotations

import os
import stat

import torch
from safetensors.torch import save_file

from deal.fileio import atomic_path, atomic_write_text


def _usual() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def test_files_written_atomically_have_the_usual_mode(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "x")
    with atomic_path(tmp_path / "d.safetensors") as tmp:  # safetensors writes its own 0600 file
        save_file({"w": torch.zeros(2)}, str(tmp))
    for name in ("a.txt", "d.safetensors"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == _usual(), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "d.safetensors"]  # no temporary left
