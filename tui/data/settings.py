"""The few config values the TUI needs, read without loading the whole config model."""

from __future__ import annotations

import os
import tomllib
from typing import Any

from invest.runtime.errors import InvestError
from invest.runtime.paths import Paths


def _file(paths: Paths) -> dict[str, Any]:
    try:
        return tomllib.loads(paths.config.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def engine_value(paths: Paths, key: str, default: str) -> str:
    """``[engine].key``: the ``INVEST__ENGINE__KEY`` variable, else the config file, else ``default``."""
    if env := os.environ.get(f"INVEST__ENGINE__{key.upper()}"):
        return env
    engine = _file(paths).get("engine")
    value = engine.get(key) if isinstance(engine, dict) else None
    return value if isinstance(value, str) else default


def stop_loss_pct(paths: Paths, profile: str) -> float | None:
    """The stop-loss of risk profile ``profile`` (the config's, else the built-in one)."""
    from invest.runtime.config import DEFAULT_RISK_PROFILES, load_config  # lazy: pydantic

    profiles = dict(DEFAULT_RISK_PROFILES)
    try:
        if paths.config.exists():
            profiles = load_config(paths.config).all_risk_profiles()
    except InvestError:
        pass  # a broken config is the engine's to report; the built-ins still say something
    found = profiles.get(profile)
    return found.stop_loss_pct if found is not None else None


def demo_notice(paths: Paths) -> str:
    """The header's warning while the config's accounts run on the bundled sample, else "".

    Read from the config (so it shows while no engine answers too), in the words of
    :func:`invest.runtime.freshness.advice`, which the engine log, ``invest status``
    and ``doctor`` use. A config that cannot be read shows nothing: the engine and
    ``invest config check`` name what is wrong with it.
    """
    from invest.runtime.config import load_config  # lazy: pydantic, in a worker
    from invest.runtime.freshness import SAMPLE_LAST_BAR, advice, data_spec, is_sample

    try:
        settings = load_config(paths.config)
    except InvestError:
        return ""
    names = [n for n in settings.accounts if is_sample(data_spec(settings, n))]
    if not names:
        return ""
    which = "" if len(names) == len(settings.accounts) else f" ({', '.join(names)})"
    return f"demo data{which}: run `invest setup` · {advice('sample', SAMPLE_LAST_BAR)}"
