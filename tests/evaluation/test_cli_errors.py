"""`deal benchmark` / `deal evaluate` errors: one sentence naming the file, exit 2, never a traceback."""

from __future__ import annotations

import pytest

from deal.cli.main import main


def _one_sentence(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("deal: using")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    "content, problem",
    [(b"not a safetensors file", "not a deal detector file (not a safetensors file)"), (None, "detector file not found")],
)
def test_benchmark_detector_load_error(cocoglide, tmp_path, capsys, content, problem):
    detector = tmp_path / "broken.safetensors"
    if content is not None:
        detector.write_bytes(content)
    argv = [
        "benchmark",
        "--dataset",
        str(cocoglide),
        "--detector",
        str(detector),
        "--out",
        str(tmp_path / "o"),
    ]
    assert main([*argv, "--device", "cpu"]) == 2
    line = _one_sentence(capsys.readouterr().err)
    assert line.startswith("deal benchmark: error: ") and str(detector) in line and problem in line


def test_benchmark_unwritable_out(cocoglide, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    out = blocker / "bench"
    assert main(["benchmark", "--dataset", str(cocoglide), "--out", str(out), "--device", "cpu"]) == 2
    line = _one_sentence(capsys.readouterr().err)
    assert (
        line == f"deal benchmark: error: --out {out}: cannot write there ({blocker} is a file, not a folder)"
    )


def test_evaluate_unwritable_json(cocoglide, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    argv = [
        "evaluate",
        "--pred",
        str(tmp_path),
        "--dataset",
        str(cocoglide),
        "--json",
        str(blocker / "e.json"),
    ]
    assert main(argv) == 2
    line = _one_sentence(capsys.readouterr().err)
    assert line == (
        f"deal evaluate: error: --json {blocker / 'e.json'}: cannot write there ({blocker} is a file, not a folder)"
    )
    assert main([*argv[:-1], str(tmp_path)]) == 2  # a folder given as the file
    assert _one_sentence(capsys.readouterr().err).endswith(
        f"--json {tmp_path}: is a folder, expected a file name"
    )
