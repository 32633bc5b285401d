"""The opt-in market context block of the RL observation (contract, observer, pack checks).

A pack that declares ``observation.context`` gets, per declared series, a scale-free
value and a known flag appended to every symbol's observation; a pack that declares
none (the bundled one) observes, hashes and decides exactly as before the block existed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from invest.runtime import features
from invest.runtime.config import parse_config
from invest.runtime.config.context import ContextConfig
from invest.runtime.context import SERIES
from invest.runtime.data.frame import BarFrame
from invest.runtime.data.sample import SampleData
from invest.runtime.domain import AccountState, Position
from invest.runtime.market import Market
from invest.runtime.policy import contract, observe
from invest.runtime.policy import pack as runtime_pack
from invest.runtime.policy.contract import (
    CONTEXT_WINDOW,
    OBS_DIM,
    OBS_LAYOUT,
    Normaliser,
    context_features,
    context_spec_hash,
    obs_layout,
    raw_observations,
)
from invest.runtime.policy.observe import Observer
from invest.runtime.policy.state import MemoryStateStore
from invest.runtime.strategies import rl_strategy
from tests.runtime.policy.support import FakeEnsemble, by_trend, edit_manifest

ALL = ("vix", "us10y", "dollar")
CTX = slice(OBS_DIM, OBS_DIM + 2 * len(ALL))
_SAMPLE = SampleData()
_MARKET = Market(_SAMPLE.load(list(_SAMPLE.symbols())))
STOCKS = tuple(s for s in _SAMPLE.symbols() if s != "SP500")
#: sha256 of the bundled pack's observations over every 7th row of the sample (the book
#: below), recorded at commit 4b20921, before the context block existed.
BUNDLED_OBS_SHA = "8fd84efb4d09970618aadb109e88f5456b91196b4b401f5de7871fb4bac6b5fd"


def _book() -> AccountState:
    opened = date(2010, 1, 4)
    return AccountState(
        "a",
        Decimal("40000"),
        {
            "AAPL": Position("AAPL", Decimal("100"), Decimal("20"), opened),
            "KO": Position("KO", Decimal("300"), Decimal("30"), opened),
        },
    )


def _row(market: Market, day: str) -> int:
    return int(np.searchsorted(market.dates, np.datetime64(day)))


# -- the bundled pack is untouched ------------------------------------------------------


def test_the_bundled_pack_observes_and_hashes_exactly_as_before_the_block() -> None:
    pack = runtime_pack.load_pack(runtime_pack.bundled_packs_dir() / "default")
    assert pack.context == ()
    assert (
        "context"
        not in json.loads(
            (runtime_pack.bundled_packs_dir() / "default" / "manifest.json").read_text()
        )["observation"]
    )
    # Its hash check: the manifest's hash is the bare feature hash, and still accepted.
    assert pack.manifest.feature_spec.hash == features.spec_hash() == runtime_pack.runtime_spec()[1]
    assert runtime_pack.verify_pack(runtime_pack.bundled_packs_dir() / "default").ok
    ob = Observer(_MARKET, STOCKS, "SP500", pack.normaliser)
    h = hashlib.sha256()
    for t in range(0, len(_MARKET.dates), 7):
        o = ob.observe(t, _book())
        assert o.obs.shape == (len(STOCKS), 27)
        assert o.notes == ()
        h.update(o.obs.tobytes())
        h.update(o.usable.tobytes())
        h.update(o.weights.tobytes())
    assert h.hexdigest() == BUNDLED_OBS_SHA


def test_a_pack_without_the_block_never_reads_the_context(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: object) -> None:
        raise AssertionError("context_table called for a pack without a context block")

    monkeypatch.setattr(observe, "context_table", boom)
    Observer(_MARKET, STOCKS, "SP500", Normaliser.identity()).observe(5000, _book())
    with pytest.raises(AssertionError, match="context_table called"):
        Observer(_MARKET, STOCKS, "SP500", Normaliser.identity(("vix",)))


def test_the_hash_includes_the_block_only_when_declared(monkeypatch: pytest.MonkeyPatch) -> None:
    base = features.spec_hash()
    assert context_spec_hash(base, ()) == base
    vix = context_spec_hash(base, ("vix",))
    assert vix != base
    assert context_spec_hash(base, ("vix", "dollar")) not in (base, vix)
    # A change to a transform's definition is a new spec: packs trained on the old are refused.
    monkeypatch.setattr(contract, "CONTEXT_TRANSFORMS", {**contract.CONTEXT_TRANSFORMS, "vix": "x"})
    assert context_spec_hash(base, ("vix",)) != vix


# -- the transforms ------------------------------------------------------------------------


def test_each_series_is_made_scale_free_with_a_known_flag() -> None:
    n = 30
    rng = np.random.default_rng(3)
    vix = rng.uniform(10, 40, n)
    y10 = rng.uniform(1, 5, n)
    dxy = rng.uniform(80, 110, n)
    values = np.column_stack([vix, y10, dxy])
    values[2, 0] = np.nan  # one unknown VIX day
    values[25, 1] = np.nan  # one unknown yield day: its change is unknown too
    block = context_features(values, ALL)
    assert block.shape == (n, 6)
    w = CONTEXT_WINDOW
    np.testing.assert_allclose(block[:, 0], np.where(np.arange(n) == 2, np.nan, np.log(vix / 20)))
    assert block[:, 1].tolist() == [0.0 if t == 2 else 1.0 for t in range(n)]
    # Changes over 20 sessions: unknown for the first 20 rows, then y[t] - y[t-20].
    assert not block[:w, 3].any()
    assert np.isnan(block[:w, 2]).all()
    np.testing.assert_allclose(
        block[w:, 2][[0, 1, 2, 3, 4, 6]], (y10[w:] - y10[:-w])[[0, 1, 2, 3, 4, 6]]
    )
    assert np.isnan(block[25, 2])
    assert block[25, 3] == 0.0
    np.testing.assert_allclose(block[w:, 4], np.log(dxy[w:] / dxy[:-w]))
    assert block[w:, 5].all()
    # Only the declared series, in the declared order.
    np.testing.assert_array_equal(context_features(values[:, [2]], ("dollar",)), block[:, 4:6])


def test_the_contract_knows_the_context_tables_series() -> None:
    assert tuple(spec.key for spec in SERIES) == contract.CONTEXT_SERIES
    assert set(contract.CONTEXT_TRANSFORMS) == set(contract.CONTEXT_SERIES)


def test_an_unknown_or_repeated_series_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match=r"unknown \['vxx'\].*vix, us10y, dollar"):
        contract.check_context(("vix", "vxx"))
    with pytest.raises(ValueError, match="repeated"):
        contract.check_context(("vix", "vix"))


def test_the_block_is_appended_after_the_book_the_same_for_every_symbol() -> None:
    rng = np.random.default_rng(0)
    feats = rng.normal(0, 0.1, (4, len(features.FEATURE_NAMES)))
    idx = rng.normal(0, 0.1, len(features.FEATURE_NAMES))
    usable, w = np.ones(4, bool), np.full(4, 0.2)
    plain = raw_observations(feats, usable, idx, w, 0.2)
    block = np.array([0.3, 1.0, np.nan, 0.0])
    wide = raw_observations(feats, usable, idx, w, 0.2, block)
    assert wide.shape == (4, OBS_DIM + 4)
    np.testing.assert_array_equal(wide[:, :OBS_DIM], plain)  # the 27 fields unchanged
    np.testing.assert_array_equal(wide[:, OBS_DIM:], np.tile(block, (4, 1)).astype(np.float32))
    assert obs_layout(("vix", "us10y"))[OBS_DIM:] == (
        "ctx_vix",
        "ctx_vix_known",
        "ctx_us10y",
        "ctx_us10y_known",
    )
    # Unknown stays NaN until the normaliser: 0 after scaling, the flag says why.
    norm = Normaliser.identity(("vix", "us10y"))
    assert norm.apply(wide)[0, OBS_DIM:].tolist() == [pytest.approx(0.3), 1.0, 0.0, 0.0]


def test_the_normaliser_scales_known_values_and_passes_the_flags() -> None:
    rng = np.random.default_rng(1)
    raw = rng.normal(0.5, 2.0, (400, OBS_DIM + 2)).astype(np.float32)
    raw[:, OBS_DIM + 1] = rng.integers(0, 2, 400)
    raw[raw[:, OBS_DIM + 1] == 0, OBS_DIM] = np.nan
    norm = Normaliser.fit(raw, ("vix",))
    known = raw[raw[:, OBS_DIM + 1] == 1, OBS_DIM]
    assert norm.mean[OBS_DIM] == pytest.approx(known.mean(), rel=1e-5)
    assert norm.std[OBS_DIM] == pytest.approx(known.std(), rel=1e-5)
    assert (norm.mean[OBS_DIM + 1], norm.std[OBS_DIM + 1]) == (0.0, 1.0)
    back = Normaliser.from_json(json.loads(json.dumps(norm.to_json())), ("vix",))
    assert back.layout == obs_layout(("vix",))
    assert back.context == ("vix",)
    with pytest.raises(ValueError, match="layout"):
        Normaliser.from_json(norm.to_json())  # read as a pack without the block
    raw[:, OBS_DIM] = np.nan
    with pytest.raises(ValueError, match="ctx_vix have no finite value"):
        Normaliser.fit(raw, ("vix",))


# -- the observer --------------------------------------------------------------------------


def _write(folder: Path, series: dict[str, tuple[np.ndarray, np.ndarray]]) -> Path:
    folder.mkdir(parents=True)
    for stem, (dates, values) in series.items():
        rows = "".join(f"{d},{v:.6f}\n" for d, v in zip(dates.astype(str), values, strict=True))
        (folder / f"{stem}.csv").write_text("date,close\n" + rows)
    return folder


def _series(dates: np.ndarray, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    n = len(dates)
    walk = np.cumsum(rng.normal(0, 1, (n, 3)), axis=0)
    return {
        "VIX": (dates, np.clip(18 + 0.3 * walk[:, 0], 9, 80)),
        "US10Y": (dates, np.clip(3 + 0.02 * walk[:, 1], 0.2, 9)),
        "DXY": (dates, 95 * np.exp(0.004 * walk[:, 2])),
    }


@pytest.fixture(scope="module")
def ctx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("ctx") / "all", _series(_MARKET.dates, 5))


def test_the_observer_appends_the_lagged_transformed_context(ctx_dir: Path) -> None:
    cfg = ContextConfig(source=f"csv:{ctx_dir}")
    ob = Observer(_MARKET, STOCKS, "SP500", Normaliser.identity(ALL), cfg)
    plain = Observer(_MARKET, STOCKS, "SP500", Normaliser.identity())
    series = _series(_MARKET.dates, 5)
    vix, y10, dxy = (series[k][1] for k in ("VIX", "US10Y", "DXY"))
    t = _row(_MARKET, "2016-06-15")
    o = ob.observe(t, _book())
    assert o.obs.shape == (len(STOCKS), OBS_DIM + 6)
    assert o.notes == ()
    np.testing.assert_array_equal(o.obs[:, :OBS_DIM], plain.observe(t, _book()).obs)
    # Row t reads the close of the session before (t - 1), never its own.
    want = np.array(
        [
            np.log(vix[t - 1] / 20),
            1.0,
            y10[t - 1] - y10[t - 1 - CONTEXT_WINDOW],
            1.0,
            np.log(dxy[t - 1] / dxy[t - 1 - CONTEXT_WINDOW]),
            1.0,
        ],
        dtype=np.float32,
    )
    for row in o.obs[:, CTX]:
        np.testing.assert_allclose(row, want, rtol=1e-5, atol=1e-6)


def test_changing_the_vix_series_changes_the_policy_input(ctx_dir: Path, tmp_path: Path) -> None:
    series = _series(_MARKET.dates, 5)
    d, v = series["VIX"]
    t = _row(_MARKET, "2016-06-15")
    moved = v.copy()
    moved[t - 1] = v[t - 1] * 2  # the close the row reads
    other = _write(tmp_path / "moved", {**series, "VIX": (d, moved)})
    norm = Normaliser.identity(ALL)
    a = Observer(_MARKET, STOCKS, "SP500", norm, ContextConfig(source=f"csv:{ctx_dir}"))
    b = Observer(_MARKET, STOCKS, "SP500", norm, ContextConfig(source=f"csv:{other}"))
    oa, ob = a.observe(t, _book()).obs, b.observe(t, _book()).obs
    vix_col = OBS_DIM
    np.testing.assert_allclose(ob[:, vix_col] - oa[:, vix_col], np.log(2.0), rtol=1e-5)
    others = [c for c in range(oa.shape[1]) if c != vix_col]
    np.testing.assert_array_equal(oa[:, others], ob[:, others])


def test_unknown_context_gives_zeros_flags_off_and_a_note() -> None:
    # The sample's context: the VIX 2014-2019 only; no yield, no dollar index.
    ob = Observer(_MARKET, STOCKS, "SP500", Normaliser.identity(ALL))
    late = ob.observe(_row(_MARKET, "2021-06-01"), _book())
    assert np.all(late.obs[:, CTX] == 0.0)
    assert [n.split(":")[1].strip() for n in late.notes] == ["VIX", "10-year yield", "dollar index"]
    assert all(n.startswith("RL context: ") for n in late.notes)
    assert "VIX: not available (last VIX close 2019-01-03" in late.notes[0]
    assert late.notes[0].endswith("the policies see 0 with its known flag off")
    mid = ob.observe(_row(_MARKET, "2016-06-15"), _book())
    assert mid.obs[0, CTX][1::2].tolist() == [1.0, 0.0, 0.0]
    assert len(mid.notes) == 2
    assert "not bundled with the sample data" in mid.notes[0]


@pytest.mark.parametrize("strategy", ["rl_ensemble", "hybrid"])
def test_the_explanation_record_notes_the_unknown_context(strategy: str) -> None:
    settings = parse_config(
        {"accounts": {"a": {"strategy": strategy, "universe": list(STOCKS[:6])}}}
    )
    cfg = settings.accounts["a"]
    fake = FakeEnsemble(by_trend(), 3, normaliser=Normaliser.identity(("vix",)))
    strat = rl_strategy(cfg, fake, MemoryStateStore(), context=settings.context)
    strat.prepare(_MARKET)
    state = AccountState("a", Decimal("100000"))
    late = strat.propose(_row(_MARKET, "2021-06-01"), state)
    assert any(n.startswith("RL context: VIX: not available") for n in late.notes)
    assert fake.calls[-1][0].shape[1] == OBS_DIM + 2
    assert fake.calls[-1][0][:, OBS_DIM:].tolist() == [[0.0, 0.0]] * 6
    known = strat.propose(_row(_MARKET, "2016-06-15"), state)
    assert not any(n.startswith("RL context") for n in known.notes)
    assert (fake.calls[-1][0][:, OBS_DIM + 1] == 1.0).all()


# -- look-ahead ----------------------------------------------------------------------------

CUT = date(2016, 3, 14)


def _random_walk_after(frame: BarFrame, cut: np.datetime64, seed: int) -> BarFrame:
    after = frame.dates > cut
    rng = np.random.default_rng(seed)
    close = frame.close.copy()
    close[after] = close[~after][-1] * np.exp(
        np.cumsum(rng.normal(0, 0.03, (int(after.sum()), close.shape[1])), axis=0)
    )
    return dataclasses.replace(frame, close=close)


def test_truncated_data_and_a_random_walk_future_give_identical_context_columns(
    tmp_path: Path,
) -> None:
    cut = np.datetime64(CUT)
    frame = _MARKET.frame
    series = _series(frame.dates, 9)
    keep = frame.dates <= cut
    cut_dir = _write(tmp_path / "cut", {k: (d[keep], v[keep]) for k, (d, v) in series.items()})
    rng = np.random.default_rng(13)
    future = {}
    # Inside each series' plausible range (a close outside it refuses the whole series).
    bounds = {"VIX": (9.0, 150.0), "US10Y": (0.1, 20.0), "DXY": (50.0, 500.0)}
    for k, (d, v) in series.items():
        w = v.copy()
        # Far from the past's values, so one leaked day moves every column it touches.
        step = np.cumsum(rng.normal(0, 0.05, int((~keep).sum()))) + 0.5
        w[~keep] = np.clip(v[keep][-1] * np.exp(step), *bounds[k])
        future[k] = (d, w)
    walk_dir = _write(tmp_path / "walk", future)
    norm = Normaliser.identity(ALL)
    a_market = Market(frame.between(None, CUT))
    b_market = Market(_random_walk_after(frame, cut, 17))
    a = Observer(a_market, STOCKS, "SP500", norm, ContextConfig(source=f"csv:{cut_dir}"))
    b = Observer(b_market, STOCKS, "SP500", norm, ContextConfig(source=f"csv:{walk_dir}"))
    n = len(a_market.dates)
    assert n > 6000
    assert b_market.dates[n - 1] == cut
    for t in range(n - 300, n):
        oa, ob = a.observe(t, _book()), b.observe(t, _book())
        np.testing.assert_array_equal(oa.obs, ob.obs)
        assert oa.notes == ob.notes
    assert (a.observe(n - 1, _book()).obs[:, CTX][:, 1::2] == 1.0).all()  # every series known


# -- the pack's checks ---------------------------------------------------------------------


def _declare(manifest: dict[str, object], context: tuple[str, ...], hash_: str) -> None:
    layout = list(obs_layout(context))
    norm = manifest["normalisation"]
    assert isinstance(norm, dict)
    extra = 2 * len(context)
    norm.update(layout=layout, mean=norm["mean"] + [0.0] * extra, std=norm["std"] + [1.0] * extra)
    obs = manifest["observation"]
    assert isinstance(obs, dict)
    obs.update(dim=len(layout), layout=layout, context=list(context))
    fs = manifest["feature_spec"]
    assert isinstance(fs, dict)
    fs["hash"] = hash_


def _copy_bundled(tmp_path: Path) -> Path:
    import shutil

    out = tmp_path / "ctx-pack"
    shutil.copytree(runtime_pack.bundled_packs_dir() / "default", out)
    return out


def test_a_declared_block_needs_its_hash_layout_and_a_policy_of_that_width(
    tmp_path: Path,
) -> None:
    pack = _copy_bundled(tmp_path)
    good = context_spec_hash(features.spec_hash(), ("vix",))
    edit_manifest(pack, lambda m: _declare(m, ("vix",), good))
    report = runtime_pack.verify_pack(pack, check_models=False)
    assert report.ok, report.reason
    loaded = runtime_pack.load_pack(pack)
    assert loaded.context == ("vix",)
    assert loaded.normaliser.dim == OBS_DIM + 2
    # The bundled policies take 27 inputs: the width is checked against the ONNX graph.
    full = runtime_pack.verify_pack(pack)
    assert not full.ok
    assert "obs has shape" in full.reason
    assert "29" in full.reason
    # The plain hash with a declared block: another spec, refused.
    edit_manifest(pack, lambda m: m["feature_spec"].update(hash=features.spec_hash()))
    assert (
        "pack built for feature spec" in runtime_pack.verify_pack(pack, check_models=False).reason
    )
    # A series this runtime does not know: one line, no crash.
    edit_manifest(pack, lambda m: m["observation"].update(context=["vxx"]))
    reason = runtime_pack.verify_pack(pack, check_models=False).reason
    assert reason.startswith("observation.context: unknown ['vxx']")


def test_the_plain_layout_is_still_the_27_fields() -> None:
    assert obs_layout(()) is OBS_LAYOUT
    assert len(OBS_LAYOUT) == OBS_DIM == 27
