"""Strategies: market + account state -> Proposal. Registry by config name."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from invest.runtime.config import AccountConfig
from invest.runtime.config.context import ContextConfig
from invest.runtime.errors import ConfigError, PolicyPackError
from invest.runtime.policy.state import StateStore
from invest.runtime.strategies.base import Strategy
from invest.runtime.strategies.hybrid import Hybrid
from invest.runtime.strategies.rl_ensemble import RLEnsemble
from invest.runtime.strategies.trend_king import TrendKing
from invest.runtime.strategies.vertical_spreads import VerticalSpreads
from invest.runtime.strategies.wheel import Wheel

__all__ = [
    "STRATEGIES",
    "Hybrid",
    "RLEnsemble",
    "Strategy",
    "TrendKing",
    "VerticalSpreads",
    "Wheel",
    "build_options_strategy",
    "build_strategy",
    "rl_strategy",
]

STRATEGIES = ("trend_king", "rl_ensemble", "hybrid", "llm_manager", "wheel", "vertical_spreads")

if TYPE_CHECKING:
    from invest.runtime.ledger import Ledger
    from invest.runtime.options.plan import OptionsStrategy
    from invest.runtime.oracle.accounts import Mode
    from invest.runtime.oracle.store import Store
    from invest.runtime.policy.ensemble import Ensemble
    from invest.runtime.policy.pack import Pack

logger = logging.getLogger(__name__)


def build_strategy(
    cfg: AccountConfig,
    *,
    packs_dir: Path | None = None,
    state_store: StateStore | None = None,
    real_money: bool = False,
    context: ContextConfig | None = None,
) -> Strategy:
    """The strategy object for an account config.

    ``context`` is the ``[context]`` section (trend_king's VIX filter reads it).
    ``real_money`` says the account's orders reach a live broker endpoint: an RL pack
    must then have passed its promotion gate, unless ``rl.allow_unpromoted`` accepts it.

    Raises:
        PolicyPackError: an RL strategy's pack is missing, tampered, for another feature
            spec, or unpromoted on a real-money account.
        ConfigError: ``llm_manager``, which needs the account's name, data directory and
            clock: build it with ``strategies.llm_manager.build_llm_manager`` and pass it to
            ``AccountRuntime.build(strategy=...)``.
    """
    if cfg.strategy == "llm_manager":
        raise ConfigError(
            "llm_manager is built with build_llm_manager(cfg, name, home, now=...) "
            "and passed to AccountRuntime.build(strategy=...)"
        )
    if cfg.trades_options:
        raise ConfigError(
            f"{cfg.strategy} is an options strategy: build it with build_options_strategy(cfg) "
            "and run it with the options cycle (invest.runtime.options_cycle)"
        )
    if cfg.strategy == "trend_king":
        return TrendKing(
            cfg.trend_king,
            cfg.universe,
            cfg.benchmark,
            dynamic=cfg.dynamic_universe,
            context=context,
            portfolio=cfg.portfolio,
        )
    from invest.runtime.policy.contract import universe_problem
    from invest.runtime.policy.pack import load_pack, resolve_pack
    from invest.runtime.policy.state import MemoryStateStore

    pack = load_pack(resolve_pack(cfg.rl.pack, packs_dir))
    why = universe_problem(cfg.universe, pack.min_universe)
    if why is not None:
        raise ConfigError(f"model pack {pack.name!r} cannot serve this universe: {why}")
    if real_money:
        _check_promotion(cfg, pack)
    store = state_store if state_store is not None else MemoryStateStore()
    return rl_strategy(cfg, pack, store, context=context)


def build_options_strategy(
    cfg: AccountConfig,
    *,
    mode: Mode | None = None,
    name: str | None = None,
    home: Path | None = None,
    now: Callable[[], datetime] | None = None,
    ledger: Ledger | None = None,
    store: Store | None = None,
) -> OptionsStrategy:
    """The options strategy of an options account (``wheel``, ``vertical_spreads``).

    With an oracle section it is the LLM variant: the rules strategy wrapped in
    :class:`~invest.runtime.oracle.options.review.LLMOptionsStrategy`, unless ``mode`` is
    ``"off"`` (the rules version). ``"replay"`` answers from the cache only (a miss
    follows ``on_unavailable``); ``"live"`` asks the server. The LLM variant needs the
    account's ``name``, the data directory ``home`` and the clock ``now``; with a
    ``ledger`` its prompts, answers and verdicts are audited there (as the gate's).

    Raises:
        ConfigError: the account is not an options account, or it has an oracle section
            and ``mode`` (or ``name``, ``home``, ``now``) was not given: an LLM variant
            is never quietly run as its rules version.
    """
    opts = cfg.options
    if not cfg.trades_options or opts is None:
        raise ConfigError(f"strategy {cfg.strategy!r} is not an options strategy")
    rules: OptionsStrategy
    if cfg.strategy == "wheel":
        rules = Wheel(opts.wheel_params(), cfg.universe)
    else:
        rules = VerticalSpreads(opts.spreads_params(), cfg.universe)
    if cfg.oracle is None or mode == "off":
        return rules
    if mode is None or name is None or home is None or now is None:
        raise ConfigError(
            f"the {cfg.strategy} account has an oracle section (its LLM variant): build it "
            "with build_options_strategy(cfg, mode=..., name=..., home=..., now=...)"
        )
    # Imported here: the oracle stack (httpx, the cache) loads only for an LLM variant.
    from invest.runtime.oracle.accounts import ledger_oracle_store
    from invest.runtime.oracle.options.review import build_llm_options

    return build_llm_options(
        rules,
        cfg.oracle,
        name,
        home,
        now=now,
        replay_only=mode == "replay",
        store=store or ledger_oracle_store(ledger),
    )


def rl_strategy(
    cfg: AccountConfig,
    pack: Pack | Ensemble,
    store: StateStore,
    *,
    context: ContextConfig | None = None,
) -> Strategy:
    """The ``rl_ensemble`` or ``hybrid`` strategy of ``cfg`` on ``pack`` (any ensemble).

    ``context`` is the ``[context]`` section (hybrid's trend_king reads it for its VIX filter;
    the policies' observations read it when the pack declares a context block).
    """
    if cfg.strategy == "rl_ensemble":
        tk = cfg.trend_king
        return RLEnsemble(
            cfg.rl,
            cfg.universe,
            cfg.benchmark,
            pack,
            store,
            regime_symbol=tk.regime_symbol,
            sma_window=tk.sma_window,
            hysteresis=tk.hysteresis,
            context=context,
        )
    return Hybrid(
        cfg.trend_king,
        cfg.rl,
        cfg.universe,
        cfg.benchmark,
        pack,
        store,
        dynamic=cfg.dynamic_universe,
        context=context,
        portfolio=cfg.portfolio,
    )


def _check_promotion(cfg: AccountConfig, pack: Pack) -> None:
    """Refuse an unpromoted pack for real money unless the account accepts it explicitly."""
    promo = pack.manifest.promotion
    if promo is not None and promo.passed:
        return
    why = f"({promo.rule})" if promo is not None and promo.rule else "(no promotion record)"
    if not cfg.rl.allow_unpromoted:
        raise PolicyPackError(
            f"pack {pack.name!r} did not pass its promotion gate {why} and this account "
            "trades real money: use a pack that passed (`invest models show`), or set "
            "rl.allow_unpromoted = true to accept it"
        )
    logger.warning(
        "pack %r did not pass its promotion gate %s; trading real money with it because "
        "rl.allow_unpromoted = true",
        pack.name,
        why,
    )
