"""``invest engine``: start the engine, serve the control socket, stop cleanly on SIGTERM/SIGINT.

Start-up: lock ``INVEST_HOME/engine.lock`` (one engine per home) and the ledger's
writer lock (:mod:`invest.runtime.ledger.lock`: one writer, for the engine's
lifetime), open the ledger for writing, reconcile every account with its broker,
plan the jobs, listen on ``INVEST_HOME/engine.sock``, tell systemd ``READY=1``.

Shutdown: the first SIGTERM or SIGINT lets the cycle in flight finish, for at
most ``shutdown_grace_s`` seconds; after that (or on a second signal) the
process leaves at once and the cycle's transaction rolls back, so the ledger
holds either all of a cycle or none of it. Either way the exit status is 0.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import datetime, time
from pathlib import Path
from types import FrameType
from typing import IO, Protocol

from invest.runtime.clock import NEW_YORK, Clock, FixedClock, SystemClock, TradingCalendar, nyse
from invest.runtime.config import Settings
from invest.runtime.config.engine import EngineOptions, Replay, engine_options
from invest.runtime.control.api import Control
from invest.runtime.control.service import ControlService
from invest.runtime.control.socket import SOCKET_NAME, ControlServer
from invest.runtime.engine.engine import Engine, GateFactory, SourceFactory, StrategiesFactory
from invest.runtime.engine.sdnotify import SystemdNotifier
from invest.runtime.errors import InvestError
from invest.runtime.events import FanOut, LogNotifier, Notifier
from invest.runtime.ledger import Ledger, set_aside_demo
from invest.runtime.ledger import engine_state as repo
from invest.runtime.ledger.lock import ENGINE, WriterLock
from invest.runtime.logs import engine_log_file, setup_logging
from invest.runtime.paths import Paths

__all__ = ["EngineLock", "Extension", "replay_clock", "run_engine"]

logger = logging.getLogger(__name__)


class Extension(Protocol):
    """Something that runs inside the engine process beside it (the Telegram bot)."""

    def start(self, control: Control) -> None:
        """Start (e.g. a polling thread), steering the engine through ``control``."""
        ...

    def stop(self) -> None:
        """Stop; called on shutdown."""
        ...


class EngineLock:
    """An exclusive lock on ``INVEST_HOME/engine.lock``: one engine per ledger.

    The kernel drops the lock when the process dies, even on SIGKILL.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            InvestError: another engine holds it.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            other = fh.read().strip() or "?"
            fh.close()
            raise InvestError(
                f"another engine (pid {other}) is running on {self.path.parent}"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        """Drop the lock."""
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def replay_clock(replay: Replay, ledger: Ledger) -> FixedClock:
    """A replay clock at the replay's start, or where the last run on this ledger left it."""
    start = datetime.combine(replay.start, time(0), NEW_YORK)
    hb = repo.heartbeat(ledger.conn)
    if hb is not None and hb.clock_at > start:
        start = hb.clock_at
    return FixedClock(start)


class _Signals:
    """SIGTERM/SIGINT: stop after the job in flight, abandon it after the grace period."""

    def __init__(self, engine: Engine, grace_s: float) -> None:
        self.engine = engine
        self.grace_s = grace_s
        self.count = 0
        self._timer: threading.Timer | None = None

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count > 1:
            _abandon("second signal")
        logger.info("signal %s: stopping after the job in flight", signal.Signals(signum).name)
        self.engine.request_stop(wake=False)
        if self.engine.in_flight:
            self._timer = threading.Timer(self.grace_s, _abandon, args=("grace period over",))
            self._timer.daemon = True
            self._timer.start()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _stop_on(event: threading.Event, engine: Engine) -> None:
    event.wait()
    engine.request_stop()


def _abandon(why: str) -> None:
    logger.warning("abandoning the cycle in flight (%s): its transaction rolls back", why)
    logging.shutdown()
    os._exit(0)


def run_engine(
    settings: Settings,
    paths: Paths,
    clock: Clock | None = None,
    *,
    options: EngineOptions | None = None,
    notifiers: Sequence[Notifier] = (),
    extensions: Sequence[Extension] = (),
    calendar: TradingCalendar | None = None,
    sources: SourceFactory | None = None,
    gates: GateFactory | None = None,
    strategies: StrategiesFactory | None = None,
    log_dir: Path | None = None,
    configure_logging: bool = True,
    install_signals: bool = True,
    stop: threading.Event | None = None,
) -> int:
    """Run the engine until SIGTERM/SIGINT (or ``stop``); return the exit status (0).

    Args:
        settings: the config.
        paths: the ledger, packs, cache and socket live under ``paths.home``.
        clock: the engine's time; None is the system clock, or a replay clock when
            ``options.loop.replay`` is set.
        options: halt rules and loop timings; None reads them from ``settings``.
        notifiers: where events go besides the log (Telegram, Discord).
        extensions: started with the control service, stopped at shutdown.
        calendar: the exchange calendar; None builds the NYSE one.
        sources: opens market data sources (tests).
        gates: builds each account's LLM gate; None builds it from the account's config.
        strategies: each account's strategy factory (``llm_manager``); None: from the config.
        log_dir: the rotating log's folder; None is INVEST_LOG_DIR or ``home/logs``.
        configure_logging: set up the root logger (False when the caller did).
        install_signals: handle SIGTERM and SIGINT (only from the main thread).
        stop: an event that stops the engine when set (tests, embedding).

    Raises:
        InvestError: another engine runs, or the ledger or config is unusable.
    """
    opts = options or engine_options(settings)
    if configure_logging:
        log = engine_log_file(paths.home)
        setup_logging(log_dir or log.parent, filename=log.name)
    lock = EngineLock(paths.home / "engine.lock")
    lock.acquire()
    # One writer: the ledger's lock, the one `invest run`, `demo` and `flatten` take too.
    writer = WriterLock(paths.ledger, ENGINE, socket=opts.loop.control_socket)
    try:
        writer.acquire()
    except BaseException:
        lock.release()
        raise
    fan = FanOut([LogNotifier(), *notifiers])
    server: ControlServer | None = None
    started: list[Extension] = []
    try:
        moved = set_aside_demo(paths.ledger)
        if moved is not None:
            logger.warning("the demo's ledger moved to %s; starting a fresh ledger", moved)
        holder: list[Clock] = []
        ledger = Ledger(
            paths.ledger, now=lambda: holder[0].now() if holder else SystemClock().now()
        )
        if clock is None:
            clock = replay_clock(opts.loop.replay, ledger) if opts.loop.replay else SystemClock()
        holder.append(clock)
        sd = SystemdNotifier()
        engine = Engine(
            settings,
            paths,
            ledger,
            clock=clock,
            options=opts,
            notifier=fan,
            calendar=calendar or nyse(),
            sources=sources,
            gates=gates,
            strategies=strategies,
            watchdog=sd.watchdog,
        )
        signals = _Signals(engine, opts.loop.shutdown_grace_s)
        if install_signals:
            signals.install()
        engine.start()
        service = ControlService(paths.ledger, engine, settings=settings, clock=clock)
        if opts.loop.control_socket:
            server = ControlServer(paths.home / SOCKET_NAME, service, access=settings.control)
            server.start()
        for ext in extensions:
            ext.start(service)
            started.append(ext)
        sd.ready()
        if stop is not None:
            threading.Thread(target=_stop_on, args=(stop, engine), daemon=True).start()
        try:
            engine.run()
        finally:
            sd.stopping()
            signals.cancel()
            engine.shutdown()
    finally:
        for ext in started:
            with contextlib.suppress(Exception):
                ext.stop()
        if server is not None:
            server.stop()
        fan.close()
        writer.release()
        lock.release()
    return 0


def main_entry(argv: Sequence[str] | None = None) -> int:
    """``python -m invest.runtime.engine``: the same as ``invest engine``."""
    import argparse

    from invest.runtime.engine.cli import add_engine_arguments, engine_command

    parser = argparse.ArgumentParser(
        prog="python -m invest.runtime.engine", description="Run the engine."
    )
    parser.add_argument(
        "--config", help="config file (default: $INVEST_CONFIG, /etc/invest, ~/.config/invest)"
    )
    add_engine_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return engine_command(args, Paths.resolve(args.config))
    except InvestError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
