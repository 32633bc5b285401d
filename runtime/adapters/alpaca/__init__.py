"""Alpaca: the broker (Trading API v2), the market data provider and their shared parsing.

Settings: :class:`invest.runtime.config.alpaca.AlpacaConfig`. alpaca-py is imported
at first use.
"""
