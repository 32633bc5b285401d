"""The appliance's service commands: `invest start|stop|restart|logs|update|doctor`.

The installer (install.sh, installer/lib.sh) lays the appliance out as:

- ``$PREFIX/opt/invest/venvs/<version>-<timestamp>``, with ``current`` and ``previous`` links;
- ``$PREFIX/opt/invest/install.env``, how the install was made (read by ``update``);
- ``$PREFIX/etc/invest/config.toml`` and ``secrets.env`` (mode 0600);
- ``$PREFIX/var/lib/invest`` (ledger, packs, cache) and ``$PREFIX/var/log/invest``;
- the Supervisor program ``invest-engine`` (or the systemd unit of the same name).

Everything here uses the standard library only, so it works in a broken venv too; the
modules only some commands need (subprocess, urllib) are imported by those, so that
``invest`` starts fast.
"""

from __future__ import annotations

import argparse
import errno
import os
import shutil
import sqlite3
import sys
import time
import tomllib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Literal, TextIO

from invest.runtime.faults import storage_fault
from invest.runtime.layout import Check, Layout

__all__ = [
    "PROGRAM",
    "add_service_commands",
    "control",
    "doctor",
    "follow",
    "rollback",
    "tail_lines",
    "update",
]

PROGRAM = "invest-engine"
"""The Supervisor program and systemd unit that run `invest engine`."""

Runner = Callable[[Sequence[str]], int]
Action = Literal["start", "stop", "restart"]

_LEDGER_NAMES = ("ledger.sqlite", "ledger.sqlite3", "ledger.db")
_DISK_WARN_BYTES = 1 << 30
_DISK_FAIL_BYTES = 200 << 20
_SKEW_WARN_S = 5.0
_SKEW_FAIL_S = 60.0


def _run(argv: Sequence[str]) -> int:
    # The commands are fixed program names (supervisorctl, systemctl, bash install.sh)
    # with arguments from our own files and argparse choices, never a shell string.
    import subprocess

    return subprocess.run(list(argv), check=False).returncode  # noqa: S603


def read_install_env(paths: Layout) -> dict[str, str]:
    """Read ``install.env`` (KEY=VALUE lines) that install.sh leaves in the install root.

    Args:
        paths: The appliance's paths.

    Returns:
        The recorded keys; empty when the file is missing (not an installed appliance).
    """
    state: dict[str, str] = {}
    try:
        text = (paths.root / "install.env").read_text(encoding="utf-8")
    except OSError:
        return state
    for raw in text.splitlines():
        key, sep, value = raw.partition("=")
        if sep and not raw.startswith("#"):
            state[key.strip()] = value.strip()
    return state


def service_command(paths: Layout, action: str) -> list[str] | None:
    """Build the command that applies ``action`` to the engine's service.

    Args:
        paths: The appliance's paths.
        action: ``start``, ``stop``, ``restart`` or ``status``.

    Returns:
        The argv for supervisorctl or systemctl, or None when neither is configured.
    """
    if paths.supervisor_program.exists():
        argv = ["supervisorctl"]
        if paths.supervisord_conf.exists():
            argv += ["-c", str(paths.supervisord_conf)]
        return [*argv, action, PROGRAM]
    if paths.systemd_unit.exists():
        return ["systemctl", action, f"{PROGRAM}.service"]
    return None


def control(action: Action, paths: Layout, run: Runner = _run) -> int:
    """Start, stop or restart the engine through Supervisor (or systemd).

    Args:
        action: What to do with the engine.
        paths: The appliance's paths.
        run: Runs an argv and returns its exit code (injected by tests).

    Returns:
        The service manager's exit code, or 2 when no service manager is configured or
        installed.
    """
    argv = service_command(paths, action)
    if argv is None:
        print(
            f"no Supervisor program ({paths.supervisor_program}) or systemd unit found: "
            "install the appliance with install.sh, or run `invest engine` yourself",
            file=sys.stderr,
        )
        return 2
    try:
        return run(argv)
    except FileNotFoundError:
        # A --no-system install renders the program file but installs no Supervisor.
        print(
            f"no service manager found: {argv[0]} is not installed; run the engine in the "
            "foreground with `invest engine`, or install with the system mode "
            "(install.sh without --no-system)",
            file=sys.stderr,
        )
        return 2


def tail_lines(path: Path, count: int) -> list[str]:
    """Return the last ``count`` lines of a text file (without their newlines)."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        return [line.rstrip("\n") for line in deque(handle, maxlen=count)]


def follow(
    path: Path,
    out: TextIO,
    *,
    poll_s: float = 0.5,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Print lines appended to ``path`` until ``stop()``, reopening it after a rotation.

    Args:
        path: The log file; Supervisor renames it to ``.1`` when it rotates.
        out: Where the lines go.
        poll_s: Seconds between polls when nothing new was written.
        stop: Called between polls; following ends when it returns True.
    """
    handle = path.open(encoding="utf-8", errors="replace")
    handle.seek(0, os.SEEK_END)
    inode = os.fstat(handle.fileno()).st_ino
    try:
        while not stop():
            line = handle.readline()
            if line:
                out.write(line)
                out.flush()
                continue
            try:
                rotated = path.stat().st_ino != inode
            except FileNotFoundError:
                rotated = False
            if rotated:
                handle.close()
                handle = path.open(encoding="utf-8", errors="replace")
                inode = os.fstat(handle.fileno()).st_ino
                continue
            time.sleep(poll_s)
    finally:
        handle.close()


def _replace_link(link: Path, target: str) -> None:
    temporary = link.with_name(f".{link.name}.new")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(target)
    temporary.replace(link)


def rollback(paths: Layout) -> str:
    """Swap the ``current`` and ``previous`` venv links (each switch is atomic).

    Args:
        paths: The appliance's paths.

    Returns:
        The venv that is now current, relative to the install root.

    Raises:
        FileNotFoundError: There is no previous venv to go back to.
    """
    current, previous = paths.root / "current", paths.root / "previous"
    if not current.is_symlink() or not previous.is_symlink():
        raise FileNotFoundError(f"no previous venv in {paths.root}: nothing to roll back to")
    now, before = str(current.readlink()), str(previous.readlink())
    if not (paths.root / before).is_dir():
        raise FileNotFoundError(f"the previous venv {paths.root / before} is gone")
    _replace_link(current, before)
    _replace_link(previous, now)
    return before


def installer_command(paths: Layout, version: str | None) -> list[str]:
    """Build the command that re-runs the installed install.sh as an upgrade.

    Args:
        paths: The appliance's paths.
        version: A release tag; None re-installs from the recorded source (or the latest).

    Returns:
        The argv for bash.

    Raises:
        FileNotFoundError: The installer copy is missing (not an installed appliance).
    """
    script = paths.root / "installer/install.sh"
    if not script.is_file():
        raise FileNotFoundError(f"{script} is missing: install the appliance with install.sh first")
    state = read_install_env(paths)
    argv = ["bash", str(script), "--non-interactive"]
    if state.get("INVEST_INSTALL_PREFIX"):
        argv += ["--prefix", state["INVEST_INSTALL_PREFIX"]]
    if state.get("INVEST_INSTALL_NO_SYSTEM") == "1":
        argv.append("--no-system")
    if state.get("INVEST_INSTALL_SERVICE"):
        argv += ["--service", state["INVEST_INSTALL_SERVICE"]]
    if version:
        argv += ["--version", version]
    elif state.get("INVEST_INSTALL_SOURCE"):
        argv += ["--source", state["INVEST_INSTALL_SOURCE"]]
    return argv


def update(paths: Layout, version: str | None, *, to_previous: bool, run: Runner = _run) -> int:
    """Upgrade to ``version`` (a new venv) or roll back to the previous venv.

    Args:
        paths: The appliance's paths.
        version: The release tag to install; None for the recorded source or the latest.
        to_previous: Roll back instead of upgrading.
        run: Runs an argv and returns its exit code (injected by tests).

    Returns:
        0 on success, else a non-zero exit code.
    """
    if not to_previous:
        try:
            return run(installer_command(paths, version))
        except FileNotFoundError as e:
            print(e, file=sys.stderr)
            return 2
    try:
        now = rollback(paths)
    except FileNotFoundError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"rolled back: current -> {now}")
    if read_install_env(paths).get("INVEST_INSTALL_NO_SYSTEM") == "1":
        print("restart the engine to use it (this install has no system service)")
        return 0
    return control("restart", paths, run) if service_command(paths, "restart") else 0


# ------------------------------------------------------------------------------ doctor


def check_config(paths: Layout) -> Check:
    """Check that the config file exists and is valid TOML; name the bundled example."""
    from invest.runtime.paths import example_config

    if not paths.config.is_file():
        return Check(
            "config", "FAIL", f"{paths.config} is missing", "run install.sh or set INVEST_CONFIG"
        )
    try:
        with paths.config.open("rb") as handle:
            data = tomllib.load(handle)
    except (tomllib.TOMLDecodeError, OSError) as e:
        return Check("config", "FAIL", f"{paths.config}: {e}", "fix the TOML at that place")
    example = paths.config == example_config()
    why = "; the bundled example, as every command uses when no config is found" if example else ""
    return Check("config", "OK", f"{paths.config} parses ({len(data)} tables{why})")


def check_secrets(paths: Layout) -> Check:
    """Check that the secrets file, when present, is private (mode 0600 or stricter)."""
    try:
        mode = paths.secrets.stat().st_mode & 0o777
    except FileNotFoundError:
        return Check(
            "secrets",
            "WARN",
            f"{paths.secrets} is missing: only the sample data and the paper broker work",
            f"re-run install.sh to enter the keys, or write them to {paths.secrets} (mode 0600)",
        )
    if mode & 0o077:
        return Check(
            "secrets", "FAIL", f"{paths.secrets} has mode {mode:04o}", f"chmod 600 {paths.secrets}"
        )
    return Check("secrets", "OK", f"{paths.secrets} has mode {mode:04o}")


def find_ledger(paths: Layout) -> Path | None:
    """Return the ledger file in the data folder, or None when there is none yet."""
    named = os.environ.get("INVEST_LEDGER")
    candidates: Iterable[Path] = [Path(named)] if named else (paths.home / n for n in _LEDGER_NAMES)
    return next((p for p in candidates if p.is_file()), None)


def check_ledger(paths: Layout) -> Check:
    """Run SQLite's integrity check on the ledger, read-only.

    Only a failed check (or a file that is not a database) advises a restore. A ledger
    that cannot be opened because its folder is read-only or full is not damaged: it is
    checked again without its WAL index (``immutable``) and the home check names the fault.
    """
    ledger = find_ledger(paths)
    if ledger is None:
        return Check("ledger", "OK", f"no ledger in {paths.home} yet (the engine creates it)")
    note = ""
    try:
        rows = _integrity(f"file:{ledger}?mode=ro")
    except sqlite3.Error as e:
        fault = storage_fault(e, ledger)
        if fault is None:
            return Check("ledger", "FAIL", f"{ledger}: {e}", "restore the ledger from a backup")
        if fault.kind == "locked":
            return Check("ledger", "WARN", f"{ledger} is locked by a writer ({e}): not checked")
        note = f" (opened immutable: {e}, see the home check)"
        try:
            rows = _integrity(f"file:{ledger}?mode=ro&immutable=1")
        except sqlite3.Error as e2:
            return Check("ledger", "FAIL", f"{ledger}: {e2}", "restore the ledger from a backup")
    verdict = "; ".join(str(row[0]) for row in rows[:3])
    if verdict != "ok":
        return Check("ledger", "FAIL", f"{ledger}: {verdict}", "stop the engine, restore a backup")
    return Check("ledger", "OK", f"{ledger} passes the integrity check{note}")


def _integrity(uri: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(uri, uri=True, timeout=5)) as db:
        return list(db.execute("PRAGMA integrity_check").fetchall())


#: Bytes the home check writes: enough to meet a full disk or a file size limit.
_PROBE_BYTES = 64 << 10


def check_home(paths: Layout) -> Check:
    """Write and remove a small file in the data folder: tells read-only and full apart.

    ``disk_usage`` alone misses a read-only mount, a quota or a file size limit; a real
    write meets each of them with its own errno.
    """
    home = paths.home
    if not home.is_dir():
        return Check("home", "OK", f"no data folder {home} yet (the engine creates it)")
    probe = home / f".doctor-probe-{os.getpid()}"
    try:
        with probe.open("wb") as f:
            f.write(b"\0" * _PROBE_BYTES)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        return _home_fault(home, e)
    finally:
        probe.unlink(missing_ok=True)
    return Check("home", "OK", f"{home} is writable")


def _home_fault(home: Path, e: OSError) -> Check:
    why = e.strerror or str(e)
    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return Check("home", "FAIL", f"{home} is full ({why})", "free space there, then restart")
    if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return Check(
            "home",
            "FAIL",
            f"home is read-only: {home} ({why})",
            "remount it read-write or give the service user write access; "
            "the ledger is not damaged, do not restore a backup",
        )
    return Check("home", "FAIL", f"cannot write in {home} ({why})", "check the disk (dmesg)")


def check_disk(paths: Layout) -> Check:
    """Check the free space where the data folder lives."""
    place = paths.home
    while not place.exists() and place != place.parent:
        place = place.parent
    free = shutil.disk_usage(place).free
    detail = f"{free / (1 << 30):.1f} GiB free on {place}"
    if free < _DISK_FAIL_BYTES:
        return Check("disk", "FAIL", detail, "free space: old logs, venvs, the pip cache")
    if free < _DISK_WARN_BYTES:
        return Check("disk", "WARN", detail, "free some space soon")
    return Check("disk", "OK", detail)


def _server_date(url: str, timeout_s: float) -> datetime:
    import urllib.request
    from email.utils import parsedate_to_datetime

    request = urllib.request.Request(url, method="HEAD")  # noqa: S310 (the operator's URL)
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
        header = response.headers.get("Date")
    if not header:
        raise ValueError(f"{url} sent no Date header")
    return parsedate_to_datetime(header)


def check_clock(
    url: str | None = None,
    *,
    server_date: Callable[[], datetime] | None = None,
    now: Callable[[], datetime] | None = None,
) -> Check:
    """Compare the local clock with an HTTPS server's Date header (1 s resolution).

    Opt-in: without ``url`` (``invest doctor --clock-server URL`` or INVEST_TIME_URL)
    and ``server_date`` nothing is asked of the network and the check is INFO.

    Args:
        url: The server to send one HEAD request to.
        server_date: Returns the server's time (tests); instead of asking ``url``.
        now: The local clock; :class:`~invest.runtime.clock.SystemClock` by default.

    Returns:
        INFO when not asked for, SKIP when offline, else OK, WARN (> 5 s) or FAIL (> 60 s).
    """
    import urllib.error

    if server_date is None and not url:
        return Check(
            "clock",
            "INFO",
            "clock skew not checked (no network call unless asked): "
            "`invest doctor --clock-server https://…` compares with that server's Date header",
        )
    fetch = server_date or (lambda: _server_date(str(url), timeout_s=3.0))
    try:
        remote = fetch()
    except (OSError, urllib.error.URLError, ValueError) as e:
        return Check("clock", "SKIP", f"offline, clock skew not checked ({e})")
    if now is None:
        from invest.runtime.clock import SystemClock

        now = SystemClock().now
    skew = (now() - remote).total_seconds()
    detail = f"local clock is {skew:+.0f} s from {url or 'the server'}'s"
    fix = "enable NTP: timedatectl set-ntp true"
    if abs(skew) > _SKEW_FAIL_S:
        return Check("clock", "FAIL", detail, fix)
    if abs(skew) > _SKEW_WARN_S:
        return Check("clock", "WARN", detail, fix)
    return Check("clock", "OK", detail)


def check_install(paths: Layout) -> Check:
    """Check that ``current`` points at a venv that holds the invest command."""
    current = paths.root / "current"
    if not current.is_symlink():
        return Check("install", "SKIP", f"no {current}: not an installed appliance")
    if not (current / "bin/invest").is_file():
        return Check(
            "install",
            "FAIL",
            f"{current} -> {current.readlink()} is broken",
            "invest update --rollback",
        )
    return Check("install", "OK", f"current -> {current.readlink()}")


def doctor(
    paths: Layout,
    checks: Iterable[Callable[[], Check | list[Check]]] | None = None,
    *,
    clock_server: str | None = None,
) -> list[Check]:
    """Run every health check of the appliance.

    Args:
        paths: The appliance's paths.
        checks: The checks to run; all of them when None.
        clock_server: The HTTPS server whose Date header the clock check compares
            with; None skips that check (INFO), so a plain run asks no public server.

    Returns:
        One result per check, in order.
    """
    if checks is None:
        checks = [
            lambda: check_install(paths),
            lambda: check_config(paths),
            lambda: check_secrets(paths),
            lambda: _settings_checks(paths),
            lambda: check_home(paths),
            lambda: check_ledger(paths),
            lambda: check_disk(paths),
            lambda: check_clock(clock_server),
        ]
    out: list[Check] = []
    for check in checks:
        got = check()
        out.extend(got if isinstance(got, list) else [got])
    return out


def _settings_checks(paths: Layout) -> list[Check]:
    """Settings, model packs, broker and LLM reachability (``invest.runtime.health``)."""
    if not paths.config.is_file():
        return [Check(n, "SKIP", "no config") for n in ("settings", "packs", "broker", "llm")]
    from invest.runtime import health  # pydantic, onnxruntime, alpaca-py, httpx: only here

    return health.settings_checks(paths)


# ------------------------------------------------------------------------------ argparse


def _layout(paths: object) -> Layout:
    # The CLI resolves the config, the data folder and the secrets file
    # (invest.runtime.paths.Paths): use them, so doctor checks what every command uses.
    config = getattr(paths, "config", None)
    home = getattr(paths, "home", None)
    return Layout.from_env(
        config=config if isinstance(config, Path) else None,
        home=home if isinstance(home, Path) else None,
    )


def _cmd_control(args: argparse.Namespace, paths: object) -> int:
    return control(args.service_action, _layout(paths))


def _cmd_logs(args: argparse.Namespace, paths: object) -> int:
    from invest.runtime.logs import engine_log_candidates

    places = engine_log_candidates(_layout(paths).home)
    log = next((p for p in places if p.is_file()), None)
    if log is None:
        print(
            f"no engine log yet (looked for {' and '.join(map(str, places))}): "
            "start the engine with `invest start`, or `invest engine` in a terminal",
            file=sys.stderr,
        )
        return 1
    for line in tail_lines(log, args.lines):
        print(line)
    if args.follow:
        try:
            follow(log, sys.stdout)
        except KeyboardInterrupt:
            return 0
    return 0


def _cmd_update(args: argparse.Namespace, paths: object) -> int:
    return update(_layout(paths), args.version, to_previous=args.rollback)


def _cmd_doctor(args: argparse.Namespace, paths: object) -> int:
    server = args.clock_server or os.environ.get("INVEST_TIME_URL") or None
    results = doctor(_layout(paths), clock_server=server)
    for result in results:
        print(result.line())
    return 1 if any(r.status == "FAIL" for r in results) else 0


def add_service_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register start, stop, restart, logs, update and doctor on the `invest` parser.

    Each subcommand sets ``handler``: a callable ``(args, paths) -> int`` where ``paths``
    is the CLI's resolved ``invest.runtime.paths.Paths`` (its ``config`` and ``home`` are
    used when present). ``status`` is not registered here: the CLI owns it.

    Args:
        subparsers: What ``ArgumentParser.add_subparsers()`` returned.
    """
    for action, text in (
        ("start", "start the engine (Supervisor program invest-engine)"),
        ("stop", "stop the engine"),
        ("restart", "restart the engine"),
    ):
        sub = subparsers.add_parser(action, help=text, description=text)
        sub.set_defaults(handler=_cmd_control, service_action=action)

    logs = subparsers.add_parser(
        "logs", help="show the engine log", description="show the engine log"
    )
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument(
        "-n", "--lines", type=int, default=50, help="lines to show first (default 50)"
    )
    logs.set_defaults(handler=_cmd_logs)

    upd = subparsers.add_parser(
        "update",
        help="upgrade into a new venv, or roll back to the previous one",
        description="Re-run the installed install.sh (a new versioned venv), or flip back.",
    )
    which = upd.add_mutually_exclusive_group()
    which.add_argument("--version", metavar="TAG", help="the release to install")
    which.add_argument("--rollback", action="store_true", help="switch back to the previous venv")
    upd.set_defaults(handler=_cmd_update)

    doc = subparsers.add_parser(
        "doctor",
        help="check the appliance's health",
        description="One line per check: OK, WARN, FAIL, SKIP or INFO (not checked: how to).",
    )
    doc.add_argument(
        "--clock-server",
        metavar="URL",
        help="check the clock against this HTTPS server's Date header (one HEAD request; "
        "default INVEST_TIME_URL, else not checked)",
    )
    doc.set_defaults(handler=_cmd_doctor)
