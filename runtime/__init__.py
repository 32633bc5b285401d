"""Invest appliance runtime: the lean package that trades (no torch, no textual)."""

__version__ = "0.1.0"
