"""The footer of every screen: compact, and without the palette key when narrow."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.widgets import Footer

#: The screen keys share one footer entry (``tPvOobml views``) so that the steering
#: keys and q still fit in an 80-column footer; each key's tooltip names its screen.
#: (Labelled "views", not "screens": with the options key, "screens" left q past column 80.)
#: The overview's view keys (trades, P&L, preview, options) come last in its bindings and the
#: app's screen keys first in its, so the footer shows them as one group.
SCREENS = Binding.Group("views", compact=True)

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
