"""Logging of the engine: key=value (or JSON) lines to stdout and a rotating file, secrets masked.

:func:`setup_logging` is called once, by the entry point. Every handler carries
a :class:`RedactionFilter`, and the formatters redact their final text again, so
a token inside an exception message or a traceback is masked too. ``httpx``,
``httpcore`` and friends are held at WARNING (their INFO lines print URLs, and
Telegram's URLs hold the bot token).

Extra fields go in ``extra={"kv": {...}}`` and come out as ``key=value`` pairs.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from invest.runtime.paths import PRIVATE_MODE

__all__ = [
    "JsonFormatter",
    "KeyValueFormatter",
    "PrivateRotatingFileHandler",
    "RedactionFilter",
    "default_log_dir",
    "kv",
    "redact",
    "secrets_from_env",
    "setup_logging",
]

MASK = "[REDACTED]"
#: The rotating log file; ``engine.log`` beside it is Supervisor's capture of stdout.
LOG_FILE = "invest-engine.log"
NOISY = ("httpx", "httpcore", "urllib3", "telegram", "apscheduler", "yfinance", "peewee", "alpaca")

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer/Basic <credential> (before the key=value rule eats the scheme word).
    (re.compile(r"(?i)(\b(?:bearer|basic)\s+)([A-Za-z0-9._~+/=-]{8,})"), r"\1" + MASK),
    # key=value, key: value, "key": "value" for names that hold secrets.
    (
        re.compile(
            r"(?i)((?:api[_-]?key|secret(?:[_-]?key)?|token|password|passwd|auth(?:orization)?|"
            r"bearer|key[_-]?id)[\"']?\s*[:=]\s*[\"']?)([^\s\"',;}&]+)"
        ),
        r"\1" + MASK,
    ),
    # Telegram bot tokens (123456789:AA...), also inside api.telegram.org/bot<token>/ URLs.
    (re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}"), MASK),
    # OpenAI-style and Alpaca key ids.
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), MASK),
    (re.compile(r"\b(?:PK|AK|CK)[A-Z0-9]{14,}\b"), MASK),
    # user:password@ in URLs.
    (re.compile(r"(://[^/\s:@]+:)([^@\s/]+)(@)"), r"\1" + MASK + r"\3"),
    # Long base62 strings mixing upper case, lower case and digits (API secrets); plain hex
    # (hashes, client order ids) is left alone.
    (
        re.compile(
            r"\b(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[a-z])(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{32,}\b"
        ),
        MASK,
    ),
)

_SECRET_NAMES = re.compile(r"(?i)(KEY|SECRET|TOKEN|PASSWORD|PASSWD)")
#: Mode of the log files: the service user writes, its group (operators) reads, others nothing.
LOG_MODE = PRIVATE_MODE


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file handler whose files (the first and each rollover) are mode 0640.

    Logs name accounts, symbols and positions; other local users must not read them,
    whatever the process umask is.
    """

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, LOG_MODE)
        # os.open's mode is masked by the umask and ignored for an existing file: set it.
        os.fchmod(fd, LOG_MODE)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def kv(**fields: Any) -> dict[str, Any]:
    """The ``extra=`` of a log call whose ``fields`` come out as ``key=value`` pairs."""
    return {"kv": fields}


def secrets_from_env(env: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names say they hold a secret (8+ characters)."""
    env = os.environ if env is None else env
    return [v for k, v in env.items() if _SECRET_NAMES.search(k) and len(v) >= 8]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known secret values and token-like strings in ``text``."""
    for s in secrets:
        if s:
            text = text.replace(s, MASK)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


class RedactionFilter(logging.Filter):
    """Masks secrets in a record's message (and its arguments), before any handler formats it.

    Args:
        secrets: exact values to mask beside the token patterns (e.g. from the secrets file).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the message with its redacted text; always keep the record."""
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: log it as it is, still redacted
            message = str(record.msg)
        record.msg = redact(message, self.secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        kv = getattr(record, "kv", None)
        if isinstance(kv, dict):
            record.kv = {k: redact(str(v), self.secrets) for k, v in kv.items()}
        return True


def _quote(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' ="\n'):
        return json.dumps(text)
    return text


class KeyValueFormatter(logging.Formatter):
    """``ts=... level=INFO logger=invest.runtime.engine msg="..." key=value`` lines."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = list(secrets)

    def format(self, record: logging.LogRecord) -> str:
        """One line (plus an indented traceback when there is one), redacted."""
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        parts = [
            f"ts={ts}",
            f"level={record.levelname}",
            f"logger={record.name}",
            f"msg={_quote(record.getMessage())}",
        ]
        kv = getattr(record, "kv", None)
        if isinstance(kv, dict):
            parts += [f"{k}={_quote(v)}" for k, v in kv.items()]
        line = " ".join(parts)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        return redact(line, self.secrets)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the ``kv`` fields, exc."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = list(secrets)

    def format(self, record: logging.LogRecord) -> str:
        """One JSON line, redacted."""
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        kv = getattr(record, "kv", None)
        if isinstance(kv, dict):
            out.update({k: str(v) for k, v in kv.items()})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(out), self.secrets)


def default_log_dir(home: Path, env: Mapping[str, str] | None = None) -> Path:
    """``$INVEST_LOG_DIR``, else ``home/logs``."""
    env = os.environ if env is None else env
    return Path(env["INVEST_LOG_DIR"]) if env.get("INVEST_LOG_DIR") else home / "logs"


def setup_logging(
    log_dir: Path | None,
    *,
    level: int = logging.INFO,
    json_lines: bool = False,
    stream: TextIO | None = sys.stdout,
    secrets: Iterable[str] | None = None,
    max_bytes: int = 5 << 20,
    backups: int = 5,
    filename: str = LOG_FILE,
) -> list[logging.Handler]:
    """Configure the root logger: stdout and ``log_dir/invest-engine.log`` (rotating), redacted.

    Args:
        log_dir: folder of the rotating log file; None logs to ``stream`` only.
        level: the root level.
        json_lines: JSON lines instead of key=value lines.
        stream: where console lines go (stdout); None for none.
        secrets: exact values to mask; None reads them from the environment.
        max_bytes: size at which the file rotates.
        backups: rotated files kept.
        filename: the log file's name (not ``engine.log``: Supervisor writes the engine's
            stdout there).

    Returns:
        The handlers installed (replacing the root's previous ones).
    """
    values = secrets_from_env() if secrets is None else list(secrets)
    fmt: logging.Formatter = JsonFormatter(values) if json_lines else KeyValueFormatter(values)
    handlers: list[logging.Handler] = []
    if stream is not None:
        handlers.append(logging.StreamHandler(stream))
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(
            PrivateRotatingFileHandler(
                log_dir / filename, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
            )
        )
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    for h in handlers:
        h.setFormatter(fmt)
        h.addFilter(RedactionFilter(values))
        root.addHandler(h)
    root.setLevel(level)
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handlers
