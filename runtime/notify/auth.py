"""Who may use the Telegram bot: an allowlist of (chat, user) pairs with roles. Denied by default.

A sender that is not on the allowlist gets no answer at all (the bot does not
reveal that it exists) and is logged. A known sender whose role is too low for
a command is told which role it needs.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Literal, Protocol, TypeVar

from telegram import Update

from invest.runtime.config.notify import ChatAccess, Role

__all__ = ["Access", "Verdict", "authorized"]

logger = logging.getLogger(__name__)

Verdict = Literal["ok", "unknown", "forbidden"]
_RANK: dict[Role, int] = {"viewer": 0, "trader": 1}


class Access:
    """The allowlist: each (chat id, user id) pair has one role; anything else is unknown."""

    def __init__(self, entries: Iterable[ChatAccess]) -> None:
        self._roles: dict[tuple[int, int], Role] = {}
        for entry in entries:
            for user in entry.user_ids:
                key = (entry.chat_id, user)
                old = self._roles.get(key)
                if old is None or _RANK[entry.role] > _RANK[old]:
                    self._roles[key] = entry.role

    def role(self, chat_id: int | None, user_id: int | None) -> Role | None:
        """The role of ``user_id`` in ``chat_id``, or None if the pair is not allowlisted."""
        if chat_id is None or user_id is None:
            return None
        return self._roles.get((chat_id, user_id))

    def check(self, chat_id: int | None, user_id: int | None, needed: Role) -> Verdict:
        """``ok``, ``unknown`` (not allowlisted: ignore) or ``forbidden`` (role too low)."""
        role = self.role(chat_id, user_id)
        if role is None:
            return "unknown"
        return "ok" if _RANK[role] >= _RANK[needed] else "forbidden"


class _Guarded(Protocol):
    access: Access


G = TypeVar("G", bound=_Guarded)
Handler = Callable[[G, Update, Any], Coroutine[Any, Any, None]]


def _what(update: Update) -> str:
    if update.callback_query is not None:
        return "a button"
    text = update.effective_message.text if update.effective_message else None
    return (text or "an update").split(maxsplit=1)[0][:32]


def authorized(role: Role) -> Callable[[Handler[G]], Handler[G]]:
    """Serve a handler method only to allowlisted senders with at least ``role``.

    The decorated method's object must have an ``access`` attribute
    (:class:`Access`). Unknown senders get nothing back and a warning is
    logged with their chat and user ids; known senders with a lower role are
    told what is needed.
    """

    def decorate(fn: Handler[G]) -> Handler[G]:
        @functools.wraps(fn)
        async def guarded(self: G, update: Update, context: Any) -> None:
            chat = update.effective_chat.id if update.effective_chat else None
            user = update.effective_user.id if update.effective_user else None
            verdict = self.access.check(chat, user, role)
            if verdict == "unknown":
                logger.warning(
                    "telegram: ignored %s from chat %s user %s (not allowlisted)",
                    _what(update),
                    chat,
                    user,
                )
                return
            if verdict == "forbidden":
                logger.info("telegram: %s from user %s needs %s", _what(update), user, role)
                if update.effective_message is not None:
                    await update.effective_message.reply_text(
                        f"Not allowed: this needs the {role} role."
                    )
                return
            await fn(self, update, context)

        return guarded

    return decorate
