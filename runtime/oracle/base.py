"""What the gate and the manager share: their dependencies and how a cycle's audit opens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from invest.runtime.config.oracle import OracleConfig
from invest.runtime.oracle.audit import AuditTrail
from invest.runtime.oracle.client import LLMClient
from invest.runtime.oracle.session import OracleSession
from invest.runtime.oracle.store import Store


class OracleBase:
    """An account's LLM oracle.

    Args:
        config: the account's oracle settings.
        client: the LLM client (see :func:`~invest.runtime.oracle.factory.build_client`).
        store: where audit records go.
        account: the account name.
        now: the clock.
        audit_dir: folder for the per-cycle audit JSON file, or None.
    """

    def __init__(
        self,
        config: OracleConfig,
        client: LLMClient,
        store: Store,
        *,
        account: str,
        now: Callable[[], datetime],
        audit_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.client = client
        self.store = store
        self.account = account
        self.audit_dir = audit_dir
        self._now = now

    def _open(self, cycle_id: str) -> tuple[AuditTrail, OracleSession]:
        """The audit trail of ``cycle_id`` and an LLM session that writes to it."""
        audit = AuditTrail(
            self.store,
            cycle_id=cycle_id,
            account=self.account,
            now=self._now,
            directory=self.audit_dir,
        )
        return audit, OracleSession(self.client, self.config, audit)
