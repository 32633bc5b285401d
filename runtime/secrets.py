"""Secrets: read from the secrets file (mode 0600) and the environment, nowhere else.

The file holds ``KEY=VALUE`` lines (``#`` comments, blank lines, an optional
``export`` and quotes are allowed). The environment overrides the file. A file
readable by the group or by others is refused. Values are ``SecretStr``: they
show as ``**********`` in reprs, tracebacks and logs. Other keys in the file
(for example an LLM API key) are ignored here.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr

from invest.runtime.errors import ConfigError

__all__ = ["SECRET_NAMES", "Secrets", "load_secrets", "read_secrets_file"]

#: The variables read, by field name.
SECRET_NAMES = {
    "alpaca_api_key": "ALPACA_API_KEY",
    "alpaca_secret_key": "ALPACA_SECRET_KEY",
    "telegram_bot_token": "TELEGRAM_BOT_TOKEN",
    "discord_webhook_url": "DISCORD_WEBHOOK_URL",
    "web_token": "INVEST_WEB_TOKEN",
}


class Secrets(BaseModel):
    """The appliance's secrets; a missing one is None."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    alpaca_api_key: SecretStr | None = None
    """ALPACA_API_KEY: the Alpaca key id (paper keys for the paper endpoint)."""
    alpaca_secret_key: SecretStr | None = None
    """ALPACA_SECRET_KEY: the Alpaca secret."""
    telegram_bot_token: SecretStr | None = None
    """TELEGRAM_BOT_TOKEN: from @BotFather."""
    discord_webhook_url: SecretStr | None = None
    """DISCORD_WEBHOOK_URL: the channel's webhook URL (it embeds a token)."""
    web_token: SecretStr | None = None
    """INVEST_WEB_TOKEN: the login token of ``invest web`` (16 characters or more)."""


def read_secrets_file(path: Path) -> dict[str, str]:
    """The ``KEY=VALUE`` pairs of ``path``.

    Raises:
        ConfigError: the file is readable by group or others, unreadable, or has a
            line that is not ``KEY=VALUE`` (the message gives the line number only).
    """
    try:
        mode = path.stat().st_mode
    except OSError as e:
        raise ConfigError(f"cannot read the secrets file {path}: {e.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"the secrets file {path} is open to group or others (mode {mode & 0o777:04o}); "
            f"run: chmod 600 {path}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read the secrets file {path}: {type(e).__name__}") from None
    out: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ConfigError(f"{path}:{n}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key] = value
    return out


def load_secrets(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Secrets:
    """Read the secrets from ``path`` (if it exists) and the environment, which wins.

    Args:
        path: the secrets file; None or a missing file reads the environment only.
        environ: the environment (default ``os.environ``).

    Raises:
        ConfigError: see :func:`read_secrets_file`.
    """
    env = os.environ if environ is None else environ
    found = read_secrets_file(path) if path is not None and path.exists() else {}
    values: dict[str, SecretStr] = {}
    for field, name in SECRET_NAMES.items():
        value = env.get(name) or found.get(name)
        if value:
            values[field] = SecretStr(value)
    return Secrets(**values)
