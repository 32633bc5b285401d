"""Alpaca calls translated into the project's errors and retried with a bounded backoff.

One mechanism for the stock broker and the option orders, which share one alpaca-py
client: a call's exception becomes the project's error (:func:`.parsing.translate`),
and a temporary one (429, 5xx, a timeout) is retried ``config.retries`` times.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from invest.runtime.adapters.alpaca.parsing import (
    DuplicateClientIdError,
    RateLimitedError,
    translate,
)
from invest.runtime.config.alpaca import AlpacaConfig
from invest.runtime.errors import BrokerError, TemporaryBrokerError

T = TypeVar("T")


class RetryingCalls:
    """Mixin: ``_once`` translates one call's errors, ``_call`` retries temporary ones,
    ``_post_once`` sends an order without ever sending it twice.

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

    def _post_once(
        self, what: str, cid: str, post: Callable[[], T], lookup: Callable[[str], T | None]
    ) -> T:
        """POST an order; after a doubtful failure look it up by client id, never resend blindly.

        A duplicate client id means an earlier attempt arrived: fetch it. A timeout or a
        5xx may have arrived too: look it up before retrying. A 429 surely did not.
        """
        log = logging.getLogger(type(self).__module__)
        for attempt in range(self.config.retries + 1):
            try:
                return self._once(what, post, order=True)
            except DuplicateClientIdError:
                log.info("alpaca has %s already (an earlier attempt arrived); fetching it", cid)
                found = lookup(cid)
                if found is None:
                    raise BrokerError(
                        f"Alpaca says client order id {cid} exists but cannot find it"
                    ) from None
                return found
            except TemporaryBrokerError as e:
                if not isinstance(e, RateLimitedError):
                    found = lookup(cid)  # did the POST arrive before the failure?
                    if found is not None:
                        log.info("alpaca has %s after %s; not resending", cid, e)
                        return found
                if attempt == self.config.retries:
                    raise
                wait = self._backoff(attempt)
                log.warning("%s; order not at Alpaca, retry %d in %.1fs", e, attempt + 1, wait)
                self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover
