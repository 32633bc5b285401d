"""The TUI's screens; each module holds one screen and the widgets only it uses."""
