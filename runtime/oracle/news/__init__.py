"""Headlines for the oracle: ``items.py`` (parsed, tagged, deduplicated, point in time)
and ``sources.py`` (RSS feeds and yfinance, gathered without ever raising)."""
