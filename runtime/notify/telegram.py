"""The Telegram bot's commands: thin handlers over the control channel, denied by default.

Each handler checks the sender (:func:`~invest.runtime.notify.auth.authorized`),
builds one control :class:`~invest.runtime.control.api.Request`, hands it to the
injected control object (anything with ``handle(Request) -> Reply``) and formats
the reply as plain text, split under Telegram's 4096-character limit. Nothing
here reads or writes the ledger.

``handle`` runs in a worker thread (``asyncio.to_thread``): a write waits for the
engine's thread, and the bot keeps answering meanwhile. The request carries the
sender's role from the allowlist (the control service checks it again) and the
actor ``telegram:<user id>``.

``/flatten ACCOUNT`` takes two steps: the engine answers the first call with a
confirmation token, which the bot shows with a button; only ``/flatten ACCOUNT
TOKEN`` or the button, from the same user in the same chat within
``confirm_ttl_s``, sends the flatten with ``confirm``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from pydantic import SecretStr
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler
from telegram.request import BaseRequest

from invest.runtime.config.notify import TelegramConfig
from invest.runtime.control.api import Control, Reply, Request
from invest.runtime.errors import ConfigError
from invest.runtime.notify.auth import Access, authorized
from invest.runtime.notify.format import (
    format_options,
    format_periods,
    format_reply,
    format_risk,
    format_trades,
    split_text,
)
from invest.runtime.redact import install_redaction

__all__ = ["MESSAGE_LIMIT", "TelegramBot", "application"]

logger = logging.getLogger(__name__)

MESSAGE_LIMIT = 4096
_CALLBACK_LIMIT = 64  # bytes of callback_data Telegram accepts
#: Keys of the first flatten reply that the confirmation text already says.
_FLATTEN_SHOWN = frozenset({"confirm", "token", "message", "expires_in_s", "account"})

VIEWER_HELP = """Commands:
/status [ACCOUNT] - engine and account state
/positions [ACCOUNT] - holdings
/pnl [ACCOUNT] - profit and loss, with the portfolio total
/trades [ACCOUNT] [N] - closed trades: realised P&L, days held, exit reason
/options [ACCOUNT] - option positions: legs, DTE, P&L, nearest exit; closed this week
/risk [ACCOUNT] - VaR/CVaR 99% 1-day, largest names, HHI, drawdown
/daily [N] - P&L of the last N days per account, with the portfolio total
/weekly [N] - the same per ISO week
/monthly [N] - the same per month
/regime - market regime
/why SYMBOL [ACCOUNT] - the last decision about SYMBOL
/preview [ACCOUNT] - the next cycle's dry run: orders and why (no LLM spend)
/report - the daily report
/help - this list"""
TRADER_HELP = """
/pause ACCOUNT - no new orders for ACCOUNT
/resume ACCOUNT|all - lift a pause or a halt
/halt [REASON] - halt every account
/flatten ACCOUNT - sell everything in ACCOUNT (asks to confirm)
/run ACCOUNT - run ACCOUNT's cycle now"""


def application(
    token: str, request: BaseRequest | None = None, updates_request: BaseRequest | None = None
) -> Application[Any, Any, Any, Any, Any, Any]:
    """A python-telegram-bot ``Application`` for ``token``, without a job queue.

    Args:
        token: TELEGRAM_BOT_TOKEN.
        request: the HTTP layer for Bot API calls (tests pass one with a fake transport).
        updates_request: the HTTP layer for ``getUpdates`` (long polling).
    """
    builder = Application.builder().token(token).job_queue(None)
    if request is not None:
        builder = builder.request(request)
    if updates_request is not None:
        builder = builder.get_updates_request(updates_request)
    return builder.build()


def _ids(update: Update) -> tuple[int, int]:
    chat = update.effective_chat.id if update.effective_chat else 0
    user = update.effective_user.id if update.effective_user else 0
    return chat, user


def _account_args(args: Sequence[str]) -> dict[str, Any]:
    return {"account": args[0]} if args else {}


class TelegramBot:
    """The command side of the bot (alerts are :class:`TelegramNotifier`'s).

    Args:
        config: the ``telegram`` config section (allowlist, confirmation TTL).
        control: the control channel: anything with ``handle(Request) -> Reply``.
        token: TELEGRAM_BOT_TOKEN; redacted from every log record from now on.
        monotonic: the time source of confirmation expiry (tests).

    Raises:
        ConfigError: the token is missing.
    """

    def __init__(
        self,
        config: TelegramConfig,
        control: Control,
        token: str | SecretStr | None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        raw = token.get_secret_value() if isinstance(token, SecretStr) else (token or "")
        if not raw:
            raise ConfigError(
                "telegram.enabled needs TELEGRAM_BOT_TOKEN in the secrets file or the environment"
            )
        install_redaction(raw)
        self.config = config
        self.control = control
        self.access = Access(config.chats)
        self._token = SecretStr(raw)
        self._monotonic = monotonic
        #: (chat, user, account) -> (token, expiry) of a flatten waiting for its confirmation.
        self._pending: dict[tuple[int, int, str], tuple[str, float]] = {}

    def __repr__(self) -> str:
        return f"TelegramBot(chats={len(self.config.chats)})"

    def build_application(
        self, request: BaseRequest | None = None, updates_request: BaseRequest | None = None
    ) -> Application[Any, Any, Any, Any, Any, Any]:
        """A python-telegram-bot ``Application`` with every command registered.

        Args:
            request: the HTTP layer for Bot API calls (tests pass one with a fake transport).
            updates_request: the HTTP layer for ``getUpdates`` (long polling).
        """
        app = application(self._token.get_secret_value(), request, updates_request)
        self.register(app)
        return app

    def register(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Add the command and button handlers to ``app``."""
        for name, callback in self.commands().items():
            app.add_handler(CommandHandler(name, callback))
        app.add_handler(CallbackQueryHandler(self.on_button, pattern=r"^flatten:"))
        app.add_error_handler(self._on_error)

    @staticmethod
    async def _on_error(update: object, context: Any) -> None:
        # One line instead of PTB's default traceback; the redaction filter cleans it anyway.
        err = getattr(context, "error", None)
        logger.warning("telegram handler failed: %s: %s", type(err).__name__, err)

    def commands(self) -> dict[str, Callable[[Update, Any], Coroutine[Any, Any, None]]]:
        """Command name -> handler."""
        return {
            "start": self.cmd_help,
            "help": self.cmd_help,
            "status": self.cmd_status,
            "positions": self.cmd_positions,
            "pnl": self.cmd_pnl,
            "trades": self.cmd_trades,
            "options": self.cmd_options,
            "risk": self.cmd_risk,
            "daily": self.cmd_daily,
            "weekly": self.cmd_weekly,
            "monthly": self.cmd_monthly,
            "regime": self.cmd_regime,
            "why": self.cmd_why,
            "preview": self.cmd_preview,
            "report": self.cmd_report,
            "pause": self.cmd_pause,
            "resume": self.cmd_resume,
            "halt": self.cmd_halt,
            "flatten": self.cmd_flatten,
            "run": self.cmd_run,
        }

    # -- viewer commands ---------------------------------------------------------------

    @authorized("viewer")
    async def cmd_help(self, update: Update, context: Any) -> None:
        """/help: the commands this sender may use."""
        chat, user = _ids(update)
        trader = self.access.role(chat, user) == "trader"
        await self._reply(update, VIEWER_HELP + (TRADER_HELP if trader else ""))

    @authorized("viewer")
    async def cmd_status(self, update: Update, context: Any) -> None:
        """/status [ACCOUNT]."""
        await self._ask(update, "status", _account_args(context.args or []))

    @authorized("viewer")
    async def cmd_positions(self, update: Update, context: Any) -> None:
        """/positions [ACCOUNT]."""
        await self._ask(update, "positions", _account_args(context.args or []))

    @authorized("viewer")
    async def cmd_pnl(self, update: Update, context: Any) -> None:
        """/pnl [ACCOUNT]."""
        await self._ask(update, "pnl", _account_args(context.args or []))

    @authorized("viewer")
    async def cmd_trades(self, update: Update, context: Any) -> None:
        """/trades [ACCOUNT] [N]."""
        args = list(context.args or [])
        limit = args.pop() if args and args[-1].isdigit() else None
        request = _account_args(args) | ({"limit": int(limit)} if limit else {})
        reply = await self._call(update, "trades", request)
        await self._reply(update, format_trades(reply))

    @authorized("viewer")
    async def cmd_options(self, update: Update, context: Any) -> None:
        """/options [ACCOUNT]: open option positions with their nearest trigger; recent closes."""
        reply = await self._call(update, "options", _account_args(context.args or []))
        await self._reply(update, format_options(reply))

    @authorized("viewer")
    async def cmd_risk(self, update: Update, context: Any) -> None:
        """/risk [ACCOUNT]: each account's VaR/CVaR, concentration and drawdown."""
        reply = await self._call(update, "risk", _account_args(context.args or []))
        await self._reply(update, format_risk(reply))

    @authorized("viewer")
    async def cmd_daily(self, update: Update, context: Any) -> None:
        """/daily [N]: P&L of the last N sessions per account, with the portfolio total."""
        await self._periods(update, context, "day", "daily")

    @authorized("viewer")
    async def cmd_weekly(self, update: Update, context: Any) -> None:
        """/weekly [N]: P&L per ISO week."""
        await self._periods(update, context, "week", "weekly")

    @authorized("viewer")
    async def cmd_monthly(self, update: Update, context: Any) -> None:
        """/monthly [N]: P&L per month."""
        await self._periods(update, context, "month", "monthly")

    @authorized("viewer")
    async def cmd_regime(self, update: Update, context: Any) -> None:
        """/regime."""
        await self._ask(update, "regime", {})

    @authorized("viewer")
    async def cmd_why(self, update: Update, context: Any) -> None:
        """/why SYMBOL [ACCOUNT]: the explanation record's part about SYMBOL."""
        args = context.args or []
        if not args:
            await self._reply(update, "Usage: /why SYMBOL [ACCOUNT]")
            return
        symbol = args[0].upper()
        await self._ask(update, "why", {"symbol": symbol, **_account_args(args[1:])}, symbol)

    @authorized("viewer")
    async def cmd_preview(self, update: Update, context: Any) -> None:
        """/preview [ACCOUNT]: the dry run of the next cycle (cached LLM verdicts only)."""
        await self._ask(
            update, "preview", {"oracle": "replay", **_account_args(context.args or [])}
        )

    @authorized("viewer")
    async def cmd_report(self, update: Update, context: Any) -> None:
        """/report."""
        await self._ask(update, "report", {})

    # -- trader commands ---------------------------------------------------------------

    @authorized("trader")
    async def cmd_pause(self, update: Update, context: Any) -> None:
        """/pause ACCOUNT."""
        await self._ask_account(update, context, "pause", "Usage: /pause ACCOUNT")

    @authorized("trader")
    async def cmd_resume(self, update: Update, context: Any) -> None:
        """/resume ACCOUNT, or /resume all (lifts the engine-wide halt)."""
        args = context.args or []
        if args and args[0].lower() == "all":
            await self._ask(update, "resume_all", {})
            return
        await self._ask_account(update, context, "resume", "Usage: /resume ACCOUNT|all")

    @authorized("trader")
    async def cmd_halt(self, update: Update, context: Any) -> None:
        """/halt [REASON]: halt every account."""
        reason = " ".join(context.args or []) or "halted from Telegram"
        await self._ask(update, "halt", {"reason": reason})

    @authorized("trader")
    async def cmd_run(self, update: Update, context: Any) -> None:
        """/run ACCOUNT: run its cycle now."""
        await self._ask_account(update, context, "run", "Usage: /run ACCOUNT")

    @authorized("trader")
    async def cmd_flatten(self, update: Update, context: Any) -> None:
        """/flatten ACCOUNT asks for a confirmation; /flatten ACCOUNT TOKEN executes."""
        args = context.args or []
        if not args:
            await self._reply(update, "Usage: /flatten ACCOUNT")
            return
        if len(args) >= 2:
            await self._confirm_flatten(update, args[0], args[1])
        else:
            await self._start_flatten(update, args[0])

    @authorized("trader")
    async def on_button(self, update: Update, context: Any) -> None:
        """The confirmation button of /flatten (callback data ``flatten:ACCOUNT:TOKEN``)."""
        query = update.callback_query
        if query is None or not query.data:
            return
        await query.answer()
        _, account, token = [*query.data.split(":", 2), "", ""][:3]
        await self._confirm_flatten(update, account, token)

    # -- plumbing ----------------------------------------------------------------------

    async def _call(self, update: Update, op: str, args: dict[str, Any]) -> Reply:
        chat, user = _ids(update)
        role = self.access.role(chat, user) or "viewer"
        request = Request(op, args, actor=f"telegram:{user}", role=role)
        try:
            # handle() may wait for the engine's thread (writes): keep the bot's loop free.
            return await asyncio.to_thread(self.control.handle, request)
        except Exception as e:  # the control promises not to raise; a chat must still get an answer
            logger.exception("control %s failed", op)
            return Reply(ok=False, error=f"engine error: {type(e).__name__}")

    async def _ask(
        self, update: Update, op: str, args: dict[str, Any], symbol: str | None = None
    ) -> None:
        await self._reply(update, format_reply(await self._call(update, op, args), symbol=symbol))

    async def _periods(self, update: Update, context: Any, period: str, name: str) -> None:
        args = list(context.args or [])
        if args and not args[0].isdigit():
            await self._reply(update, f"Usage: /{name} [N]")
            return
        request: dict[str, Any] = {"period": period} | ({"limit": int(args[0])} if args else {})
        await self._reply(update, format_periods(await self._call(update, "pnl", request)))

    async def _ask_account(self, update: Update, context: Any, op: str, usage: str) -> None:
        args = context.args or []
        if not args:
            await self._reply(update, usage)
            return
        await self._ask(update, op, {"account": args[0]})

    async def _reply(
        self, update: Update, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> None:
        message = update.effective_message
        if message is None:
            return
        pieces = split_text(text, MESSAGE_LIMIT)
        for n, piece in enumerate(pieces):
            last = n == len(pieces) - 1
            await message.reply_text(piece, reply_markup=markup if last else None)

    async def _start_flatten(self, update: Update, account: str) -> None:
        reply = await self._call(update, "flatten", {"account": account})
        token = str(reply.data.get("confirm") or reply.data.get("token") or "")
        if not token:
            text = (
                format_reply(reply) if not reply.ok else "✗ the engine gave no confirmation token"
            )
            await self._reply(update, text)
            return
        chat, user = _ids(update)
        self._pending[(chat, user, account)] = (
            token,
            self._monotonic() + self.config.confirm_ttl_s,
        )
        ttl = round(self.config.confirm_ttl_s)
        text = (
            f"Flatten {account}: sell every position at market and halt the account.\n"
            f"Confirm within {ttl} s with the button or: /flatten {account} {token}"
        )
        details = {k: v for k, v in reply.data.items() if k not in _FLATTEN_SHOWN}
        if details:
            text += "\n\n" + format_reply(Reply(ok=True, data=details))
        data = f"flatten:{account}:{token}"
        markup = (
            InlineKeyboardMarkup(
                [[InlineKeyboardButton(f"Confirm: flatten {account}", callback_data=data)]]
            )
            if len(data.encode()) <= _CALLBACK_LIMIT
            else None
        )
        await self._reply(update, text, markup)

    async def _confirm_flatten(self, update: Update, account: str, token: str) -> None:
        chat, user = _ids(update)
        pending = self._pending.get((chat, user, account))
        if (
            pending is None
            or pending[1] < self._monotonic()
            or not hmac.compare_digest(pending[0].encode(), token.encode())
        ):
            await self._reply(
                update,
                f"✗ No pending flatten of {account} with that token (it may have expired). "
                f"Send /flatten {account} again.",
            )
            return
        del self._pending[(chat, user, account)]
        await self._ask(update, "flatten", {"account": account, "confirm": token})
