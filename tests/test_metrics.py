"""Tests for skhash.metrics against brute-force references."""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import config_context
from sklearn.datasets import load_digits

from skhash.codes import pack_codes
from skhash.metrics import (
    mean_average_precision,
    precision_at_k,
    precision_recall_curve,
    precision_recall_within_radius,
)

# ---------------------------------------------------------------------------------------
# brute-force references: explicit rankings
# ---------------------------------------------------------------------------------------


def _hamming(q, db):
    return ((q[:, None, :] > 0) != (db[None, :, :] > 0)).sum(-1)


def _relevance(yq, yd):
    yq, yd = np.asarray(yq), np.asarray(yd)
    if yq.ndim == 1:
        return yq[:, None] == yd[None, :]
    return (yq @ yd.T) > 0


def _ap_of_ranking(rel_ranked, k):
    rel_ranked = np.asarray(rel_ranked[:k], dtype=float)
    if rel_ranked.sum() == 0:
        return 0.0
    prec = np.cumsum(rel_ranked) / np.arange(1, len(rel_ranked) + 1)
    return float((prec * rel_ranked).sum() / rel_ranked.sum())


def _rankings(q, yq, db, yd, loo):
    dist = _hamming(q, db)
    rel = _relevance(yq, yd)
    for i in range(len(q)):
        keep = np.arange(db.shape[0]) != i if loo else np.ones(db.shape[0], bool)
        idx = np.flatnonzero(keep)
        order = idx[np.lexsort((idx, dist[i, idx]))]
        yield dist[i, order], rel[i, order]


def _ref_map(q, yq, db, yd, k=None, loo=False):
    aps = []
    for _d, r in _rankings(q, yq, db, yd, loo):
        aps.append(_ap_of_ranking(r, len(r) if k is None else k))
    return float(np.mean(aps))


def _ref_tie_average(d, r, k):
    """Enumerate every order within tied groups; return (E[AP] , E[num]/E[R_k])."""
    groups = [np.flatnonzero(d == v) for v in np.unique(d)]
    perms = [list(itertools.permutations(g)) for g in groups]
    aps, nums, rks = [], [], []
    for combo in itertools.product(*perms):
        rr = r[np.concatenate(combo)][:k].astype(float)
        prec = np.cumsum(rr) / np.arange(1, len(rr) + 1)
        nums.append((prec * rr).sum())
        rks.append(rr.sum())
        aps.append(nums[-1] / rks[-1] if rks[-1] else 0.0)
    ratio = np.mean(nums) / np.mean(rks) if np.mean(rks) else 0.0
    return float(np.mean(aps)), float(ratio)


@pytest.fixture(scope="module")
def random_codes():
    rng = np.random.RandomState(0)
    q = rng.choice([-1, 1], size=(30, 13))
    db = rng.choice([-1, 1], size=(80, 13))
    return q, rng.randint(0, 4, 30), db, rng.randint(0, 4, 80)


# ---------------------------------------------------------------------------------------
# mAP
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [None, 1, 7, 50, 1000])
def test_map_matches_explicit_ranking_with_index_ties(random_codes, k):
    """Index-order mAP@k equals AP computed on the explicitly sorted (distance, index) list."""
    q, yq, db, yd = random_codes
    assert mean_average_precision(q, yq, db, yd, k=k) == pytest.approx(
        _ref_map(q, yq, db, yd, k=k), abs=1e-12
    )


@pytest.mark.parametrize("k", [None, 5])
def test_map_multilabel_and_sparse_labels(k):
    """Multi-label relevance (shares a label) matches the reference, dense or sparse."""
    rng = np.random.RandomState(1)
    q, db = rng.randn(20, 16), rng.randn(60, 16)
    yq = (rng.rand(20, 5) < 0.3).astype(int)
    yd = (rng.rand(60, 5) < 0.3).astype(int)
    expected = _ref_map(q, yq, db, yd, k=k)
    assert mean_average_precision(q, yq, db, yd, k=k) == pytest.approx(expected, abs=1e-12)
    got = mean_average_precision(q, sp.csr_matrix(yq), db, sp.csr_matrix(yd), k=k)
    assert got == pytest.approx(expected, abs=1e-12)


def test_leave_one_out_excludes_the_query_itself(random_codes):
    """db_codes=None ranks every query against all the other queries, never itself."""
    q, yq, _, _ = random_codes
    assert mean_average_precision(q, yq) == pytest.approx(
        _ref_map(q, yq, q, yq, loo=True), abs=1e-12
    )
    # with itself in the database, each query would find a relevant item at distance 0
    assert mean_average_precision(q, yq, q, yq) > mean_average_precision(q, yq)


def test_query_without_relevant_items_scores_zero_and_counts():
    """A query with no relevant item contributes AP 0 to the mean (it is not dropped)."""
    db = np.array([[1, 1], [1, -1], [-1, -1]])
    q = np.array([[1, 1], [1, 1]])
    # first query: relevant item at rank 1 (AP 1); second: no relevant item (AP 0)
    assert mean_average_precision(q, [0, 9], db, [0, 1, 1]) == pytest.approx(0.5)


@pytest.mark.parametrize("seed", range(6))
def test_tie_aware_ap_equals_enumeration(seed):
    """ties='average' equals the mean AP over every order within tied groups."""
    rng = np.random.RandomState(seed)
    db = rng.choice([-1, 1], size=(7, 3))
    q = rng.choice([-1, 1], size=(1, 3))
    yd = rng.randint(0, 2, 7)
    yd[0] = 0
    d = _hamming(q, db)[0]
    r = yd == 0
    order = np.argsort(d, kind="stable")
    d, r = d[order], r[order]
    expected_full, _ = _ref_tie_average(d, r, 7)
    got = mean_average_precision(q, [0], db, yd, ties="average")
    assert got == pytest.approx(expected_full, abs=1e-12)
    for k in range(1, 8):
        exact, ratio = _ref_tie_average(d, r, k)
        got = mean_average_precision(q, [0], db, yd, k=k, ties="average")
        assert got == pytest.approx(ratio, abs=1e-12)
        if k == 7 or d[k - 1] != d[k]:  # k ends a tie group: the exact expectation
            assert got == pytest.approx(exact, abs=1e-12)


def test_tie_aware_ap_does_not_depend_on_database_order(random_codes):
    """Permuting the database changes index-order AP but never tie-aware AP."""
    q, yq, db, yd = random_codes
    perm = np.random.RandomState(3).permutation(len(db))
    a = mean_average_precision(q, yq, db, yd, ties="average")
    b = mean_average_precision(q, yq, db[perm], yd[perm], ties="average")
    assert a == pytest.approx(b, abs=1e-12)


# ---------------------------------------------------------------------------------------
# precision@k, Hamming balls, curves
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 3, 10, 80, 200])
def test_precision_at_k_matches_reference(random_codes, k):
    """precision@k equals the precision of the first k items of the explicit ranking."""
    q, yq, db, yd = random_codes
    ref = np.mean([r[:k].sum() / min(k, len(r)) for _, r in _rankings(q, yq, db, yd, False)])
    assert precision_at_k(q, yq, db, yd, k=k) == pytest.approx(ref, abs=1e-12)


def test_precision_at_k_tie_average_is_expected_precision(random_codes):
    """ties='average' precision@k is the expectation over orders within the split group."""
    q, yq, db, yd = random_codes
    expected = []
    for d, r in _rankings(q, yq, db, yd, False):
        kth = d[9]
        before = r[d < kth].sum()
        n_before = (d < kth).sum()
        at = d == kth
        expected.append((before + (10 - n_before) * r[at].mean()) / 10)
    got = precision_at_k(q, yq, db, yd, k=10, ties="average")
    assert got == pytest.approx(np.mean(expected), abs=1e-12)


@pytest.mark.parametrize("radius", [0, 2, 5, 13, 40])
def test_precision_recall_within_radius_matches_reference(random_codes, radius):
    """Ball precision/recall match direct counting; empty balls give precision 0."""
    q, yq, db, yd = random_codes
    dist, rel = _hamming(q, db), _relevance(yq, yd)
    ball = dist <= radius
    n_ret = ball.sum(1)
    hits = (ball & rel).sum(1)
    prec = np.where(n_ret > 0, hits / np.maximum(n_ret, 1), 0.0)
    rec = np.where(rel.sum(1) > 0, hits / np.maximum(rel.sum(1), 1), 0.0)
    p, r = precision_recall_within_radius(q, yq, db, yd, radius=radius)
    assert p == pytest.approx(prec.mean(), abs=1e-12)
    assert r == pytest.approx(rec.mean(), abs=1e-12)
    if radius == 0:
        assert (n_ret == 0).any()  # the convention is exercised


def test_precision_recall_curve_is_the_ball_metric_at_every_radius(random_codes):
    """Curve point r equals precision_recall_within_radius(radius=r); recall ends at 1."""
    q, yq, db, yd = random_codes
    precision, recall, radii = precision_recall_curve(q, yq, db, yd)
    assert radii.tolist() == list(range(14))
    assert np.all(np.diff(recall) >= 0)
    assert recall[-1] == pytest.approx(1.0)
    for r in (0, 4, 13):
        assert (precision[r], recall[r]) == pytest.approx(
            precision_recall_within_radius(q, yq, db, yd, radius=r)
        )


# ---------------------------------------------------------------------------------------
# input forms, chunking, real data
# ---------------------------------------------------------------------------------------


def test_packed_and_any_numeric_codes_give_the_same_result(random_codes):
    """±1, 0/1, bool, real-valued and packed codes are all the same codes."""
    q, yq, db, yd = random_codes
    base = mean_average_precision(q, yq, db, yd)
    assert mean_average_precision(q > 0, yq, db > 0, yd) == base
    assert mean_average_precision((q > 0).astype(float) * 3.5, yq, db * 0.1, yd) == base
    packed = mean_average_precision(pack_codes(q), yq, pack_codes(db), yd, packed=True)
    assert packed == base


def test_chunked_evaluation_equals_one_chunk(random_codes):
    """A tiny working_memory (many chunks) gives exactly the same figures."""
    q, yq, db, yd = random_codes
    full = (
        mean_average_precision(q, yq, db, yd, k=20),
        mean_average_precision(q, yq),
        precision_at_k(q, yq, db, yd, k=5),
        precision_recall_within_radius(q, yq, db, yd),
    )
    with config_context(working_memory=0.001):
        small = (
            mean_average_precision(q, yq, db, yd, k=20),
            mean_average_precision(q, yq),
            precision_at_k(q, yq, db, yd, k=5),
            precision_recall_within_radius(q, yq, db, yd),
        )
    assert small == full


def test_digits_codes_from_labels_are_perfect_and_random_codes_are_chance():
    """On digits, label-derived codes score mAP 1 and random codes about 1/n_classes."""
    X, y = load_digits(return_X_y=True)
    perfect = np.where(np.eye(10)[y] > 0, 1, -1)
    assert mean_average_precision(perfect, y) == pytest.approx(1.0)
    assert precision_recall_within_radius(perfect, y, radius=0) == pytest.approx((1.0, 1.0))
    rng = np.random.RandomState(0)
    noise = rng.choice([-1, 1], size=(len(y), 32))
    chance = mean_average_precision(noise, y, ties="average")
    assert 0.08 < chance < 0.13


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            dict(
                query_codes=np.ones((2, 4)),
                query_labels=[0],
                db_codes=np.ones((3, 4)),
                db_labels=[0, 1, 0],
            ),
            "query_labels has 1 rows",
        ),
        (
            dict(
                query_codes=np.ones((1, 4)),
                query_labels=[0],
                db_codes=np.ones((3, 5)),
                db_labels=[0, 1, 0],
            ),
            "4 bits but database codes have 5",
        ),
        (
            dict(
                query_codes=np.ones((1, 4)),
                query_labels=[0],
                db_codes=np.ones((3, 4)),
                db_labels=np.eye(3),
            ),
            "both be 1-D class labels or both be 2-D",
        ),
        (
            dict(
                query_codes=[[np.nan, 1.0]],
                query_labels=[0],
                db_codes=np.ones((3, 2)),
                db_labels=[0, 1, 0],
            ),
            "NaN",
        ),
        (
            dict(query_codes=np.ones((1, 4)), query_labels=[0], db_codes=np.ones((3, 4))),
            "db_codes and db_labels together",
        ),
        (dict(query_codes=np.ones((1, 4)), query_labels=[0]), "at least 2 samples"),
        (
            dict(
                query_codes=np.ones((1, 4)),
                query_labels=None,
                db_codes=np.ones((3, 4)),
                db_labels=[0, 1, 0],
            ),
            "query_labels is None",
        ),
        (dict(query_codes=np.ones((3, 4)), query_labels=None), "query_labels is None"),
        (
            dict(
                query_codes=np.ones((1, 4)),
                query_labels=[0],
                db_codes=np.ones((3, 4)),
                db_labels=np.zeros((3, 2, 2)),
            ),
            r"db_labels must be 1-D class labels or a 2-D indicator matrix; got shape \(3, 2, 2\)",
        ),
        (
            dict(
                query_codes=np.ones((1, 4)),
                query_labels=[[0, 2]],
                db_codes=np.ones((1, 4)),
                db_labels=[[1, 0]],
            ),
            "0/1 indicator",
        ),
    ],
)
def test_bad_input_gives_a_clear_error(kwargs, match):
    """Mismatched shapes, bit widths, label forms and NaN raise a ValueError naming them."""
    with pytest.raises(ValueError, match=match):
        mean_average_precision(**kwargs)


def test_bad_parameters_give_a_clear_error(random_codes):
    """k, ties and radius out of range are rejected with their value."""
    q, yq, db, yd = random_codes
    with pytest.raises(ValueError, match="k=0"):
        mean_average_precision(q, yq, db, yd, k=0)
    with pytest.raises(ValueError, match="ties='random'"):
        mean_average_precision(q, yq, db, yd, ties="random")
    with pytest.raises(ValueError, match="radius=-1"):
        precision_recall_within_radius(q, yq, db, yd, radius=-1)
    with pytest.raises(ValueError, match="dtype uint8"):
        mean_average_precision(q, yq, db, yd, packed=True)


def _multilabel(rng, n, n_labels=5):
    Y = (rng.random((n, n_labels)) < 0.3).astype(int)
    Y[Y.sum(axis=1) == 0, 0] = 1
    return Y


@pytest.mark.parametrize("multilabel", [False, True])
@pytest.mark.parametrize("leave_one_out", [False, True])
def test_metrics_do_not_depend_on_n_jobs(multilabel, leave_one_out):
    """Every metric gives the same result on 1, 2 and all threads."""
    rng = np.random.default_rng(20)
    Q, D = rng.random((120, 24)) < 0.5, rng.random((700, 24)) < 0.5
    yq = _multilabel(rng, 120) if multilabel else rng.integers(0, 4, 120)
    yd = _multilabel(rng, 700) if multilabel else rng.integers(0, 4, 700)
    args = (Q, yq) if leave_one_out else (Q, yq, D, yd)
    metrics = [
        lambda n_jobs: mean_average_precision(*args, n_jobs=n_jobs),
        lambda n_jobs: mean_average_precision(*args, k=50, ties="average", n_jobs=n_jobs),
        lambda n_jobs: precision_at_k(*args, k=30, n_jobs=n_jobs),
        lambda n_jobs: precision_recall_within_radius(*args, radius=8, n_jobs=n_jobs),
        lambda n_jobs: precision_recall_curve(*args, n_jobs=n_jobs)[:2],
    ]
    for metric in metrics:
        one = metric(1)
        with config_context(working_memory=0.05):  # several chunks as well
            for n_jobs in (2, -1):
                np.testing.assert_array_equal(metric(n_jobs), one)


@pytest.mark.parametrize("multilabel", [False, True])
def test_working_memory_bounds_what_a_chunk_allocates(multilabel, monkeypatch):
    """Everything allocated while a chunk's distances, relevance and histograms are
    computed (temporaries included) stays within working_memory, multi-label too."""
    import tracemalloc

    import skhash.metrics as metrics

    rng = np.random.default_rng(21)
    n_db = 20_000
    Q, D = rng.random((400, 32)) < 0.5, rng.random((n_db, 32)) < 0.5
    if multilabel:
        yq, yd = sp.csr_matrix(_multilabel(rng, 400)), sp.csr_matrix(_multilabel(rng, n_db))
    else:
        yq, yd = rng.integers(0, 4, 400), rng.integers(0, 4, n_db)
    Qp, Dp = pack_codes(Q), pack_codes(D)
    real, peaks, rows = metrics._chunk_stats, [], []

    def spy(Q, *args):
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        out = real(Q, *args)
        peaks.append(tracemalloc.get_traced_memory()[1] - start)
        rows.append(len(Q))
        return out

    budget = 2**20  # 1 MiB: ten queries' distances and relevance
    with config_context(working_memory=budget / 2**20):
        expected = mean_average_precision(Qp, yq, Dp, yd, packed=True)  # compile outside
        monkeypatch.setattr(metrics, "_chunk_stats", spy)
        tracemalloc.start()
        try:
            got = mean_average_precision(Qp, yq, Dp, yd, packed=True)
        finally:
            tracemalloc.stop()
    assert got == expected
    assert max(rows) == budget // (5 * n_db)  # as many queries as fit, not fewer
    assert max(peaks) <= budget


_METRICS = [
    mean_average_precision,
    precision_at_k,
    precision_recall_within_radius,
    precision_recall_curve,
]


@pytest.mark.parametrize("metric", _METRICS, ids=lambda m: m.__name__)
def test_string_and_number_labels_are_never_compared(metric, random_codes):
    """Query labels "1" against database labels 1 raise a ValueError instead of matching."""
    q, yq, db, yd = random_codes
    with pytest.raises(ValueError, match=r"query_labels are strings but db_labels are numbers"):
        metric(q, yq.astype(str), db, yd)
    with pytest.raises(ValueError, match=r"query_labels are numbers but db_labels are strings"):
        metric(q, yq, db, yd.astype(str))


@pytest.mark.parametrize(
    "bad, match",
    [
        (None, r"db_labels contains None at position 5"),
        ("1", r"db_labels mixes label types: .* and '1' \(string, position 5\)"),
        (float("nan"), r"db_labels contains NaN or infinity \(nan at position 5\)"),
    ],
)
def test_missing_or_mixed_object_labels_are_a_clear_error(bad, match, random_codes):
    """An object label array holding None, NaN or a string among numbers: a clear ValueError."""
    q, yq, db, yd = random_codes
    labels = yd.astype(object)
    labels[5] = bad
    with pytest.raises(ValueError, match=match):
        mean_average_precision(q, yq, db, labels)


def test_labels_of_one_kind_score_as_their_values(random_codes):
    """Strings on both sides, or numbers of mixed dtypes, score like the integer labels."""
    q, yq, db, yd = random_codes
    expected = mean_average_precision(q, yq, db, yd)
    assert mean_average_precision(q, yq.astype(str), db, yd.astype(str)) == expected
    assert mean_average_precision(q, yq.astype(float), db, yd.astype(object)) == expected
