"""install-proxmox-native.sh --dry-run: the pct and pveam commands it would run."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from tests.packaging.support import REPO, clean_env, explain, run

SCRIPT = str(REPO / "install-proxmox-native.sh")


def _dry_run(*args: str, tmp_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = clean_env()
    if tmp_path is not None:
        # No pct, pveam or pvesh here even on a Proxmox host: the defaults are used.
        env["PATH"] = f"{tmp_path}:/usr/bin:/bin"
    return run(["bash", SCRIPT, "--dry-run", "--non-interactive", *args], env=env)


def _commands(result: subprocess.CompletedProcess[str], program: str) -> list[list[str]]:
    return [
        shlex.split(line[2:])
        for line in result.stdout.splitlines()
        if line.startswith(f"+ {program} ")
    ]


def _options(argv: list[str]) -> dict[str, str]:
    return {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("--")}


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_dry_run_creates_an_unprivileged_debian_12_container_with_the_defaults(
    arch: str, tmp_path: Path
) -> None:
    result = _dry_run("--arch", arch, tmp_path=tmp_path)
    assert result.returncode == 0, explain(result)
    (create,) = [c for c in _commands(result, "pct") if c[1] == "create"]
    ctid, template = create[2], create[3]
    assert ctid == "100"
    assert template.startswith("local:vztmpl/debian-12-")
    assert template.endswith(f"_{arch}.tar.zst")
    options = _options(create)
    assert options["--unprivileged"] == "1"
    assert options["--arch"] == arch
    assert options["--ostype"] == "debian"
    assert options["--cores"] == "1"
    assert options["--memory"] == "512"
    assert options["--rootfs"] == "local-lvm:4"
    net = dict(part.split("=", 1) for part in options["--net0"].split(","))
    assert net["bridge"] == "vmbr0"
    assert net["ip"] == "dhcp"


def test_dry_run_downloads_the_template_starts_and_runs_install_sh(tmp_path: Path) -> None:
    result = _dry_run("--arch", "amd64", tmp_path=tmp_path)
    assert result.returncode == 0, explain(result)
    pveam = _commands(result, "pveam")
    assert ["pveam", "update"] in pveam
    assert any(c[1] == "download" and c[2] == "local" and "amd64" in c[3] for c in pveam)
    pct = _commands(result, "pct")
    verbs = [c[1] for c in pct]
    assert verbs.index("create") < verbs.index("start") < verbs.index("exec")
    installs = [c for c in pct if c[1] == "exec" and "/root/invest-install.sh" in c]
    assert installs, result.stdout
    assert "--non-interactive" in installs[-1]
    # The script runs from a checkout, so the checkout is packed and pushed as the source.
    assert "/root/invest-src.tar.gz" in installs[-1]
    assert ["pct", "push", "100", str(REPO / "install.sh"), "/root/invest-install.sh"] in pct


def test_every_default_can_be_overridden(tmp_path: Path) -> None:
    result = _dry_run(
        "--arch", "arm64", "--ctid", "231", "--cores", "2", "--memory", "1024",
        "--disk", "8", "--bridge", "vmbr1", "--storage", "fast", "--hostname", "pi-invest",
        "--ip", "10.0.0.5/24", "--gateway", "10.0.0.1",
        tmp_path=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, explain(result)
    (create,) = [c for c in _commands(result, "pct") if c[1] == "create"]
    options = _options(create)
    assert create[2] == "231"
    assert options["--cores"] == "2"
    assert options["--memory"] == "1024"
    assert options["--rootfs"] == "fast:8"
    assert options["--hostname"] == "pi-invest"
    assert "bridge=vmbr1" in options["--net0"]
    assert "ip=10.0.0.5/24" in options["--net0"]
    assert "gw=10.0.0.1" in options["--net0"]


def _fake_tools(folder: Path, pct_list: str) -> None:
    tools = {
        "pct": f'case "$1" in list) printf "%s\\n" {shlex.quote(pct_list)};; '
        'status) echo "status: running";; *) exit 0;; esac',
        "pvesh": "echo 105",
        "pveam": 'case "$1" in list) '
        'echo "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst 120MB";; '
        "available) echo 'system debian-12-standard_12.7-1_amd64.tar.zst';; esac",
    }
    for name, body in tools.items():
        path = folder / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)


def test_an_existing_container_with_that_hostname_is_reused_not_recreated(tmp_path: Path) -> None:
    listing = "VMID       Status     Lock         Name\n104        running                 invest"
    _fake_tools(tmp_path, listing)
    result = _dry_run("--arch", "amd64", tmp_path=tmp_path)
    assert result.returncode == 0, explain(result)
    assert "container invest exists already (id 104): skipping create" in result.stdout
    assert "container 104 is running already" in result.stdout
    pct = _commands(result, "pct")
    assert not [c for c in pct if c[1] in ("create", "start")]
    assert any(c[1] == "exec" and c[2] == "104" for c in pct)


def test_a_template_already_in_storage_is_not_downloaded_again(tmp_path: Path) -> None:
    _fake_tools(tmp_path, "VMID       Status     Lock         Name")
    result = _dry_run("--arch", "amd64", tmp_path=tmp_path)
    assert result.returncode == 0, explain(result)
    assert "is in local already" in result.stdout
    assert not [c for c in _commands(result, "pveam") if c[1] == "download"]
    (create,) = [c for c in _commands(result, "pct") if c[1] == "create"]
    assert create[2] == "105"  # from pvesh get /cluster/nextid
    assert create[3] == "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


def test_secrets_are_pushed_as_a_file_never_on_a_command_line(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text("ALPACA_SECRET_KEY=do-not-print-me\n")
    result = _dry_run("--arch", "amd64", "--secrets-file", str(secrets), tmp_path=tmp_path)
    assert result.returncode == 0, explain(result)
    assert "do-not-print-me" not in result.stdout + result.stderr
    pct = _commands(result, "pct")
    assert [
        "pct",
        "push",
        "100",
        str(secrets),
        "/root/invest-secrets.env",
        "--perms",
        "0600",
    ] in pct


def test_real_runs_need_a_proxmox_host(tmp_path: Path) -> None:
    env = clean_env(PATH=f"{tmp_path}:/usr/bin:/bin")
    result = run(["bash", SCRIPT, "--arch", "amd64"], env=env)
    assert result.returncode != 0
    assert "Proxmox VE host" in result.stderr
