"""Options: contracts and OCC symbols, chains and their sources, Black-Scholes-Merton
pricing, strike selection and multi-leg structures.

Pure Python and numpy (no scipy, no torch). The chain sources that call a venue
live in :mod:`invest.runtime.adapters`; this package only defines what they return.
"""
