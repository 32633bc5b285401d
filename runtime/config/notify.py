"""Typed settings of the notifiers: who may talk to the Telegram bot, where alerts go.

Secrets (the bot token, the Discord webhook URL) are not here: they come from the
secrets file or the environment (:mod:`invest.runtime.secrets`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from invest.runtime.config.base import Frozen

__all__ = ["ChatAccess", "DiscordConfig", "Level", "Role", "TelegramConfig"]

Role = Literal["viewer", "trader"]
Level = Literal["info", "warning", "critical"]


class ChatAccess(Frozen):
    """One allowlist entry: these users, in this chat, with this role."""

    chat_id: int
    """Telegram chat id (a private chat's id equals its user's id; groups are negative)."""
    user_ids: tuple[int, ...] = Field(min_length=1)
    """Telegram user ids allowed in this chat. Anyone else there gets no answer."""
    role: Role = "viewer"
    """viewer: read commands only; trader: also pause, resume, halt, flatten and run."""
    alerts: bool = True
    """Send engine alerts (orders, halts, reports) to this chat."""


class TelegramConfig(Frozen):
    """The Telegram bot. Denied by default: an empty allowlist serves nobody."""

    enabled: bool = False
    """Run the bot inside the engine (needs TELEGRAM_BOT_TOKEN)."""
    chats: tuple[ChatAccess, ...] = ()
    """Allowlisted chats, their users and roles. Unknown senders are ignored and logged."""
    alert_level: Level = "info"
    """Least severity of the alerts sent (info sends everything)."""
    min_interval_s: float = Field(1.0, ge=0.05, le=60)
    """Least seconds between two messages to one chat (Telegram allows about one a second)."""
    confirm_ttl_s: float = Field(60.0, gt=0, le=3600)
    """Seconds a /flatten confirmation token stays valid (the control service's own limit is 60 s)."""

    @field_validator("chats")
    @classmethod
    def _one_role_per_user_and_chat(cls, v: tuple[ChatAccess, ...]) -> tuple[ChatAccess, ...]:
        seen: dict[tuple[int, int], str] = {}
        for entry in v:
            for user in entry.user_ids:
                key = (entry.chat_id, user)
                if key in seen and seen[key] != entry.role:
                    raise ValueError(
                        f"user {user} in chat {entry.chat_id} is listed as both "
                        f"{seen[key]} and {entry.role}"
                    )
                seen[key] = entry.role
        return v


class DiscordConfig(Frozen):
    """Alerts to a Discord channel through a webhook (needs DISCORD_WEBHOOK_URL). Send-only."""

    enabled: bool = False
    """Send alerts to the webhook."""
    alert_level: Level = "info"
    """Least severity of the alerts sent."""
    min_interval_s: float = Field(0.5, ge=0, le=60)
    """Least seconds between two posts (Discord allows about 5 per 2 seconds per webhook)."""
    timeout_s: float = Field(10.0, gt=0, le=120)
    """Seconds to wait for Discord."""
