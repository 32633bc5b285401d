"""``invest web``: the same TUI in a browser, through textual-serve.

Each browser session starts its own ``python -m invest.tui`` process, which
reads the ledger and steers the engine exactly like ``invest`` over SSH.
textual-serve has no authentication, and the TUI can halt and flatten accounts,
so it binds to 127.0.0.1 by default: reach it through an SSH tunnel
(``ssh -L 8000:127.0.0.1:8000 pi``) or a reverse proxy that authenticates.
"""

from __future__ import annotations

import ipaddress
import shlex
import sys
from collections.abc import Callable
from typing import Any

from invest.runtime.errors import OptionalDependencyError
from invest.runtime.paths import Paths

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def command(paths: Paths) -> str:
    """The shell command textual-serve runs for each browser session (same config and home)."""
    parts = (sys.executable, "-m", "invest.tui", "--config", str(paths.config))
    return f"INVEST_HOME={shlex.quote(str(paths.home))} " + " ".join(map(shlex.quote, parts))


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(
    paths: Paths,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    server: Callable[..., Any] | None = None,
) -> int:
    """Serve the TUI on http://host:port until interrupted; the exit code.

    Args:
        paths: resolved locations; the sessions use the same config and data folder.
        host: interface to bind (loopback by default).
        port: TCP port.
        server: the server class (textual-serve's ``Server``; tests pass a fake).

    Raises:
        OptionalDependencyError: textual-serve is not installed.
    """
    if server is None:
        try:
            from textual_serve.server import Server
        except ImportError as e:
            raise OptionalDependencyError(
                "`invest web` needs textual-serve: pip install textual-serve"
            ) from e
        server = Server
    if not is_loopback(host):
        print(
            f"warning: serving the TUI on {host}: anyone who can reach port {port} can "
            "steer the engine (textual-serve has no login). Prefer 127.0.0.1 and an SSH tunnel.",
            file=sys.stderr,
        )
    server(command(paths), host=host, port=port, title="Invest").serve()
    return 0
