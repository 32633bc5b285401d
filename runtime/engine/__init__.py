"""The engine: scheduler, position monitors, reconciliation, halt state, heartbeat.

Importing this package costs nothing (the CLI imports it to register its commands):
the names below load on first use. The engine itself lives in
:mod:`invest.runtime.engine.main` (``run_engine``), :mod:`invest.runtime.engine.engine`
(``Engine``) and :mod:`invest.runtime.engine.account_cycle` (``run_account_cycle``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from invest.runtime.config.engine import (
        EngineLoop,
        EngineOptions,
        HaltRules,
        Replay,
        engine_options,
    )
    from invest.runtime.events import (
        AccountReport,
        CycleSummary,
        DailyReport,
        ErrorEvent,
        Event,
        FanOut,
        Halted,
        LogNotifier,
        MemoryNotifier,
        Notifier,
        OptionOrderSent,
        OrderFilled,
        OrderRejected,
        OrderSent,
        Resumed,
        StopTriggered,
        WeeklySummary,
    )

__all__ = [
    "AccountReport",
    "CycleSummary",
    "DailyReport",
    "EngineLoop",
    "EngineOptions",
    "ErrorEvent",
    "Event",
    "FanOut",
    "HaltRules",
    "Halted",
    "LogNotifier",
    "MemoryNotifier",
    "Notifier",
    "OptionOrderSent",
    "OrderFilled",
    "OrderRejected",
    "OrderSent",
    "Replay",
    "Resumed",
    "StopTriggered",
    "WeeklySummary",
    "engine_options",
]
#: The names of ``config.engine``; every other public name lives in ``events``.
_CONFIG = frozenset({"EngineLoop", "EngineOptions", "HaltRules", "Replay", "engine_options"})
_HOME = {n: "invest.runtime." + ("config.engine" if n in _CONFIG else "events") for n in __all__}


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
