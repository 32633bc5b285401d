"""Notifications and chat control: the Telegram bot (thin, over the control channel),
Telegram and Discord alerts, report charts, and the
engine's wiring of them (``build_notifiers``, ``build_extensions``).

The names below load on first use (PEP 562), so that importing one module of
the package does not pull in python-telegram-bot and httpx. The events they
deliver live in :mod:`invest.runtime.events`; the notifiers' settings live in :mod:`invest.runtime.config.notify`, the secrets in
:mod:`invest.runtime.secrets`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from invest.runtime.notify.auth import Access, authorized
    from invest.runtime.notify.chart import report_figure, report_png, sparkline
    from invest.runtime.notify.discord import DiscordNotifier
    from invest.runtime.notify.format import (
        CurveSource,
        Outgoing,
        ReportData,
        event_message,
        format_reply,
        split_text,
    )
    from invest.runtime.notify.telegram import TelegramBot
    from invest.runtime.notify.telegram_alerts import TelegramNotifier, attach_alerts
    from invest.runtime.notify.wiring import (
        TelegramExtension,
        build_extensions,
        build_notifiers,
        build_telegram,
    )

_WHERE = {
    "Access": "auth",
    "authorized": "auth",
    "report_figure": "chart",
    "report_png": "chart",
    "sparkline": "chart",
    "DiscordNotifier": "discord",
    "CurveSource": "format",
    "Outgoing": "format",
    "ReportData": "format",
    "event_message": "format",
    "format_reply": "format",
    "split_text": "format",
    "TelegramBot": "telegram",
    "TelegramNotifier": "telegram_alerts",
    "attach_alerts": "telegram_alerts",
    "TelegramExtension": "wiring",
    "build_extensions": "wiring",
    "build_notifiers": "wiring",
    "build_telegram": "wiring",
}

__all__ = [
    "Access",
    "CurveSource",
    "DiscordNotifier",
    "Outgoing",
    "ReportData",
    "TelegramBot",
    "TelegramExtension",
    "TelegramNotifier",
    "attach_alerts",
    "authorized",
    "build_extensions",
    "build_notifiers",
    "build_telegram",
    "event_message",
    "format_reply",
    "report_figure",
    "report_png",
    "sparkline",
    "split_text",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
