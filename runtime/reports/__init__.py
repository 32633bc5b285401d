"""Reports people look at: the house chart style, one self-contained HTML page, the tearsheet.

Presentation only, beside ``explain``: it reads plain values (arrays, dicts, fills),
never a backtest object, so the backtester, the notifiers and the commands can all
draw with it. matplotlib (the ``reports`` extra) is imported only when a chart is made.
"""
