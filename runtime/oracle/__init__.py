"""The LLM oracle: a gate that may veto or shrink proposed buys, or a two-pass manager.

Built so that a wrong or absent model can never hurt the portfolio: the gate
only ever lowers proposed buys, and anything unusable follows
``on_unavailable`` (fail-closed by default).

By job: ``client/`` (the LLM client stack: protocol, HTTP, cache, daily budget,
audit trail), ``gate/`` (the review of the cycle's buys), ``manager/`` (the
two-pass manager), ``news/`` (headlines), ``session.py`` (one run: ask, audit,
parse, repair once), ``context.py`` (what the model may know at row ``t``),
``prompts.py``/``normalise.py``/``extract.py``/``schemas.py`` (what every prompt
shows, and reading answers), ``store.py`` (where answers, audits and usage go) and
``accounts.py`` (an account's oracle from its settings).

Typical wiring for one account::

    client = build_client(config, store, account=name, now=clock.now)
    oracle = GateOracle(config, client, store, account=name, now=clock.now)
    news = gather_news(sources_from_config(config.news), symbols, now=t, config=config.news)
    result = oracle.review({"AAPL": Decimal("1000")}, OracleContext(t, news=news), cycle_id=cid)
    result.allowed  # {"AAPL": Decimal("500.00")}
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real names, for type checkers
    from invest.runtime.config.oracle import (
        NewsConfig,
        OracleConfig,
        UnavailablePolicy,
    )
    from invest.runtime.oracle.accounts import (
        build_oracle,
    )
    from invest.runtime.oracle.anonymise import (
        CutoffOverlap,
        cutoff_check,
    )
    from invest.runtime.oracle.client.audit import (
        AuditTrail,
    )
    from invest.runtime.oracle.client.budget import (
        BudgetedLLMClient,
        DailyBudget,
    )
    from invest.runtime.oracle.client.cache import (
        CachingLLMClient,
        prompt_hash,
    )
    from invest.runtime.oracle.client.http import (
        HttpLLMClient,
    )
    from invest.runtime.oracle.client.protocol import (
        ChatRequest,
        ChatResponse,
        Health,
        LLMClient,
        OfflineLLMClient,
        Usage,
    )
    from invest.runtime.oracle.client.stack import (
        build_client,
    )
    from invest.runtime.oracle.context import (
        OracleContext,
        PortfolioSnapshot,
        PositionSnapshot,
        PreviousDecision,
        SymbolSnapshot,
    )
    from invest.runtime.oracle.errors import (
        BudgetExceededError,
        CacheMissError,
        LLMAuthError,
        LLMUnavailableError,
        NewsUnavailableError,
    )
    from invest.runtime.oracle.gate.review import (
        GateOracle,
        apply_verdicts,
        vote,
    )
    from invest.runtime.oracle.manager.decide import (
        ManagerOracle,
        vote_actions,
    )
    from invest.runtime.oracle.news.items import (
        NewsDigest,
    )
    from invest.runtime.oracle.news.sources import (
        RssNewsSource,
        YFinanceNewsSource,
        gather_news,
        sources_from_config,
    )
    from invest.runtime.oracle.schemas import (
        Action,
        GateVerdict,
        MarketRegime,
        TradeAction,
        Verdict,
    )
    from invest.runtime.oracle.store import (
        AuditRecord,
        JsonFileStore,
        MemoryStore,
        Store,
    )

# Names resolve on first use (PEP 562): importing the config model must not pull in
# httpx, feedparser and every oracle module.
_EXPORTS: dict[str, str] = {
    "Action": "invest.runtime.oracle.schemas",
    "AuditRecord": "invest.runtime.oracle.store",
    "AuditTrail": "invest.runtime.oracle.client.audit",
    "BudgetExceededError": "invest.runtime.oracle.errors",
    "BudgetedLLMClient": "invest.runtime.oracle.client.budget",
    "CacheMissError": "invest.runtime.oracle.errors",
    "CachingLLMClient": "invest.runtime.oracle.client.cache",
    "ChatRequest": "invest.runtime.oracle.client.protocol",
    "ChatResponse": "invest.runtime.oracle.client.protocol",
    "CutoffOverlap": "invest.runtime.oracle.anonymise",
    "DailyBudget": "invest.runtime.oracle.client.budget",
    "GateOracle": "invest.runtime.oracle.gate.review",
    "GateVerdict": "invest.runtime.oracle.schemas",
    "Health": "invest.runtime.oracle.client.protocol",
    "HttpLLMClient": "invest.runtime.oracle.client.http",
    "JsonFileStore": "invest.runtime.oracle.store",
    "LLMAuthError": "invest.runtime.oracle.errors",
    "LLMClient": "invest.runtime.oracle.client.protocol",
    "LLMUnavailableError": "invest.runtime.oracle.errors",
    "ManagerOracle": "invest.runtime.oracle.manager.decide",
    "MarketRegime": "invest.runtime.oracle.schemas",
    "MemoryStore": "invest.runtime.oracle.store",
    "NewsConfig": "invest.runtime.config.oracle",
    "NewsDigest": "invest.runtime.oracle.news.items",
    "NewsUnavailableError": "invest.runtime.oracle.errors",
    "OfflineLLMClient": "invest.runtime.oracle.client.protocol",
    "OracleConfig": "invest.runtime.config.oracle",
    "OracleContext": "invest.runtime.oracle.context",
    "PortfolioSnapshot": "invest.runtime.oracle.context",
    "PositionSnapshot": "invest.runtime.oracle.context",
    "PreviousDecision": "invest.runtime.oracle.context",
    "RssNewsSource": "invest.runtime.oracle.news.sources",
    "Store": "invest.runtime.oracle.store",
    "SymbolSnapshot": "invest.runtime.oracle.context",
    "TradeAction": "invest.runtime.oracle.schemas",
    "UnavailablePolicy": "invest.runtime.config.oracle",
    "Usage": "invest.runtime.oracle.client.protocol",
    "Verdict": "invest.runtime.oracle.schemas",
    "YFinanceNewsSource": "invest.runtime.oracle.news.sources",
    "apply_verdicts": "invest.runtime.oracle.gate.review",
    "build_client": "invest.runtime.oracle.client.stack",
    "build_oracle": "invest.runtime.oracle.accounts",
    "cutoff_check": "invest.runtime.oracle.anonymise",
    "gather_news": "invest.runtime.oracle.news.sources",
    "prompt_hash": "invest.runtime.oracle.client.cache",
    "sources_from_config": "invest.runtime.oracle.news.sources",
    "vote": "invest.runtime.oracle.gate.review",
    "vote_actions": "invest.runtime.oracle.manager.decide",
}

__all__ = [
    "Action",
    "AuditRecord",
    "AuditTrail",
    "BudgetExceededError",
    "BudgetedLLMClient",
    "CacheMissError",
    "CachingLLMClient",
    "ChatRequest",
    "ChatResponse",
    "CutoffOverlap",
    "DailyBudget",
    "GateOracle",
    "GateVerdict",
    "Health",
    "HttpLLMClient",
    "JsonFileStore",
    "LLMAuthError",
    "LLMClient",
    "LLMUnavailableError",
    "ManagerOracle",
    "MarketRegime",
    "MemoryStore",
    "NewsConfig",
    "NewsDigest",
    "NewsUnavailableError",
    "OfflineLLMClient",
    "OracleConfig",
    "OracleContext",
    "PortfolioSnapshot",
    "PositionSnapshot",
    "PreviousDecision",
    "RssNewsSource",
    "Store",
    "SymbolSnapshot",
    "TradeAction",
    "UnavailablePolicy",
    "Usage",
    "Verdict",
    "YFinanceNewsSource",
    "apply_verdicts",
    "build_client",
    "build_oracle",
    "cutoff_check",
    "gather_news",
    "prompt_hash",
    "sources_from_config",
    "vote",
    "vote_actions",
]


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), name)
