"""Where an installed appliance keeps its files (:class:`Layout`), and one line of
``invest doctor`` (:class:`Check`).

Standard library and :mod:`invest.runtime.paths` only. :mod:`invest.runtime.service`
runs the checks that need nothing more; :mod:`invest.runtime.health` the ones that
read the settings. Both
build on these two types, which is why they live here and not in either.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from invest.runtime.paths import resolve_secrets

__all__ = ["Check", "Layout", "Status"]

#: INFO: not checked on purpose, and how to check it (never fails the run).
Status = Literal["OK", "WARN", "FAIL", "SKIP", "INFO"]


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the installed appliance keeps its files, from the environment or the defaults."""

    prefix: Path
    """Root that the install is relocated under (``/`` for a system install)."""
    config: Path
    """The config file (INVEST_CONFIG, default ``/etc/invest/config.toml``)."""
    secrets: Path
    """The secrets file, found as every command finds it (``paths.resolve_secrets``)."""
    home: Path
    """Data folder: ledger, packs, cache (INVEST_HOME, default ``/var/lib/invest``)."""
    log_dir: Path
    """Log folder (INVEST_LOG_DIR, default ``/var/log/invest``)."""

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        config: Path | None = None,
        home: Path | None = None,
    ) -> Layout:
        """Build the layout from INVEST_PREFIX, INVEST_CONFIG, INVEST_HOME and friends.

        Args:
            env: The environment to read; ``os.environ`` when None.
            config: The config file, when the caller resolved it already (``--config``).
            home: The data folder, when the caller resolved it already.

        Returns:
            The resolved layout.
        """
        env = os.environ if env is None else env
        prefix = Path(env.get("INVEST_PREFIX") or "/")
        config = config or Path(env.get("INVEST_CONFIG") or prefix / "etc/invest/config.toml")
        home = home or Path(env.get("INVEST_HOME") or prefix / "var/lib/invest")
        return cls(
            prefix=prefix,
            config=config,
            secrets=resolve_secrets(home, env),
            home=home,
            log_dir=Path(env.get("INVEST_LOG_DIR") or prefix / "var/log/invest"),
        )

    @property
    def root(self) -> Path:
        """The install root holding the venvs, ``current`` and ``previous``."""
        return self.prefix / "opt/invest"

    @property
    def service_log(self) -> Path:
        """Supervisor's (or systemd's) capture of the engine's output, rotated by size.

        The engine's own log is :func:`invest.runtime.logs.engine_log_file`; look for
        either through :func:`invest.runtime.logs.engine_log_candidates`.
        """
        return self.log_dir / "engine.log"

    @property
    def supervisor_program(self) -> Path:
        """The rendered Supervisor program file."""
        return self.prefix / "etc/supervisor/conf.d/invest.conf"

    @property
    def supervisord_conf(self) -> Path:
        """A standalone supervisord.conf, present on ``--no-system`` installs only."""
        return self.prefix / "etc/supervisor/supervisord.conf"

    @property
    def systemd_unit(self) -> Path:
        """The rendered systemd unit, present with ``install.sh --service systemd``."""
        return self.prefix / "etc/systemd/system/invest-engine.service"


@dataclass(frozen=True, slots=True)
class Check:
    """One line of `invest doctor`: what was checked, how it went and what to do."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def line(self) -> str:
        """Format the check as one line of text."""
        text = f"{self.status:<4} {self.name:<8} {self.detail}"
        return f"{text} -- fix: {self.fix}" if self.fix else text
