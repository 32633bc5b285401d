"""What the TUI reads and whom it asks: the ledger (read-only), the engine's control
channel, the engine log, model packs and the backtester.

Everything here blocks (files, sockets, CPU) and is called from ``@work`` thread
workers only, never from the event loop. Heavy libraries (pandas, onnxruntime,
exchange-calendars) are imported inside the functions that need them.
"""
