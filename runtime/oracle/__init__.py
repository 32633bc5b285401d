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

from invest.runtime.oracle.anonymise import CutoffCheck, CutoffOverlap, cutoff_check
from invest.runtime.oracle.audit import AuditTrail
from invest.runtime.oracle.budget import BudgetedLLMClient, BudgetStatus, DailyBudget
from invest.runtime.oracle.cache import CachingLLMClient, prompt_hash
from invest.runtime.oracle.client import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    Health,
    LLMClient,
    OfflineLLMClient,
    Usage,
)
from invest.runtime.oracle.config import NewsConfig, OracleConfig, UnavailablePolicy
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
from invest.runtime.oracle.factory import build_client, build_oracle
from invest.runtime.oracle.gate import GateOutcome, VerdictRecord, apply_verdicts, vote
from invest.runtime.oracle.gate_oracle import GateOracle, GateResult
from invest.runtime.oracle.http_client import HttpLLMClient
from invest.runtime.oracle.manager import ManagerOracle, ManagerResult, vote_actions
from invest.runtime.oracle.news import NewsDigest, NewsItem
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
from invest.runtime.oracle.store import AuditRecord, JsonFileStore, MemoryStore, Store, UsageTotals

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
