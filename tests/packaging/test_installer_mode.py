"""The installers are executable in git, so `sudo ./install.sh` works from a clone (issue 11, finding 11)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout"
)
def test_both_installers_are_100755_in_the_git_index() -> None:
    names = ["install.sh", "install-proxmox-native.sh"]
    out = subprocess.run(
        ["git", "ls-files", "-s", *names], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    modes = {line.split("\t")[1]: line.split()[0] for line in out.splitlines()}
    assert modes == dict.fromkeys(names, "100755")
