"""--inputs-from LIST: text and CSV lists of inputs, read as if given on the command line."""

from __future__ import annotations

import pytest

from deal.runs.discovery import NoInputsError, find_inputs, read_input_list
from tests.inference.conftest import save_image
from tests.inference.test_detect_cli import read_jsonl, run_cli


def test_text_and_csv_lists_name_the_same_inputs(tmp_path):
    src = tmp_path / "data"
    for name in ("x/a.png", "x/b.jpg", "y/a.png"):
        save_image(src / name, 16, 16, 0)
    (tmp_path / "lists").mkdir()
    text = tmp_path / "lists" / "inputs.txt"
    text.write_text(f"# comment\n../data/y/a.png\n\n{src / 'x'}\n  ../data/x/a.png  \n")
    table = tmp_path / "lists" / "inputs.csv"
    table.write_text(f"id,path\n1,../data/y/a.png\n2,{src / 'x'}\n3,../data/x/a.png\n", encoding="utf-8-sig")
    expected = [
        str(tmp_path / "lists" / "../data/y/a.png"),
        str(src / "x"),
        str(tmp_path / "lists" / "../data/x/a.png"),
    ]
    assert read_input_list(text) == read_input_list(table) == expected
    items, root, _ = find_inputs(read_input_list(text))
    assert [i.rel for i in items] == ["y/a.png", "x/a.png", "x/b.jpg"]  # duplicates dropped, order kept
    assert root == src
    headless = tmp_path / "plain.csv"
    headless.write_text("file,label\ndata/y/a.png,1\n")
    assert read_input_list(headless) == [str(tmp_path / "data/y/a.png")]  # no "path" column: the first


def test_a_bad_list_is_one_sentence(tmp_path):
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    with pytest.raises(NoInputsError, match="empty.txt: this list of inputs is empty"):
        read_input_list(tmp_path / "empty.txt")
    with pytest.raises(NoInputsError, match="nope.txt: cannot read this list of inputs"):
        read_input_list(tmp_path / "nope.txt")


def test_cli_inputs_from(detector_file, tmp_path):
    save_image(tmp_path / "in" / "a.png", 24, 32, 1)
    save_image(tmp_path / "in" / "b.png", 24, 32, 2)
    listing = tmp_path / "list.txt"
    listing.write_text("in/b.png\n")
    base = ["--detector", detector_file, "--device", "cpu", "--save", "json", "--quiet"]
    rc, err = run_cli(tmp_path / "in" / "a.png", "--inputs-from", listing, "--out", tmp_path / "out", *base)
    assert rc == 0, err
    assert [r["path"] for r in read_jsonl(tmp_path / "out" / "results.jsonl")] == [
        str(tmp_path / "in" / "a.png"),
        str(tmp_path / "in/b.png"),
    ]
    rc, err = run_cli("--out", tmp_path / "o2", *base)
    assert rc == 2 and "give at least one INPUT or --inputs-from LIST" in err
    rc, err = run_cli("--inputs-from", tmp_path / "none.txt", "--out", tmp_path / "o2", *base)
    assert rc == 2 and "none.txt: cannot read this list of inputs" in err
