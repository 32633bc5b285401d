"""The options settings refuse bad values with a message saying what to fix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from invest.runtime.config.options import (
    DEFAULT_MODELLED_CHAIN,
    DEFAULT_SELECTION,
    ModelledChainConfig,
    SelectionConfig,
    StrikeBand,
    WidthRule,
)


def test_defaults_are_valid_and_frozen() -> None:
    assert DEFAULT_MODELLED_CHAIN.strike_grid[-1].below is None
    assert DEFAULT_SELECTION.min_dte <= DEFAULT_SELECTION.max_dte
    with pytest.raises(ValidationError):
        DEFAULT_SELECTION.min_dte = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_iv": 0.5, "max_iv": 0.4}, r"min_iv \(0.5\) must be below max_iv \(0.4\)"),
        ({"vix_ratio_min": 2.0, "vix_ratio_max": 1.0}, r"vix_ratio_min \(2.0\) must be below"),
        ({"put_skew": 0.1, "call_skew": 0.3}, "steeper on the put side"),
        ({"strike_grid": ()}, "at least one band"),
        (
            {"strike_grid": ({"below": 25, "step": 1},)},
            "last strike_grid band must have no 'below'",
        ),
        (
            {"strike_grid": ({"below": 25, "step": 1}, {"below": 10, "step": 1}, {"step": 5})},
            "are not increasing",
        ),
        ({"strike_grid": ({"step": 0.0001},)}, "more than 3 decimals"),
        ({"vix": "always"}, "'premium' or 'off'"),
        ({"realised_vol_window": 2}, "greater than or equal to 5"),
        ({"surprise": 1}, "Extra inputs are not permitted"),
    ],
)
def test_chain_config_refuses(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ModelledChainConfig.model_validate(kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_dte": 30, "max_dte": 7}, r"min_dte \(30\) must not exceed max_dte \(7\)"),
        ({"width": {"unit": "strikes", "value": 1.5}}, "whole number"),
        ({"width": {"unit": "percent", "value": 60}}, "percent below 50"),
        ({"width": {"unit": "dollars", "value": 5}}, "'strikes' or 'percent'"),
        ({"min_credit_fraction": 1.2}, "less than 1"),
        ({"condor_short_delta": 0.6}, "less than 0.5"),
        ({"prefer": "farthest"}, "'nearest' or 'monthly'"),
    ],
)
def test_selection_config_refuses(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SelectionConfig.model_validate(kwargs)


def test_grid_and_width_accept_good_values() -> None:
    cfg = ModelledChainConfig(
        strike_grid=(StrikeBand(below=50, step=2.5), StrikeBand(step=5)),
        index_symbols=("spx",),
    )
    assert cfg.index_symbols == ("SPX",)
    assert SelectionConfig(width=WidthRule(unit="percent", value=5)).width.value == 5
