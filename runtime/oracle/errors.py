"""Errors of the LLM oracle, under the appliance's one exception tree.

None of these ever reaches the trading cycle from :class:`GateOracle` or
:class:`ManagerOracle`: they turn into an abstention with a reason, and new
buys follow ``on_unavailable``. They escape only from the client itself.
"""

from __future__ import annotations

from invest.runtime.errors import InvestError


class OracleError(InvestError):
    """Base of oracle failures; the oracle abstains and says why in the audit."""


class LLMUnavailableError(OracleError):
    """No model in the fallback chain gave an answer (network, timeouts, 5xx, 429).

    The oracle abstains for this cycle; new buys follow ``on_unavailable``
    (fail-closed by default). The next cycle tries again.
    """


class LLMAuthError(LLMUnavailableError):
    """The server refused the API key (401/403).

    Not retried and no fallback model is tried (they share the key); the oracle
    abstains and the message tells the operator to fix the secret.
    """


class BudgetExceededError(LLMUnavailableError):
    """The account's daily token or cost budget is spent.

    No request is sent; the oracle abstains until the budget day rolls over.
    """


class CacheMissError(LLMUnavailableError):
    """Replay-only mode (backtests) found no cached answer for a prompt.

    The oracle abstains for that cycle, exactly as if the model were down.
    """


class NewsUnavailableError(OracleError):
    """No news source could be reached.

    The oracle runs without headlines and says "no news available" in the prompt
    and the audit; it never fails the cycle.
    """
