"""Strategies: market + account state -> Proposal. Registry by config name."""

from __future__ import annotations

from invest.runtime.config import AccountConfig
from invest.runtime.strategies.base import Strategy
from invest.runtime.strategies.trend_king import TrendKing

__all__ = ["STRATEGIES", "Strategy", "TrendKing", "build_strategy"]

STRATEGIES = ("trend_king",)


def build_strategy(cfg: AccountConfig) -> Strategy:
    """The strategy object for an account config."""
    return TrendKing(cfg.trend_king, cfg.universe, cfg.benchmark)
