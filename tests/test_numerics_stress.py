"""Discounted and expected purchases at extreme parameters, against mpmath.

Reference values were computed at 30–60 significant digits by
``scripts/numerics_references.py`` (two independent routes per value, agreeing to
1e-13; see its docstring) from the grids below, which it reads from this file; they are
frozen here so that the tests need neither mpmath nor minutes.  The grids hold the
worst points of the issue-20 audit (BG/NBD lifetime DERT off by up to 1.7e-2, 144 of
202 stress points above 1e-8; conditional expected purchases off by up to 1.9e-6 at
``a = 1e8``) and corners: ``r`` up to 5,000, ``α`` from 0.05 to 1e4, ``a, b`` from
0.05 to 5e8, daily to monthly discount rates.

Six DERT points with ``a < 0.5`` are not in the grid: at finite horizons mpmath's Beta
integral (route i) does not converge there (its values at 30 and 45 digits differ by up
to 1.7 %) and its ``hyp2f1`` (route ii) fails, so no trustworthy reference exists yet;
e.g. ``(r, α, a, b, δ) = (0.255184, 6520.3, 0.050467, 13.9629, 0.00571402)``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clvmodels.models import bgnbd, discount, mbgnbd, paretonbd

# (r, alpha, a, b, delta): parameters of an active BG/NBD customer (a posterior
# (r+x, α+T, a, b+x)) and the discount rate per time unit
DERT_GRID = (
    (719.025, 6378.38, 29289500.0, 2382940.0, 0.00308226),  # audit's worst, 1.7e-2
    (792.875, 115.405, 5265.57, 0.622214, 0.0117193),
    (558.739, 134.41, 30357300.0, 115.851, 0.00603175),
    (1665.82, 277.733, 3943020.0, 0.127478, 0.0061789),
    (734.787, 16.3082, 15462900.0, 16438500.0, 0.0230769),
    (168.988, 49.594, 44777500.0, 13247200.0, 0.00591529),
    (1752.53, 24.4896, 8712.3, 58873.4, 0.00606783),
    (147.71, 697.684, 783.575, 5.89871, 0.000165156),
    (3749.13, 12.5419, 28282600.0, 108689000.0, 0.0224398),
    (1176.42, 20.793, 5781760.0, 1455690.0, 0.0158045),
    (1410.67, 12.7235, 55497900.0, 506880000.0, 0.00625338),
    (402.519, 18.4437, 2598.08, 840.385, 0.0055705),
    (432.161, 2.29317, 23931.2, 30223.0, 0.0274986),
    (232.651, 18.4231, 87292.0, 1.98908, 0.00348123),
    (1945.78, 28.7212, 5044790.0, 11333000.0, 0.00477217),
    (321.011, 8.97698, 85011100.0, 155426000.0, 0.00425145),
    (448.123, 16.3585, 1.46758, 1.95662, 0.000301895),
    (901.561, 11.8283, 113.579, 72.9304, 0.00209623),
    (781.627, 6.15978, 162168.0, 0.326372, 0.00546339),
    (65.0495, 3.99966, 2193.8, 0.569269, 0.00604596),
    (2.2426, 43.2735, 690000.0, 690002.0, 0.00182662),  # issue 20: a = 6.9e5
    (7.2426, 43.4135, 100000000.0, 100000000.0, 0.00182662),  # issue 20: a = 1e8
    (0.0812135, 0.0980044, 3.88988, 477.657, 0.0138875),
    (31.7625, 1.7157, 53838500.0, 0.0896052, 0.000840136),
    (0.450271, 4040.82, 34639.7, 31699.1, 0.00176265),
    (0.646249, 0.0676306, 377259.0, 7925790.0, 0.00319671),
    (1707.94, 0.452371, 2.62387, 3.86432, 0.00597428),
    (9.57287, 9.50639, 10226900.0, 0.0648148, 0.00359867),
    (0.0465308, 49.7336, 6029.01, 0.190684, 0.000801043),
    (0.2426, 43.2735, 0.7929, 2.4259, 0.00182662),  # CDNOW, x = 0, T = 38.86
    (2.2426, 43.2735, 0.7929, 4.4259, 0.00182662),  # CDNOW, x = 2
    (29.2426, 43.4135, 0.7929, 31.4259, 0.00182662),  # CDNOW, x = 29
    (50.0, 2.0, 100000000.0, 0.3, 0.00182662),  # dropout probability ≈ 1
    (5000.0, 0.05, 10000000.0, 10000000.0, 5.42163e-05),  # 1e5 purchases a day
    (2000.0, 10000.0, 1.5, 2.0, 0.00182662),
    (3.0, 10.0, 1.0, 5.0, 0.00182662),  # a = 1: eq. 7 is 0/0
    (1.5, 5.0, 3.5, 10.0, 0.00182662),  # a − 1 − r an integer: hyp2f1's degenerate case
)
DERT_HORIZONS = (None, 52.0, 520.0)  # None: the whole lifetime

# (r, alpha, s, beta, delta) of an active Pareto/NBD customer (a posterior (r+x, α+T,
# s, β+T)): the 14 worst of 150 random stress points before issue 20, and corners
PARETO_GRID = (
    (0.151775, 55.9901, 531.049, 2563.62, 0.00599684),
    (443.717, 8951.94, 772.76, 178.329, 0.0245063),
    (1578.84, 70.5205, 339.033, 535.171, 0.00404014),
    (1.47013, 43.7931, 334.084, 361.347, 0.002447),
    (1.69543, 3560.94, 484.511, 8792.94, 0.00598516),
    (998.425, 0.209522, 138.3, 486.414, 0.00537618),
    (0.494833, 576.557, 407.971, 1537.4, 0.000403356),
    (0.0462446, 24.5687, 127.648, 217.775, 0.0033611),
    (39.7248, 185.653, 297.576, 1590.71, 0.000779312),
    (201.958, 5.55844, 90.9803, 17.5794, 0.00956718),
    (0.0971994, 1857.88, 182.258, 32.2782, 0.00270918),
    (31.2195, 119.0, 328.507, 938.22, 0.000138472),
    (254.512, 17.0148, 560.67, 279.185, 0.000598651),
    (1368.6, 7320.99, 153.382, 122.057, 0.00116784),
    (0.5533, 49.5776, 0.6061, 50.665, 0.00182662),  # CDNOW (FHL 2005), T = 39
    (1.0, 10.0, 0.05, 0.05, 5.42163e-05),  # slow dropout, daily data
    (5.0, 1.0, 1000.0, 0.05, 0.0229),  # fast dropout, monthly data
    (3.0, 2.0, 1.0, 100.0, 0.00182662),  # s = 1: a logarithm in E(t)
)
PARETO_HORIZONS = (None, 52.0, 520.0)

# conditional expected purchases at large a and b (issue 20 §3.2): r, α of CDNOW
# (FHL 2005); every (a, b = factor·a, history (x, t_x, T), t) of these
EP_R_ALPHA = (0.2426, 4.4135)
EP_A = (690000.0, 100000000.0)
EP_B_FACTOR = (0.3, 1.0, 3.0)
EP_HISTORIES = ((0, 0.0, 38.86), (2, 30.43, 38.86), (30, 38.0, 38.5))
EP_HISTORIES_MBGNBD = ((0, 0.0, 38.86), (7, 35.0, 39.0))
EP_T = (1.0, 39.0, 52.0, 520.0)

# E[X(t)] of an active BG/NBD customer, (s = t/α, r, a, b): where SciPy's hyp2f1 erred by
# up to 1e-7 in both forms of FHL 2005 eq. 7 alike (large t/α and b), where 1 − Q
# cancels (r ≈ 700, small t), and tiny b (most of the Beta mass within 1e-10 of p = 1)
ACTIVE_GRID = (
    (10424.8, 0.0218983, 4.95241, 148.537),
    (6013.29, 5.47193, 1.09837, 157.019),
    (92463.4, 3.096, 0.0910928, 155.513),
    (79429.5, 4.9029, 0.75066, 81.0482),
    (16527.1, 4.65121, 0.685203, 82.1736),
    (1709.59, 3.50464, 0.102172, 131.574),
    (8.78976, 9.21519, 0.0980276, 57462.0),
    (0.0105388, 705.713, 1.43452, 1.93081),
    (0.0110147, 727.693, 1.40044, 1.4839),
    (80.29, 0.0724, 0.2829, 0.06184),
    (98.6, 0.0272, 0.09409, 0.06191),
    (5.655, 0.2973, 0.1946, 0.05901),
    (0.3394, 552.9, 1.053, 0.05659),
)

DERT_RTOL = 1e-9  # what bgnbd.discounted_active_purchases promises
EXPECTED_RTOL = 1e-10  # what beta_average_expected promises
MONOTONE_RTOL = 1e-12  # a longer horizon never gives less beyond rounding (the audit's test)


PARAMETERS = {bgnbd: ("r", "alpha", "a", "b"), paretonbd: ("r", "alpha", "s", "beta")}


def _active_dert(module, point, horizon: float | None = None) -> float:
    """Discounted purchases of an active customer, ``point = (*parameters, delta)``."""
    params = dict(zip(PARAMETERS[module], point[:4], strict=True))
    return float(module.discounted_active_purchases(
        0.0, 0.0, **params, delta=point[4], horizon=math.inf if horizon is None else horizon
    ))


@pytest.mark.parametrize("column", range(3), ids=["lifetime", "52", "520"])
@pytest.mark.parametrize("module", [bgnbd, paretonbd], ids=["bgnbd", "paretonbd"])
def test_dert_matches_mpmath_on_the_stress_grid(module, column):
    grid, horizons, reference = (
        (DERT_GRID, DERT_HORIZONS, DERT_REFERENCE)
        if module is bgnbd
        else (PARETO_GRID, PARETO_HORIZONS, PARETO_REFERENCE)
    )
    got = [_active_dert(module, point, horizons[column]) for point in grid]
    np.testing.assert_allclose(got, [row[column] for row in reference], rtol=DERT_RTOL, atol=0.0)


def test_mbgnbd_dert_is_the_bgnbd_one_at_b_plus_one():
    """MBG/NBD's active customer is a BG/NBD one at ``b + 1``: the same references."""
    rows = [k for k, point in enumerate(DERT_GRID) if point[3] > 1.0]
    got = [
        float(mbgnbd.discounted_active_purchases(
            0.0, 0.0, r=r, alpha=alpha, a=a, b=b - 1.0, delta=delta
        ))
        for r, alpha, a, b, delta in (DERT_GRID[k] for k in rows)
    ]
    np.testing.assert_allclose(got, [DERT_REFERENCE[k][0] for k in rows], rtol=DERT_RTOL)


@pytest.mark.parametrize("module", [bgnbd, mbgnbd], ids=["bgnbd", "mbgnbd"])
def test_conditional_expected_purchases_at_large_a_and_b_match_mpmath(module):
    """FHL 2005 eq. 10 (BDF 2007 appendix A for the MBG/NBD) at ``a`` = 6.9e5 and 1e8:
    the Beta average has no ``log B(a, b)`` floor (it was off by up to 1.9e-6)."""
    histories, expected = (
        (EP_HISTORIES, EP_REFERENCE_BGNBD)
        if module is bgnbd
        else (EP_HISTORIES_MBGNBD, EP_REFERENCE_MBGNBD)
    )
    r, alpha = EP_R_ALPHA
    grid = list(itertools.product(EP_A, EP_B_FACTOR, histories, EP_T))
    a, factor, history, t = (np.array(v, dtype=float) for v in zip(*grid, strict=True))
    x, t_x, T = np.array(history, dtype=float).T
    got = module.conditional_expected_purchases(
        t, x, t_x, T, r=r, alpha=alpha, a=a, b=a * factor
    )
    np.testing.assert_allclose(got, expected, rtol=EXPECTED_RTOL, atol=0.0)


def test_active_expected_purchases_match_mpmath_where_hyp2f1_fails():
    s, r, a, b = (np.array(v) for v in zip(*ACTIVE_GRID, strict=True))
    got = bgnbd.expected_purchases(s, r=r, alpha=1.0, a=a, b=b)
    np.testing.assert_allclose(got, ACTIVE_REFERENCE, rtol=EXPECTED_RTOL, atol=0.0)


def _log_uniform(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(math.log10(low), math.log10(high)).map(lambda e: 10.0**e)


@settings(max_examples=40, deadline=None)
@given(
    model=st.sampled_from([bgnbd, paretonbd]),
    r=_log_uniform(0.02, 5000.0),
    alpha=_log_uniform(0.05, 1e4),
    dropout=st.tuples(_log_uniform(0.05, 1e8), _log_uniform(0.05, 1e8)),
    yearly_rate=st.floats(0.01, 0.5),
    unit=st.sampled_from(["D", "W", "M"]),
    horizons=st.lists(_log_uniform(0.1, 1e6), min_size=2, max_size=4, unique=True),
)
def test_dert_never_decreases_with_the_horizon(
    model, r, alpha, dropout, yearly_rate, unit, horizons
):
    """BG/NBD ``(a, b)`` or Pareto/NBD ``(s, β)`` (``s`` capped at 1,000) from the
    dropout pair; the lifetime last."""
    first, second = dropout if model is bgnbd else (min(dropout[0], 1000.0), dropout[1] / 1e4)
    point = (r, alpha, first, second, discount.continuous_rate(yearly_rate, unit))
    values = [_active_dert(model, point, h) for h in [*sorted(horizons), None]]
    for shorter, longer in itertools.pairwise(values):
        assert shorter <= longer * (1.0 + MONOTONE_RTOL)


@pytest.mark.parametrize("module", [bgnbd, mbgnbd, paretonbd], ids=lambda m: m.__name__)
def test_horizons_beyond_the_lifetime_cut_give_the_lifetime_value(module):
    """Every horizon with ``e^(−δH) ≤ e^−50`` gives exactly the lifetime DERT."""
    delta = discount.continuous_rate(0.10, "W")
    params = (
        {"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7}
        if module is paretonbd
        else {"r": 0.24, "alpha": 4.41, "a": 0.79, "b": 2.43}
    )
    x, t_x, T = np.array([0.0, 2.0, 7.0]), np.array([0.0, 30.4, 35.0]), np.array([38.9] * 3)
    lifetime = module.discounted_expected_residual_transactions(x, t_x, T, **params, delta=delta)
    for horizon in (discount.LIFETIME_CUT / delta, 1e6):
        finite = module.discounted_expected_residual_transactions(
            x, t_x, T, **params, delta=delta, horizon=horizon
        )
        np.testing.assert_array_equal(finite, lifetime)
PARETO_REFERENCE = (
    (0.012740516160344082, 0.012740293853231738, 0.012740516160344082),
    (0.011388673729763526, 0.011388673729763526, 0.011388673729763526),
    (35.2191633209295, 35.219163320928814, 35.2191633209295),
    (0.03632167888744414, 0.03632167888744414, 0.03632167888744414),
    (0.007807158168858598, 0.007476857240197934, 0.0078071581688583),
    (16564.145649259688, 16564.13467075766, 16564.145649259688),
    (0.0032372552501856145, 0.003237251064108089, 0.0032372552501856145),
    (0.0032178515712927287, 0.0032178515712882245, 0.0032178515712927287),
    (1.1428708067472955, 1.1427918835968036, 1.1428708067472955),
    (7.085078479845327, 7.085078479845327, 7.085078479845327),
    (9.31209534665459e-06, 9.31209534665459e-06, 9.31209534665459e-06),
    (0.7512600767535259, 0.7512600608993114, 0.7512600767535259),
    (7.459531666394959, 7.459531666394959, 7.459531666394959),
    (0.149598418477598, 0.149598418477598, 0.149598418477598),
    (2.0345802841588245, 0.440691828905552, 1.6399860714421912),
    (1002.2442925838859, 3.8604430686391433, 33.997797946553604),
    (0.00025024996313982193, 0.00025024996313982193, 0.00025024996313982193),
    (233.63855134631297, 60.11420366185613, 201.8663101952554),
)
EP_REFERENCE_BGNBD = (
    0.005545097219213275,
    0.1559244971881232,
    0.1908868413784477,
    0.560721317337697,
    0.007846748976683863,
    0.14036379286722736,
    0.15586866756922452,
    0.20143187544932667,
    0.093970360401881,
    0.22607142287154774,
    0.22607144703558432,
    0.22607144754157807,
    0.005566301227227533,
    0.1725861339114651,
    0.21574932481514705,
    0.7529486757731697,
    0.019373699950711518,
    0.4309719569753962,
    0.49654284322639425,
    0.7520461527279289,
    0.2437170837134224,
    0.8246432923437462,
    0.8246527135068503,
    0.824653209170843,
    0.005586166122496882,
    0.1923990904521083,
    0.24695544346562467,
    1.1431267536525114,
    0.033298438058216445,
    0.9494512095012271,
    1.1548720235898782,
    2.478666822866949,
    0.4368659524519082,
    2.706129282753243,
    2.7107712397928565,
    2.711678484103214,
    0.005545097218951472,
    0.15592449274375905,
    0.1908868337166906,
    0.5607212149900982,
    0.007846716704197343,
    0.14036302488162108,
    0.15586778036836918,
    0.20143055343099625,
    0.09395877519968893,
    0.22603785945012286,
    0.22603788359988908,
    0.22603788410554174,
    0.005566301226984271,
    0.17258612794552816,
    0.21574931373093212,
    0.7529484199917139,
    0.019373682167178136,
    0.43097122344351735,
    0.4965419083575331,
    0.7520439177016907,
    0.2437102088196831,
    0.8246046714219538,
    0.8246140898748977,
    0.8246145853655514,
    0.005586166122404378,
    0.19239908706376185,
    0.246955436524875,
    1.1431263426453395,
    0.03329843221822586,
    0.949450779786285,
    1.154871394201185,
    2.4786625507120212,
    0.4368635776344486,
    2.706085489797693,
    2.7107270057732,
    2.711634134496121,
)
EP_REFERENCE_MBGNBD = (
    0.0008154974012321339,
    0.02293125875381369,
    0.028073047427574438,
    0.08246332140292463,
    0.020132885176409984,
    0.16479880123575538,
    0.1670632444121075,
    0.16855144015463702,
    0.002031574556793385,
    0.06299005995625469,
    0.0787436570958577,
    0.2748094342327825,
    0.0528161114718814,
    0.6184112068308668,
    0.6414274829903931,
    0.6635952589433096,
    0.0035356263993442582,
    0.12177427532489264,
    0.15630437978612916,
    0.7235140939972373,
    0.09749158592819158,
    1.8415996609351377,
    2.034340312451339,
    2.393242852461551,
    0.0008154973913745403,
    0.02293125121485466,
    0.02807303626441933,
    0.08246324140430497,
    0.020132284145658166,
    0.16479257843740464,
    0.16705687724019852,
    0.1685449649253212,
    0.0020315745463141154,
    0.06299004862026646,
    0.07874363905448857,
    0.2748092112382373,
    0.05281574175071279,
    0.618403788579029,
    0.6414194668510677,
    0.663586493723381,
    0.0035356263947422853,
    0.12177426804617812,
    0.15630436705353845,
    0.7235136919476992,
    0.0974914477944421,
    1.8415933863426452,
    2.0343325021982284,
    2.3932301559198157,
)
ACTIVE_REFERENCE = (
    4.3572396824063535,
    644.222902726402,
    156645.84847954818,
    2312.5858907752295,
    1934.7200876425263,
    4403.7103049846955,
    80.99310877598255,
    2.7556714934790447,
    2.553310091488624,
    0.6902685245203277,
    0.8498975049486992,
    0.6564317109006299,
    1.2774373178301666,
)
DERT_REFERENCE = (
    [1.0502631812175809, 1.0462250413179126, 1.0502631812175809],
    [0.9984127735014747, 0.9984127735014747, 0.9984127735014747],
    [0.9985523222269372, 0.9985523222269372, 0.9985523222269372],
    [0.9989703015611495, 0.9989703015611495, 0.9989703015611495],
    [2.060912343975906, 2.060912343975906, 2.060912343975906],
    [1.2929192122171176, 1.2929192122171176, 1.2929192122171176],
    [7.753175768243629, 7.753175768243629, 7.753175768243629],
    [1.0067409029825645, 1.0067145246093605, 1.0067409029825645],
    [4.84120316977319, 4.84120316977319, 4.84120316977319],
    [1.251334931008896, 1.251334931008896, 1.251334931008896],
    [10.127526318219452, 10.127526318219452, 10.127526318219452],
    [1.3231402522150706, 1.3231402522150706, 1.3231402522150706],
    [2.262216052714286, 2.262216052714286, 2.262216052714286],
    [0.9997459904623229, 0.9997459904623229, 0.9997459904623229],
    [3.2457338814956787, 3.2457338814956787, 3.2457338814956787],
    [2.8273487532505386, 2.8273487532505386, 2.8273487532505386],
    [5.131300314509245, 4.958220788781603, 5.098347480878126],
    [1.6477402926452194, 1.6477402926452194, 1.6477402926452194],
    [0.9999589036775217, 0.9999589036775217, 0.9999589036775217],
    [0.9998820086530766, 0.9998820086530766, 0.9998820086530766],
    [1.7983541079602925, 1.2584860948322554, 1.7924031716652107],
    [1.9506702133304203, 1.8922682361735172, 1.9506697080885347],
    [16.604118962328887, 13.285435090926823, 16.603236384664783],
    [0.999953147490117, 0.999953147490117, 0.999953147490117],
    [0.05747046111368234, 0.00551034889880372, 0.03644291118896968],
    [20.54894864792856, 19.453503479671127, 20.5281268573799],
    [3.3796594349030995, 3.3796593865091094, 3.379659434874985],
    [0.9960274025935164, 0.9960273886294837, 0.9960274025935164],
    [0.1208662638427657, 0.032162952423623305, 0.09502935358301946],
    [1.3020680401313978, 0.24061168653360424, 1.025135595099725],
    [8.769489808735832, 2.053198173797778, 7.3047456994760145],
    [88.92101654698023, 24.351483171562478, 75.9513141470881],
    [0.9999254527551332, 0.9999254527551332, 0.9999254527551332],
    [2.000000097830924, 2.000000097830924, 2.000000097830924],
    [4.001103245962879, 2.9528687683082007, 3.938902094101521],
    [14.884831669528367, 6.650757746574216, 13.72041284534045],
    [4.585943508093599, 3.7077643682255714, 4.567277433901396],
)
