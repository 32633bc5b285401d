"""Keep secrets out of the logs: one set of token patterns and one redacting ``logging.Filter``.

:func:`redact` masks exact secret values, then everything shaped like a secret:
Telegram bot tokens (bare or in ``api.telegram.org/bot<token>/`` URLs), Discord
webhook tokens, ``Bearer``/``Basic`` credentials, ``key=value`` pairs whose key
names a secret, OpenAI-style and Alpaca key ids, ``user:password@`` in URLs and
long base62 strings mixing cases and digits (API secrets). Plain hex (hashes,
client order ids) stays readable.

Two users, two masks, the same patterns:

- the engine's log handlers (:mod:`invest.runtime.logs`) carry a
  :class:`RedactionFilter` that writes :data:`MASK` (``[REDACTED]``);
- :func:`install_redaction` (Telegram, Discord) redacts every log record of the
  process when it is created, through the record factory, so it covers every
  logger and every handler, including those configured later; it writes
  :data:`REDACTED` (``<redacted>``) and holds ``httpx``/``httpcore`` at WARNING
  (their INFO lines print request URLs, and a Bot API URL embeds the token).

Standard library only.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "MASK",
    "REDACTED",
    "RedactionFilter",
    "TokenRedactingFilter",
    "install_redaction",
    "redact",
    "secrets_from_env",
]

#: The mask of the engine's log lines.
MASK = "[REDACTED]"
#: The mask of the process-wide filter installed by :func:`install_redaction`.
REDACTED = "<redacted>"

#: (pattern, replacement); ``{mask}`` in the replacement is the mask. Order matters: the
#: bot URL before the bare token, ``Bearer`` before the ``key=value`` rule eats the scheme word.
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # A Bot API URL path: .../bot123456789:AA.../
    (re.compile(r"bot\d{3,}:[A-Za-z0-9_-]{20,}"), "bot{mask}"),
    # Authorization: Bearer/Basic <credential>.
    (re.compile(r"(?i)(\b(?:bearer|basic)\s+)([A-Za-z0-9._~+/=-]{8,})"), r"\g<1>{mask}"),
    # key=value, key: value, "key": "value" for names that hold secrets.
    (
        re.compile(
            r"(?i)((?:api[_-]?key|secret(?:[_-]?key)?|token|password|passwd|auth(?:orization)?|"
            r"bearer|key[_-]?id)[\"']?\s*[:=]\s*[\"']?)([^\s\"',;}&]+)"
        ),
        r"\g<1>{mask}",
    ),
    # A bare Telegram bot token: 123456789:AA...
    (re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}"), "{mask}"),
    # A Discord webhook: .../api/webhooks/<id>/<token>
    (re.compile(r"(/api/webhooks/\d+/)[A-Za-z0-9_.-]+"), r"\g<1>{mask}"),
    # OpenAI-style and Alpaca key ids.
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), "{mask}"),
    (re.compile(r"\b(?:PK|AK|CK)[A-Z0-9]{14,}\b"), "{mask}"),
    # user:password@ in URLs.
    (re.compile(r"(://[^/\s:@]+:)([^@\s/]+)(@)"), r"\g<1>{mask}\g<3>"),
    # Long base62 strings mixing upper case, lower case and digits (API secrets); plain hex
    # (hashes, client order ids) is left alone.
    (
        re.compile(
            r"\b(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[a-z])(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{32,}\b"
        ),
        "{mask}",
    ),
)

_SECRET_NAMES = re.compile(r"(?i)(KEY|SECRET|TOKEN|PASSWORD|PASSWD)")


def secrets_from_env(env: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names say they hold a secret (8+ characters)."""
    env = os.environ if env is None else env
    return [v for k, v in env.items() if _SECRET_NAMES.search(k) and len(v) >= 8]


def redact(text: str, secrets: Iterable[str] = (), mask: str = MASK) -> str:
    """``text`` with the ``secrets`` and every token-shaped substring replaced by ``mask``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, mask)
    for pattern, repl in _SHAPES:
        text = pattern.sub(repl.replace("{mask}", mask.replace("\\", r"\\")), text)
    return text


class RedactionFilter(logging.Filter):
    """Rewrite a record so that no secret (nor token-shaped text) is left in it; never drops it.

    Cleans the message (with its arguments), the exception text, the stack and the
    ``kv`` fields of :func:`invest.runtime.logs.kv`.

    Args:
        secrets: exact values to mask beside the token patterns (e.g. from the secrets
            file); more can be added with :meth:`add`.
        mask: what replaces them.
    """

    def __init__(self, secrets: Iterable[str] = (), mask: str = MASK) -> None:
        super().__init__()
        self.mask = mask
        self._secrets: set[str] = {s for s in secrets if s}
        self._lock = threading.Lock()

    def add(self, secret: str) -> None:
        """Also mask ``secret`` (empty strings are ignored)."""
        if secret:
            with self._lock:
                self._secrets.add(secret)

    def redact(self, text: str) -> str:
        """``text`` with every known secret and token shape masked."""
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        return redact(text, secrets, self.mask)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; always keep it."""
        try:
            message = record.getMessage()
            broken = False
        except Exception:  # a malformed record: keep what can be shown, still redacted
            message, broken = f"{record.msg} {record.args}", True
        clean = self.redact(message)
        if broken or clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        kv = getattr(record, "kv", None)
        if isinstance(kv, dict):
            record.kv = {k: self.redact(str(v)) for k, v in kv.items()}
        return True


class TokenRedactingFilter(RedactionFilter):
    """A :class:`RedactionFilter` that writes :data:`REDACTED`: the process-wide one's kind."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__(secrets, mask=REDACTED)


_FILTER = TokenRedactingFilter()
_INSTALL_LOCK = threading.Lock()
_installed = False


def _wrap_factory(previous: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _FILTER.filter(record)
        return record

    return factory


def install_redaction(*secrets: str) -> RedactionFilter:
    """Redact ``secrets`` (and token shapes) from every log record of the process.

    Idempotent: the record factory is wrapped once; later calls add secrets.
    Also sets the ``httpx`` and ``httpcore`` loggers to WARNING, so request URLs
    are not logged at all. Returns the process-wide filter (to attach to a
    handler configured elsewhere, if wanted).
    """
    global _installed
    for s in secrets:
        _FILTER.add(s)
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with _INSTALL_LOCK:
        if not _installed:
            logging.setLogRecordFactory(_wrap_factory(logging.getLogRecordFactory()))
            _installed = True
    return _FILTER
