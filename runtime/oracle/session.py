"""One oracle run: ask, audit everything, parse, and repair at most once.

Shared by the gate, the manager and the research agent. A failed request is
recorded and turns into ``None``; the caller decides what an absent answer means.
:class:`OracleBase` holds what the gate and the manager share: their
dependencies, and how a cycle's audit trail and session open;
:func:`build_account_oracle` builds either over an account's client stack.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from invest.runtime.config.oracle import OracleConfig
from invest.runtime.oracle.client.audit import AuditTrail
from invest.runtime.oracle.client.cache import prompt_hash
from invest.runtime.oracle.client.protocol import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    LLMClient,
    Usage,
)
from invest.runtime.oracle.client.stack import build_client
from invest.runtime.oracle.errors import LLMUnavailableError
from invest.runtime.oracle.store import JsonFileStore, Store

logger = logging.getLogger(__name__)

REPAIR_PROMPT = """Your answer could not be used:
{problems}
Reply again with only the JSON object in the format asked for, with no other text."""


class Parsed(Protocol):
    """What every parse result offers the session."""

    @property
    def problems(self) -> tuple[str, ...]:
        """Dropped items and their reasons."""
        ...

    @property
    def fatal(self) -> str | None:
        """Why the whole answer is unusable, or None."""
        ...

    @property
    def needs_repair(self) -> bool:
        """Whether a repair re-ask could help."""
        ...

    def audit(self) -> dict[str, Any]:
        """JSON-ready summary."""
        ...


P = TypeVar("P", bound=Parsed)


class OracleSession:
    """Ask the model and record every prompt, response, error and parse result.

    Args:
        client: the LLM client (usually caching, budgeted HTTP).
        config: the account's oracle settings.
        audit: where records go.
    """

    def __init__(self, client: LLMClient, config: OracleConfig, audit: AuditTrail) -> None:
        self.client = client
        self.config = config
        self.audit = audit
        self.usage = Usage()
        self.models: list[str] = []
        self.failures: list[str] = []
        self.unavailable = False

    @property
    def answered_by(self) -> tuple[str, ...]:
        """The models that answered, each once, in order."""
        return tuple(dict.fromkeys(self.models))

    @property
    def unavailable_note(self) -> str:
        """Why there was no answer: ``LLM unavailable: <the last error>``."""
        return "LLM unavailable: " + (self.failures[-1] if self.failures else "no answer")

    def request(self, messages: Sequence[ChatMessage], sample: int) -> ChatRequest:
        """The request for one sample (self-consistency samples differ by seed)."""
        temperature, seed = self.config.temperature, self.config.seed
        if self.config.self_consistency_k > 1:
            temperature, seed = self.config.sample_temperature, sample
        return ChatRequest(
            messages=tuple(messages),
            temperature=temperature,
            max_tokens=self.config.max_tokens,
            seed=seed,
            expect_json=True,
            json_mode=self.config.response_format_json,
        )

    def ask(
        self, purpose: str, messages: Sequence[ChatMessage], sample: int
    ) -> ChatResponse | None:
        """One answer, or None when the model is unavailable (recorded as an error)."""
        request = self.request(messages, sample)
        key = prompt_hash(self.client.model, request)
        self.audit.record(
            "prompt",
            purpose=purpose,
            sample=sample,
            prompt_hash=key,
            model=self.client.model,
            params=request.params(),
            messages=list(request.messages),
        )
        try:
            response = self.client.complete(request)
        except LLMUnavailableError as e:
            self.unavailable = True
            self.failures.append(str(e))
            logger.warning("oracle %s unavailable: %s", purpose, e)
            self.audit.record(
                "error", purpose=purpose, sample=sample, prompt_hash=key, error=str(e)
            )
            return None
        self.usage += Usage() if response.cached else response.usage
        self.models.append(response.model)
        self.audit.record(
            "response",
            purpose=purpose,
            sample=sample,
            prompt_hash=key,
            model=response.model,
            content=response.content,
            usage=response.usage.as_dict(),
            cached=response.cached,
            latency_s=round(response.latency_s, 3),
            attempts=response.attempts,
            notes=list(response.notes),
            truncated=response.truncated,
        )
        return response

    def ask_parsed(
        self,
        purpose: str,
        messages: Sequence[ChatMessage],
        parse: Callable[[str], P],
        *,
        sample: int = 0,
        combine: Callable[[P, P], P] | None = None,
    ) -> P | None:
        """Ask, parse, and when the answer needs it, re-ask once quoting the problems.

        Args:
            purpose: label in the audit (``gate``, ``analysis``, ``decisions``).
            messages: the conversation.
            parse: text -> parse result; must not raise.
            sample: self-consistency sample number.
            combine: merge the first and the repaired result (default: the repaired
                one when it is usable, else the first).

        Returns:
            The parse result, or None when the model was unavailable.
        """
        response = self.ask(purpose, messages, sample)
        if response is None:
            return None
        first = parse(response.content)
        self.audit.record("parse", purpose=purpose, sample=sample, **first.audit())
        if not first.needs_repair or not self.config.repair:
            return first
        problems = [first.fatal] if first.fatal else []
        problems += list(first.problems)
        fix = repair_messages(messages, response.content, problems)
        repaired = self.ask(f"{purpose}.repair", fix, sample)
        if repaired is None:
            return first
        second = parse(repaired.content)
        self.audit.record("parse", purpose=f"{purpose}.repair", sample=sample, **second.audit())
        if combine is not None:
            return combine(first, second)
        return first if second.needs_repair and not first.fatal else second


def repair_messages(
    messages: Sequence[ChatMessage], answer: str, problems: Sequence[str]
) -> tuple[ChatMessage, ...]:
    """The conversation again, with the unusable answer and what was wrong with it."""
    listed = "\n".join(f"- {p}" for p in problems[:20]) or "- no JSON object found"
    return (
        *messages,
        {"role": "assistant", "content": answer[:4000]},
        {"role": "user", "content": REPAIR_PROMPT.format(problems=listed)},
    )


class OracleBase:
    """An account's LLM oracle.

    Args:
        config: the account's oracle settings.
        client: the LLM client (see :func:`~invest.runtime.oracle.client.stack.build_client`).
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


OracleT = TypeVar("OracleT", bound=OracleBase)


def build_account_oracle(
    cls: type[OracleT],
    config: OracleConfig,
    account: str,
    home: Path,
    *,
    now: Callable[[], datetime],
    replay_only: bool = False,
    store: Store | None = None,
) -> OracleT:
    """An account's ``cls`` oracle over the cached, budgeted client of :func:`build_client`.

    Args:
        cls: :class:`GateOracle` or :class:`ManagerOracle`.
        config: the account's oracle settings.
        account: the account name (budgets and audits are per account).
        home: the data directory; each cycle's audit file goes to ``home/oracle/cycles``.
        now: the clock.
        replay_only: never call the LLM; a prompt not in the cache counts as unavailable.
        store: cache, audit and usage storage (default: JSON files in ``home/oracle``).
    """
    store = store or JsonFileStore(home / "oracle")
    client = build_client(config, store, account=account, now=now, replay_only=replay_only)
    return cls(
        config, client, store, account=account, now=now, audit_dir=home / "oracle" / "cycles"
    )
