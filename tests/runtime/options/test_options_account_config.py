"""An options account's config: the section and the strategy go together, errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from invest.runtime.cli import main
from invest.runtime.config import parse_config
from invest.runtime.errors import ConfigError
from invest.runtime.strategies import VerticalSpreads, Wheel, build_options_strategy

WHEEL = '[accounts.w]\nstrategy = "wheel"\nuniverse = ["KO"]\n'


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        (WHEEL, "accounts.w:", "needs an options section"),
        (
            '[accounts.w]\nuniverse = ["KO"]\n[accounts.w.options]\n',
            "accounts.w:",
            "an options section needs an options strategy",
        ),
        (
            WHEEL + "[accounts.w.options.wheel.selection]\nmin_dte = 3\n",
            "accounts.w.options:",
            "in options.selection",
        ),
        (
            WHEEL + "[accounts.w.options.risk]\ncash_reserve = 2\n",
            "accounts.w.options.risk.cash_reserve",
            "less than 1",
        ),
        (
            WHEEL + "[accounts.w.options]\nlimit_tolerance = -0.1\n",
            "accounts.w.options.limit_tolerance",
            "greater than or equal to 0",
        ),
    ],
)
def test_config_check_prints_the_key_path_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, where: str, says: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    assert main(["config", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert where in err
    assert says in err
    assert "Traceback" not in err


def test_each_options_strategy_is_built_with_the_sections_selection() -> None:
    s = parse_config(
        {
            "accounts": {
                "w": {
                    "strategy": "wheel",
                    "universe": ["ko", "PG"],
                    "options": {"selection": {"wheel_put_delta": 0.2}},
                },
                "v": {"strategy": "vertical_spreads", "universe": ["SP500"], "options": {}},
            }
        }
    )
    wheel = build_options_strategy(s.account("w"))
    assert isinstance(wheel, Wheel)
    assert wheel.universe == ("KO", "PG")
    assert wheel.p.selection.wheel_put_delta == 0.2
    assert isinstance(build_options_strategy(s.account("v")), VerticalSpreads)


def test_the_stock_strategy_builder_refuses_an_options_account() -> None:
    from invest.runtime.strategies import build_strategy

    s = parse_config({"accounts": {"w": {"strategy": "wheel", "universe": ["KO"], "options": {}}}})
    with pytest.raises(ConfigError, match="options strategy"):
        build_strategy(s.account("w"))
