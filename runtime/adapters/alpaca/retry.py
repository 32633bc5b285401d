"""Alpaca calls translated into the project's errors and retried with a bounded backoff.

One mechanism for the stock broker and the option orders, which share one alpaca-py
client: a call's exception becomes the project's error (:func:`.parsing.translate`),
and a temporary one (429, 5xx, a timeout) is retried ``config.retries`` times.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from invest.runtime.adapters.alpaca.parsing import translate
from invest.runtime.config.alpaca import AlpacaConfig
from invest.runtime.errors import TemporaryBrokerError

T = TypeVar("T")


class RetryingCalls:
    """Mixin: ``_once`` translates one call's errors, ``_call`` retries temporary ones.

    The class that mixes it in sets ``config`` (retries, backoff) and ``_sleep``.
    Retries are logged under that class's module, as before.
    """

    config: AlpacaConfig
    _sleep: Callable[[float], None]

    def _once(self, what: str, fn: Callable[[], T], *, order: bool = False) -> T:
        try:
            return fn()
        except Exception as e:
            ours = translate(e, what, order=order)
            if ours is None:
                raise
            raise ours from e

    def _backoff(self, attempt: int) -> float:
        return min(self.config.backoff_s * float(2**attempt), self.config.backoff_max_s)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """One read or cancel, retried on temporary errors with a bounded backoff."""
        for attempt in range(self.config.retries + 1):
            try:
                return self._once(what, fn)
            except TemporaryBrokerError as e:
                if attempt == self.config.retries:
                    raise
                wait = self._backoff(attempt)
                logging.getLogger(type(self).__module__).warning(
                    "%s; retry %d in %.1fs", e, attempt + 1, wait
                )
                self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover
