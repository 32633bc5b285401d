"""The footer of every screen: compact, and without the palette key when narrow."""

from __future__ import annotations

from textual import events
from textual.widgets import Footer

#: Below this width the footer leaves out ``^p palette`` (ctrl+p still opens it), so
#: that the steering keys, ``H``, ``U`` and ``q`` fit in 80 columns.
PALETTE_MIN_WIDTH = 100


class KeysFooter(Footer):
    """A compact footer that gives the palette's place to the screen's own keys when narrow."""

    def __init__(self) -> None:
        super().__init__(compact=True)

    def on_resize(self, event: events.Resize) -> None:
        """Show or hide the palette key for the new width."""
        show = event.size.width >= PALETTE_MIN_WIDTH
        if show != self.show_command_palette:
            self.show_command_palette = show
            self.call_after_refresh(self.recompose)
