from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invest.runtime.errors import ConfigError
from invest.runtime.options.chain import OptionChain, OptionQuote
from invest.runtime.options.contracts import Leg, OptionContract, Right


def test_the_occ_symbol_is_written_unpadded_and_read_padded_or_not() -> None:
    contract = OptionContract("AAPL", date(2024, 1, 19), Right.CALL, Decimal("190"))
    assert contract.symbol == "AAPL240119C00190000"
    assert OptionContract.from_occ("AAPL  240119C00190000") == contract
    assert OptionContract.from_occ("spy240119p00450500").strike == Decimal("450.5")


@given(
    root=st.from_regex(r"[A-Z]{1,6}", fullmatch=True),
    expiry=st.dates(date(2000, 1, 1), date(2099, 12, 31)),
    right=st.sampled_from(list(Right)),
    thousandths=st.integers(1, 99_999_999),
)
def test_every_contract_round_trips_through_its_occ_symbol(
    root: str, expiry: date, right: Right, thousandths: int
) -> None:
    contract = OptionContract(root, expiry, right, Decimal(thousandths) / 1000)
    assert OptionContract.from_occ(contract.symbol) == contract


@pytest.mark.parametrize(
    ("symbol", "says"),
    [("AAPL", "not an OCC option symbol"), ("AAPL241319C00190000", "not a valid YYMMDD")],
)
def test_a_bad_symbol_says_what_is_wrong(symbol: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        OptionContract.from_occ(symbol)


def test_bad_strikes_and_empty_legs_are_refused() -> None:
    with pytest.raises(ConfigError, match="positive"):
        OptionContract("X", date(2024, 1, 19), Right.PUT, Decimal("0"))
    with pytest.raises(ConfigError, match="3 decimals"):
        OptionContract("X", date(2024, 1, 19), Right.PUT, Decimal("1.0005"))
    good = OptionContract("X", date(2024, 1, 19), Right.PUT, Decimal("10"))
    with pytest.raises(ConfigError, match="non-zero"):
        Leg(good, 0)


def test_intrinsic_value_and_days_to_expiry() -> None:
    call = OptionContract("X", date(2024, 1, 19), Right.CALL, Decimal("100"))
    put = OptionContract("X", date(2024, 1, 19), Right.PUT, Decimal("100"))
    assert (call.intrinsic(104.0), put.intrinsic(104.0)) == (4.0, 0.0)
    assert (call.intrinsic(97.5), put.intrinsic(97.5)) == (0.0, 2.5)
    assert call.dte(date(2024, 1, 12)) == 7
    assert call.dte(date(2024, 1, 20)) == -1


def test_a_chain_finds_its_expiries_sides_and_quotes() -> None:
    e1, e2 = date(2024, 1, 19), date(2024, 2, 16)
    contracts = [
        OptionContract("X", e, r, Decimal(k))
        for e in (e2, e1)
        for r in Right
        for k in (110, 90, 100)
    ]
    chain = OptionChain(
        "X", date(2024, 1, 5), 100.0, tuple(OptionQuote(c, 1.0, 1.2) for c in contracts), "test"
    )
    assert chain.expiries() == [e1, e2]
    assert [q.contract.strike for q in chain.side(e1, Right.PUT)] == [90, 100, 110]
    missing = OptionContract("X", e1, Right.PUT, Decimal(95))
    assert chain.quote(missing) is None
    assert chain.quote(contracts[0]) is not None
    assert OptionQuote(missing, 0.0, 0.4).mid == 0.4
    assert OptionQuote(missing, 1.0, 1.2).mid == pytest.approx(1.1)
