"""What a `pip install` gets: every package folder, the service files, one version, the licence."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def test_every_python_folder_is_a_listed_package() -> None:
    # The list is explicit (the sim/ and device/ folders install under other names); a new
    # subpackage missing from it imports in a developer's tree but not from a wheel.
    # A folder of data files only (web/static) counts too: setuptools warns on every install
    # about a data folder that is not a listed package, and may stop shipping it.
    folders = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "firmware_host").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    missing = sorted(folders - set(SETUPTOOLS["packages"]))
    assert missing == [], f"add to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_service_files_and_guide_are_package_data() -> None:
    data = ROOT / "firmware_host" / "data"
    patterns = SETUPTOOLS["package-data"]["firmware_host.data"]
    for name in ("pc6band.service.in", "99-pc6band.rules.in", "install-pi.md"):
        assert (data / name).is_file()
        assert any(Path(name).match(p) for p in patterns), name
    assert (data / "install-pi.md").read_text() == (ROOT / "docs/install-pi.md").read_text()


def test_one_version_and_an_spdx_licence() -> None:
    project = PYPROJECT["project"]
    assert "version" not in project and project["dynamic"] == ["version"]
    assert SETUPTOOLS["dynamic"]["version"] == {"attr": "firmware_host.__version__"}
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert project["authors"] and project["urls"] and project["classifiers"]
    assert any(d.startswith("lgpio") for d in project["optional-dependencies"]["gpio"])
