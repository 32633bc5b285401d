"""The engine as a crash-test child process (started by a forkserver that preloaded this module).

Importing it warms what every engine start needs (the NYSE calendar, the sample
data), so that a forked child reaches its first cycle in a few milliseconds and
50 kills fit in a few seconds of engine time.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from invest.runtime.adapters.alpaca.broker import AlpacaBroker
from invest.runtime.adapters.alpaca.parsing import sdk
from invest.runtime.brokers.paper import PaperBroker
from invest.runtime.clock import FixedClock, nyse
from invest.runtime.config.engine import Replay
from invest.runtime.data.sample import SampleData
from invest.runtime.domain import Ack, OrderIntent
from invest.runtime.engine import main as engine_main
from invest.runtime.engine.main import run_engine
from invest.runtime.logs import setup_logging
from tests.runtime.brokers.exchange import CLOCK_HEADER
from tests.runtime.engine.support import options, paths, settings

nyse()
SampleData().symbols()
sdk()  # alpaca-py takes half a second to import


class SlowData(SampleData):
    """The sample, slow to load: a cycle that outlives the shutdown grace period."""

    def load(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
        time.sleep(30)
        return super().load(*args, **kwargs)  # type: ignore[arg-type]


#: Marker lines appended by a child that killed itself between the outbox and the answer.
SEND_KILLS = "send-kills"


def _kill_in_send(root: Path, odds: float, seed: int) -> None:
    """SIGKILL this process, with ``odds`` per order, right after the broker took it.

    The order rows are committed (the outbox) and the broker has the order (the
    paper broker queued it; the fake Alpaca stored it and answered); the answer is
    not recorded yet: the restart must adopt it, not lose or double it.
    """
    rng = random.Random(seed)
    for cls in (PaperBroker, AlpacaBroker):
        submit = cls.submit

        def patched(
            self: Any, intents: Sequence[OrderIntent], day: date, _submit: Any = submit
        ) -> list[Ack]:
            answers: list[Ack] = _submit(self, intents, day)
            if intents and rng.random() < odds:
                with (root / SEND_KILLS).open("a") as f:
                    f.write(f"{intents[0].client_order_id}\n")
                os.kill(os.getpid(), signal.SIGKILL)
            return answers

        cls.submit = patched  # type: ignore[method-assign]


def _to_fake_alpaca(url: str) -> None:
    """Point the Alpaca broker at the loopback fake, each request carrying the engine's clock.

    The replay clock is the fake's time (see ``tests.runtime.brokers.exchange``):
    orders fill when the replay passes the next close.
    """
    os.environ["ALPACA_API_KEY"] = "PKTESTKEY0000000000"
    os.environ["ALPACA_SECRET_KEY"] = "trading-s3cr3t-never-shown"  # noqa: S105 - a fake's
    clocks: list[FixedClock] = []
    replay_clock = engine_main.replay_clock

    def capture(*args: Any, **kwargs: Any) -> FixedClock:
        clocks.append(replay_clock(*args, **kwargs))
        return clocks[-1]

    engine_main.replay_clock = capture  # type: ignore[assignment]
    init = AlpacaBroker.__init__

    def patched(self: AlpacaBroker, *args: Any, **kwargs: Any) -> None:
        kwargs["url_override"] = url
        init(self, *args, **kwargs)
        session = self._client._session
        send = session.request

        def request(method: str, target: str, *a: Any, **kw: Any) -> Any:
            if clocks:
                kw["headers"] = {
                    **(kw.get("headers") or {}),
                    CLOCK_HEADER: clocks[-1].now().isoformat(),
                }
            return send(method, target, *a, **kw)

        session.request = request

    AlpacaBroker.__init__ = patched  # type: ignore[method-assign]


def run(
    home: str,
    start: str,
    tick: float,
    slow: bool = False,
    send_kill: float = 0.0,
    seed: int = 0,
    alpaca_url: str = "",
) -> None:
    """Run the engine on a replay clock until killed (or SIGTERM).

    ``send_kill``: the odds, per order sent, of a SIGKILL between the outbox commit
    and the broker's answer (seeded by ``seed``). ``alpaca_url``: the account
    ``daily`` trades through the Alpaca broker, on the fake at this URL.
    """
    root = Path(home)
    if send_kill:
        _kill_in_send(root, send_kill, seed)
    if alpaca_url:
        _to_fake_alpaca(alpaca_url)
    setup_logging(root / "logs", stream=None, secrets=[])
    replay = Replay(start=date.fromisoformat(start), tick_s=tick)
    opts = options(replay=replay, control_socket=True, shutdown_grace_s=1.0)
    run_engine(
        settings(churn=True, alpaca=bool(alpaca_url)),
        paths(root),
        options=opts,
        configure_logging=False,
        sources=(lambda spec: SlowData()) if slow else None,
    )
