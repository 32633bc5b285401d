"""Ledger integrity: the invariants every test (and ``invest doctor``) can check on a ledger file.

A ledger can be structurally sound SQLite and still be wrong about money: two
writers at once once doubled positions against the fills. This module checks
the file against the ledger's own records, read-only:

* ``PRAGMA integrity_check`` is ``ok``;
* one order row per client order id, and every fill belongs to an order;
* the fills of an order never exceed its quantity, except a live broker's buy,
  sent as a dollar amount, whose fills never exceed its dollars; on the paper
  broker (one execution per order) an order has at most one fill;
* per account, the positions table equals the signed sum of its fills;
* per account, ``account_state.cash`` equals the start cash plus the signed
  cash of every fill, net of fees (exactly as :meth:`AccountState.apply_fill`
  moves it), plus the cash of every option fill (as the option book moves it);
* every option fill of an open or a close belongs to an option order (a
  settlement at expiry has none: its client id is ``book.option_fill_id``), and
  every option fill belongs to a stored option position.
"""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal, InvalidOperation
from pathlib import Path

from invest.runtime.domain import money
from invest.runtime.ledger.reads import position_quantities
from invest.runtime.ledger.schema import has_option_tables

__all__ = ["check_integrity"]

_CENT = Decimal("0.01")


def check_integrity(path: Path | str) -> list[str]:
    """Every integrity problem of the ledger at ``path``, one line each (empty: ok).

    The file is opened read-only and never changed; a file that cannot be opened
    or read is reported as one problem rather than raised.
    """
    p = Path(path)
    if not p.exists():
        return [f"no ledger at {p}"]
    try:
        conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
    except sqlite3.Error as e:
        return [f"cannot open ledger {p}: {e}"]
    try:
        return _check(conn)
    except (sqlite3.Error, InvalidOperation, ValueError) as e:
        return [f"cannot read ledger {p}: {e}"]
    finally:
        conn.close()


def _check(conn: sqlite3.Connection) -> list[str]:
    rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
    if rows != ["ok"]:
        return [f"sqlite integrity_check: {r}" for r in rows[:5]]
    return [*_orders(conn), *_option_orders(conn), *_accounts(conn)]


def _paper_accounts(conn: sqlite3.Connection) -> set[str]:
    out = set()
    for name, cfg in conn.execute("SELECT name, config_json FROM accounts"):
        if json.loads(cfg).get("broker", "paper") == "paper":
            out.add(str(name))
    return out


def _orders(conn: sqlite3.Connection) -> list[str]:
    problems = [
        f"client order id {coid} has {n} order rows"
        for coid, n in conn.execute(
            "SELECT client_order_id, COUNT(*) FROM orders GROUP BY client_order_id HAVING COUNT(*) > 1"
        )
    ]
    problems += [
        f"fill {fid} of {coid} has no order row"
        for fid, coid in conn.execute(
            "SELECT f.id, f.client_order_id FROM fills f "
            "LEFT JOIN orders o ON o.client_order_id = f.client_order_id "
            "WHERE o.client_order_id IS NULL"
        )
    ]
    paper = _paper_accounts(conn)
    filled: dict[str, tuple[Decimal, int, Decimal]] = {}  # shares, fills, dollars
    for coid, qty, price in conn.execute("SELECT client_order_id, quantity, price FROM fills"):
        total, n, value = filled.get(coid, (Decimal(0), 0, Decimal(0)))
        q = Decimal(qty)
        filled[coid] = (total + q, n + 1, value + money(q * Decimal(price)))
    for coid, account, side, qty, ref in conn.execute(
        "SELECT client_order_id, account, side, quantity, ref_price FROM orders "
        "ORDER BY client_order_id"
    ):
        total, n, value = filled.get(coid, (Decimal(0), 0, Decimal(0)))
        if total <= Decimal(qty):
            continue
        if side == "buy" and account not in paper:
            # A live broker's buy goes as a dollar amount (quantity x reference price,
            # see alpaca_parsing.order_fields): below the reference price it buys more
            # shares. The dollars are its limit (a cent of rounding per fill).
            limit = money(Decimal(qty) * Decimal(ref))
            if value > limit + _CENT * n:
                problems.append(f"order {coid}: filled ${value} of a ${limit} buy")
        else:
            problems.append(f"order {coid}: filled {total} of an order for {qty}")
        if n > 1 and account in paper:
            problems.append(f"order {coid}: {n} fills on the paper broker (at most one)")
    return problems


def _option_orders(conn: sqlite3.Connection) -> list[str]:
    if not has_option_tables(conn):
        return []
    problems = [
        f"option fill {fid} ({action}) of {coid} has no option order row"
        for fid, coid, action in conn.execute(
            "SELECT f.id, f.client_order_id, f.action FROM option_fills f "
            "LEFT JOIN option_orders o ON o.client_order_id = f.client_order_id "
            "WHERE o.client_order_id IS NULL AND f.action IN ('open', 'close') ORDER BY f.id"
        )
    ]
    problems += [
        f"option fill {fid} of {coid}: no option position {pid} in account {account}"
        for fid, coid, pid, account in conn.execute(
            "SELECT f.id, f.client_order_id, f.position_id, f.account FROM option_fills f "
            "LEFT JOIN option_positions p ON p.account = f.account AND p.id = f.position_id "
            "WHERE p.id IS NULL ORDER BY f.id"
        )
    ]
    return problems


def _option_cash(conn: sqlite3.Connection, account: str) -> Decimal:
    """The cash the account's option fills moved, as ``OptionBook`` moves it.

    Each leg's amount is ``money(price x |contracts| x multiplier)`` (``book.leg_cash``,
    re-derived here so ``invest doctor`` loads no numpy), a sale bringing cash in;
    an open, a close and a cash settlement move cash, fees paid; an assignment moves
    none here (its stock fill carries the cash at the strike).
    """
    if not has_option_tables(conn):
        return Decimal(0)
    total = Decimal(0)
    for action, legs, fees, structure in conn.execute(
        "SELECT f.action, f.legs_json, f.fees, p.legs_json FROM option_fills f "
        "JOIN option_positions p ON p.account = f.account AND p.id = f.position_id "
        "WHERE f.account = ? ORDER BY f.id",
        (account,),
    ):
        if action == "assign":
            continue
        mult = {str(leg["symbol"]): int(leg["multiplier"]) for leg in json.loads(structure)}
        for leg in json.loads(legs):
            n, symbol = int(leg["contracts"]), str(leg["symbol"])
            if symbol not in mult:
                raise ValueError(f"option fill leg {symbol} is not a leg of its position")
            amount = money(Decimal(repr(float(leg["price"]))) * abs(n) * mult[symbol])
            total += amount if n < 0 else -amount
        total -= Decimal(fees)
    return total


def _accounts(conn: sqlite3.Connection) -> list[str]:
    problems: list[str] = []
    states = {
        str(a): (Decimal(start), Decimal(cash))
        for a, start, cash in conn.execute(
            "SELECT a.name, a.start_cash, s.cash FROM accounts a "
            "JOIN account_state s ON s.account = a.name"
        )
    }
    for (a,) in conn.execute(
        "SELECT DISTINCT account FROM fills WHERE account NOT IN (SELECT account FROM account_state)"
    ):
        problems.append(f"account {a}: fills but no account state")
    for account, (start, cash) in sorted(states.items()):
        held: dict[str, Decimal] = {}
        expected_cash = money(start)
        for sym, side, qty, price, fees in conn.execute(
            "SELECT symbol, side, quantity, price, fees FROM fills WHERE account = ? ORDER BY id",
            (account,),
        ):
            q, gross = Decimal(qty), money(Decimal(qty) * Decimal(price))
            sign = 1 if side == "buy" else -1
            held[sym] = held.get(sym, Decimal(0)) + sign * q
            expected_cash += -sign * gross - Decimal(fees)
        held = {s: q for s, q in held.items() if q != 0}
        expected_cash += _option_cash(conn, account)
        positions = position_quantities(conn, account)
        for sym in sorted(set(held) | set(positions)):
            mine, fills = positions.get(sym, Decimal(0)), held.get(sym, Decimal(0))
            if mine != fills:
                problems.append(
                    f"account {account}: position {sym} is {mine}, fills sum to {fills}"
                )
        if cash != expected_cash:
            problems.append(
                f"account {account}: cash is {cash}, start cash and fills give {expected_cash}"
            )
    return problems
