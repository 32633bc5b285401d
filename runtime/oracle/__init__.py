"""The LLM oracle: a gate that may veto or shrink proposed buys, or a two-pass manager.

Built so that a wrong or absent model can never hurt the portfolio: the gate
only ever lowers proposed buys, and anything unusable follows
``on_unavailable`` (fail-closed by default).

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
    from invest.runtime.oracle.anonymise import (
        CutoffCheck,
        CutoffOverlap,
        cutoff_check,
    )
    from invest.runtime.oracle.audit import (
        AuditTrail,
    )
    from invest.runtime.oracle.budget import (
        BudgetedLLMClient,
        BudgetStatus,
        DailyBudget,
    )
    from invest.runtime.oracle.cache import (
        CachingLLMClient,
        prompt_hash,
    )
    from invest.runtime.oracle.client import (
        ChatMessage,
        ChatRequest,
        ChatResponse,
        Health,
        LLMClient,
        OfflineLLMClient,
        Usage,
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
        OracleError,
    )
    from invest.runtime.oracle.factory import (
        build_client,
        build_oracle,
    )
    from invest.runtime.oracle.gate import (
        GateOutcome,
        VerdictRecord,
        apply_verdicts,
        vote,
    )
    from invest.runtime.oracle.gate_oracle import (
        GateOracle,
        GateResult,
    )
    from invest.runtime.oracle.http_client import (
        HttpLLMClient,
    )
    from invest.runtime.oracle.manager import (
        ManagerOracle,
        ManagerResult,
        vote_actions,
    )
    from invest.runtime.oracle.news import (
        NewsDigest,
        NewsItem,
    )
    from invest.runtime.oracle.news_sources import (
        NewsSource,
        RssNewsSource,
        YFinanceNewsSource,
        gather_news,
        sources_from_config,
    )
    from invest.runtime.oracle.schemas import (
        Action,
        GateVerdict,
        MarketAnalysis,
        MarketRegime,
        TradeAction,
        Verdict,
    )
    from invest.runtime.oracle.store import (
        AuditRecord,
        JsonFileStore,
        MemoryStore,
        Store,
        UsageTotals,
    )

# Names resolve on first use (PEP 562): importing the config model must not pull in
# httpx, feedparser and every oracle module.
_EXPORTS: dict[str, str] = {
    "Action": "invest.runtime.oracle.schemas",
    "AuditRecord": "invest.runtime.oracle.store",
    "AuditTrail": "invest.runtime.oracle.audit",
    "BudgetExceededError": "invest.runtime.oracle.errors",
    "BudgetStatus": "invest.runtime.oracle.budget",
    "BudgetedLLMClient": "invest.runtime.oracle.budget",
    "CacheMissError": "invest.runtime.oracle.errors",
    "CachingLLMClient": "invest.runtime.oracle.cache",
    "ChatMessage": "invest.runtime.oracle.client",
    "ChatRequest": "invest.runtime.oracle.client",
    "ChatResponse": "invest.runtime.oracle.client",
    "CutoffCheck": "invest.runtime.oracle.anonymise",
    "CutoffOverlap": "invest.runtime.oracle.anonymise",
    "DailyBudget": "invest.runtime.oracle.budget",
    "GateOracle": "invest.runtime.oracle.gate_oracle",
    "GateOutcome": "invest.runtime.oracle.gate",
    "GateResult": "invest.runtime.oracle.gate_oracle",
    "GateVerdict": "invest.runtime.oracle.schemas",
    "Health": "invest.runtime.oracle.client",
    "HttpLLMClient": "invest.runtime.oracle.http_client",
    "JsonFileStore": "invest.runtime.oracle.store",
    "LLMAuthError": "invest.runtime.oracle.errors",
    "LLMClient": "invest.runtime.oracle.client",
    "LLMUnavailableError": "invest.runtime.oracle.errors",
    "ManagerOracle": "invest.runtime.oracle.manager",
    "ManagerResult": "invest.runtime.oracle.manager",
    "MarketAnalysis": "invest.runtime.oracle.schemas",
    "MarketRegime": "invest.runtime.oracle.schemas",
    "MemoryStore": "invest.runtime.oracle.store",
    "NewsConfig": "invest.runtime.config.oracle",
    "NewsDigest": "invest.runtime.oracle.news",
    "NewsItem": "invest.runtime.oracle.news",
    "NewsSource": "invest.runtime.oracle.news_sources",
    "NewsUnavailableError": "invest.runtime.oracle.errors",
    "OfflineLLMClient": "invest.runtime.oracle.client",
    "OracleConfig": "invest.runtime.config.oracle",
    "OracleContext": "invest.runtime.oracle.context",
    "OracleError": "invest.runtime.oracle.errors",
    "PortfolioSnapshot": "invest.runtime.oracle.context",
    "PositionSnapshot": "invest.runtime.oracle.context",
    "PreviousDecision": "invest.runtime.oracle.context",
    "RssNewsSource": "invest.runtime.oracle.news_sources",
    "Store": "invest.runtime.oracle.store",
    "SymbolSnapshot": "invest.runtime.oracle.context",
    "TradeAction": "invest.runtime.oracle.schemas",
    "UnavailablePolicy": "invest.runtime.config.oracle",
    "Usage": "invest.runtime.oracle.client",
    "UsageTotals": "invest.runtime.oracle.store",
    "Verdict": "invest.runtime.oracle.schemas",
    "VerdictRecord": "invest.runtime.oracle.gate",
    "YFinanceNewsSource": "invest.runtime.oracle.news_sources",
    "apply_verdicts": "invest.runtime.oracle.gate",
    "build_client": "invest.runtime.oracle.factory",
    "build_oracle": "invest.runtime.oracle.factory",
    "cutoff_check": "invest.runtime.oracle.anonymise",
    "gather_news": "invest.runtime.oracle.news_sources",
    "prompt_hash": "invest.runtime.oracle.cache",
    "sources_from_config": "invest.runtime.oracle.news_sources",
    "vote": "invest.runtime.oracle.gate",
    "vote_actions": "invest.runtime.oracle.manager",
}

__all__ = [
    "Action",
    "AuditRecord",
    "AuditTrail",
    "BudgetExceededError",
    "BudgetStatus",
    "BudgetedLLMClient",
    "CacheMissError",
    "CachingLLMClient",
    "ChatMessage",
    "ChatRequest",
    "ChatResponse",
    "CutoffCheck",
    "CutoffOverlap",
    "DailyBudget",
    "GateOracle",
    "GateOutcome",
    "GateResult",
    "GateVerdict",
    "Health",
    "HttpLLMClient",
    "JsonFileStore",
    "LLMAuthError",
    "LLMClient",
    "LLMUnavailableError",
    "ManagerOracle",
    "ManagerResult",
    "MarketAnalysis",
    "MarketRegime",
    "MemoryStore",
    "NewsConfig",
    "NewsDigest",
    "NewsItem",
    "NewsSource",
    "NewsUnavailableError",
    "OfflineLLMClient",
    "OracleConfig",
    "OracleContext",
    "OracleError",
    "PortfolioSnapshot",
    "PositionSnapshot",
    "PreviousDecision",
    "RssNewsSource",
    "Store",
    "SymbolSnapshot",
    "TradeAction",
    "UnavailablePolicy",
    "Usage",
    "UsageTotals",
    "Verdict",
    "VerdictRecord",
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
