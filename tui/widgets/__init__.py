"""Widgets shared by several screens (a screen's own widgets live in its module)."""
