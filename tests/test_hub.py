"""deal weights fetch/list against a local HTTP server (the only network code)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading

import pytest

from deal import hub
from deal.cli.main import main


@pytest.fixture()
def server(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def test_fetch_writes_atomically_and_checks_md5(server, tmp_path, monkeypatch, capsys):
    root, url = server
    # An official-looking name: its 6-hex tag is the file's MD5 prefix, as in sam_vit_b_01ec64.pth.
    data = b"x" * 5000
    name = f"sam_vit_b_{hashlib.md5(data).hexdigest()[:6]}.pth"
    monkeypatch.setattr(hub, "SAM_CHECKPOINTS", {**hub.SAM_CHECKPOINTS, "vit_b": name})
    (root / name).write_bytes(data)
    dest = tmp_path / "w"
    assert main(["weights", "fetch", "vit_b", "--dir", str(dest), "--base-url", url]) == 0
    out = capsys.readouterr().out
    assert (dest / name).read_bytes() == data
    assert f"sha256 {hashlib.sha256(data).hexdigest()}" in out
    assert [p.name for p in dest.iterdir()] == [name]


def test_fetch_with_wrong_md5_leaves_no_file(server, tmp_path, monkeypatch, capsys):
    root, url = server
    name = "sam_vit_b_000000.pth"
    monkeypatch.setattr(hub, "SAM_CHECKPOINTS", {**hub.SAM_CHECKPOINTS, "vit_b": name})
    (root / name).write_bytes(b"corrupted download")
    dest = tmp_path / "w"
    assert main(["weights", "fetch", "vit_b", "--dir", str(dest), "--base-url", url]) == 1
    assert "MD5" in capsys.readouterr().err
    assert list(dest.iterdir()) == []  # no partial or temporary file


def test_fetch_missing_url_fails_cleanly(server, tmp_path, capsys):
    _, url = server
    assert main(["weights", "fetch", "vit_l", "--dir", str(tmp_path / "w"), "--base-url", url]) == 1
    assert "404" in capsys.readouterr().err
    assert not any((tmp_path / "w").glob("*"))


def test_list_and_missing_checkpoint_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DEAL_WEIGHTS_DIR", str(tmp_path))
    (tmp_path / "sam_vit_l_0b3195.pth").write_bytes(b"x")
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "sam_vit_l_0b3195.pth") in out
    # every folder searched is empty (this machine's own weights folders are out of the search), so the error
    # path runs wherever the test does
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(hub, "PROJECT_WEIGHTS", tmp_path / "project-weights")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert hub.find_weights("sam_vit_h_4b8939.pth") is None
    with pytest.raises(FileNotFoundError, match=r"SAM checkpoint sam_vit_h_4b8939.pth not found \(looked in .*\); "
                       r"run: deal weights fetch vit_h"):
        hub.sam_checkpoint_path("vit_h")


def test_atomic_writes_get_the_usual_permissions(tmp_path):
    import os
    import stat

    from deal.fileio import atomic_write_text

    atomic_write_text(tmp_path / "a.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
