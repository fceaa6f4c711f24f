"""HammingNeighbors as a literal drop-in for NearestNeighbors(metric="hamming"): the same
constructor, the same results, or a clear error."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

from skhash import LSHHasher, pack_codes
from skhash.datasets import load_retrieval_dataset
from skhash.neighbors import HammingNeighbors

# NearestNeighbors' constructor, every parameter given, as code written for it has it.
SKLEARN_PARAMS = {
    "n_neighbors": 7,
    "radius": 0.25,
    "algorithm": "auto",
    "leaf_size": 30,
    "metric": "hamming",
    "p": 2,
    "metric_params": None,
    "n_jobs": None,
}


@pytest.fixture(scope="module")
def codes():
    """64-bit LSH codes of the digits as {-1, +1}: database and queries."""
    data = load_retrieval_dataset("digits")
    hasher = LSHHasher(n_bits=64, random_state=0).fit(data.X_db)
    return hasher.transform(data.X_db), hasher.transform(data.X_query)


def _as(kind, X):
    return {"pm1": X, "01": (X > 0).astype(np.float64), "bool": X > 0}[kind]


@pytest.mark.parametrize("kind", ["pm1", "01", "bool"])
@pytest.mark.parametrize("changes", [{}, {"algorithm": "brute", "leaf_size": 5, "p": 1}])
def test_literal_class_swap_gives_sklearn_results(codes, kind, changes):
    """Only the class name changed: the radius search (radius=0.25, a fraction) and the
    k-NN distances equal NearestNeighbors(metric='hamming')'s on the same codes."""
    D, Q = (_as(kind, c) for c in codes)
    params = {**SKLEARN_PARAMS, **changes}
    ours = HammingNeighbors(**params).fit(D)
    theirs = NearestNeighbors(**params).fit(D)
    d1, i1 = ours.radius_neighbors(Q, sort_results=True)
    d2, i2 = theirs.radius_neighbors(Q, sort_results=True)
    assert sum(len(i) for i in i2) > len(Q)  # scikit-learn finds neighbours
    for a, b, da, db in zip(i1, i2, d1, d2, strict=True):
        np.testing.assert_array_equal(np.sort(a), np.sort(b))
        np.testing.assert_array_equal(da, db)
    np.testing.assert_array_equal(ours.kneighbors(Q)[0], theirs.kneighbors(Q)[0])
    graph = ours.radius_neighbors_graph(Q, mode="distance")
    ref = theirs.radius_neighbors_graph(Q, mode="distance")
    assert (graph != ref).nnz == 0 and graph.nnz == ref.nnz


def test_fractional_radius_with_bit_counts_is_refused(codes):
    """A radius below one bit with bit-count distances (a fraction meant for
    metric='hamming') raises a ValueError pointing at metric='hamming', never an
    empty answer."""
    D, Q = codes
    index = HammingNeighbors(radius=0.25).fit(D)
    for call in (
        lambda: index.radius_neighbors(Q),
        lambda: index.radius_neighbors(radius=0.25),
        lambda: index.radius_neighbors_graph(Q),
    ):
        with pytest.raises(ValueError, match="metric='hamming'"):
            call()
    assert len(index.radius_neighbors(Q[:1], radius=0)[1]) == 1
    assert sum(map(len, index.radius_neighbors(Q, radius=16)[1])) > 0


@pytest.mark.parametrize(
    "params, match",
    [
        ({"algorithm": "ball_tree"}, "algorithm='ball_tree'"),
        ({"algorithm": "kd_tree"}, "algorithm='kd_tree'"),
        ({"metric": "minkowski"}, "metric"),
        ({"metric": "euclidean"}, "metric"),
        ({"metric_params": {"w": np.ones(64)}}, "metric_params"),
        ({"p": 0}, "'p' parameter"),
        ({"leaf_size": 0}, "leaf_size"),
    ],
)
def test_what_cannot_be_honoured_is_a_clear_error(codes, params, match):
    """Another metric, a tree algorithm, metric_params or an invalid p/leaf_size is a
    ValueError naming the parameter, raised by fit."""
    with pytest.raises(ValueError, match=match):
        HammingNeighbors(**params).fit(codes[0])


@pytest.mark.parametrize("where", ["fit", "query"])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_is_a_value_error_as_in_sklearn(codes, where, fmt):
    """Sparse codes raise a ValueError (as NearestNeighbors(metric='hamming') does), so
    code that catches ValueError keeps working."""
    D = (codes[0] > 0).astype(np.float64)
    S = sp.csr_matrix(D) if fmt == "csr" else sp.csc_matrix(D)
    with pytest.raises(ValueError):
        NearestNeighbors(metric="hamming").fit(S)
    with pytest.raises(ValueError, match="sparse"):
        if where == "fit":
            HammingNeighbors().fit(S)
        else:
            HammingNeighbors().fit(D).kneighbors(S[:3])


def test_default_metric_counts_bits_and_hamming_is_the_fraction(codes):
    """The default metric gives int32 bit counts; metric='hamming' those counts divided
    by n_bits, for packed codes of a partial last byte too."""
    D, Q = (c[:, :60] for c in codes)
    counts, ind = HammingNeighbors().fit(D).kneighbors(Q)
    assert counts.dtype == np.int32
    frac, ind2 = (
        HammingNeighbors(metric="hamming", packed=True, n_bits=60)
        .fit(pack_codes(D))
        .kneighbors(pack_codes(Q))
    )
    np.testing.assert_array_equal(frac, counts / 60)
    np.testing.assert_array_equal(ind2, ind)


def test_metric_is_fixed_at_fit(codes):
    """set_params(metric=...) after fit does not change the distances until the next fit
    (effective_metric_ decides), as in scikit-learn."""
    D, Q = codes
    index = HammingNeighbors(metric="hamming").fit(D)
    before = index.kneighbors(Q)[0]
    index.set_params(metric="bitcount")
    np.testing.assert_array_equal(index.kneighbors(Q)[0], before)
    assert index.effective_metric_ == "hamming"
    assert index.fit(D).kneighbors(Q)[0].dtype == np.int32


def test_normalize_is_deprecated_for_metric(codes):
    """normalize=True still gives fractions, with a FutureWarning naming metric='hamming';
    the default raises no warning."""
    D, Q = codes
    with pytest.warns(FutureWarning, match="metric='hamming'"):
        old = HammingNeighbors(normalize=True).fit(D)
    np.testing.assert_array_equal(
        old.kneighbors(Q)[0], HammingNeighbors(metric="hamming").fit(D).kneighbors(Q)[0]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        HammingNeighbors().fit(D)
