"""Where config, ledger, cache, model packs and logs live.

Config: ``--config``, else ``$INVEST_CONFIG``, else ``/etc/invest/config.toml``,
else the user's config dir (``~/.config/invest/config.toml``), else the bundled
example (so a fresh clone works; ``invest --debug`` says which was used).

Data (ledger, cache, packs, reports): ``$INVEST_HOME``, else ``/var/lib/invest`` when it
is writable, else the user's data dir (``~/.local/share/invest``).

Secrets (mode 0600), :func:`resolve_secrets`: ``$INVEST_SECRETS``, else
``/etc/invest/secrets.env`` (``$INVEST_PREFIX/etc/invest/secrets.env`` for an
install under a prefix) when it exists, else ``secrets.env`` in the data dir.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

import platformdirs

SYSTEM_CONFIG = Path("/etc/invest/config.toml")
SYSTEM_HOME = Path("/var/lib/invest")
SYSTEM_SECRETS = Path("/etc/invest/secrets.env")


#: Mode of the files that name accounts, positions and prices (ledger, caches, logs):
#: the service user writes, its group (operators) reads, other local users nothing.
PRIVATE_MODE = 0o640


def private_file(path: Path, mode: int = PRIVATE_MODE) -> None:
    """Create ``path`` (empty) with ``mode`` when missing, and tighten it when it is looser.

    Call it before SQLite opens a file: SQLite gives the ``-wal`` and ``-shm``
    files the main file's permissions, so they follow. An existing file owned
    by someone else is left alone (its owner decides).
    """
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, mode)  # no write access asked of a file
    try:
        st = os.fstat(fd)
        if st.st_uid == os.geteuid() and st.st_mode & 0o777 & ~mode:
            # A read-only mount refuses: SQLite reports that in its own words next.
            with contextlib.suppress(OSError):
                os.fchmod(fd, st.st_mode & 0o777 & mode)  # the umask may have widened it
    finally:
        os.close(fd)


def example_config() -> Path:
    """The documented example config shipped with the package."""
    return Path(str(resources.files("invest.runtime") / "examples" / "config.toml"))


def resolve_config(cli: str | None = None) -> tuple[Path, str]:
    """The config path to use and why it was chosen."""
    if cli:
        return Path(cli).expanduser(), "--config"
    if env := os.environ.get("INVEST_CONFIG"):
        return Path(env).expanduser(), "INVEST_CONFIG"
    if SYSTEM_CONFIG.exists():
        return SYSTEM_CONFIG, "system"
    user = Path(platformdirs.user_config_dir("invest")) / "config.toml"
    if user.exists():
        return user, "user config dir"
    return example_config(), "bundled example (no config found)"


def resolve_secrets(home: Path, env: Mapping[str, str] | None = None) -> Path:
    """The secrets file every command reads (and ``invest doctor`` checks).

    ``$INVEST_SECRETS``, else the installer's ``/etc/invest/secrets.env``
    (under ``$INVEST_PREFIX`` when that is set) when it exists, else ``home/secrets.env``.
    """
    env = os.environ if env is None else env
    if value := env.get("INVEST_SECRETS"):
        return Path(value).expanduser()
    prefix = env.get("INVEST_PREFIX")
    system = Path(prefix) / "etc/invest/secrets.env" if prefix else SYSTEM_SECRETS
    return system if system.exists() else home / "secrets.env"


def resolve_home() -> tuple[Path, str]:
    """The data directory to use and why it was chosen."""
    if env := os.environ.get("INVEST_HOME"):
        return Path(env).expanduser(), "INVEST_HOME"
    if SYSTEM_HOME.is_dir() and os.access(SYSTEM_HOME, os.W_OK):
        return SYSTEM_HOME, "system"
    return Path(platformdirs.user_data_dir("invest")), "user data dir"


@dataclass(frozen=True)
class Paths:
    """Resolved locations of one invocation."""

    config: Path
    config_why: str
    home: Path
    home_why: str

    @classmethod
    def resolve(cls, config: str | None = None) -> Paths:
        """Resolve every location from the CLI option and the environment."""
        c, cw = resolve_config(config)
        h, hw = resolve_home()
        return cls(c, cw, h, hw)

    @property
    def ledger(self) -> Path:
        """The SQLite ledger."""
        return self.home / "ledger.sqlite"

    @property
    def cache(self) -> Path:
        """The market data cache directory."""
        return self.home / "cache"

    @property
    def packs(self) -> Path:
        """Installed model packs."""
        return self.home / "packs"

    @property
    def reports(self) -> Path:
        """Reports people open: the engine's daily pages, default backtest folders."""
        return self.home / "reports"

    def backtest_out(self, account: str, now: datetime) -> Path:
        """A fresh results folder of a backtest: ``reports/backtests/<account>-<YYYYmmdd-HHMMSS>``.

        ``invest backtest`` without ``--out`` and the TUI's save land here, where
        ``invest web`` lists them.
        """
        return self.reports / "backtests" / f"{account}-{now:%Y%m%d-%H%M%S}"

    @property
    def secrets(self) -> Path:
        """The secrets file (:func:`resolve_secrets`)."""
        return resolve_secrets(self.home)

    def describe(self) -> str:
        """Human-readable list of the paths, for ``--debug``."""
        return (
            f"config:  {self.config} ({self.config_why})\n"
            f"home:    {self.home} ({self.home_why})\n"
            f"ledger:  {self.ledger}\ncache:   {self.cache}\npacks:   {self.packs}\n"
            f"reports: {self.reports}"
        )
