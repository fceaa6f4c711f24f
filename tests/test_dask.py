"""skhash.dask: sharded search identical to HammingNeighbors, hashing dask arrays, and model
selection and search on a distributed LocalCluster; the core install never imports Dask."""

import contextlib
import logging
import os
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

from skhash import HammingNeighbors, ITQHasher, WSLHasher
from skhash.datasets import load_retrieval_dataset

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

from skhash.dask import DaskHammingNeighbors, encode, transform  # noqa: E402

# Uneven row blocks: a single code, an empty block, blocks smaller than the largest k
# used below, and the rest.
UNEVEN = (1, 0, 37, 5, 400, 600)


def _run_python(code):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.fixture(scope="module")
def digits():
    """Digits split for retrieval."""
    return load_retrieval_dataset("digits")


@pytest.fixture(scope="module")
def tied_codes(digits):
    """16-bit ITQ codes of the digits (many equal distances) with a block of duplicates,
    as {-1, +1} int8 database and queries."""
    hasher = ITQHasher(n_bits=16, random_state=0).fit(digits.X_db)
    db = hasher.transform(digits.X_db)
    db[300:340] = db[5]
    return db, hasher.transform(digits.X_query)


def _chunks(n, layout):
    if layout == "uneven":
        sizes = list(UNEVEN)
        sizes.append(n - sum(sizes))
    else:
        sizes = [120] * (n // 120) + ([n % 120] if n % 120 else [])
    return (tuple(sizes),)


def _as_input(codes, packed):
    return np.packbits(codes > 0, axis=1) if packed else codes


def _queries(kind, Q, chunks=70):
    if kind == "dask":
        return da.from_array(Q, chunks=(chunks, Q.shape[1]))
    return None if kind == "None" else Q


def _compute(*arrays):
    return dask.compute(*arrays) if isinstance(arrays[0], da.Array) else arrays


@pytest.fixture(scope="module")
def fresh_interpreter():
    """Output of a new Python that imports skhash, lists the Dask modules loaded, then hides
    Dask and imports skhash.dask."""
    result = _run_python(
        """
        import sys
        import skhash, skhash.neighbors, skhash.metrics, skhash.datasets
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")))

        class NoDask:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("dask", "distributed"):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)

        sys.meta_path.insert(0, NoDask())
        try:
            import skhash.dask
        except ImportError as exc:
            print(type(exc).__name__, exc)
        """
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_core_import_does_not_load_dask(fresh_interpreter):
    """`import skhash` (and its hashers and index) leaves Dask and distributed unloaded."""
    assert fresh_interpreter[0] == "[]"


def test_missing_dask_error_names_the_extra(fresh_interpreter):
    """Without Dask, `import skhash.dask` fails with an ImportError naming skhash[dask]."""
    assert fresh_interpreter[1].startswith("ImportError")
    assert "pip install skhash[dask]" in fresh_interpreter[1]


@parametrize_with_checks([DaskHammingNeighbors()])
def test_sklearn_compatible(estimator, check):
    """DaskHammingNeighbors passes scikit-learn's estimator checks on in-memory input."""
    check(estimator)


@pytest.mark.parametrize("layout", ["uneven", "small"])
@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("queries", ["X", "dask", "None"])
@pytest.mark.parametrize("n_neighbors", [1, 130])
def test_kneighbors_identical_to_single_machine(tied_codes, layout, packed, queries, n_neighbors):
    """k-NN over shards equals HammingNeighbors on the whole database, ties by index included,
    with uneven or empty blocks and k larger than a shard."""
    D, Q = tied_codes
    Dp, Qp = _as_input(D, packed), _as_input(Q, packed)
    db = da.from_array(Dp, chunks=_chunks(len(D), layout) + (Dp.shape[1],))
    index = DaskHammingNeighbors(packed=packed, split_every=3).fit(db)
    ref = HammingNeighbors(packed=packed).fit(Dp)
    X = _queries(queries, Qp)
    dist, ind = _compute(*index.kneighbors(X, n_neighbors=n_neighbors))
    ref_dist, ref_ind = ref.kneighbors(None if X is None else Qp, n_neighbors=n_neighbors)
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_array_equal(dist, ref_dist)
    assert (dist.dtype, ind.dtype) == (ref_dist.dtype, ref_ind.dtype)
    # The data must test the tie rule: ties straddle the k-th neighbour in many rows.
    kth_next = ref.kneighbors(None if X is None else Qp, n_neighbors=n_neighbors + 1)[0][:, -1]
    assert (kth_next == ref_dist[:, -1]).mean() > 0.3


@pytest.mark.parametrize("metric", ["bitcount", "hamming"])
@pytest.mark.parametrize("split_every", [2, 8])
@pytest.mark.parametrize("algorithm", ["brute", "mih"])
def test_kneighbors_any_fan_in_metric_and_algorithm(tied_codes, metric, split_every, algorithm):
    """Any merge fan-in and shard algorithm give the same answers; metric='hamming'
    gives HammingNeighbors' float fractions bit for bit."""
    D, Q = tied_codes
    db = da.from_array(D, chunks=(_chunks(len(D), "small")[0], 16))
    params = {"n_neighbors": 25, "metric": metric, "algorithm": algorithm}
    dist, ind = DaskHammingNeighbors(split_every=split_every, **params).fit(db).kneighbors(Q)
    ref_dist, ref_ind = HammingNeighbors(**params).fit(D).kneighbors(Q)
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_array_equal(dist, ref_dist)
    assert dist.dtype == ref_dist.dtype


@pytest.mark.parametrize("sort_results", [False, True])
@pytest.mark.parametrize("metric", ["bitcount", "hamming"])
@pytest.mark.parametrize("queries", ["X", "dask", "None"])
def test_radius_neighbors_identical_to_single_machine(tied_codes, sort_results, metric, queries):
    """Radius search over shards equals HammingNeighbors: same lists, in the same order."""
    D, Q = tied_codes
    radius = 3 / 16 if metric == "hamming" else 3
    db = da.from_array(D, chunks=(_chunks(len(D), "uneven")[0], 16))
    index = DaskHammingNeighbors(radius=radius, metric=metric, algorithm="mih").fit(db)
    ref = HammingNeighbors(radius=radius, metric=metric).fit(D)
    X = _queries(queries, Q)
    dist, ind = _compute(*index.radius_neighbors(X, sort_results=sort_results))
    ref_dist, ref_ind = ref.radius_neighbors(None if X is None else Q, sort_results=sort_results)
    assert len(ind) == len(ref_ind)
    assert sum(len(i) for i in ref_ind) > 10 * len(ref_ind)
    for d, i, rd, ri in zip(dist, ind, ref_dist, ref_ind, strict=True):
        np.testing.assert_array_equal(i, ri)
        np.testing.assert_array_equal(d, rd)
        assert (d.dtype, i.dtype) == (rd.dtype, ri.dtype)
    only_ind = _compute(index.radius_neighbors(X, return_distance=False))[0]
    ref_only = ref.radius_neighbors(None if X is None else Q, return_distance=False)
    for i, ri in zip(only_ind, ref_only, strict=True):
        np.testing.assert_array_equal(i, ri)


def test_lazy_results_follow_the_query_chunks(tied_codes):
    """Dask queries (and X=None) give lazy dask arrays chunked like the queries; in-memory
    queries give NumPy arrays."""
    D, Q = tied_codes
    db = da.from_array(D, chunks=(500, 16))
    index = DaskHammingNeighbors(n_neighbors=4).fit(db)
    dist, ind = index.kneighbors(da.from_array(Q, chunks=(70, 16)))
    assert isinstance(dist, da.Array) and isinstance(ind, da.Array)
    assert ind.chunks == ((70, 70, 60), (4,))
    assert index.kneighbors(return_distance=False).chunks[0] == db.chunks[0]
    assert isinstance(index.kneighbors(Q, return_distance=False), np.ndarray)
    rind = index.radius_neighbors(da.from_array(Q, chunks=(70, 16)), return_distance=False)
    assert isinstance(rind, da.Array) and rind.dtype == object and rind.shape == (len(Q),)


def test_fit_attributes_and_unknown_chunk_sizes(tied_codes):
    """Shard offsets follow the blocks, also when their sizes are only known after a filter."""
    D, Q = tied_codes
    keep = np.arange(len(D)) % 3 != 0
    db = da.from_array(D, chunks=(400, 8))[da.from_array(keep, chunks=400)]
    assert np.isnan(db.shape[0])
    index = DaskHammingNeighbors(n_neighbors=9).fit(db)
    assert index.n_shards_ == 4
    assert index.n_samples_fit_ == keep.sum()
    assert (index.n_bits_, index.n_features_in_) == (16, 16)
    np.testing.assert_array_equal(
        np.diff(index.shard_offsets_), [keep[s : s + 400].sum() for s in range(0, len(D), 400)]
    )
    dist, ind = index.kneighbors(Q)
    ref_dist, ref_ind = HammingNeighbors(n_neighbors=9).fit(D[keep]).kneighbors(Q)
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_array_equal(dist, ref_dist)
    self_ind = index.kneighbors(return_distance=False)
    assert self_ind.shape == (keep.sum(), 9)
    np.testing.assert_array_equal(
        self_ind.compute(), HammingNeighbors(n_neighbors=9).fit(D[keep]).kneighbors()[1]
    )


def test_fit_accepts_in_memory_codes(tied_codes):
    """A NumPy database is wrapped in a dask array and gives the same answers."""
    D, Q = tied_codes
    index = DaskHammingNeighbors(n_neighbors=3).fit(D)
    np.testing.assert_array_equal(
        index.kneighbors(Q)[1], HammingNeighbors(n_neighbors=3).fit(D).kneighbors(Q)[1]
    )


def test_errors_name_the_problem(tied_codes):
    """Bad parameters, queries and databases raise errors naming the value and the need."""
    D, Q = tied_codes
    db = da.from_array(D, chunks=(500, 16))
    with pytest.raises(ValueError, match="split_every"):
        DaskHammingNeighbors(split_every=1).fit(db)
    with pytest.raises(ValueError, match="packed=True the codes must be uint8"):
        DaskHammingNeighbors(packed=True).fit(db)
    with pytest.raises(ValueError, match="0 sample"):
        DaskHammingNeighbors().fit(da.zeros((0, 16), chunks=(5, 16)))
    with pytest.raises(ValueError, match="2-D"):
        DaskHammingNeighbors().fit(da.zeros(10, chunks=5))
    index = DaskHammingNeighbors(n_neighbors=3).fit(db)
    with pytest.raises(ValueError, match="n_neighbors <= n_samples_fit"):
        index.kneighbors(Q, n_neighbors=len(D) + 1)
    with pytest.raises(ValueError, match="n_neighbors < n_samples_fit"):
        index.kneighbors(n_neighbors=len(D))
    with pytest.raises(ValueError, match="Expected n_neighbors > 0"):
        index.kneighbors(Q, n_neighbors=0)
    with pytest.raises(ValueError, match="X has 8 features"):
        index.kneighbors(Q[:, :8])
    with pytest.raises(ValueError, match="radius must be a non-negative number"):
        index.radius_neighbors(Q, radius=-1)
    with pytest.raises(ValueError, match="return_distance must be True"):
        index.radius_neighbors(Q, return_distance=False, sort_results=True)


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("lazy", [False, True])
def test_query_of_the_wrong_width_is_named_in_bits_and_bytes(tied_codes, packed, lazy):
    """Queries of the wrong width are refused in bits (scikit-learn's "features") or
    bytes, with the message HammingNeighbors gives."""
    D, Q = tied_codes
    D, Q = _as_input(D, packed), _as_input(Q, packed)
    bad = Q[:, :1]
    if lazy:
        bad = da.from_array(bad, chunks=(70, 1))
    index = DaskHammingNeighbors(packed=packed).fit(da.from_array(D, chunks=(500, D.shape[1])))
    if packed:
        expected = (
            "X has 1 byte per row (8 bits), but DaskHammingNeighbors was fitted on 16-bit "
            "codes packed in 2 bytes per row"
        )
    else:
        expected = (
            "X has 1 features, but DaskHammingNeighbors is expecting 16 features as input: "
            "it was fitted on 16-bit codes, and queries need one column per bit"
        )
    for query in (index.kneighbors, index.radius_neighbors):
        with pytest.raises(ValueError) as exc:
            query(bad)
        assert expected in str(exc.value)
        assert packed == ("features" not in str(exc.value))
    single = HammingNeighbors(packed=packed).fit(D)
    with pytest.raises(ValueError) as single_exc:
        single.kneighbors(Q[:, :1])
    assert str(single_exc.value) == str(exc.value).replace(
        "DaskHammingNeighbors", "HammingNeighbors"
    )


def test_failed_fit_keeps_the_previous_index(tied_codes):
    """Invalid codes in one block fail fit itself and leave the previous fit untouched."""
    D, Q = tied_codes
    index = DaskHammingNeighbors(n_neighbors=2).fit(da.from_array(D, chunks=(500, 16)))
    before = index.kneighbors(Q)
    bad = D.astype(np.float64)
    bad[1200, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        index.fit(da.from_array(bad, chunks=(500, 16)))
    assert index.n_samples_fit_ == len(D)
    np.testing.assert_array_equal(index.kneighbors(Q)[1], before[1])


@pytest.mark.parametrize("Hasher", [ITQHasher, WSLHasher])
def test_hashing_a_dask_array_equals_in_memory(digits, Hasher):
    """transform/encode of a dask array (rows and columns chunked) equal the in-memory codes,
    and the packed codes feed a sharded index with the single-machine answers."""
    hasher = Hasher(n_bits=24, random_state=0).fit(digits.X_db)
    X = da.from_array(digits.X_db, chunks=(300, 40))
    codes = transform(hasher, X)
    packed = encode(hasher, X)
    assert (codes.dtype, codes.shape, packed.shape) == (np.int8, (1597, 24), (1597, 3))
    np.testing.assert_array_equal(codes.compute(), hasher.transform(digits.X_db))
    np.testing.assert_array_equal(packed.compute(), hasher.encode(digits.X_db))
    index = DaskHammingNeighbors(n_neighbors=10, packed=True, n_bits=24).fit(packed)
    ref = HammingNeighbors(n_neighbors=10, packed=True, n_bits=24).fit(hasher.encode(digits.X_db))
    q = hasher.encode(digits.X_query)
    np.testing.assert_array_equal(index.kneighbors(q)[1], ref.kneighbors(q)[1])


def test_hashing_requires_a_fitted_hasher():
    """An unfitted hasher is refused before any block is computed."""
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        encode(ITQHasher(), da.zeros((10, 4), chunks=5))


# --- on a distributed cluster of two worker processes --------------------------------------


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of 2 single-threaded worker processes, closed even on failure."""
    distributed = pytest.importorskip("distributed")
    cluster = client = None
    with dask.config.set({"distributed.comm.timeouts.connect": "60s"}):
        try:
            cluster = distributed.LocalCluster(
                n_workers=2,
                processes=True,
                threads_per_worker=1,
                dashboard_address=None,
                silence_logs=logging.CRITICAL,
            )
            client = distributed.Client(cluster, timeout="60s")
            yield client
        finally:
            with contextlib.suppress(Exception):
                if client is not None:
                    client.close(timeout=30)
            with contextlib.suppress(Exception):
                if cluster is not None:
                    cluster.close(timeout=30)


def test_shards_live_on_the_workers_and_search_is_exact(client, tied_codes):
    """On a cluster the shard indexes stay in the workers' memory and the answers are exact."""
    D, Q = tied_codes
    db = da.from_array(D, chunks=(_chunks(len(D), "uneven")[0], 16))
    index = DaskHammingNeighbors(n_neighbors=60, split_every=2).fit(db)
    held = {key for keys in client.has_what().values() for key in keys}
    assert {s.key for s in index.shards_ if s is not None} <= held
    dist, ind = index.kneighbors(Q)
    ref_dist, ref_ind = HammingNeighbors(n_neighbors=60).fit(D).kneighbors(Q)
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_array_equal(dist, ref_dist)
    rd, ri = index.radius_neighbors(da.from_array(Q, chunks=(100, 16)), radius=2)
    for i, r in zip(
        ri.compute(), HammingNeighbors(radius=2).fit(D).radius_neighbors(Q)[1], strict=True
    ):
        np.testing.assert_array_equal(i, r)


def _grid_search(estimator, grid, data, client=None):
    """Fit a 3-fold GridSearchCV, on the cluster's workers when a client is given."""
    search = GridSearchCV(estimator, grid, cv=3)
    if client is None:
        return search.fit(data.X_db, data.y_db)
    from distributed import get_task_stream

    with joblib.parallel_config(backend="dask"), get_task_stream(client) as stream:
        search.fit(data.X_db, data.y_db)
    # The fits really ran on the worker processes.
    workers = {task["worker"] for task in stream.data}
    assert workers and workers <= set(client.scheduler_info()["workers"])
    return search


def _assert_same_search(a, b, X):
    for key in a.cv_results_:
        if key.startswith(("split", "mean_test", "std_test", "rank", "param")):
            np.testing.assert_array_equal(a.cv_results_[key], b.cv_results_[key], err_msg=key)
    assert a.best_params_ == b.best_params_
    np.testing.assert_array_equal(a.best_estimator_.transform(X), b.best_estimator_.transform(X))


def test_grid_search_on_dask_backend_equals_default_shallow(client, digits):
    """GridSearchCV over ITQHasher under the dask joblib backend: same scores and best model."""
    grid = {"n_bits": [8, 16], "n_iter": [0, 20]}
    local = _grid_search(ITQHasher(random_state=0), grid, digits)
    remote = _grid_search(ITQHasher(random_state=0), grid, digits, client)
    _assert_same_search(local, remote, digits.X_query)
    assert len(set(local.cv_results_["mean_test_score"])) == 4


def _small_hashnet(**params):
    """A HashNet small enough for CV on the digits in a second, on one torch thread."""
    from skhash import HashNetHasher

    defaults = {"n_bits": 8, "hidden_layer_sizes": (32,), "max_epochs": 3, "n_jobs": 1}
    return HashNetHasher(random_state=0, device="cpu", **{**defaults, **params})


def test_grid_search_on_dask_backend_equals_default_torch(client, digits):
    """GridSearchCV over HashNetHasher under the dask backend: same scores and best model."""
    grid = {"n_bits": [8, 16]}
    local = _grid_search(_small_hashnet(), grid, digits)
    remote = _grid_search(_small_hashnet(), grid, digits, client)
    _assert_same_search(local, remote, digits.X_query)


def test_fitted_torch_models_move_between_processes(client, digits):
    """Torch hashers fitted on the workers come back to the client, and one fitted here
    encodes a dask array on the workers, with the codes of the same model in memory."""
    import distributed
    from sklearn.model_selection import cross_validate

    kwargs = {"cv": 2, "return_estimator": True}
    local = cross_validate(_small_hashnet(), digits.X_db, digits.y_db, **kwargs)
    with joblib.parallel_config(backend="dask"):
        remote = cross_validate(_small_hashnet(), digits.X_db, digits.y_db, **kwargs)
    for a, b in zip(local["estimator"], remote["estimator"], strict=True):
        np.testing.assert_array_equal(a.transform(digits.X_query), b.transform(digits.X_query))
    hasher = local["estimator"][0]
    X = da.from_array(digits.X_db, chunks=(400, 64))
    packed = encode(hasher, X).persist()
    distributed.wait(packed)
    held = {key for keys in client.has_what().values() for key in keys}
    assert {block.key for block in packed.to_delayed().ravel()} <= held
    np.testing.assert_array_equal(packed.compute(), hasher.encode(digits.X_db))


@pytest.mark.parametrize("packed", [False, True])
def test_queries_follow_the_fitted_layout_after_set_params(tied_codes, packed):
    """packed and the shards' parameters changed after fit do not change what a query
    reads: results stay those of the fitted index."""
    D, Q = tied_codes
    D, Q = _as_input(D, packed), _as_input(Q, packed)
    index = DaskHammingNeighbors(n_neighbors=3, packed=packed).fit(
        da.from_array(D, chunks=(500, D.shape[1]))
    )
    expected = index.kneighbors(Q[:20])
    index.set_params(packed=not packed, n_bits=3, algorithm="mih", n_substrings=7)
    dist, ind = index.kneighbors(Q[:20])
    np.testing.assert_array_equal(dist, expected[0])
    np.testing.assert_array_equal(ind, expected[1])


def test_bad_query_time_parameters_set_after_fit_are_refused(tied_codes):
    """split_every < 2 or n_jobs=0 set after fit get a clear error, not a hang or
    joblib's message; n_jobs=0 is refused by fit itself."""
    D, Q = tied_codes
    db = da.from_array(D, chunks=(200, 16))
    with pytest.raises(ValueError, match="n_jobs=0"):
        DaskHammingNeighbors(n_jobs=0).fit(db)
    index = DaskHammingNeighbors(n_neighbors=3).fit(db)
    index.set_params(split_every=1)
    with pytest.raises(ValueError, match="split_every=1"):
        index.kneighbors(Q[:5])
    with pytest.raises(ValueError, match="split_every=1"):
        index.radius_neighbors(Q[:5])


@pytest.mark.parametrize("mode", ["connectivity", "distance"])
@pytest.mark.parametrize("metric", ["bitcount", "hamming"])
@pytest.mark.parametrize("queries", ["X", "dask", "None"])
def test_graphs_identical_to_single_machine(tied_codes, mode, metric, queries):
    """kneighbors_graph and radius_neighbors_graph are HammingNeighbors' CSR graphs
    exactly (entries, order, explicit zeros), for in-memory, dask and X=None queries."""
    D, Q = tied_codes
    db = da.from_array(D, chunks=(_chunks(len(D), "uneven")[0], 16))
    radius = 3 / 16 if metric == "hamming" else 3
    index = DaskHammingNeighbors(n_neighbors=7, radius=radius, metric=metric).fit(db)
    ref = HammingNeighbors(n_neighbors=7, radius=radius, metric=metric).fit(D)
    q = _queries(queries, Q)
    for method, kwargs in [
        ("kneighbors_graph", {}),
        ("radius_neighbors_graph", {"sort_results": True}),
    ]:
        A = getattr(index, method)(q, mode=mode, **kwargs)
        B = getattr(ref, method)(None if queries == "None" else Q, mode=mode, **kwargs)
        assert A.format == B.format == "csr" and A.shape == B.shape
        np.testing.assert_array_equal(A.indptr, B.indptr)
        np.testing.assert_array_equal(A.indices, B.indices)
        np.testing.assert_array_equal(A.data, B.data)
