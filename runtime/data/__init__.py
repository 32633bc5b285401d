"""Market data: the :class:`MarketData` interface, :class:`BarFrame`, providers and their registry.

Open a provider with :func:`open_source`::

    open_source("sample")                      # bundled real data, offline
    open_source("csv:/srv/prices")             # your CSV file or folder of SYMBOL.csv
    open_source("yfinance", cache_dir=cache)   # Yahoo Finance, cached in SQLite
    open_source("alpaca", cache_dir=cache, api_key=..., secret_key=...)

The online providers are venue adapters (:mod:`invest.runtime.adapters.yahoo`,
:mod:`invest.runtime.adapters.alpaca`), a layer above this package. The registry
names them as ``"module:attribute"`` strings (``_ONLINE``) and imports one only
when it is opened, so this package never imports an adapter (nor yfinance or
alpaca-py, which each adapter imports at its first load), and the adapters use
:class:`BarFrame` and :class:`MarketData` from here without a cycle.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any, TypeVar, cast

from invest.runtime.data.base import MarketData
from invest.runtime.data.cache import BarCache, CachedMarketData
from invest.runtime.data.csv import CsvData
from invest.runtime.data.frame import BarFrame
from invest.runtime.data.sample import SampleData
from invest.runtime.errors import DataError

__all__ = [
    "CACHE_FILE",
    "SPEC_FORMS",
    "BarCache",
    "BarFrame",
    "CachedMarketData",
    "CsvData",
    "MarketData",
    "SampleData",
    "open_source",
]

SPEC_FORMS = ("sample", "csv:PATH", "yfinance", "alpaca")
CACHE_FILE = "bars.sqlite"
#: The online providers by name: ``"module:attribute"`` of the adapter's class,
#: imported when the source is opened (see the module docstring).
_ONLINE: dict[str, str] = {
    "yfinance": "invest.runtime.adapters.yahoo.data:YFinanceData",
    "alpaca": "invest.runtime.adapters.alpaca.data:AlpacaData",
}
T = TypeVar("T")


def _construct(kind: str, cls: type[T], *args: Any, **kwargs: Any) -> T:
    """``cls(*args, **kwargs)``, with a DataError naming the options when they do not fit."""
    try:
        inspect.signature(cls).bind(*args, **kwargs)
    except TypeError as e:
        params = [
            p.name
            for p in inspect.signature(cls).parameters.values()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "path"
        ]
        accepted = ", ".join(params) if params else "none"
        raise DataError(
            f"bad options for data source {kind!r}: {e}; accepted options: {accepted}"
        ) from None
    return cls(*args, **kwargs)


def _online_class(kind: str) -> type[MarketData]:
    """The adapter class of online provider ``kind``, imported now."""
    module, _, attr = _ONLINE[kind].partition(":")
    return cast(type[MarketData], getattr(importlib.import_module(module), attr))


def open_source(spec: str, *, cache_dir: Path | None = None, **provider_kwargs: Any) -> MarketData:
    """Open the market data provider named by ``spec``.

    Args:
        spec: ``sample``, ``csv:PATH``, ``yfinance`` or ``alpaca`` (the name is
            case-insensitive; a PATH starting with ``~`` is expanded).
        cache_dir: when given, online providers (yfinance, alpaca) are wrapped in
            a :class:`CachedMarketData` backed by ``cache_dir / "bars.sqlite"``.
            Offline sources are never cached (reading them is already local).
        **provider_kwargs: options for the provider's constructor, for example
            ``adjusted=True`` for csv or ``api_key``/``secret_key``/``feed`` for alpaca.

    Raises:
        DataError: the spec is not one of the valid forms, or an option does not
            fit the provider.
        ConfigError: a provider option has an invalid value (an Alpaca key missing...).
    """
    text = spec.strip()
    kind, sep, arg = text.partition(":")
    kind = kind.strip().lower()
    if kind == "sample" and not sep:
        return _construct(kind, SampleData, **provider_kwargs)
    if kind == "csv" and sep:
        if not arg.strip():
            raise DataError("data source 'csv:' needs a path, as in csv:/srv/prices.csv")
        return _construct(kind, CsvData, Path(arg.strip()), **provider_kwargs)
    if kind in _ONLINE and not sep:
        inner = _construct(kind, _online_class(kind), **provider_kwargs)
        if cache_dir is None:
            return inner
        return CachedMarketData(inner, BarCache(Path(cache_dir) / CACHE_FILE))
    raise DataError(
        f"unknown data source {spec!r}; use one of: {', '.join(SPEC_FORMS)} "
        f"(for example csv:/srv/prices.csv)"
    )
