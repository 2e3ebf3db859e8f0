"""What pip installs: deal, and the repository's data_tools/ and benchmarks/ folders under their own names
(deal_data_tools, deal_benchmarks), never as generic top-level packages in users' site-packages."""

from __future__ import annotations

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, as the tomli package (in the dev extra)
    import tomli as tomllib

from tests.conftest import REPO_ROOT

INSTALLED_AS = {"deal": "deal", "data_tools": "deal_data_tools", "benchmarks": "deal_benchmarks"}


def _packages_in_folders() -> set[str]:
    found = set()
    for folder, name in INSTALLED_AS.items():
        for init in (REPO_ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO_ROOT / folder).parts
            found.add(".".join((name, *rel)))
    return found


def test_the_package_list_covers_every_folder_under_its_own_name():
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert set(config["packages"]) == _packages_in_folders()
    assert config["package-dir"] == {"deal_data_tools": "data_tools", "deal_benchmarks": "benchmarks"}
    assert not {"data_tools", "benchmarks"} & {p.split(".")[0] for p in config["packages"]}
