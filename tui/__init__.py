"""Invest TUI: the Textual app opened by `invest` with no arguments."""
