"""systemd's notify protocol (``Type=notify``, ``WatchdogSec``), with the standard library only.

When ``NOTIFY_SOCKET`` is set (systemd started us), :class:`SystemdNotifier` sends
``READY=1`` once the engine is up, ``WATCHDOG=1`` from the main loop (at most
every half ``WATCHDOG_USEC``) and ``STOPPING=1`` on shutdown. Without it (Supervisor,
Docker, a shell) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

__all__ = ["SystemdNotifier"]

logger = logging.getLogger(__name__)


class SystemdNotifier:
    """Sends state lines to systemd's notify socket.

    Args:
        env: the environment to read ``NOTIFY_SOCKET`` and ``WATCHDOG_USEC`` from.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        path = env.get("NOTIFY_SOCKET", "")
        # An abstract socket is written with a leading "@"; the kernel wants a NUL there.
        self.address = ("\0" + path[1:]) if path.startswith("@") else path
        usec = env.get("WATCHDOG_USEC", "")
        self.watchdog_s = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else 10.0
        self._last_watchdog = 0.0

    @property
    def enabled(self) -> bool:
        """True when systemd is listening."""
        return bool(self.address)

    def notify(self, state: str) -> bool:
        """Send ``state`` (e.g. ``READY=1``); False when disabled or the send failed."""
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.connect(self.address)
                s.sendall(state.encode())
        except OSError as e:
            logger.warning("systemd notify %r failed: %s", state, e)
            return False
        return True

    def ready(self) -> bool:
        """Tell systemd the engine is up."""
        return self.notify("READY=1")

    def stopping(self) -> bool:
        """Tell systemd the engine is shutting down."""
        return self.notify("STOPPING=1")

    def watchdog(self) -> bool:
        """Pet the watchdog, at most every half watchdog interval."""
        now = time.monotonic()
        if not self.address or now - self._last_watchdog < self.watchdog_s:
            return False
        self._last_watchdog = now
        return self.notify("WATCHDOG=1")
