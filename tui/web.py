"""``invest web``: the same TUI in a browser, through textual-serve, behind a login.

Each browser session starts its own ``python -m invest.tui`` process, which
reads the ledger and steers the engine exactly like ``invest`` over SSH, so the
page can halt and flatten accounts. It is guarded (see :mod:`invest.tui.web_server`):

- a login with the token ``INVEST_WEB_TOKEN`` from the secrets file (or the
  environment), 16 characters or more; without one ``invest web`` refuses to
  start and says how to set it. It does not generate one: the secrets file may
  be root's (``/etc/invest/secrets.env``), and a token printed at start would
  land in the service journal;
- a session cookie (random, HttpOnly, SameSite=Strict, 12 hours);
- the WebSocket and every POST must carry the ``Origin`` the client reached;
- 5 failed logins per minute per client address, then 429;
- every control action is audited as ``web (session <label> from <address>)``
  plus the uid the engine's socket sees;
- no request leaves the box (fonts come from textual-serve's static folder);
- the reports of ``INVEST_HOME/reports`` at ``/reports`` (:mod:`invest.tui.web_reports`),
  behind the same login.

It binds to 127.0.0.1 by default: reach it through an SSH tunnel
(``ssh -L 8000:127.0.0.1:8000 pi``). ``--host`` binds elsewhere; the traffic,
token included, is then plain HTTP unless a TLS reverse proxy fronts it (the
proxy must pass the ``Host`` header and ``X-Forwarded-Proto: https``, or the
Origin check refuses the page's requests).
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import sys
from collections.abc import Callable, Mapping
from typing import Any

from invest.runtime.errors import ConfigError, OptionalDependencyError
from invest.runtime.paths import Paths
from invest.runtime.secrets import SECRET_NAMES, load_secrets

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
TOKEN_ENV = SECRET_NAMES["web_token"]
MIN_TOKEN_CHARS = 16


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


def login_token(paths: Paths, environ: Mapping[str, str] | None = None) -> str:
    """The login token: ``INVEST_WEB_TOKEN`` from the environment or the secrets file.

    Raises:
        ConfigError: none is set, or it is shorter than 16 characters (one line
            that says how to set one), or the secrets file is unsafe.
    """
    secret = load_secrets(paths.secrets, environ).web_token
    how = (
        f"add {TOKEN_ENV}=<token> to {paths.secrets} (mode 0600); make one with: "
        "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
    )
    if secret is None:
        raise ConfigError(f"`invest web` needs a login token: {how}")
    token = secret.get_secret_value()
    if len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(f"{TOKEN_ENV} is shorter than {MIN_TOKEN_CHARS} characters: {how}")
    return token


def main(
    paths: Paths,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    server: Callable[..., Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Serve the TUI on http://host:port until interrupted; the exit code.

    Args:
        paths: resolved locations; the sessions use the same config and data folder.
        host: interface to bind (loopback by default).
        port: TCP port.
        server: the server class (:class:`~invest.tui.web_server.WebServer`; tests pass a fake).
        environ: where ``INVEST_WEB_TOKEN`` may also be (default ``os.environ``).

    Raises:
        ConfigError: no usable login token (see :func:`login_token`).
        OptionalDependencyError: textual-serve is not installed.
    """
    token = login_token(paths, environ)
    if environ is None:
        # The spawned TUI processes inherit this environment; they have no use for the token.
        os.environ.pop(TOKEN_ENV, None)
    if server is None:
        try:
            from .web_server import WebServer
        except ImportError as e:
            raise OptionalDependencyError(
                "`invest web` needs textual-serve: pip install textual-serve"
            ) from e
        server = WebServer
    if not is_loopback(host):
        print(
            f"warning: serving the TUI on {host}:{port} over plain HTTP: the login token and "
            "the session cookie cross the network in clear unless a TLS reverse proxy fronts "
            "it. Prefer 127.0.0.1 and an SSH tunnel.",
            file=sys.stderr,
        )
    server(
        command(paths), token=token, host=host, port=port, title="Invest", reports=paths.reports
    ).serve()
    return 0
