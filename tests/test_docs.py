"""Docs that cannot drift: the commands and snippets of README.md and docs/*.md run, their links resolve,
and what `deal train --help` prints is what the newcomer config writes.

Every ```bash and ```python block runs, in order, in one temporary folder per page (with the repository's
configs/ linked in, as if run from a clone's root), unless the line directly above its fence is
`<!-- doc-test: skip (reason) -->`. Where a documented run would take long, SHORT_FORMS shortens it here
(fewer or smaller images); the page shows the real command.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

DOCS = REPO_ROOT / "docs"
PAGES = [REPO_ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
SKIP = re.compile(r"<!--\s*doc-test:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->")
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```", re.S | re.M)

# Documented command -> the shorter form the test runs (same command, fewer or smaller images).
SHORT_FORMS = {
    "deal demo --out deal_demo\n": "deal demo --out deal_demo --n 2 --size 64\n",
}
# Pages whose blocks take more than a few seconds in all: the development loop (-m "not slow") skips them.
SLOW_PAGES = {"evaluate.md", "data.md", "performance.md", "model.md", "detect.md"}


def code_blocks(path: Path) -> list[tuple[str, str, str | None]]:
    """(language, code, skip reason or None) of each fenced block, in order."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = SKIP.search(before)
        blocks.append((match["lang"], match["body"], skip["reason"] if skip else None))
    return blocks


def _page_id(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


def _marks(path: Path):
    return [pytest.mark.slow] if path.name in SLOW_PAGES else []


def test_every_skip_says_why_and_sits_on_a_block():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r"<!--\s*doc-test:[^>]*-->", text):
            assert SKIP.fullmatch(match.group(0)), f"{_page_id(page)}: {match.group(0)} (write: doc-test: skip (reason))"
            following = text[match.end() :].lstrip(" ").split("\n", 2)
            assert following[1].startswith("```"), f"{_page_id(page)}: {match.group(0)} is not directly above a fence"


@pytest.mark.parametrize(
    "page",
    [pytest.param(p, id=_page_id(p), marks=_marks(p)) for p in PAGES if any(b[0] in ("bash", "python") and not b[2] for b in code_blocks(p))],
)
def test_code_blocks_run(page, tmp_path):
    (tmp_path / "configs").symlink_to(REPO_ROOT / "configs")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(REPO_ROOT),
        "MPLBACKEND": "Agg",
    }
    for lang, code, skip in code_blocks(page):
        if skip or lang not in ("bash", "python"):
            continue
        for long, short in SHORT_FORMS.items():
            code = code.replace(long, short)
        command = ["bash", "-euo", "pipefail", "-c", code] if lang == "bash" else [sys.executable, "-c", code]
        proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{_page_id(page)}: this {lang} block failed:\n{code}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    # What the documented commands wrote, run from a clone's root, is ignored by git.
    written = [p for p in tmp_path.iterdir() if p.name != "configs"]
    unignored = [p.name for p in written if not _ignored_by_git(p.name + ("/x" if p.is_dir() else ""))]
    assert not unignored, f"{_page_id(page)}: .gitignore does not cover {unignored}"


def _ignored_by_git(path: str) -> bool:
    proc = subprocess.run(["git", "check-ignore", "--no-index", "-q", path], cwd=REPO_ROOT, capture_output=True)
    if proc.returncode == 128:  # not a git checkout
        pytest.skip("not a git checkout: .gitignore not checked")
    return proc.returncode == 0


# --- links ---------------------------------------------------------------------------------------------
LINK = re.compile(r"\[[^\]]*\]\((?P<target>[^)\s]+)\)")
DOC_REFERENCE = re.compile(r"\bdocs/[\w./-]+\.(?:md|png)\b")
CODE_DIRS = ["deal", "data_tools", "benchmarks", "tests", "configs", ".ci"]


def _anchors(page: Path) -> set[str]:
    """The heading anchors MkDocs (toc) gives a page: lower case, punctuation dropped, spaces as '-'."""
    anchors = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            title = re.sub(r"[^\w\- ]", "", title)
            anchors.add(re.sub(r"\s+", "-", title.strip()))
    return anchors


@pytest.mark.parametrize("page", [pytest.param(p, id=_page_id(p)) for p in [*PAGES, REPO_ROOT / "weights" / "MODEL_CARD.md"]])
def test_relative_links_resolve(page):
    text = FENCE.sub("", page.read_text(encoding="utf-8"))  # links inside code blocks are code
    for match in LINK.finditer(text):
        target = match["target"]
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{_page_id(page)}: link {target} -> {resolved} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{_page_id(page)}: link {target}: no heading #{anchor}"


def test_every_reference_to_a_docs_page_resolves():
    files = [REPO_ROOT / "README.md", REPO_ROOT / "mkdocs.yml", *sorted(DOCS.glob("*.md"))]
    for folder in CODE_DIRS:
        files += [p for p in (REPO_ROOT / folder).rglob("*") if p.suffix in (".py", ".md", ".yaml", ".sh", "") and p.is_file()]
    checked = 0
    for path in files:
        for ref in DOC_REFERENCE.findall(path.read_text(encoding="utf-8", errors="replace")):
            assert (REPO_ROOT / ref).is_file(), f"{path.relative_to(REPO_ROOT)} cites {ref}, which does not exist"
            checked += 1
    assert checked > 5


def test_mkdocs_nav_lists_every_page():
    config = yaml.load((REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=yaml.BaseLoader)

    def pages(nav) -> list[str]:
        out = []
        for item in nav:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            out += pages(value) if isinstance(value, list) else [value]
        return out

    listed = pages(config["nav"])
    assert sorted(listed) == sorted(p.name for p in DOCS.glob("*.md"))
    assert {"architecture.md", "metrics.md", "provenance.md", "serve.md"} <= set(listed)


# --- the newcomer recipe: help, config and docs agree ----------------------------------------------------
def test_train_help_prints_the_paths_the_newcomer_config_writes():
    from deal.cli import train as train_cli
    from deal.training.defaults import FINAL_CHECKPOINT

    config = yaml.safe_load((REPO_ROOT / train_cli.NEWCOMER_CONFIG).read_text(encoding="utf-8"))
    logger = config["trainer"]["logger"]["init_args"]
    run_dir = f"{logger['save_dir']}/{logger['name']}/{logger['version']}"
    assert run_dir == train_cli.NEWCOMER_RUN
    checkpoint = f"{run_dir}/checkpoints/{FINAL_CHECKPOINT}"
    help_recipe = [
        line.strip() for line in train_cli.USAGE.splitlines() if line.strip().startswith(("deal ", "python -m deal_data_tools"))
    ]
    assert f"deal export {checkpoint} --out tiny.safetensors" in help_recipe
    training = (DOCS / "training.md").read_text(encoding="utf-8")
    recipe = training.split("<!-- newcomer-recipe -->", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    assert recipe.strip().splitlines() == help_recipe[: len(recipe.strip().splitlines())]
    assert checkpoint in (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def test_the_api_page_lists_each_name_once(tmp_path):
    """The API page's table of contents (its reference rendered by mkdocstrings) names image_score and verdict
    once each, as every other entry."""
    import collections

    pytest.importorskip("mkdocstrings")
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--quiet", "--site-dir", str(site)],
        cwd=REPO_ROOT, check=True, capture_output=True,
    )
    html = (site / "api" / "index.html").read_text(encoding="utf-8")
    toc = html[html.index("md-sidebar--secondary") :]
    labels = [
        re.sub(r"<[^>]+>", "", m.group(1)).strip()
        for m in re.finditer(r'class="md-nav__link">\s*<span class="md-ellipsis">\s*(.*?)\s*</span>', toc, re.S)
    ]
    assert {"image_score", "verdict", "Detector", "Detection"} <= set(labels)
    assert [name for name, n in collections.Counter(labels).items() if n > 1] == []
