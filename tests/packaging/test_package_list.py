"""Every import package under runtime/, trainer/ and tui/ is listed in pyproject.toml.

setuptools builds the wheel (install.sh, the Docker images) from the explicit
``packages`` list, while an editable checkout finds any folder: a new subpackage
missing from the list works here and is absent from an installed appliance.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_every_package_folder_is_in_the_wheel() -> None:
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(tool["packages"])
    found = set()
    for name, folder in tool["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join((name, *rel.parts)))
    assert sorted(found - listed) == []
    assert sorted(listed - found) == []
