"""build_strategy for the RL strategies: the pack must serve the account's universe."""

from __future__ import annotations

from pathlib import Path

import pytest

from invest.runtime.config import AccountConfig
from invest.runtime.config.rl import RLParams
from invest.runtime.errors import ConfigError, PolicyPackError
from invest.runtime.strategies import Hybrid, RLEnsemble, build_strategy
from tests.runtime.policy.support import copy_fixture_pack, edit_manifest

KINDS = [("rl_ensemble", RLEnsemble), ("hybrid", Hybrid)]


def _cfg(strategy: str, pack: Path, universe: tuple[str, ...]) -> AccountConfig:
    return AccountConfig(
        strategy=strategy,  # type: ignore[arg-type]
        universe=universe,
        benchmark="IDX",
        rl=RLParams(pack=str(pack)),
    )


@pytest.mark.parametrize(("strategy", "cls"), KINDS)
def test_a_universe_of_two_is_refused_in_one_line(tmp_path: Path, strategy: str, cls: type) -> None:
    pack = copy_fixture_pack(tmp_path)
    with pytest.raises(ConfigError) as exc:
        build_strategy(_cfg(strategy, pack, ("AAA", "BBB")))
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith("model pack 'tiny' cannot serve this universe:")
    assert "at least 3 symbols; this one has 2 (AAA, BBB)" in msg
    assert isinstance(build_strategy(_cfg(strategy, pack, ("AAA", "BBB", "CCC"))), cls)


@pytest.mark.parametrize(("strategy", "cls"), KINDS)
def test_the_manifests_min_size_decides(tmp_path: Path, strategy: str, cls: type) -> None:
    pack = copy_fixture_pack(tmp_path)
    edit_manifest(pack, lambda m: m["universe"].update(min_size=4))
    with pytest.raises(ConfigError, match=r"at least 4 symbols; this one has 3"):
        build_strategy(_cfg(strategy, pack, ("AAA", "BBB", "CCC")))
    assert isinstance(build_strategy(_cfg(strategy, pack, ("A", "B", "C", "D"))), cls)


@pytest.mark.parametrize(("strategy", "cls"), KINDS)
def test_a_format_1_pack_is_refused_with_the_retrain_line(
    tmp_path: Path, strategy: str, cls: type
) -> None:
    pack = copy_fixture_pack(tmp_path)
    edit_manifest(pack, lambda m: m.update(format=1))
    with pytest.raises(PolicyPackError, match=r"format 1 .* retrain it with `invest train`"):
        build_strategy(_cfg(strategy, pack, ("AAA", "BBB", "CCC")))
