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

from invest.runtime.brokers.base import Ack
from invest.runtime.brokers.paper import PaperBroker
from invest.runtime.clock import nyse
from invest.runtime.data.sample import SampleData
from invest.runtime.domain import OrderIntent
from invest.runtime.engine.config import Replay
from invest.runtime.engine.logs import setup_logging
from invest.runtime.engine.main import run_engine
from tests.runtime.engine.support import options, paths, settings

nyse()
SampleData().symbols()


class SlowData(SampleData):
    """The sample, slow to load: a cycle that outlives the shutdown grace period."""

    def load(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
        time.sleep(30)
        return super().load(*args, **kwargs)  # type: ignore[arg-type]


#: Marker lines appended by a child that killed itself between the outbox and the answer.
SEND_KILLS = "send-kills"


def _kill_in_send(root: Path, odds: float, seed: int) -> None:
    """SIGKILL this process, with ``odds`` per order, right after the broker took it.

    The order rows are committed (the outbox) and the broker has the order; the
    answer is not recorded yet: the restart must adopt it, not lose or double it.
    """
    rng = random.Random(seed)
    submit = PaperBroker.submit

    def patched(self: PaperBroker, intents: Sequence[OrderIntent], day: date) -> list[Ack]:
        answers = submit(self, intents, day)
        if intents and rng.random() < odds:
            with (root / SEND_KILLS).open("a") as f:
                f.write(f"{intents[0].client_order_id}\n")
            os.kill(os.getpid(), signal.SIGKILL)
        return answers

    PaperBroker.submit = patched  # type: ignore[method-assign]


def run(
    home: str, start: str, tick: float, slow: bool = False, send_kill: float = 0.0, seed: int = 0
) -> None:
    """Run the engine on a replay clock until killed (or SIGTERM).

    ``send_kill``: the odds, per order sent, of a SIGKILL between the outbox commit
    and the broker's answer (seeded by ``seed``).
    """
    root = Path(home)
    if send_kill:
        _kill_in_send(root, send_kill, seed)
    setup_logging(root / "logs", stream=None, secrets=[])
    replay = Replay(start=date.fromisoformat(start), tick_s=tick)
    opts = options(replay=replay, control_socket=True, shutdown_grace_s=1.0)
    run_engine(
        settings(churn=True),
        paths(root),
        options=opts,
        configure_logging=False,
        sources=(lambda spec: SlowData()) if slow else None,
    )
