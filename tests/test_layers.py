"""The dependency direction of deal, read from every module's imports (ast, nothing imported):
modeling <- data / metrics / baselines <- inference (the runner) <- runs / report <- training / evaluation
<- cli / serve.

Fails on an import cycle between deal's modules, on deal.modeling importing any of deal but its error
and file helpers, on deal.provenance importing any of deal, on deal.data importing deal.modeling, on any
module importing the facade `deal` itself, on the runner (deal.inference) importing Lightning or the
training code, on anything but the CLI importing the server (deal.serve), which never imports the CLI or
the training code, and on the training-free baselines (deal.baselines) importing anything above the
model, the metrics and the decoder."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "deal"
MODELING_MAY_IMPORT = {"deal.errors", "deal.fileio", "deal.version"}  # errors, file helpers, the version string
# The baselines are detectors without a model: siblings of deal.metrics, below evaluation and the CLI (which
# score them), so they may use the model's helpers, the metrics, the decoder and the file helpers only.
BASELINES_MAY_IMPORT = ("deal.baselines", "deal.modeling", "deal.metrics", "deal.imageio", *MODELING_MAY_IMPORT)


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str) -> list[tuple[str, int]]:
    """(imported name, line) of every import statement in module `name`, at any depth, resolved to a
    module of deal where it names one (`from deal.x import y` is deal.x.y when that is a module)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = name.split(".")[: len(name.split(".")) - node.level + (path.name == "__init__.py")]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.append((sub if sub in MODULES else module, node.lineno))
    return found


def _type_checking_lines(name: str) -> set[int]:
    """Lines of imports under `if TYPE_CHECKING:` (no import at run time: not part of a cycle)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                for sub in ast.walk(inner):
                    if isinstance(sub, (ast.Import, ast.ImportFrom)):
                        lines.add(sub.lineno)
    return lines


def _deal_imports(name: str, *, runtime_only: bool = False) -> set[str]:
    skip = _type_checking_lines(name) if runtime_only else set()
    return {m for m, line in _imports(name) if m in MODULES and m != "deal" and line not in skip}


def test_every_module_is_read():
    assert {
        "deal.modeling.input_pipeline", "deal.inference.detector", "deal.runs.run", "deal.report.html", "deal.baselines"
    } <= set(MODULES)


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` (module -> the modules it imports) as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state and (cycle := visit(name)):
            return cycle
    return None


def test_no_import_cycle_inside_deal():
    cycle = _find_cycle({name: _deal_imports(name, runtime_only=True) for name in MODULES})
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_import_cycle_inside_deal_runs_not_even_for_type_hints():
    """Inside deal.runs every import counts, those under `if TYPE_CHECKING:` and inside functions too: a
    module that needs another's type for its hints and is imported by it has its concepts mixed up."""
    runs = {name for name in MODULES if name.startswith("deal.runs.")}
    cycle = _find_cycle({name: _deal_imports(name) & runs for name in runs})
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("name", [n for n in MODULES if n.startswith("deal.modeling")])
def test_modeling_imports_only_itself_and_helpers(name):
    bad = {
        m
        for m, _ in _imports(name)
        if m.startswith("deal.") and not m.startswith("deal.modeling") and m not in MODELING_MAY_IMPORT
    }
    assert not bad, f"{name} imports {sorted(bad)}"


@pytest.mark.parametrize("name", [n for n in MODULES if n.startswith("deal.provenance")])
def test_provenance_imports_nothing_of_deal(name):
    """The provenance reader sits under the decoder (deal.imageio): it must not reach up into the runner."""
    bad = {m for m, _ in _imports(name) if m.startswith("deal.") and not m.startswith("deal.provenance")}
    assert not bad, f"{name} imports {sorted(bad)}"


@pytest.mark.parametrize("name", [n for n in MODULES if n.startswith("deal.data")])
def test_data_does_not_import_modeling(name):
    bad = {m for m, _ in _imports(name) if m == "deal.modeling" or m.startswith("deal.modeling.")}
    assert not bad, f"{name} imports {sorted(bad)}"


@pytest.mark.parametrize("name", [n for n in MODULES if n != "deal"])
def test_no_module_imports_the_facade(name):
    bad = [line for m, line in _imports(name) if m == "deal"]
    assert not bad, f"{name} imports the facade `deal` (line {bad[0]}); import the module that defines it"


@pytest.mark.parametrize("name", [n for n in MODULES if n.startswith("deal.inference")])
def test_the_runner_never_imports_lightning_or_training(name):
    bad = {m for m, _ in _imports(name) if m.split(".")[0] in ("lightning", "pytorch_lightning")}
    bad |= {m for m, _ in _imports(name) if m.startswith(("deal.training", "deal.runs", "deal.report", "deal.cli"))}
    assert not bad, f"{name} imports {sorted(bad)}"


@pytest.mark.parametrize("name", [n for n in MODULES if not n.startswith(("deal.serve", "deal.cli"))])
def test_only_the_cli_imports_the_server(name):
    bad = {m for m, _ in _imports(name) if m == "deal.serve" or m.startswith("deal.serve.")}
    assert not bad, f"{name} imports {sorted(bad)}: deal.serve sits at the top, beside deal.cli"


@pytest.mark.parametrize("name", [n for n in MODULES if n.startswith("deal.serve")])
def test_the_server_runs_jobs_through_runs_not_the_cli(name):
    """deal.serve uses the runs, report and runner packages; never the CLI or the training code."""
    bad = {m for m, _ in _imports(name) if m.split(".")[0] in ("lightning", "pytorch_lightning")}
    bad |= {m for m, _ in _imports(name) if m.startswith(("deal.cli", "deal.training"))}
    assert not bad, f"{name} imports {sorted(bad)}"


@pytest.mark.parametrize("name", [n for n in MODULES if n.startswith("deal.baselines")])
def test_baselines_import_only_model_metrics_and_decoder(name):
    bad = {m for m, _ in _imports(name) if m.startswith("deal.") and not m.startswith(BASELINES_MAY_IMPORT)}
    assert not bad, f"{name} imports {sorted(bad)}"


def test_the_rules_catch_what_they_forbid(tmp_path, monkeypatch):
    """The checker itself: a module importing the facade and a cycle are found."""
    fake = tmp_path / "deal"
    (fake / "x").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "x" / "__init__.py").write_text("")
    (fake / "x" / "a.py").write_text("from deal.x import b\nimport deal\n")
    (fake / "x" / "b.py").write_text("from deal.x.a import thing\n")
    monkeypatch.setattr(f"{__name__}.REPO_ROOT", tmp_path)
    modules = {_module_name(p): p for p in sorted(fake.rglob("*.py"))}
    monkeypatch.setattr(f"{__name__}.MODULES", modules)
    assert _deal_imports("deal.x.a") == {"deal.x.b"} and _deal_imports("deal.x.b") == {"deal.x.a"}
    assert _find_cycle({m: _deal_imports(m) for m in modules}) == ["deal.x.a", "deal.x.b", "deal.x.a"]
    assert ("deal", 2) in _imports("deal.x.a")
