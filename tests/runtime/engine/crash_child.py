"""The engine as a crash-test child process (started by a forkserver that preloaded this module).

Importing it warms what every engine start needs (the NYSE calendar, the sample
data), so that a forked child reaches its first cycle in a few milliseconds and
50 kills fit in a few seconds of engine time.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

from invest.runtime.clock import nyse
from invest.runtime.data.sample import SampleData
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


def run(home: str, start: str, tick: float, slow: bool = False) -> None:
    """Run the engine on a replay clock until killed (or SIGTERM)."""
    root = Path(home)
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
