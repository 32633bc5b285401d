"""One exception tree for the whole appliance.

Each class docstring says what the system does when it is raised. Third-party
errors are translated into these at the adapter edge (``raise ... from e``), so
inside the engine only this tree exists.
"""

from __future__ import annotations


class InvestError(Exception):
    """Base of every error the appliance raises on purpose.

    The CLI prints it as one line (no traceback unless ``--debug``) and exits 2.
    """


class ConfigError(InvestError):
    """The config file or an option is invalid.

    Raised at start-up, before anything trades; the message names the key path
    and says what to fix. Nothing is written.
    """


class DataError(InvestError):
    """Market data could not be loaded or parsed at all.

    For a whole source this stops the command with a clear message. For a single
    symbol inside a cycle the validator records an audit event and skips that
    symbol instead of raising.
    """


class DataUnavailableError(DataError):
    """A provider is unreachable (network, auth, rate limit).

    The engine counts it towards the data-outage halt trip and retries at the
    next cycle; the cycle in flight makes no new orders.
    """


class ImpliedVolError(DataError):
    """No volatility reproduces an option's price.

    The price is at or below the discounted intrinsic value, at or above the
    no-arbitrage bound (the discounted spot for a call, the discounted strike for
    a put), or the option has no time left. The message says which and gives the
    bound. The quote is unusable for volatility: analytics leave its implied
    volatility empty and skip it, nothing retries (the same price gives the same
    answer), and ``invest options greeks --price`` prints the line and exits 2.
    """


class LedgerError(InvestError):
    """The ledger is unreadable, from a newer schema, or an integrity check failed.

    The engine refuses to start; nothing is written.
    """


class StorageError(InvestError):
    """The ledger's disk is full, its home is read-only, or another writer holds the lock.

    Nothing is half-written: the cycle's transaction rolls back. A command prints
    one line saying what to do and exits 2; the engine pauses the account, alerts
    once, keeps serving status and retries with backoff until the fault clears.
    ``kind`` is ``full``, ``readonly``, ``locked`` or ``unopenable``
    (see :func:`invest.runtime.faults.storage_fault`).
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class BrokerError(InvestError):
    """Base of broker failures; the order stays recorded with its client id."""


class TemporaryBrokerError(BrokerError):
    """Timeout, 5xx or 429 from a broker.

    Retried with backoff; after a timeout the order is looked up by its client
    order id, never resent blindly.
    """


class OrderRejectedError(BrokerError):
    """The broker refused the order (insufficient funds, invalid symbol...).

    Not retried; the order is marked rejected in the ledger and an alert is sent.
    """


class ReconciliationError(InvestError):
    """The ledger and the broker disagree in a way the engine cannot explain.

    The engine goes to HALTED, alerts, and waits for a human command.
    """


class PolicyPackError(InvestError):
    """A model pack is tampered, incomplete, or built for another feature spec.

    The pack is refused; strategies that need it do not run (the account holds).
    """


class OptionalDependencyError(InvestError):
    """A command needs an extra that is not installed (for example ``train``).

    The CLI prints how to install it and exits.
    """
