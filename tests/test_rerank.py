"""HashingNearestNeighbors and its re-rank kernels against exhaustive exact search."""

import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skhash import HammingNeighbors, HashingNearestNeighbors, ITQHasher, SCHHasher
from skhash.neighbors._rerank_kernels import (
    COSINE,
    DOT,
    EUCLIDEAN,
    exact_kneighbors,
    rerank_kneighbors,
)


def _gaussian(n=300, d=12, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def _reference(X, Q, metric, k, exclude_self=False):
    """Exact k-NN by numpy in float64, ties by index."""
    X64, Q64 = X.astype(np.float64), Q.astype(np.float64)
    if metric == "euclidean":
        D = ((Q64[:, None, :] - X64[None]) ** 2).sum(axis=2)
    elif metric == "cosine":
        nx = np.linalg.norm(X64, axis=1)
        nq = np.linalg.norm(Q64, axis=1)
        D = 1 - (Q64 @ X64.T) / np.outer(nq, nx)
    else:
        D = -(Q64 @ X64.T)
    if exclude_self:
        np.fill_diagonal(D, np.inf)
    idx = np.broadcast_to(np.arange(X.shape[0]), D.shape)
    order = np.lexsort((idx, D), axis=1)[:, :k]
    return np.take_along_axis(D, order, axis=1), order


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("hasher", [None, ITQHasher(n_bits=8, random_state=0)])
def test_full_budget_matches_sklearn(metric, hasher):
    """With a budget covering the database, kneighbors equals NearestNeighbors exactly."""
    X, Q = _gaussian(300), _gaussian(40, seed=1)
    nn = HashingNearestNeighbors(n_neighbors=7, hasher=hasher, n_candidates=300, metric=metric)
    nn.fit(X)
    ref = NearestNeighbors(n_neighbors=7, metric=metric).fit(X)
    dist, ind = nn.kneighbors(Q)
    ref_dist, ref_ind = ref.kneighbors(Q)
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-4, atol=1e-5)
    dist, ind = nn.kneighbors()
    ref_dist, ref_ind = ref.kneighbors()
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("metric", ["inner_product", "dot"])
def test_full_budget_inner_product_matches_numpy(metric):
    """inner_product ranks by largest inner product and returns it negated."""
    X, Q = _gaussian(200), _gaussian(30, seed=1)
    nn = HashingNearestNeighbors(n_neighbors=5, n_candidates=200, metric=metric).fit(X)
    dist, ind = nn.kneighbors(Q)
    ref_dist, ref_ind = _reference(X, Q, "dot", 5)
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-4, atol=1e-4)
    assert nn.effective_metric_ == "inner_product"


@pytest.mark.parametrize("metric", ["euclidean", "inner_product"])
@pytest.mark.parametrize("query_is_train", [False, True])
def test_ties_ordered_by_index(metric, query_is_train):
    """Equal distances (duplicates, integer data) come in increasing index order."""
    rng = np.random.default_rng(0)
    X = rng.integers(-2, 3, size=(120, 4)).astype(np.float32)
    X[60:] = X[:60]  # exact duplicates
    Q = None if query_is_train else rng.integers(-2, 3, size=(25, 4)).astype(np.float32)
    k = 119 if query_is_train else 120
    nn = HashingNearestNeighbors(n_neighbors=k, n_candidates=1.0, metric=metric).fit(X)
    dist, ind = nn.kneighbors(Q)
    ref_metric = "dot" if metric == "inner_product" else metric
    ref_dist, ref_ind = _reference(X, X if Q is None else Q, ref_metric, k, query_is_train)
    np.testing.assert_array_equal(ind, ref_ind)
    expected = np.sqrt(ref_dist) if metric == "euclidean" else ref_dist
    np.testing.assert_allclose(dist, expected, rtol=1e-6)


@pytest.mark.parametrize("metric", [EUCLIDEAN, COSINE, DOT])
def test_rerank_kernel_matches_reference_on_candidates(metric):
    """The fused kernel returns the exact top k of each query's candidate list."""
    rng = np.random.default_rng(3)
    X, Q = _gaussian(500, 16), _gaussian(20, 16, seed=4)
    inv = (1 / np.linalg.norm(X, axis=1)).astype(np.float32)
    Qp = Q / np.linalg.norm(Q, axis=1, keepdims=True) if metric == COSINE else Q
    cand = np.stack([rng.permutation(500)[:60] for _ in range(20)])
    dist, ind = rerank_kneighbors(X, inv, np.ascontiguousarray(Qp), cand, 10, metric)
    name = {EUCLIDEAN: "euclidean", COSINE: "cosine", DOT: "dot"}[metric]
    for i in range(20):
        ref_dist, ref_pos = _reference(X[cand[i]], Q[i : i + 1], name, 10)
        np.testing.assert_array_equal(ind[i], cand[i][ref_pos[0]])
        expected = np.sqrt(ref_dist[0]) if metric == EUCLIDEAN else ref_dist[0]
        np.testing.assert_allclose(dist[i], expected, rtol=1e-4, atol=1e-5)
    all_cand = np.stack([rng.permutation(500) for _ in range(20)])
    full = rerank_kneighbors(X, inv, np.ascontiguousarray(Qp), all_cand, 10, metric)
    exact = exact_kneighbors(X, inv, np.ascontiguousarray(Qp), 10, metric)
    np.testing.assert_array_equal(full[1], exact[1])


def test_recall_grows_with_budget_and_score_is_recall():
    """score is recall@k against exact search, and grows with the budget to 1."""
    X, _ = load_digits(return_X_y=True)
    Xdb, Q = X[:1400], X[1400:1700]
    # Digits' integer pixels tie often; exact ranks from scikit-learn on a jitter.
    jitter = np.random.default_rng(0).normal(scale=1e-3, size=X.shape)
    Xdb, Q = (Xdb + jitter[:1400]).astype(np.float32), (Q + jitter[1400:1700]).astype(np.float32)
    exact = NearestNeighbors(n_neighbors=10).fit(Xdb).kneighbors(Q, return_distance=False)
    hasher = ITQHasher(n_bits=16, random_state=0)
    recalls = []
    for budget in [10, 40, 160, 1400]:
        nn = HashingNearestNeighbors(n_neighbors=10, hasher=hasher, n_candidates=budget)
        ind = nn.fit(Xdb).kneighbors(Q, return_distance=False)
        manual = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ind, exact, strict=True)])
        assert nn.score(Q) == pytest.approx(manual)
        recalls.append(manual)
    assert recalls[0] < 0.9
    assert recalls == sorted(recalls)
    assert recalls[-1] == 1.0


def test_learned_codes_need_fewer_candidates_than_sign_bits():
    """On centred digits, ITQ codes reach a higher recall than sign bits at one budget."""
    X, _ = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    recall = {}
    for name, hasher in [("sign", None), ("itq", ITQHasher(n_bits=64, random_state=0))]:
        nn = HashingNearestNeighbors(n_neighbors=10, hasher=hasher, n_candidates=2.0)
        recall[name] = nn.fit(X[:1400]).score(X[1400:])
    # 0.70 against 0.76 to 0.77 over ITQ seeds.
    assert recall["itq"] > recall["sign"] + 0.03


def test_frozen_hasher_used_as_fitted():
    """A hasher fitted elsewhere (e.g. on a sample) and frozen is used unchanged."""
    X = _gaussian(400, 16)
    itq = ITQHasher(n_bits=8, random_state=0).fit(X[:100])
    nn = HashingNearestNeighbors(hasher=FrozenEstimator(itq), n_candidates=20).fit(X)
    assert nn.hasher_.estimator is itq
    reference = HammingNeighbors(packed=True).fit(itq.encode(X))
    np.testing.assert_array_equal(
        nn.index_.kneighbors(itq.encode(X[:5]), 20, return_distance=False),
        reference.kneighbors(itq.encode(X[:5]), 20, return_distance=False),
    )


def test_transformer_as_hasher_gives_centred_sign_bits():
    """Any transformer is a hasher (bit = output > 0): centring rescues pixel sign bits."""
    X, _ = load_digits(return_X_y=True)
    raw = HashingNearestNeighbors(n_neighbors=10, n_candidates=5.0).fit(X[:1400])
    centred = HashingNearestNeighbors(
        n_neighbors=10, hasher=StandardScaler(with_std=False), n_candidates=5.0
    ).fit(X[:1400])
    mean = X[:1400].mean(axis=0)
    reference = HammingNeighbors(packed=True, n_bits=64)
    reference.fit(np.packbits(X[:1400] - mean > 0, axis=1))
    queries = np.packbits(X[1400:] - mean > 0, axis=1)
    np.testing.assert_array_equal(
        centred.index_.kneighbors(queries, 50, return_distance=False),
        reference.kneighbors(queries, 50, return_distance=False),
    )
    # Pixels are >= 0, so their raw sign bits are all set and find nothing.
    assert raw.score(X[1400:]) < 0.2
    assert centred.score(X[1400:]) > 0.7


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("sort_results", [False, True])
def test_radius_full_budget_matches_sklearn(metric, sort_results):
    """radius_neighbors and its graph equal scikit-learn's with a covering budget."""
    X, Q = _gaussian(150, 6), _gaussian(20, 6, seed=1)
    radius = 2.5 if metric == "euclidean" else 0.4
    nn = HashingNearestNeighbors(n_neighbors=5, n_candidates=150, metric=metric).fit(X)
    ref = NearestNeighbors(metric=metric).fit(X)
    for q in (Q, None):
        dist, ind = nn.radius_neighbors(q, radius, sort_results=sort_results)
        ref_dist, ref_ind = ref.radius_neighbors(q, radius, sort_results=True)
        assert sum(len(i) for i in ind) > 0
        for d, i, rd, ri in zip(dist, ind, ref_dist, ref_ind, strict=True):
            if sort_results:
                np.testing.assert_array_equal(i, ri)
                np.testing.assert_allclose(d, rd, rtol=1e-4, atol=1e-5)
            else:
                np.testing.assert_array_equal(i, np.sort(ri))
        G = nn.radius_neighbors_graph(q, radius, mode="distance")
        RG = ref.radius_neighbors_graph(q, radius, mode="distance")
        np.testing.assert_array_equal(G.toarray() > 0, RG.toarray() > 0)
        np.testing.assert_allclose(G.toarray(), RG.toarray(), rtol=1e-4, atol=1e-5)


def test_kneighbors_graph_matches_sklearn():
    """kneighbors_graph equals scikit-learn's with a covering budget, X=None included."""
    X = _gaussian(100, 5)
    nn = HashingNearestNeighbors(n_neighbors=4, n_candidates=100).fit(X)
    ref = NearestNeighbors(n_neighbors=4).fit(X)
    for mode in ("connectivity", "distance"):
        np.testing.assert_allclose(
            nn.kneighbors_graph(mode=mode).toarray(),
            ref.kneighbors_graph(mode=mode).toarray(),
            rtol=1e-4,
            atol=1e-5,
        )


def test_budget_int_is_a_count_float_a_factor():
    """An int budget counts candidates; a float multiplies n_neighbors."""
    X, _ = load_digits(return_X_y=True)
    hasher = ITQHasher(n_bits=16, random_state=0)
    by_count = HashingNearestNeighbors(n_neighbors=5, hasher=hasher, n_candidates=15)
    by_factor = HashingNearestNeighbors(n_neighbors=5, hasher=hasher, n_candidates=3.0)
    smaller = HashingNearestNeighbors(n_neighbors=5, hasher=hasher, n_candidates=5)
    a = by_count.fit(X[:1500]).kneighbors(X[1500:])
    b = by_factor.fit(X[:1500]).kneighbors(X[1500:])
    c = smaller.fit(X[:1500]).kneighbors(X[1500:])
    np.testing.assert_array_equal(a[1], b[1])
    assert (a[0].sum(axis=1) <= c[0].sum(axis=1)).all()
    assert (a[0].sum(axis=1) < c[0].sum(axis=1)).any()


def test_memmap_kept_without_copy(tmp_path):
    """A float32 C-contiguous memmap is kept as the database, not copied."""
    X = _gaussian(200, 8)
    mm = np.memmap(tmp_path / "db.f32", dtype=np.float32, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    ro = np.memmap(tmp_path / "db.f32", dtype=np.float32, mode="r", shape=X.shape)
    nn = HashingNearestNeighbors(n_candidates=200).fit(ro)
    assert np.shares_memory(nn._fit_X, ro)
    ref = NearestNeighbors().fit(X).kneighbors(X[:5], return_distance=False)
    np.testing.assert_array_equal(nn.kneighbors(X[:5], return_distance=False), ref)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_candidates": 0}, "n_candidates"),
        ({"n_candidates": 0.5}, "n_candidates"),
        ({"n_candidates": True}, "n_candidates"),
        ({"metric": "manhattan"}, "metric"),
        ({"n_jobs": 0}, "n_jobs=0"),
    ],
)
def test_bad_parameters_refused(params, match):
    """Bad budgets, metrics and n_jobs are ValueErrors naming the parameter."""
    with pytest.raises(ValueError, match=match):
        HashingNearestNeighbors(**params).fit(_gaussian(20, 3))


def test_bad_input_leaves_previous_fit():
    """NaN/inf, wrong widths and a failing hasher raise, leaving the earlier fit intact."""
    X = _gaussian(100, 6)
    nn = HashingNearestNeighbors(n_neighbors=3, n_candidates=100).fit(X)
    before = nn.kneighbors(X[:5])
    for bad in (np.where(X > 2, np.nan, X), np.where(X > 2, np.inf, X)):
        with pytest.raises(ValueError, match="NaN|infinity"):
            nn.fit(bad)
    nn.set_params(hasher=SCHHasher(n_bits=4))
    with pytest.raises(ValueError, match="requires y"):
        nn.fit(X[:50, :3])
    assert nn.hasher_ is None and nn.n_features_in_ == 6
    np.testing.assert_array_equal(nn.kneighbors(X[:5])[1], before[1])
    with pytest.raises(ValueError, match="6 features"):
        nn.kneighbors(X[:5, :4])
    with pytest.raises(ValueError, match="NaN"):
        nn.kneighbors(np.full((2, 6), np.nan))
    with pytest.raises(ValueError, match="n_neighbors"):
        nn.kneighbors(X[:5], n_neighbors=101)


def test_supervised_hasher_with_labels():
    """A supervised hasher is fitted with y; its codes find neighbours as exact search."""
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    hasher = SCHHasher(n_bits=16, random_state=0)
    nn = HashingNearestNeighbors(n_neighbors=10, hasher=hasher, n_candidates=10.0)
    nn.fit(X[:1000], y[:1000])
    assert nn.hasher_.n_features_in_ == 64 and nn.n_bits_ == 16
    assert nn.score(X[1000:1300]) > 0.5


def test_pickle_pipeline_and_grid_search():
    """It pickles, and GridSearchCV over a Pipeline picks a budget by recall."""
    X, _ = load_digits(return_X_y=True)
    nn = HashingNearestNeighbors(hasher=ITQHasher(n_bits=16, random_state=0), metric="cosine")
    nn.fit(X[:1000])
    clone = pickle.loads(pickle.dumps(nn))
    np.testing.assert_array_equal(clone.kneighbors(X[1000:1100])[1], nn.kneighbors(X[1000:1100])[1])
    pipe = make_pipeline(StandardScaler(), HashingNearestNeighbors(n_neighbors=5))
    grid = GridSearchCV(
        pipe,
        {"hashingnearestneighbors__hasher": [ITQHasher(n_bits=16, random_state=0)],
         "hashingnearestneighbors__n_candidates": [1.0, 20.0]},
        cv=2,
    ).fit(X[:600])
    assert grid.best_params_["hashingnearestneighbors__n_candidates"] == 20.0
    assert grid.cv_results_["mean_test_score"][0] < grid.cv_results_["mean_test_score"][1]
