"""The one logging set-up of the appliance: :func:`setup_logging`, used by every entry point.

The engine logs key=value (or JSON) lines to stdout and a rotating file
(:func:`engine_log_file`: ``invest-engine.log``, mode 0640); ``invest`` and
``invest train`` log plain lines to stderr. :func:`engine_log_candidates` is the
one answer to "where is the engine log", used by the engine, ``invest logs`` and
the TUI's log screen. Every handler carries a :class:`~invest.runtime.redact.RedactionFilter`,
and the engine's formatters redact their final text again, so a token inside an
exception message or a traceback is masked too. ``httpx``, ``httpcore`` and
friends (:data:`NOISY`) are held at WARNING (their INFO lines print URLs, and
Telegram's URLs hold the bot token).

Extra fields go in ``extra={"kv": {...}}`` and come out as ``key=value`` pairs.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from invest.runtime.layout import Layout
from invest.runtime.paths import PRIVATE_MODE
from invest.runtime.redact import RedactionFilter, redact, secrets_from_env

__all__ = [
    "CONSOLE_FORMAT",
    "JsonFormatter",
    "KeyValueFormatter",
    "PrivateRotatingFileHandler",
    "default_log_dir",
    "engine_log_candidates",
    "engine_log_file",
    "find_engine_log",
    "kv",
    "setup_logging",
]

#: The rotating log file; ``engine.log`` beside it is Supervisor's capture of stdout.
LOG_FILE = "invest-engine.log"
NOISY = ("httpx", "httpcore", "urllib3", "telegram", "apscheduler", "yfinance", "peewee", "alpaca")
#: The line format of ``invest``'s own diagnostics on stderr.
CONSOLE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
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


def engine_log_file(home: Path, env: Mapping[str, str] | None = None) -> Path:
    """The engine's own rotating log: ``$INVEST_LOG_DIR``, else ``home/logs``, + ``invest-engine.log``.

    The engine writes it however it runs (Supervisor, systemd, or ``invest engine`` in
    a terminal), so it is the first place ``invest logs`` and the TUI look.
    """
    return default_log_dir(home, env) / LOG_FILE


def engine_log_candidates(home: Path, env: Mapping[str, str] | None = None) -> list[Path]:
    """Where the engine log may be, most useful first.

    1. :func:`engine_log_file`, which the engine writes itself;
    2. the service manager's capture of its output
       (:attr:`~invest.runtime.layout.Layout.service_log`: ``engine.log`` in
       ``$INVEST_LOG_DIR``, else ``$INVEST_PREFIX/var/log/invest``), which also holds
       what the engine printed before its logging started (a traceback at start-up).
    """
    env = os.environ if env is None else env
    own = engine_log_file(home, env)
    capture = Layout.from_env(env, home=home).service_log
    return [own] if capture == own else [own, capture]


def find_engine_log(home: Path, env: Mapping[str, str] | None = None) -> Path | None:
    """The first of :func:`engine_log_candidates` that is a file, else None."""
    return next((p for p in engine_log_candidates(home, env) if p.is_file()), None)


def setup_logging(
    log_dir: Path | None = None,
    *,
    level: int = logging.INFO,
    json_lines: bool = False,
    stream: TextIO | None = sys.stdout,
    fmt: str | None = None,
    keep_existing: bool = False,
    secrets: Iterable[str] | None = None,
    max_bytes: int = 5 << 20,
    backups: int = 5,
    filename: str = LOG_FILE,
) -> list[logging.Handler]:
    """Configure the root logger, redacted; :data:`NOISY` loggers are held at WARNING.

    The engine's set-up is the default: key=value lines to stdout and
    ``log_dir/invest-engine.log`` (rotating, mode 0640), replacing the root's
    handlers. ``invest`` and ``invest train`` log ``fmt`` lines to stderr and
    keep a root that already has handlers (as :func:`logging.basicConfig` does).

    Args:
        log_dir: folder of the rotating log file; None logs to ``stream`` only.
        level: the root level.
        json_lines: JSON lines instead of key=value lines.
        stream: where console lines go (stdout); None for none.
        fmt: a ``%``-style line format instead of key=value (or JSON) lines.
        keep_existing: when the root logger already has handlers, install none and leave
            its level alone (the NOISY loggers are still held at WARNING).
        secrets: exact values to mask; None reads them from the environment.
        max_bytes: size at which the file rotates.
        backups: rotated files kept.
        filename: the log file's name (not ``engine.log``: Supervisor writes the engine's
            stdout there).

    Returns:
        The handlers installed (replacing the root's previous ones).
    """
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    root = logging.getLogger()
    if keep_existing and root.handlers:
        return []
    values = secrets_from_env() if secrets is None else list(secrets)
    formatter: logging.Formatter
    if fmt is not None:
        formatter = logging.Formatter(fmt)
    else:
        formatter = JsonFormatter(values) if json_lines else KeyValueFormatter(values)
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
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    for h in handlers:
        h.setFormatter(formatter)
        h.addFilter(RedactionFilter(values))
        root.addHandler(h)
    root.setLevel(level)
    return handlers
