"""The policy contract (spec 2): ranks, the raw observation, the frozen normaliser, level weights."""

from __future__ import annotations

import json

import numpy as np
import pytest

from invest.runtime.features import FEATURE_NAMES
from invest.runtime.policy.contract import (
    ACTIONS,
    LEVELS,
    MARKET,
    MAX_WEIGHT_REL,
    MIN_UNIVERSE,
    NORM_CLIP,
    OBS_DIM,
    OBS_LAYOUT,
    RANKED,
    Normaliser,
    cross_section_ranks,
    expected_level,
    level_weights,
    raw_observations,
    softmax,
    universe_problem,
)

F = len(FEATURE_NAMES)
XS = OBS_LAYOUT.index(f"xs_{RANKED[0]}")
MKT = OBS_LAYOUT.index(f"mkt_{MARKET[0]}")
BREADTH = OBS_LAYOUT.index("mkt_breadth")
WREL, CASH = OBS_LAYOUT.index("weight_rel"), OBS_LAYOUT.index("cash")


def _col(x: list[float]) -> np.ndarray:
    """``(N, 1)`` values of one feature."""
    return np.asarray(x, dtype=np.float64)[:, None]


# --------------------------------------------------------------------------- layout


def test_the_layout_is_features_ranks_market_breadth_then_the_book() -> None:
    assert OBS_DIM == len(OBS_LAYOUT) == 27
    assert OBS_LAYOUT[:F] == FEATURE_NAMES
    assert OBS_LAYOUT[F:MKT] == tuple(f"xs_{n}" for n in RANKED)
    assert OBS_LAYOUT[MKT:BREADTH] == tuple(f"mkt_{n}" for n in MARKET)
    assert OBS_LAYOUT[BREADTH:] == ("mkt_breadth", "weight_rel", "cash")
    assert (ACTIONS, LEVELS) == (("OUT", "EQUAL", "OVER"), (0.0, 1.0, 2.0))


# --------------------------------------------------------------------------- ranks


def test_ranks_span_minus_one_to_one_over_the_usable_symbols() -> None:
    r = cross_section_ranks(_col([0.3, -0.1, 0.2, 0.0, 0.1]), np.ones(5, bool))
    np.testing.assert_allclose(r[:, 0], [1.0, -1.0, 0.5, -0.5, 0.0])


def test_ties_are_broken_by_position() -> None:
    r = cross_section_ranks(_col([0.1, 0.1, 0.1]), np.ones(3, bool))
    np.testing.assert_allclose(r[:, 0], [-1.0, 0.0, 1.0])


def test_unusable_and_nan_symbols_get_zero_and_do_not_count() -> None:
    x = _col([0.5, 9.0, np.nan, -0.5, 0.0])
    usable = np.array([True, False, True, True, True])
    r = cross_section_ranks(x, usable)
    np.testing.assert_allclose(r[:, 0], [1.0, 0.0, 0.0, -1.0, 0.0])  # 3 counted: -1, 0, 1
    assert r[4, 0] == 0.0  # the median of the three counted


def test_fewer_than_two_counted_symbols_rank_zero() -> None:
    one = cross_section_ranks(_col([0.5, np.nan, 0.2]), np.array([True, True, False]))
    assert one[:, 0].tolist() == [0.0, 0.0, 0.0]
    none = cross_section_ranks(_col([0.5, 0.2]), np.zeros(2, bool))
    assert none[:, 0].tolist() == [0.0, 0.0]


def test_each_feature_and_each_batch_row_is_ranked_separately() -> None:
    x = np.array([[[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]], [[3.0, 1.0], [2.0, 2.0], [1.0, 3.0]]])
    r = cross_section_ranks(x, np.ones((2, 3), bool))
    np.testing.assert_allclose(r[0], [[-1, 1], [0, 0], [1, -1]])
    np.testing.assert_allclose(r[1], -r[0])


# --------------------------------------------------------------------------- raw observation


def _inputs(n: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    feats = rng.normal(0, 0.1, (n, F))
    index = rng.normal(0, 0.1, F)
    usable = np.ones(n, bool)
    return feats, usable, index


def test_the_raw_observation_follows_the_layout() -> None:
    feats, usable, index = _inputs()
    feats[:, FEATURE_NAMES.index("dist_sma_200")] = [0.1, -0.1, 0.2, -0.3]
    feats[1, 0] = np.nan
    weights = np.array([0.5, 0.0, 0.25, 2.0])
    obs = raw_observations(feats, usable, index, weights, 0.25)
    assert obs.shape == (4, OBS_DIM)
    assert obs.dtype == np.float32
    np.testing.assert_array_equal(obs[:, :F], feats.astype(np.float32))  # NaN stays NaN
    ranked = [FEATURE_NAMES.index(n) for n in RANKED]
    np.testing.assert_allclose(obs[:, XS:MKT], cross_section_ranks(feats[:, ranked], usable))
    mkt = index[[FEATURE_NAMES.index(n) for n in MARKET]].astype(np.float32)
    np.testing.assert_array_equal(obs[:, MKT:BREADTH], np.tile(mkt, (4, 1)))
    assert obs[:, BREADTH].tolist() == [0.5] * 4  # 2 of 4 above their 200-day average
    np.testing.assert_allclose(obs[:, WREL], [2.0, 0.0, 1.0, MAX_WEIGHT_REL])  # w * N, clipped
    assert obs[:, CASH].tolist() == [0.25] * 4


def test_breadth_counts_only_usable_symbols_and_cash_is_clipped() -> None:
    feats, _, index = _inputs(3)
    feats[:, FEATURE_NAMES.index("dist_sma_200")] = [0.1, 0.2, -0.1]
    usable = np.array([True, False, True])
    obs = raw_observations(feats, usable, index, np.zeros(3), 1.7)
    assert obs[0, BREADTH] == 0.5
    assert obs[0, CASH] == 1.0
    assert obs[1, XS] == 0.0  # unusable: not ranked
    assert raw_observations(feats, usable, index, np.zeros(3), -0.2)[0, CASH] == 0.0


def test_a_leading_batch_axis_gives_the_same_rows_as_one_call_per_row() -> None:
    rows = [_inputs(5, seed) for seed in range(3)]
    weights = np.random.default_rng(9).uniform(0, 0.3, (3, 5))
    cash = np.array([0.0, 0.4, 1.0])
    usable = np.stack([u for _, u, _ in rows])
    usable[1, 2] = False
    batched = raw_observations(
        np.stack([f for f, _, _ in rows]), usable, np.stack([i for _, _, i in rows]), weights, cash
    )
    assert batched.shape == (3, 5, OBS_DIM)
    for k, (f, _, i) in enumerate(rows):
        one = raw_observations(f, usable[k], i, weights[k], float(cash[k]))
        np.testing.assert_array_equal(batched[k], one)
    # a scalar cash broadcasts over every leading row
    scalar = raw_observations(
        np.stack([f for f, _, _ in rows]), usable, np.stack([i for _, _, i in rows]), weights, 0.3
    )
    np.testing.assert_allclose(scalar[..., CASH], 0.3)


# --------------------------------------------------------------------------- normaliser


def _rows(m: int = 200, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    raw = rng.normal(3.0, 2.0, (m, OBS_DIM)).astype(np.float32)
    raw[::7, 0] = np.nan
    return raw


def test_fit_standardises_features_and_market_and_passes_ranks_and_book_through() -> None:
    raw = _rows()
    norm = Normaliser.fit(raw)
    scaled = [*range(F), *range(MKT, BREADTH + 1)]
    through = [*range(XS, MKT), WREL, CASH]
    np.testing.assert_allclose(norm.mean[scaled], np.nanmean(raw[:, scaled], axis=0), rtol=1e-5)
    np.testing.assert_allclose(norm.std[scaled], np.nanstd(raw[:, scaled], axis=0), rtol=1e-4)
    assert norm.mean[through].tolist() == [0.0] * len(through)
    assert norm.std[through].tolist() == [1.0] * len(through)
    z = norm.apply(raw)
    assert z.dtype == np.float32
    finite = z[1:, scaled][np.isfinite(raw[1:, scaled])]
    assert abs(float(finite.mean())) < 0.1
    np.testing.assert_array_equal(z[:, through], np.clip(raw[:, through], -NORM_CLIP, NORM_CLIP))


def test_a_constant_column_passes_through_centred() -> None:
    raw = _rows()
    raw[:, 3] = 7.0
    norm = Normaliser.fit(raw)
    assert (norm.mean[3], norm.std[3]) == (7.0, 1.0)
    assert norm.apply(raw)[:, 3].tolist() == [0.0] * len(raw)


def test_apply_turns_nan_into_the_mean_and_clips() -> None:
    norm = Normaliser(np.zeros(OBS_DIM, np.float32), np.full(OBS_DIM, 0.5, np.float32))
    raw = np.zeros((1, OBS_DIM), np.float32)
    raw[0, :3] = [np.nan, 100.0, -100.0]
    raw[0, 3] = 1.0
    z = norm.apply(raw)
    assert z[0, :4].tolist() == [0.0, NORM_CLIP, -NORM_CLIP, 2.0]
    # batched input keeps its shape
    assert norm.apply(np.zeros((2, 3, OBS_DIM), np.float32)).shape == (2, 3, OBS_DIM)


def test_fit_refuses_a_wrong_width_no_rows_or_an_all_nan_field() -> None:
    with pytest.raises(ValueError, match=f"need rows of {OBS_DIM}"):
        Normaliser.fit(np.zeros((5, OBS_DIM - 1), np.float32))
    with pytest.raises(ValueError, match=f"need rows of {OBS_DIM}"):
        Normaliser.fit(np.zeros((0, OBS_DIM), np.float32))
    raw = _rows()
    raw[:, MKT] = np.nan
    with pytest.raises(ValueError, match="no finite value"):
        Normaliser.fit(raw)


def test_the_json_round_trip_gives_the_same_normalisation() -> None:
    norm = Normaliser.fit(_rows())
    doc = json.loads(json.dumps(norm.to_json()))
    assert doc["layout"] == list(OBS_LAYOUT)
    assert doc["clip"] == NORM_CLIP
    back = Normaliser.from_json(doc)
    np.testing.assert_allclose(back.mean, norm.mean, rtol=1e-6)
    np.testing.assert_allclose(back.std, norm.std, rtol=1e-6)
    raw = _rows(seed=2)
    np.testing.assert_allclose(back.apply(raw), norm.apply(raw), atol=1e-5)
    ident = Normaliser.from_json(Normaliser.identity().to_json())
    np.testing.assert_array_equal(ident.apply(np.ones((1, OBS_DIM), np.float32)), 1.0)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: d.update(layout=d["layout"][:-1]), r"layout \(26 fields\) differs"),
        (lambda d: d.update(layout=d["layout"][::-1]), r"layout .* differs"),
        (lambda d: d.pop("layout"), r"layout \(0 fields\) differs"),
        (lambda d: d.update(mean=d["mean"][:-1]), r"need 27 values"),
        (lambda d: d["std"].__setitem__(4, 0.0), r"std > 0"),
        (lambda d: d["std"].__setitem__(4, -1.0), r"std > 0"),
        (lambda d: d["mean"].__setitem__(2, float("nan")), r"finite"),
        (lambda d: d["std"].__setitem__(2, float("inf")), r"finite"),
        (lambda d: d.update(clip=10.0), r"clip 10\.0 differs from this runtime's 5\.0"),
    ],
)
def test_from_json_refuses_what_this_runtime_cannot_apply(edit: object, match: str) -> None:
    doc = Normaliser.identity().to_json()
    edit(doc)  # type: ignore[operator]
    with pytest.raises(ValueError, match=match):
        Normaliser.from_json(doc)


# --------------------------------------------------------------------------- actions


def test_softmax_rows_sum_to_one_and_a_non_finite_row_is_uniform() -> None:
    logits = np.array(
        [[1.0, 2.0, 3.0], [np.nan, 0.0, 0.0], [np.inf, 0.0, 0.0], [1000.0, 0.0, -1000.0]],
        np.float32,
    )
    p = softmax(logits)
    assert p.dtype == np.float64
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    assert p[0].argmax() == 2
    np.testing.assert_allclose(p[1], 1 / 3)
    np.testing.assert_allclose(p[2], 1 / 3)
    np.testing.assert_allclose(p[3], [1.0, 0.0, 0.0])  # large but finite: no overflow


def test_the_expected_level_weighs_each_level_by_its_probability() -> None:
    probs = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.25, 0.5, 0.25], [0.5, 0.0, 0.5]])
    np.testing.assert_allclose(expected_level(probs), [0.0, 2.0, 1.0, 1.0])


def test_level_weights_are_slots_of_one_over_n() -> None:
    w = level_weights(np.array([0.0, 1.0, 2.0, 1.0]), budget=1.0, cap=1.0)
    np.testing.assert_allclose(w, [0.0, 0.25, 0.5, 0.25])
    w5 = level_weights(np.array([1.0, 1.0, 0.0, 0.0, 0.5]), budget=1.0, cap=1.0)
    np.testing.assert_allclose(w5, [0.2, 0.2, 0.0, 0.0, 0.1])  # N is the last axis


def test_level_weights_cap_each_name_and_clip_levels_to_zero_two() -> None:
    w = level_weights(np.array([2.0, 1.0, 0.0, 5.0, -1.0]), budget=1.0, cap=0.3)
    np.testing.assert_allclose(w, [0.3, 0.2, 0.0, 0.3, 0.0])


def test_level_weights_scale_the_book_down_to_the_budget_only_when_over_it() -> None:
    over = level_weights(np.array([2.0, 2.0, 2.0]), budget=0.9, cap=1.0)  # asks for 2.0
    np.testing.assert_allclose(over, [0.3, 0.3, 0.3])
    under = level_weights(np.array([1.0, 0.0, 0.0]), budget=0.9, cap=1.0)
    np.testing.assert_allclose(under, [1 / 3, 0.0, 0.0])
    batch = level_weights(np.array([[2.0, 2.0, 2.0], [1.0, 0.0, 0.0]]), budget=0.9, cap=1.0)
    np.testing.assert_allclose(batch, [over, under])


def test_a_universe_below_the_minimum_is_explained_in_one_line() -> None:
    assert universe_problem(("A", "B", "C")) is None
    why = universe_problem(("A", "B"))
    assert why is not None
    assert "\n" not in why
    assert f"at least {MIN_UNIVERSE} symbols; this one has 2 (A, B)" in why
    assert universe_problem(("A", "B", "C"), min_size=4) is not None
    assert universe_problem(("A",), min_size=1) is None
