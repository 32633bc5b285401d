"""Reading the config: TOML file, ``INVEST__*`` environment overrides, validation errors by key path.

Unknown keys are rejected, and any bad value fails at start with its key path and
the reason (see :func:`load_config`). Secrets never live in the file: LLM API keys
come from the environment (``api_key_env``), the others from the secrets file
(:mod:`invest.runtime.secrets`).
"""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from invest.runtime.config.settings import Settings
from invest.runtime.errors import ConfigError

__all__ = ["load_config", "parse_config", "parse_day", "with_adhoc_account"]


def _format_errors(err: ValidationError, source: str) -> str:
    lines = [f"invalid config {source}:"]
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(root)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see the example config)"
        lines.append(f"  {path}: {msg}")
    return "\n".join(lines)


def _inject_secrets(data: dict[str, Any], source: str) -> dict[str, Any]:
    """Refuse secrets written in the file; fill LLM API keys from the environment."""
    sections = [
        (f"{group}.{name}", entry)
        for group in ("accounts", "research")
        if isinstance(data.get(group), dict)
        for name, entry in data[group].items()
    ]
    for name, acct in sections:
        oracle = acct.get("oracle") if isinstance(acct, dict) else None
        if not isinstance(oracle, dict):
            continue
        var = str(oracle.get("api_key_env", "INVEST_LLM_API_KEY"))
        if "api_key" in oracle:
            raise ConfigError(
                f"invalid config {source}:\n  {name}.oracle.api_key: secrets never go in "
                f"the config file; put {var}=... in the secrets file (mode 0600) or the environment"
            )
        if key := os.environ.get(var):
            oracle["api_key"] = key
    return data


def parse_config(data: dict[str, Any], source: str = "<dict>") -> Settings:
    """Validate a config mapping.

    Raises:
        ConfigError: with one line per bad key path and what is wrong.
    """
    data = _inject_secrets(copy.deepcopy(data), source)
    try:
        return Settings(**data)
    except ValidationError as e:
        raise ConfigError(_format_errors(e, source)) from None


def with_adhoc_account(
    settings: Settings,
    strategy: str,
    universe: Sequence[str],
    benchmark: str = "SP500",
    cash: float | None = None,
    source: str = "command line",
) -> tuple[Settings, str]:
    """``settings`` with its accounts replaced by one account running ``strategy``.

    The account is named after the strategy (``trend_king`` -> ``trend-king``); the
    replay commands (``invest backtest``, ``invest robustness``) and the TUI's backtest
    screen build their configless runs with it.

    Raises:
        ConfigError: a bad value, with its key path.
    """
    acct: dict[str, Any] = {
        "strategy": strategy,
        "universe": list(universe),
        "benchmark": benchmark,
    }
    if cash is not None:
        acct["cash"] = cash
    name = strategy.replace("_", "-")
    data = settings.model_dump(mode="json", exclude={"accounts"})
    data["accounts"] = {name: acct}
    return parse_config(data, source), name


def load_config(path: Path) -> Settings:
    """Read and validate a TOML config file.

    Raises:
        ConfigError: the file is missing, not UTF-8, not TOML, or has a bad value.
    """
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"config file {path} is not UTF-8: byte 0x{e.object[e.start]:02x} at offset {e.start}; "
            "save it as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        ) from None
    return parse_config(data, str(path))


def parse_day(text: str | None, what: str) -> date | None:
    """Parse an ISO date from the command line.

    Raises:
        ConfigError: the text is not YYYY-MM-DD.
    """
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{what}: {text!r} is not a date; use YYYY-MM-DD") from None
