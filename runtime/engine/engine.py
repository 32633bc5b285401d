"""The engine: one thread that owns the ledger, runs each job when it is due, executes commands.

Jobs (all on the NYSE calendar, see :mod:`invest.runtime.timing`):

* ``cycle``: each account's cron; a paused account skips it;
* ``monitor``: each account's position monitors (stops), every
  ``monitor_interval_s`` while the exchange is open; they run when paused too;
* ``report``: the daily report (and the weekly summary on the week's last session);
* reconciliation (every ``reconcile_interval_s``) and the heartbeat.

Commands from the control channel arrive on a queue and run on the same thread
between jobs: the engine is the ledger's only writer. APScheduler's cron trigger
computes fire times; the loop itself waits on the command queue, so an injected
clock (a :class:`~invest.runtime.clock.FixedClock` driven as a replay) runs the
very same code as the wall clock.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from invest.runtime import __version__
from invest.runtime.clock import NEW_YORK, Clock, FixedClock, SystemClock, TradingCalendar
from invest.runtime.config import Settings
from invest.runtime.config.engine import EngineOptions
from invest.runtime.control.api import Reply, Request
from invest.runtime.cycle import AccountRuntime, Gate
from invest.runtime.data import open_source
from invest.runtime.data.base import MarketData
from invest.runtime.domain import HaltState
from invest.runtime.engine import jobs
from invest.runtime.engine.account_cycle import CycleOutcome, StrategyFactory, run_account_cycle
from invest.runtime.engine.options_broker import OptionOrdersApi
from invest.runtime.errors import StorageError
from invest.runtime.events import ErrorEvent, Notifier
from invest.runtime.faults import storage_fault
from invest.runtime.ledger import Ledger
from invest.runtime.ledger import engine_state as repo
from invest.runtime.logs import kv
from invest.runtime.paths import Paths
from invest.runtime.policy.state import LedgerStateStore
from invest.runtime.secrets import Secrets, load_secrets
from invest.runtime.strategies.base import Strategy
from invest.runtime.timing import (
    last_completed_session,
    next_fire,
    next_monitor,
    next_report,
    previous_fire,
)

__all__ = ["Engine"]

logger = logging.getLogger(__name__)

_ORDER = {"research": 0, "cycle": 1, "monitor": 2, "report": 3}  # watchlists before cycles
SourceFactory = Callable[[str], MarketData]
GateFactory = Callable[[str], Gate | None]
StrategiesFactory = Callable[[str], StrategyFactory | None]
OptionOrdersFactory = Callable[[str], OptionOrdersApi]


@dataclass
class _Job:
    kind: str
    account: str | None
    next_at: datetime | None = None
    session: date | None = None

    def key(self) -> tuple[datetime, int]:
        assert self.next_at is not None
        return self.next_at, _ORDER[self.kind]


class Engine:
    """Runs the accounts of ``settings`` against the ledger, on ``clock``.

    Args:
        settings: the config.
        paths: where the packs and the data cache live.
        ledger: the ledger, opened for writing (this engine is its only writer).
        clock: the engine's time; a :class:`FixedClock` with ``options.loop.replay`` is
            advanced by the loop itself (a replay).
        options: halt rules and loop timings.
        notifier: where events go (a :class:`~invest.runtime.events.FanOut`).
        calendar: the exchange calendar.
        wall: the real time, for the heartbeat (the clock may be a replay).
        sources: opens a market data source from its spec (tests inject failures).
        gates: builds an account's LLM gate (None: from the account's ``oracle`` config).
        strategies: an account's strategy factory (``llm_manager``); None: from the config.
        watchdog: called from every loop iteration (systemd's WATCHDOG=1).
    """

    def __init__(
        self,
        settings: Settings,
        paths: Paths,
        ledger: Ledger,
        *,
        clock: Clock,
        options: EngineOptions,
        notifier: Notifier,
        calendar: TradingCalendar,
        wall: Clock | None = None,
        sources: SourceFactory | None = None,
        gates: GateFactory | None = None,
        strategies: StrategiesFactory | None = None,
        watchdog: Callable[[], object] | None = None,
        option_orders: OptionOrdersFactory | None = None,
    ) -> None:
        self.settings = settings
        self.paths = paths
        self.ledger = ledger
        self.clock = clock
        self.options = options
        self.notifier = notifier
        self.calendar = calendar
        self.wall = wall or SystemClock()
        # Every account, options ones too (run_account_cycle runs their options session).
        self.accounts = list(settings.accounts)
        self.replay = options.loop.replay if isinstance(clock, FixedClock) else None
        self._open_source = sources or (lambda spec: open_source(spec, cache_dir=paths.cache))
        self._sources: dict[str, MarketData] = {}
        self._gates = gates or self._oracle_gate
        self._strategies = strategies or self._manager
        self._option_orders = option_orders
        self._watchdog = watchdog
        self._queue: queue.Queue[tuple[Request, Future[Reply]] | None] = queue.Queue()
        self._stop = threading.Event()
        self._owner = threading.get_ident()
        self._jobs: list[_Job] = []
        self._next_beat = 0.0
        self._next_beat_log = 0.0
        self._next_reconcile: datetime | None = None
        self.started_at = self.wall.now().isoformat(timespec="seconds")
        self.in_flight: str | None = None
        self.cycles = 0
        self._live: dict[str, Any] = {}
        #: Accounts paused by a storage fault, with the failed runs in a row (memory only).
        self.faults: dict[str, int] = {}
        #: The storage fault that stopped the last heartbeat write ("" when it was written).
        self.beat_fault = ""

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Create missing rows, beat, reconcile every account, and plan the jobs."""
        self._owner = threading.get_ident()
        conn = self.ledger.conn
        with self.ledger.transaction():
            for name in self.accounts:
                self.ledger.ensure_account(name, self.settings.account(name))
                repo.ensure_engine_account(conn, name, self.ledger.ts())
        self._beat(force=True)
        state, reason = repo.engine_halt(conn)
        if state is not HaltState.ACTIVE:
            logger.warning("engine is %s (%s): only resume_all lifts it", state.value, reason)
        for name in self.accounts:
            own = repo.account_halt(conn, name)
            if own is not HaltState.ACTIVE:
                why = repo.halt_reason(conn, name)
                logger.warning("%s is %s (%s): only resume lifts it", name, own.value, why)
        self.reconcile_all()
        self._plan(self.clock.now())
        self._refresh_live()
        logger.info(
            "engine started",
            extra=kv(accounts=",".join(self.accounts), pid=os.getpid(), replay=bool(self.replay)),
        )

    def request_stop(self, *, wake: bool = True) -> None:
        """Ask the loop to stop after the job in flight.

        Args:
            wake: also wake the loop at once; a signal handler passes False (it must not
                touch the queue's lock, which the interrupted thread may hold), and the
                loop then notices within a second.
        """
        self._stop.set()
        if wake:
            self._queue.put(None)

    @property
    def stopping(self) -> bool:
        """True once a stop was requested."""
        return self._stop.is_set()

    def run(self) -> None:
        """Loop until :meth:`request_stop`."""
        self._owner = threading.get_ident()
        while not self._stop.is_set():
            self.step()

    def step(self, *, wait: bool = True) -> None:
        """One iteration: due jobs, heartbeat, reconciliation, then wait for the next due time.

        Args:
            wait: wait for the next due time (or a command); False only answers queued commands.
        """
        ran = self._run_due(self.clock.now())
        if ran and self.replay is not None:
            self._beat(force=True)  # a restarted replay resumes from the clock written here
        self._housekeeping()
        self._refresh_live()
        if not wait:
            self._pop(0.0)
        elif not self._stop.is_set():
            self._wait()

    def shutdown(self) -> None:
        """Record a clean stop in the heartbeat row and close the ledger."""
        try:
            with self.ledger.transaction():
                repo.mark_stopped(self.ledger.conn, self.wall.now().isoformat(timespec="seconds"))
        except Exception as e:
            fault = storage_fault(e, self.ledger.path)
            if fault is None:
                raise
            logger.error("clean stop not recorded: %s", fault)  # exit cleanly all the same
        finally:
            self.ledger.close()
        logger.info("engine stopped", extra=kv(cycles=self.cycles))

    # -- commands ----------------------------------------------------------------------------

    def submit(self, request: Request) -> Future[Reply]:
        """Queue a write request for the engine's thread (run at once when called from it)."""
        fut: Future[Reply] = Future()
        if threading.get_ident() == self._owner:
            fut.set_result(self.execute(request))
        else:
            self._queue.put((request, fut))
        return fut

    def execute(self, request: Request) -> Reply:
        """Run one write request now, on this thread."""
        from invest.runtime.engine.ops import execute

        return execute(self, request)

    def live(self) -> dict[str, Any]:
        """A snapshot of the schedule (thread-safe): next cycles and monitors, the job in flight."""
        return {**self._live, "in_flight": self.in_flight}

    def _pop_replay_tick(self, tick_s: float) -> bool:
        """:meth:`_pop` for a replay's tick, in slices of at most a second, so that a stop
        asked by a signal handler (which cannot wake the queue) is noticed within one."""
        end = time.monotonic() + tick_s
        while not self._stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return False
            if self._pop(min(1.0, left)):
                return True
        return False

    def _pop(self, timeout: float) -> bool:
        """Answer queued requests, waiting up to ``timeout`` for the first; True if woken."""
        try:
            item = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
        except queue.Empty:
            return False
        while True:
            if item is not None:
                request, fut = item
                if fut.set_running_or_notify_cancel():
                    fut.set_result(self.execute(request))
            try:  # answer whatever else is waiting, without blocking
                item = self._queue.get_nowait()
            except queue.Empty:
                return True

    # -- planning ------------------------------------------------------------------------------

    def _tz(self) -> str:
        return self.settings.engine.timezone

    def _plan(self, now: datetime) -> None:
        loop = self.options.loop
        grace = timedelta(seconds=loop.misfire_grace_s)
        conn = self.ledger.conn
        self._jobs = []
        for name in self.accounts:
            cfg = self.settings.account(name)
            job = _Job("cycle", name)
            missed = (
                previous_fire(cfg.schedule, self._tz(), self.calendar, now, grace)
                if grace
                else None
            )
            last = repo.engine_account(conn, name).last_cycle_at
            if missed is not None and (last is None or datetime.fromisoformat(last) < missed.at):
                logger.info(
                    "%s: the cycle of %s was missed; it runs now", name, missed.at.isoformat()
                )
                job.next_at = now
            else:
                self._next_cycle(job, now)
            self._jobs.append(job)
            self._jobs.append(_Job("monitor", name, self._next_monitor(now)))
        for rname in self.settings.research:
            research = _Job("research", rname)
            self._next_research(research, now)
            self._jobs.append(research)
        report = _Job("report", None)
        self._next_report(report, now)
        self._jobs.append(report)
        self._next_reconcile = now + timedelta(seconds=loop.reconcile_interval_s)

    def _next_cycle(self, job: _Job, after: datetime) -> None:
        assert job.account is not None
        cfg = self.settings.account(job.account)

        def skipped(fire: Any) -> None:
            logger.info(
                "%s: cron fire at %s skipped: %s",
                job.account,
                fire.nominal.isoformat(),
                fire.skipped,
            )

        fire = next_fire(cfg.schedule, self._tz(), self.calendar, after, on_skip=skipped)
        job.next_at = fire.at if fire else None
        job.session = fire.session if fire else None
        if fire is not None and fire.shifted:
            logger.info(
                "%s: half-day %s: the cycle moves from %s to %s",
                job.account,
                fire.session,
                fire.nominal.astimezone(NEW_YORK).strftime("%H:%M"),
                fire.at.astimezone(NEW_YORK).strftime("%H:%M"),
            )

    def _next_research(self, job: _Job, after: datetime) -> None:
        assert job.account is not None
        cfg = self.settings.research[job.account]
        fire = next_fire(cfg.schedule, self._tz(), self.calendar, after)
        job.next_at = fire.at if fire else None
        job.session = fire.session if fire else None

    def run_research(self, name: str) -> None:
        """Build research watchlist ``name`` now; audits and usage go into the ledger."""
        from invest.runtime.market import Market
        from invest.runtime.oracle.ledger_store import LedgerOracleStore
        from invest.runtime.research.agent import run_research

        cfg = self.settings.research[name]
        source = self._source_for(cfg.data or self.settings.engine.data)
        end = last_completed_session(self.calendar, self.clock.now())
        market = Market(source.load(list(cfg.symbols), None, end))
        with self.ledger.transaction():
            wl = run_research(
                cfg,
                name,
                market,
                self.paths.home,
                now=self.clock.now,
                store=LedgerOracleStore(self.ledger.conn),
            )
        logger.info("research %s: %s (%s)", name, ", ".join(wl.symbols), wl.source)

    def _next_monitor(self, after: datetime) -> datetime:
        return next_monitor(
            self.calendar, after, timedelta(seconds=self.options.loop.monitor_interval_s)
        )

    def _next_report(self, job: _Job, after: datetime) -> None:
        offset = timedelta(minutes=self.options.loop.report_offset_min)
        job.next_at, job.session = next_report(self.calendar, after, offset)

    def next_due(self) -> datetime | None:
        """The earliest time a job is due."""
        times = [j.next_at for j in self._jobs if j.next_at is not None]
        return min(times) if times else None

    # -- running jobs ----------------------------------------------------------------------------

    def _run_due(self, now: datetime) -> int:
        due = sorted(
            (j for j in self._jobs if j.next_at is not None and j.next_at <= now), key=_Job.key
        )
        grace = timedelta(seconds=self.options.loop.misfire_grace_s)
        for job in due:
            if self._stop.is_set():
                return 0
            late = now - (job.next_at or now)
            if job.kind == "cycle" and late > grace:
                logger.warning(
                    "%s: cycle due at %s skipped: %s late", job.account, job.next_at, late
                )
            else:
                self._run_job(job)
            self._reschedule(job, self.clock.now())
        return len(due)

    def _run_job(self, job: _Job) -> None:
        if job.kind == "research":
            assert job.account is not None
            try:
                self.run_research(job.account)
            except Exception:  # a watchlist must not stop the engine
                logger.exception("research %s failed", job.account)
            return
        if job.kind == "report":
            try:
                self.send_reports(job.session or self.clock.now().date())
            except Exception:  # a report must not stop the engine
                logger.exception("the daily report of %s failed", job.session)
            return
        assert job.account is not None
        if job.kind == "cycle" and repo.engine_account(self.ledger.conn, job.account).paused:
            logger.info("%s: paused: scheduled cycle skipped", job.account)
            return
        self.run_account(job.account, monitor_only=job.kind == "monitor")

    def _reschedule(self, job: _Job, now: datetime) -> None:
        if job.kind == "cycle":
            self._next_cycle(job, now)
            retry = self.fault_retry_at(job.account, now)
            if retry is not None and (job.next_at is None or retry < job.next_at):
                logger.info("%s: storage fault: the cycle is retried at %s", job.account, retry)
                job.next_at = retry
        elif job.kind == "monitor":
            job.next_at = self._next_monitor(now)
        elif job.kind == "research":
            self._next_research(job, now)
        else:
            self._next_report(job, now)

    def _source(self, name: str) -> MarketData:
        return self._source_for(self.settings.account(name).data or self.settings.engine.data)

    def _source_for(self, spec: str) -> MarketData:
        """One provider (and its cache) per data spec, shared by accounts and research."""
        if spec not in self._sources:
            self._sources[spec] = self._open_source(spec)
        return self._sources[spec]

    def _oracle_gate(self, name: str) -> Gate | None:
        from invest.runtime.oracle.accounts import build_gate

        # Audits, cache and token usage go into the ledger (the engine is its writer).
        return build_gate(self.settings, name, self.paths.home, self.clock.now, ledger=self.ledger)

    def _manager(self, name: str) -> StrategyFactory | None:
        if self.settings.account(name).strategy != "llm_manager":
            return None
        from invest.runtime.strategies.llm_manager import build_manager

        return lambda ledger: build_manager(
            self.settings, name, self.paths.home, self.clock.now, ledger=ledger
        )

    def run_account(
        self, name: str, *, monitor_only: bool = False
    ) -> tuple[CycleOutcome | None, str]:
        """Run one cycle (or the monitors) of ``name`` now, counting failures towards the trips.

        Returns:
            The outcome (None when it failed) and the error text ("" when it ran).
        """
        self.in_flight = name + (":monitor" if monitor_only else "")
        gate: Gate | None = None
        try:
            end = last_completed_session(self.calendar, self.clock.now())
            gate = None if monitor_only else self._gates(name)
            out = run_account_cycle(
                name,
                self.settings,
                self.paths,
                self.ledger,
                monitor_only=monitor_only,
                source=self._source(name),
                end=end,
                rules=self.options.halt,
                gate=gate,
                strategy=self._strategies(name),
                option_orders=self._venue_orders(name),
            )
        except Exception as e:  # every failure is counted; the loop goes on
            fault = storage_fault(e, self.ledger.path)
            if fault is not None:  # the ledger cannot take the failure count either
                self._storage_fault(name, fault)
                return None, str(fault)
            jobs.record_failure(self, name, e)
            return None, f"{type(e).__name__}: {e}"
        finally:
            self.in_flight = None
            close = getattr(gate, "close", None)
            if close is not None:
                close()  # the gate's HTTP connections
        self.cycles += 1
        jobs.record_success(self, out)
        if self.faults.pop(name, None) is not None:
            logger.warning("%s: the ledger takes writes again: trading resumed", name)
        return out, ""

    def _storage_fault(self, name: str, fault: StorageError) -> None:
        """Pause ``name`` on a full, read-only or locked ledger: one log line, one alert.

        Nothing is written (the ledger cannot take it); the cycle rolled back, the next
        due job of the account retries, and its first success lifts the pause.
        """
        count = self.faults.get(name, 0) + 1
        self.faults[name] = count
        if count > 1:
            logger.debug("%s: still paused: %s", name, fault)
            return
        logger.error("%s: trading paused: %s", name, fault)
        self.notifier.notify(
            ErrorEvent(
                at=self.clock.now(),
                account=name,
                error="StorageError",
                message=str(fault)[:500],
                consecutive=count,
            )
        )

    def fault_retry_at(self, name: str | None, now: datetime) -> datetime | None:
        """When a cycle that met a storage fault is tried again; None when ``name`` has none.

        The wait doubles with each fault in a row (``fault_retry_s`` up to
        ``fault_retry_max_s``): a disk that stays full costs one log line per retry,
        not a busy loop, and a freed disk trades again within minutes, not next session.
        """
        count = self.faults.get(name or "", 0)
        if count == 0:
            return None
        loop = self.options.loop
        wait = min(loop.fault_retry_s * 2.0 ** min(count - 1, 30), loop.fault_retry_max_s)
        return now + timedelta(seconds=wait)

    def build(self, name: str) -> AccountRuntime:
        """The account as persisted: state, open orders (its broker), strategy."""
        factory = self._strategies(name)
        return AccountRuntime.build(
            name,
            self.settings,
            self.ledger.load_state(name),
            self.ledger.open_orders(name),
            packs_dir=self.paths.packs,
            state_store=LedgerStateStore(self.ledger.conn),
            strategy=cast("Strategy | None", factory(self.ledger)) if factory is not None else None,
            secrets=self._secrets(name),
        )

    def _venue_orders(self, name: str) -> OptionOrdersApi | None:
        """An Alpaca options account's option orders when injected (tests); None: from its keys."""
        cfg = self.settings.account(name)
        if self._option_orders is None or not (cfg.trades_options and cfg.broker == "alpaca"):
            return None
        return self._option_orders(name)

    def option_orders(self, name: str) -> OptionOrdersApi:
        """The venue's option orders of Alpaca options account ``name``.

        Raises:
            ConfigError: the keys are missing.
        """
        if self._option_orders is not None:
            return self._option_orders(name)
        from invest.runtime.engine.options_account_cycle import alpaca_option_orders

        return alpaca_option_orders(name, self.settings, self._secrets(name))

    def _secrets(self, name: str) -> Secrets | None:
        """The broker keys for ``name``: read from the secrets file only for an Alpaca account."""
        if self.settings.account(name).broker != "alpaca":
            return None
        return load_secrets(self.paths.secrets)

    def reconcile_all(self) -> None:
        """Compare the ledger with each account's broker; adopt, cancel or HALT (see reconcile)."""
        jobs.reconcile_accounts(self)

    def send_reports(self, day: date) -> None:
        """Send the daily report of session ``day`` (and the weekly summary on a week's end), once."""
        jobs.send_reports(self, day)

    # -- housekeeping and waiting ------------------------------------------------------------------

    def _housekeeping(self) -> None:
        now = self.clock.now()
        if self._stop.is_set():
            return
        if self._next_reconcile is not None and now >= self._next_reconcile:
            self.reconcile_all()
            self._next_reconcile = now + timedelta(seconds=self.options.loop.reconcile_interval_s)
        self._beat()
        if self._watchdog is not None:
            self._watchdog()

    def _beat(self, *, force: bool = False) -> None:
        mono = time.monotonic()
        if not force and mono < self._next_beat:
            return
        loop = self.options.loop
        self._next_beat = mono + loop.heartbeat_s
        try:
            with self.ledger.transaction():
                repo.beat(
                    self.ledger.conn,
                    pid=os.getpid(),
                    version=__version__,
                    started_at=self.started_at,
                    beat_at=self.wall.now().isoformat(timespec="seconds"),
                    clock_at=self.clock.now().isoformat(),
                )
        except Exception as e:
            fault = storage_fault(e, self.ledger.path)
            if fault is None:
                raise
            # The loop goes on serving status and retrying; a stale heartbeat row is what
            # `invest status` and doctor then report. One line per fault, not per beat.
            if not self.beat_fault:
                logger.error("heartbeat not written: %s", fault)
            self.beat_fault = str(fault)
            return
        if self.beat_fault:
            logger.warning("heartbeat written again")
            self.beat_fault = ""
        if mono >= self._next_beat_log:
            self._next_beat_log = mono + loop.heartbeat_log_s
            nxt = self.next_due()
            logger.info(
                "heartbeat",
                extra=kv(
                    pid=os.getpid(),
                    cycles=self.cycles,
                    next=nxt.isoformat() if nxt else None,
                    clock=self.clock.now().isoformat(timespec="seconds"),
                ),
            )

    def _refresh_live(self) -> None:
        accounts: dict[str, dict[str, Any]] = {n: {} for n in self.accounts}
        for j in self._jobs:
            if j.account in accounts:  # research jobs carry a watchlist name instead
                accounts[j.account][f"next_{j.kind}"] = j.next_at.isoformat() if j.next_at else None
        self._live = {
            "pid": os.getpid(),
            "version": __version__,
            "started_at": self.started_at,
            "clock": self.clock.now().isoformat(),
            "in_flight": self.in_flight,
            "replay": self.replay is not None,
            "cycles": self.cycles,
            "accounts": accounts,
        }

    def _wait(self) -> None:
        nxt = self.next_due()
        if self.replay is None:
            left = 1.0 if nxt is None else (nxt - self.clock.now()).total_seconds()
            self._pop(min(1.0, max(0.0, left)))
            return
        if self._pop_replay_tick(self.replay.tick_s) or nxt is None:
            return
        until = self.replay.until
        if until is not None and nxt.astimezone(NEW_YORK).date() > until:
            return  # the replay is over: idle
        assert isinstance(self.clock, FixedClock)
        if nxt > self.clock.now():
            self.clock.set(nxt)
