"""Yahoo Finance: the ``yfinance`` market data provider and the parsing of its answers.

yfinance is imported at first use.
"""
