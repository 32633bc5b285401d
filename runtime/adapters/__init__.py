"""Venue adapters: one folder per venue, the same file names in each.

* ``broker.py``: the :class:`~invest.runtime.brokers.base.Broker` of the venue;
* ``data.py``: its :class:`~invest.runtime.data.base.MarketData` provider;
* ``parsing.py``: the venue's answers as our types (pure functions, tested against
  recorded responses) and its errors as ours.

:mod:`.alpaca` has all three, :mod:`.yahoo` has data and parsing. The venue's library
is imported at first use. A venue's settings are not here but in
:mod:`invest.runtime.config` (``config.alpaca``): the config is loaded by every
command and must not drag an adapter in. The data registry
(:func:`invest.runtime.data.open_source`) names the providers by module path and
imports one when it is opened; :mod:`invest.runtime.cycle` builds the Alpaca broker.
"""
