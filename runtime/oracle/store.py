"""Where the oracle keeps its response cache, audit records and token usage.

:class:`Store` is the interface; :class:`MemoryStore` (tests, backtests),
:class:`JsonFileStore` (a folder of JSON files) and
:class:`~invest.runtime.oracle.ledger_store.LedgerOracleStore` (the ledger) implement it. Every value passes through JSON, so a record that a
file store could not hold fails in tests too.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

JsonDict = dict[str, Any]


def to_jsonable(value: Any) -> Any:
    """Turn Decimals, datetimes, enums, tuples and dataclass-like values into JSON types."""
    return json.loads(json.dumps(value, default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if hasattr(value, "as_dict"):
        return value.as_dict()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def safe_name(text: str) -> str:
    """A file-name-safe version of an id (cycle ids may contain ':' or '/')."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:120] or "_"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One thing the oracle did: a prompt, a response, a parse result, a verdict."""

    cycle_id: str
    account: str
    kind: str
    at: datetime
    data: JsonDict

    def as_dict(self) -> JsonDict:
        """Plain JSON-ready dict."""
        return {
            "cycle_id": self.cycle_id,
            "account": self.account,
            "kind": self.kind,
            "at": self.at.isoformat(),
            "data": to_jsonable(self.data),
        }

    @classmethod
    def from_dict(cls, raw: JsonDict) -> AuditRecord:
        """Inverse of :meth:`as_dict`."""
        return cls(
            cycle_id=str(raw["cycle_id"]),
            account=str(raw["account"]),
            kind=str(raw["kind"]),
            at=datetime.fromisoformat(str(raw["at"])),
            data=dict(raw["data"]),
        )


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """Tokens and cost spent by one account on one day."""

    tokens: int = 0
    cost_usd: float = 0.0


@runtime_checkable
class Store(Protocol):
    """Persistence the oracle needs (cache, audit, usage)."""

    def cache_get(self, key: str) -> JsonDict | None:
        """The cached response stored under a prompt hash, or None."""
        ...

    def cache_put(self, key: str, value: JsonDict) -> None:
        """Store a response under a prompt hash (last write wins)."""
        ...

    def audit_append(self, record: AuditRecord) -> None:
        """Append one audit record."""
        ...

    def audit_records(self, cycle_id: str) -> list[AuditRecord]:
        """All audit records of a cycle, in the order they were written."""
        ...

    def usage_add(self, account: str, day: date, tokens: int, cost_usd: float) -> None:
        """Add spent tokens and cost to an account's day."""
        ...

    def usage_get(self, account: str, day: date) -> UsageTotals:
        """Tokens and cost an account spent on a day."""
        ...


class MemoryStore:
    """A :class:`Store` in memory, for tests and backtests."""

    def __init__(self) -> None:
        self.cache: dict[str, JsonDict] = {}
        self.audit: list[AuditRecord] = []
        self.usage: dict[tuple[str, date], UsageTotals] = {}

    def cache_get(self, key: str) -> JsonDict | None:
        value = self.cache.get(key)
        return None if value is None else to_jsonable(value)

    def cache_put(self, key: str, value: JsonDict) -> None:
        self.cache[key] = to_jsonable(value)

    def audit_append(self, record: AuditRecord) -> None:
        self.audit.append(AuditRecord.from_dict(record.as_dict()))

    def audit_records(self, cycle_id: str) -> list[AuditRecord]:
        return [r for r in self.audit if r.cycle_id == cycle_id]

    def usage_add(self, account: str, day: date, tokens: int, cost_usd: float) -> None:
        old = self.usage_get(account, day)
        self.usage[(account, day)] = UsageTotals(old.tokens + tokens, old.cost_usd + cost_usd)

    def usage_get(self, account: str, day: date) -> UsageTotals:
        return self.usage.get((account, day), UsageTotals())


class JsonFileStore:
    """A :class:`Store` in a folder: ``cache/<hash>.json``, ``audit/<cycle>.jsonl``, ``usage.json``.

    One writer (the engine) at a time; each file is replaced atomically.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "cache").mkdir(parents=True, exist_ok=True)
        (root / "audit").mkdir(parents=True, exist_ok=True)

    def cache_get(self, key: str) -> JsonDict | None:
        path = self.root / "cache" / f"{safe_name(key)}.json"
        if not path.exists():
            return None
        value: JsonDict = json.loads(path.read_text(encoding="utf-8"))
        return value

    def cache_put(self, key: str, value: JsonDict) -> None:
        write_json_atomic(self.root / "cache" / f"{safe_name(key)}.json", value)

    def audit_append(self, record: AuditRecord) -> None:
        path = self.root / "audit" / f"{safe_name(record.cycle_id)}.jsonl"
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record.as_dict(), sort_keys=True) + "\n")

    def audit_records(self, cycle_id: str) -> list[AuditRecord]:
        path = self.root / "audit" / f"{safe_name(cycle_id)}.jsonl"
        if not path.exists():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        records = [AuditRecord.from_dict(json.loads(line)) for line in lines if line]
        return [r for r in records if r.cycle_id == cycle_id]

    def usage_add(self, account: str, day: date, tokens: int, cost_usd: float) -> None:
        table = self._usage_table()
        old = table.get(f"{account}|{day.isoformat()}", {"tokens": 0, "cost_usd": 0.0})
        table[f"{account}|{day.isoformat()}"] = {
            "tokens": int(old["tokens"]) + tokens,
            "cost_usd": float(old["cost_usd"]) + cost_usd,
        }
        write_json_atomic(self.root / "usage.json", table)

    def usage_get(self, account: str, day: date) -> UsageTotals:
        row = self._usage_table().get(f"{account}|{day.isoformat()}")
        if row is None:
            return UsageTotals()
        return UsageTotals(int(row["tokens"]), float(row["cost_usd"]))

    def _usage_table(self) -> JsonDict:
        path = self.root / "usage.json"
        if not path.exists():
            return {}
        table: JsonDict = json.loads(path.read_text(encoding="utf-8"))
        return table


def write_json_atomic(path: Path, value: Any) -> None:
    """Write JSON to ``path`` through a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(to_jsonable(value), fh, indent=1, sort_keys=True)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RecordedAnswers:
    """A :class:`Store` that answers from a file of recorded answers before ``inner``.

    ``invest backtest --oracle-answers FILE`` replays a bundled recording (for example
    ``runtime/examples/orchestrator_llm_cache.json``) without copying it into the data
    folder: the recorded answers are read-only, and everything else (new answers in
    live mode, the audit, the token usage) goes to ``inner`` as usual.
    """

    def __init__(self, inner: Store, answers: dict[str, JsonDict]) -> None:
        self.inner = inner
        self.answers = answers

    def cache_get(self, key: str) -> JsonDict | None:
        value = self.answers.get(key)
        return to_jsonable(value) if value is not None else self.inner.cache_get(key)

    def cache_put(self, key: str, value: JsonDict) -> None:
        self.inner.cache_put(key, value)

    def audit_append(self, record: AuditRecord) -> None:
        self.inner.audit_append(record)

    def audit_records(self, cycle_id: str) -> list[AuditRecord]:
        return self.inner.audit_records(cycle_id)

    def usage_add(self, account: str, day: date, tokens: int, cost_usd: float) -> None:
        self.inner.usage_add(account, day, tokens, cost_usd)

    def usage_get(self, account: str, day: date) -> UsageTotals:
        return self.inner.usage_get(account, day)


def load_recorded_answers(path: Path) -> dict[str, JsonDict]:
    """The answers of a recording file: ``{"answers": {prompt hash: answer}, ...}``.

    Raises:
        ValueError: the file is missing, not JSON, or has no ``answers`` object; the
            message names the file and what to fix.
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file of recorded answers") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a JSON file of recorded answers ({e})") from None
    answers = doc.get("answers") if isinstance(doc, dict) else None
    if not isinstance(answers, dict) or not all(isinstance(v, dict) for v in answers.values()):
        raise ValueError(
            f'{path}: recorded answers need an "answers" object of prompt hash -> answer '
            "(scripts/orchestrator_cache.py record writes one)"
        )
    return answers
