"""HammingKNeighborsTransformer and HammingRadiusNeighborsTransformer: scikit-learn's
graphs, and every consumer of a precomputed neighbour graph gives scikit-learn's results
through them in a Pipeline."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import DBSCAN, SpectralClustering
from sklearn.manifold import TSNE, Isomap
from sklearn.neighbors import (
    KNeighborsClassifier,
    KNeighborsTransformer,
    LocalOutlierFactor,
    RadiusNeighborsTransformer,
)
from sklearn.pipeline import make_pipeline

from skhash import ITQHasher, pack_codes
from skhash.datasets import load_retrieval_dataset
from skhash.neighbors import (
    HammingKNeighborsTransformer,
    HammingNeighbors,
    HammingRadiusNeighborsTransformer,
)

PAIRS = {
    "knn": (KNeighborsTransformer, HammingKNeighborsTransformer, {"n_neighbors": 5}),
    "radius": (RadiusNeighborsTransformer, HammingRadiusNeighborsTransformer, {"radius": 0.2}),
}


@pytest.fixture(scope="module")
def untied_codes():
    """Codes whose pairwise Hamming distances are all distinct, so that every neighbour
    graph is fully determined (no order left to ties): thermometer codes of three runs
    of a Sidon set (all differences distinct), bits and rows shuffled; 0/1 floats, and
    the run of each code as its label."""
    p = 101
    runs = [range(0, 17), range(42, 59), range(84, 101)]
    marks = np.array([2 * p * i + (i * i) % p for run in runs for i in run])
    labels = np.repeat(np.arange(3), 17)
    rng = np.random.default_rng(0)
    codes = np.arange(marks.max() + 1)[None, :] < marks[:, None]
    rows = rng.permutation(len(marks))
    codes = codes[rows][:, rng.permutation(codes.shape[1])]
    d = (codes[:, None, :] != codes[None, :, :]).sum(axis=2)[np.triu_indices(len(marks), 1)]
    assert len(np.unique(d)) == len(d)
    return codes.astype(np.float64), labels[rows]


@pytest.fixture(scope="module")
def digit_codes():
    """32-bit ITQ codes of the digits (many ties), {-1, +1}, database and queries."""
    data = load_retrieval_dataset("digits")
    hasher = ITQHasher(n_bits=32, random_state=0).fit(data.X_db)
    return hasher.transform(data.X_db), hasher.transform(data.X_query)


def _assert_same_graph(A, B):
    """Same CSR matrix: format, dtype, shape, row pointers, order of entries, explicit
    zeros and values."""
    assert A.format == B.format == "csr"
    assert A.dtype == B.dtype == np.float64
    assert A.shape == B.shape
    np.testing.assert_array_equal(A.indptr, B.indptr)
    np.testing.assert_array_equal(A.indices, B.indices)
    np.testing.assert_array_equal(A.data, B.data)


@pytest.mark.parametrize("kind", ["knn", "radius"])
@pytest.mark.parametrize("mode", ["distance", "connectivity"])
@pytest.mark.parametrize("call", ["fit_transform", "transform"])
def test_graph_equals_sklearn_transformer(untied_codes, kind, mode, call):
    """metric='hamming' gives scikit-learn's graph exactly: format, order, explicit zeros
    (each sample its own first neighbour in fit_transform); bit counts scale it."""
    X, _ = untied_codes
    Theirs, Ours, params = PAIRS[kind]
    theirs = Theirs(metric="hamming", mode=mode, **params)
    ours = Ours(metric="hamming", mode=mode, **params)
    if call == "fit_transform":
        A, B = theirs.fit_transform(X), ours.fit_transform(X)
        if mode == "distance":
            assert (B.data == 0).sum() == len(X)  # the explicit zeros
    else:
        A, B = theirs.fit(X[:40]).transform(X[40:]), ours.fit(X[:40]).transform(X[40:])
    _assert_same_graph(B, A)
    bits = Ours(mode=mode, **{**params, "radius": 0.2 * X.shape[1]} if kind == "radius" else params)
    C = getattr(bits, call)(X) if call == "fit_transform" else bits.fit(X[:40]).transform(X[40:])
    np.testing.assert_array_equal(C.indices, A.indices)
    scale = X.shape[1] if mode == "distance" else 1
    np.testing.assert_allclose(C.data, A.data * scale, rtol=1e-12)


@pytest.mark.parametrize("packed", [False, True])
def test_tied_codes_give_sklearn_distances_and_neighbours_up_to_ties(digit_codes, packed):
    """On codes with many ties every row has scikit-learn's distances; the neighbours
    differ only within a tie, which the transformer orders by index."""
    D, Q = digit_codes
    theirs = KNeighborsTransformer(metric="hamming", n_neighbors=10).fit((D > 0).astype(float))
    A = theirs.transform((Q > 0).astype(float))
    Xd, Xq = (pack_codes(D), pack_codes(Q)) if packed else (D, Q)
    B = HammingKNeighborsTransformer(metric="hamming", n_neighbors=10, packed=packed)
    B = B.fit(Xd).transform(Xq)
    a, b = A.data.reshape(len(Q), 11), B.data.reshape(len(Q), 11)
    np.testing.assert_array_equal(b, a)
    ib = B.indices.reshape(len(Q), 11)
    ia = A.indices.reshape(len(Q), 11)
    n_clean = 0
    for row in range(len(Q)):
        order = np.lexsort((ib[row], b[row]))
        np.testing.assert_array_equal(order, np.arange(11))  # (distance, index) order
        full = np.sort(
            HammingNeighbors(metric="hamming").fit(D).kneighbors(Q[row : row + 1], 12)[0]
        )
        if full[0, 10] != full[0, 11]:
            n_clean += 1
            assert set(ia[row]) == set(ib[row])
    assert n_clean > 0


def _consumers():
    """(name, consumer of a precomputed graph, transformer kind and parameters, the
    method or fitted attribute compared) for every consumer scikit-learn documents."""
    tsne = {"metric": "precomputed", "perplexity": 5, "init": "random", "random_state": 0}
    return [
        ("TSNE", TSNE(max_iter=250, **tsne), "knn", {"n_neighbors": 16}, "fit_transform"),
        # 17 neighbours join the three runs of 17 codes into one graph.
        (
            "Isomap",
            Isomap(n_neighbors=17, metric="precomputed"),
            "knn",
            {"n_neighbors": 17},
            "fit_transform",
        ),
        (
            "DBSCAN",
            DBSCAN(eps=0.03, min_samples=3, metric="precomputed"),
            "radius",
            {},
            "fit_predict",
        ),
        (
            "SpectralClustering",
            SpectralClustering(
                n_clusters=3,
                affinity="precomputed_nearest_neighbors",
                n_neighbors=18,
                random_state=0,
            ),
            "knn",
            {"n_neighbors": 18},
            "fit_predict",
        ),
        ("KNeighborsClassifier", KNeighborsClassifier(metric="precomputed"), "knn", {}, "predict"),
        (
            "LocalOutlierFactor",
            LocalOutlierFactor(n_neighbors=5, metric="precomputed"),
            "knn",
            {},
            "negative_outlier_factor_",
        ),
    ]


@pytest.mark.parametrize("consumer", range(6), ids=[c[0] for c in _consumers()])
def test_every_consumer_gives_sklearn_results_through_the_transformer(untied_codes, consumer):
    """TSNE, Isomap, DBSCAN, SpectralClustering, KNeighborsClassifier and
    LocalOutlierFactor give identical results after the Hamming transformer as after
    scikit-learn's KNeighborsTransformer / RadiusNeighborsTransformer (metric='hamming')
    in a Pipeline."""
    X, y = untied_codes
    _, estimator, kind, extra, method = _consumers()[consumer]
    Theirs, Ours, params = PAIRS[kind]
    params = {**params, **extra}
    results = []
    for Transformer in (Theirs, Ours):
        pipe = make_pipeline(Transformer(metric="hamming", **params), estimator)
        if method == "predict":
            results.append(pipe.fit(X[:40], y[:40]).predict(X[40:]))
        elif method.endswith("_"):
            results.append(getattr(pipe.fit(X)[-1], method))
        else:
            results.append(getattr(pipe, method)(X))
    np.testing.assert_array_equal(results[1], results[0])
    assert len(np.unique(results[0])) > 2  # a result that depends on the graph


def test_hasher_transformer_tsne_pipeline_on_features():
    """make_pipeline(ITQHasher(), HammingKNeighborsTransformer(), TSNE('precomputed'))
    embeds digit features, the classes kept apart (5-NN accuracy in 2-D above 0.8)."""
    data = load_retrieval_dataset("digits")
    X, y = data.X_db[:600], data.y_db[:600]
    pipe = make_pipeline(
        ITQHasher(n_bits=32, random_state=0),
        HammingKNeighborsTransformer(n_neighbors=31),
        TSNE(metric="precomputed", perplexity=10, init="random", max_iter=300, random_state=0),
    )
    emb = pipe.fit_transform(X)
    assert emb.shape == (600, 2)
    accuracy = KNeighborsClassifier(5).fit(emb[::2], y[::2]).score(emb[1::2], y[1::2])
    assert accuracy > 0.8


@pytest.mark.parametrize(
    "Transformer", [HammingKNeighborsTransformer, HammingRadiusNeighborsTransformer]
)
def test_sparse_input_and_bad_parameters_are_value_errors(untied_codes, Transformer):
    """Sparse codes, a tree algorithm and metric_params are refused with ValueErrors."""
    X, _ = untied_codes
    with pytest.raises(ValueError, match="sparse"):
        Transformer().fit(sp.csr_matrix(X))
    with pytest.raises(ValueError, match="ball_tree"):
        Transformer(algorithm="ball_tree").fit(X)
    with pytest.raises(ValueError, match="metric_params"):
        Transformer(metric_params={"w": np.ones(X.shape[1])}).fit(X)
