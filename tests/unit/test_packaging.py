"""pyproject.toml's packaging: the explicit package list names every package folder (a new
sub-package cannot be left out of the wheel), every package-data pattern matches files, and the
license is stated in the file and in the metadata."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.conftest import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _source_folder(package: str, package_dir: dict[str, str]) -> Path:
    """The folder setuptools takes ``package`` from: the longest package-dir mapping that covers it."""
    parts = package.split(".")
    for cut in range(len(parts), 0, -1):
        mapped = package_dir.get(".".join(parts[:cut]))
        if mapped is not None:
            return REPO.joinpath(mapped, *parts[cut:])
    return REPO.joinpath(*parts)


def _package_folders(package_dir: dict[str, str]) -> dict[str, Path]:
    """Every folder with an ``__init__.py`` under edgeq/ and under each mapped folder, by package name."""
    roots = {"edgeq": REPO / "edgeq", **{name: REPO / folder for name, folder in package_dir.items()}}
    found = {}
    for name, root in roots.items():
        for init in root.rglob("__init__.py"):
            if "__pycache__" not in init.parts:
                found[".".join([name, *init.parent.relative_to(root).parts])] = init.parent
    return found


def test_the_package_list_names_every_package_folder_and_no_other():
    setuptools = _project()["tool"]["setuptools"]
    package_dir, packages = setuptools.get("package-dir", {}), setuptools["packages"]
    found = _package_folders(package_dir)
    unlisted, absent = sorted(set(found) - set(packages)), sorted(set(packages) - set(found))
    assert not unlisted, f"add {unlisted} to [tool.setuptools] packages in pyproject.toml"
    assert not absent, f"{absent}: listed in pyproject.toml, but no folder with an __init__.py"
    assert len(packages) == len(set(packages))
    for package in packages:
        assert _source_folder(package, package_dir) == found[package], package


def test_firmware_templates_and_datasets_stay_at_the_top_level_and_ship_inside_edgeq():
    package_dir = _project()["tool"]["setuptools"]["package-dir"]
    assert package_dir["edgeq.firmware_templates"] == "firmware_templates"
    assert package_dir["edgeq.datasets"] == "datasets"


def test_every_package_data_pattern_matches_files():
    setuptools = _project()["tool"]["setuptools"]
    package_dir = setuptools.get("package-dir", {})
    assert setuptools["include-package-data"] is False  # package-data alone says what the wheel holds
    for package, patterns in setuptools["package-data"].items():
        assert package in setuptools["packages"], package
        folder = _source_folder(package, package_dir)
        for pattern in patterns:
            assert [p for p in folder.glob(pattern) if p.is_file()], f"{package}: {pattern} matches nothing"


def test_the_license_is_apache_2_in_the_file_and_the_metadata():
    project = _project()["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "END OF TERMS AND CONDITIONS" in text
