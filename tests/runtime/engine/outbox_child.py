"""``invest ARGS`` in a child process, its Alpaca broker pointed at a loopback fake.

    python outbox_child.py MODE ARGS...

MODE:
    plain            run as is
    kill-after-send  SIGKILL this process right after the broker accepted the first
                     order (Alpaca: the fake stored it and answered; paper: queued),
                     before the ledger records the answer

The fake's URL comes from ``INVEST_TEST_ALPACA_URL``.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from invest.runtime.adapters.alpaca.broker import AlpacaBroker
from invest.runtime.brokers.paper import PaperBroker
from invest.runtime.cli import main as invest_main


def _loopback() -> None:
    init = AlpacaBroker.__init__

    def patched(self: AlpacaBroker, *args: Any, **kwargs: Any) -> None:
        kwargs["url_override"] = os.environ["INVEST_TEST_ALPACA_URL"]
        init(self, *args, **kwargs)

    AlpacaBroker.__init__ = patched  # type: ignore[method-assign]


def _kill_after_send() -> None:
    for cls in (AlpacaBroker, PaperBroker):
        submit = cls.submit

        def patched(self: Any, *args: Any, _submit: Any = submit, **kwargs: Any) -> Any:
            answers = _submit(self, *args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)  # the broker has it; the ledger has no answer
            return answers

        cls.submit = patched  # type: ignore[method-assign]


if __name__ == "__main__":
    mode, rest = sys.argv[1], sys.argv[2:]
    _loopback()
    if mode == "kill-after-send":
        _kill_after_send()
    sys.exit(invest_main(rest))
