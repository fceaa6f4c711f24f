"""HammingNeighbors: exact agreement with sklearn NearestNeighbors(metric="hamming"), ties,
input formats, chunking, errors."""

import pickle
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.neighbors import NearestNeighbors

from skhash import ITQHasher, LSHHasher, pack_codes
from skhash.datasets import load_retrieval_dataset
from skhash.neighbors import HammingNeighbors


@pytest.fixture(scope="module")
def digit_codes():
    """16-bit ITQ codes (many ties) and 64-bit LSH codes (few ties) of the digits, as 0/1."""
    data = load_retrieval_dataset("digits")
    out = {}
    for name, hasher in [("itq16", ITQHasher(n_bits=16)), ("lsh64", LSHHasher(n_bits=64))]:
        hasher.set_params(random_state=0).fit(data.X_db)
        out[name] = (
            (hasher.transform(data.X_db) > 0).astype(np.float64),
            (hasher.transform(data.X_query) > 0).astype(np.float64),
        )
    return out


def _brute(Q, D):
    """Integer Hamming distances of 0/1 (or bool) arrays."""
    return (np.asarray(Q, bool)[:, None, :] != np.asarray(D, bool)[None, :, :]).sum(axis=2)


def _assert_knn_matches_sklearn(ours, theirs, true_dist):
    """Same distances exactly; the same neighbours wherever no tie straddles the k-th
    neighbour, and then sklearn's list re-sorted by (distance, index) equals ours."""
    (d1, i1), (d2, i2) = ours, theirs
    np.testing.assert_array_equal(d1, d2)
    k = d1.shape[1]
    kth_next = np.sort(true_dist, axis=1)[:, k] if true_dist.shape[1] > k else None
    n_clean = 0
    for row in range(len(d1)):
        if kth_next is not None and kth_next[row] == d1[row, -1]:
            # A tie at the boundary: only the neighbours strictly closer are determined.
            closer = d1[row] < d1[row, -1]
            assert set(i1[row][closer]) == set(i2[row][closer])
            continue
        n_clean += 1
        order = np.lexsort((i2[row], d2[row]))
        np.testing.assert_array_equal(i1[row], i2[row][order])
    assert n_clean > 0


@pytest.mark.parametrize("codes", ["itq16", "lsh64"])
@pytest.mark.parametrize("queries", ["X", "None"])
def test_kneighbors_equals_sklearn_hamming(digit_codes, codes, queries):
    """metric='hamming' k-NN equals NearestNeighbors(metric='hamming'), also for X=None."""
    D, Q = digit_codes[codes]
    Xq = Q if queries == "X" else None
    ours = HammingNeighbors(n_neighbors=10, metric="hamming").fit(D).kneighbors(Xq)
    nn = NearestNeighbors(n_neighbors=10, metric="hamming", algorithm="brute").fit(D)
    theirs = nn.kneighbors(Xq)
    true = (
        _brute(Q, D).astype(float) if queries == "X" else _brute(D, D) + np.diag([np.inf] * len(D))
    )
    _assert_knn_matches_sklearn(ours, theirs, true / D.shape[1])


@pytest.mark.parametrize("codes", ["itq16", "lsh64"])
@pytest.mark.parametrize("queries", ["X", "None"])
def test_radius_neighbors_equals_sklearn_hamming(digit_codes, codes, queries):
    """metric='hamming' radius search returns sklearn's neighbours and distances exactly."""
    D, Q = digit_codes[codes]
    Xq = Q if queries == "X" else None
    n_bits = D.shape[1]
    radius = 3 / n_bits if codes == "itq16" else 14 / n_bits
    ours = HammingNeighbors(metric="hamming").fit(D)
    nn = NearestNeighbors(metric="hamming", algorithm="brute").fit(D)
    d1, i1 = ours.radius_neighbors(Xq, radius=radius, sort_results=True)
    d2, i2 = nn.radius_neighbors(Xq, radius=radius, sort_results=True)
    assert sum(len(a) for a in i1) > len(i1)  # neighbours found: the test has teeth
    for a1, b1, a2, b2 in zip(d1, i1, d2, i2, strict=True):
        np.testing.assert_array_equal(a1, a2)
        np.testing.assert_array_equal(b1, b2[np.lexsort((b2, a2))])
    # Unsorted: index order, the same sets.
    i_unsorted = ours.radius_neighbors(Xq, radius=radius, return_distance=False)
    for a, b in zip(i_unsorted, i2, strict=True):
        np.testing.assert_array_equal(a, np.sort(b))


@pytest.mark.parametrize("mode", ["connectivity", "distance"])
@pytest.mark.parametrize("queries", ["X", "None"])
def test_graphs_equal_sklearn(digit_codes, mode, queries):
    """radius_neighbors_graph equals sklearn's; kneighbors_graph too on 64-bit codes."""
    D, Q = digit_codes["lsh64"]
    Xq = Q if queries == "X" else None
    ours = HammingNeighbors(n_neighbors=3, metric="hamming").fit(D)
    nn = NearestNeighbors(n_neighbors=3, metric="hamming", algorithm="brute").fit(D)
    A = ours.radius_neighbors_graph(Xq, radius=12 / 64, mode=mode)
    B = nn.radius_neighbors_graph(Xq, radius=12 / 64, mode=mode)
    assert A.format == "csr" and A.shape == B.shape and A.nnz == B.nnz > 0
    assert (A != B).nnz == 0
    np.testing.assert_array_equal(np.sort(A.data), np.sort(B.data))
    K1 = ours.kneighbors_graph(Xq, mode=mode)
    K2 = nn.kneighbors_graph(Xq, mode=mode)
    assert K1.format == "csr" and K1.shape == K2.shape
    # Rows whose 3rd and 4th neighbours are at the same distance may legitimately
    # differ; all others are identical.
    d_next = ours.kneighbors(Xq, n_neighbors=4)[0]
    clean = d_next[:, 2] < d_next[:, 3]
    assert clean.mean() > 0.3
    diff = abs(K1 - K2).tocsr()
    assert diff[clean].nnz == 0 or diff[clean].max() == 0


@pytest.mark.parametrize("n_bits", [8, 37, 64, 200])
def test_ties_ordered_by_index(n_bits):
    """k-NN and sorted radius results are ordered by (distance, database index)."""
    rng = np.random.default_rng(n_bits)
    D = rng.random((400, n_bits)) < 0.5
    D[50:90] = D[10]  # duplicates: a block of exact ties
    Q = np.vstack([rng.random((15, n_bits)) < 0.5, D[10]])
    ref = _brute(Q, D)
    index = HammingNeighbors(n_neighbors=60).fit(D)
    dist, ind = index.kneighbors(Q)
    expected = np.argsort(ref, axis=1, kind="stable")[:, :60]
    np.testing.assert_array_equal(ind, expected)
    np.testing.assert_array_equal(dist, np.take_along_axis(ref, expected, axis=1))
    assert dist.dtype == np.int32
    rd, ri = index.radius_neighbors(Q, radius=n_bits // 3, sort_results=True)
    for q in range(len(Q)):
        sel = np.flatnonzero(ref[q] <= n_bits // 3)
        np.testing.assert_array_equal(ri[q], sel[np.argsort(ref[q, sel], kind="stable")])


def test_self_query_excludes_each_point_but_keeps_duplicates():
    """X=None: each point is left out of its own list; its duplicates stay at distance 0."""
    rng = np.random.default_rng(1)
    D = rng.random((200, 24)) < 0.5
    D[100] = D[3]
    index = HammingNeighbors(n_neighbors=4).fit(D)
    dist, ind = index.kneighbors()
    assert not np.any(ind == np.arange(200)[:, None])
    assert ind[3, 0] == 100 and ind[100, 0] == 3 and dist[3, 0] == 0
    ref = _brute(D, D).astype(float)
    np.fill_diagonal(ref, np.inf)
    np.testing.assert_array_equal(ind, np.argsort(ref, axis=1, kind="stable")[:, :4])
    r_ind = index.radius_neighbors(radius=0, return_distance=False)
    assert list(r_ind[3]) == [100] and list(r_ind[100]) == [3] and len(r_ind[0]) == 0


def test_input_formats_give_the_same_index():
    """{-1,+1} int8, 0/1, bool, a real embedding's sign and packed bytes: one result."""
    rng = np.random.default_rng(2)
    E = rng.standard_normal((300, 40))
    Eq = rng.standard_normal((20, 40))
    forms = {
        "real": (E, Eq, {}),
        "pm1": (np.where(E > 0, 1, -1).astype(np.int8), np.where(Eq > 0, 1, -1), {}),
        "01": ((E > 0).astype(np.int64), (Eq > 0).astype(np.float32), {}),
        "bool": (E > 0, Eq > 0, {}),
        "packed": (pack_codes(E), pack_codes(Eq), {"packed": True, "n_bits": 40}),
    }
    results = {
        name: HammingNeighbors(n_neighbors=7, **kw).fit(D).kneighbors(Q)
        for name, (D, Q, kw) in forms.items()
    }
    for name, (d, i) in results.items():
        np.testing.assert_array_equal(d, results["real"][0], err_msg=name)
        np.testing.assert_array_equal(i, results["real"][1], err_msg=name)


def test_packed_partial_byte_fractions_use_n_bits():
    """packed=True with n_bits=12: fractions over 12 bits, padding bits ignored."""
    rng = np.random.default_rng(3)
    D = rng.random((100, 12)) < 0.5
    Q = rng.random((5, 12)) < 0.5
    Dp, Qp = pack_codes(D), pack_codes(Q)
    Qp[:, -1] |= 0x0F  # garbage in the padding bits must not count
    packed = HammingNeighbors(n_neighbors=5, packed=True, n_bits=12, metric="hamming").fit(Dp)
    plain = HammingNeighbors(n_neighbors=5, metric="hamming").fit(D)
    assert packed.n_bits_ == 12 and packed.n_features_in_ == 2 and plain.n_features_in_ == 12
    for a, b in zip(packed.kneighbors(Qp), plain.kneighbors(Q), strict=True):
        np.testing.assert_array_equal(a, b)
    # Without n_bits the code length is 8 x bytes.
    assert HammingNeighbors(packed=True).fit(Dp).n_bits_ == 16


def test_normalized_radius_is_exact_at_fractions():
    """A fractional radius includes exactly the distances d with d / n_bits <= radius."""
    rng = np.random.default_rng(4)
    D = rng.random((500, 30)) < 0.5
    Q = rng.random((10, 30)) < 0.5
    ref = _brute(Q, D)
    index = HammingNeighbors(metric="hamming").fit(D)
    for radius in (0.0, 0.1, 7 / 30, 0.3 - 1e-12, 1.0):
        ind = index.radius_neighbors(Q, radius=radius, return_distance=False)
        for q in range(len(Q)):
            np.testing.assert_array_equal(ind[q], np.flatnonzero(ref[q] / 30 <= radius))
    # Bit-count radius: a float radius is floored.
    plain = HammingNeighbors().fit(D)
    a = plain.radius_neighbors(Q, radius=9.7, return_distance=False)
    b = plain.radius_neighbors(Q, radius=9, return_distance=False)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_chunked_queries_equal_unchunked():
    """A tiny working_memory (one query per chunk) changes no result and warns of nothing."""
    rng = np.random.default_rng(5)
    D = rng.random((3000, 64)) < 0.5
    index = HammingNeighbors(n_neighbors=5, radius=20).fit(D)
    full_k = index.kneighbors()
    full_r = index.radius_neighbors_graph(mode="distance", sort_results=True)
    # Less than one query's arrays: chunks of one query, silently, as the metrics do.
    with sklearn.config_context(working_memory=1e-5), warnings.catch_warnings():
        warnings.simplefilter("error")
        small_k = index.kneighbors()
        small_r = index.radius_neighbors_graph(mode="distance", sort_results=True)
    np.testing.assert_array_equal(full_k[1], small_k[1])
    np.testing.assert_array_equal(full_r.indices, small_r.indices)
    np.testing.assert_array_equal(full_r.indptr, small_r.indptr)


def test_results_do_not_depend_on_n_jobs():
    """n_jobs=1 and n_jobs=2 give identical neighbours."""
    rng = np.random.default_rng(6)
    D = rng.random((5000, 32)) < 0.5
    Q = rng.random((300, 32)) < 0.5
    a = HammingNeighbors(n_neighbors=20, n_jobs=1).fit(D).kneighbors(Q)
    b = HammingNeighbors(n_neighbors=20, n_jobs=2).fit(D).kneighbors(Q)
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize(
    "n_bits, word_bytes", [(8, 1), (12, 2), (16, 2), (24, 4), (32, 4), (40, 8), (64, 8), (100, 16)]
)
def test_index_is_stored_packed(n_bits, word_bytes):
    """A pickled index of 20,000 codes takes n x ceil(n_bits / 8) bytes rounded up to its
    word (1, 2 or 4 bytes up to 32 bits, 8 per 64 bits beyond), and loads intact."""
    D = np.random.default_rng(7).random((20_000, n_bits)) < 0.5
    index = HammingNeighbors().fit(D)
    size = len(pickle.dumps(index))
    assert 20_000 * word_bytes <= size < 20_000 * word_bytes + 4096
    restored = pickle.loads(pickle.dumps(index))
    np.testing.assert_array_equal(restored.kneighbors(D[:5])[1], index.kneighbors(D[:5])[1])


@pytest.mark.parametrize("n_bits, word_bytes", [(16, 2), (64, 8)])
def test_auto_index_of_100k_codes_stores_only_the_codes(n_bits, word_bytes):
    """algorithm='auto' at 100,000 codes: after fit and after small k-NN and radius
    calls the pickled index is still the codes alone (no multi-index tables)."""
    rng = np.random.default_rng(17)
    D = _clustered_codes(rng, 100_000, n_bits, n_centres=300, flip=0.03)
    Q = _clustered_codes(rng, 50, n_bits, n_centres=300, flip=0.03)
    auto = HammingNeighbors(n_neighbors=10).fit(D)
    sizes = [len(pickle.dumps(auto))]
    auto.kneighbors(Q)
    auto.radius_neighbors(Q[:5], radius=2)
    sizes.append(len(pickle.dumps(auto)))
    assert auto.n_substrings_ is None
    for size in sizes:
        assert 100_000 * word_bytes <= size < 100_000 * word_bytes + 4096
    mih = HammingNeighbors(algorithm="mih").fit(D)  # asking for the tables does cost
    assert len(pickle.dumps(mih)) > 100_000 * (word_bytes + mih.n_substrings_ * (word_bytes + 4))


def test_faiss_distances_agree():
    """Distances equal FAISS IndexBinaryFlat's on random 64- and 256-bit codes."""
    import faiss  # in the test extra, so CI never skips this comparison

    rng = np.random.default_rng(8)
    for n_bits in (64, 256):
        Dp = rng.integers(0, 256, size=(20_000, n_bits // 8), dtype=np.uint8)
        Qp = rng.integers(0, 256, size=(50, n_bits // 8), dtype=np.uint8)
        flat = faiss.IndexBinaryFlat(n_bits)
        flat.add(Dp)
        f_dist, _ = flat.search(Qp, 10)
        dist, _ = HammingNeighbors(n_neighbors=10, packed=True).fit(Dp).kneighbors(Qp)
        np.testing.assert_array_equal(dist, f_dist)


def _state(est):
    return {k: v for k, v in vars(est).items() if not k.startswith("__")}


@pytest.mark.parametrize(
    "make_bad, match",
    [
        (lambda D: np.where(D, np.nan, 1.0), "NaN"),
        (lambda D: D[:0], "0 sample"),
        (lambda D: D.astype(np.float64), "uint8"),
    ],
    ids=["nan", "empty", "not-uint8"],
)
def test_bad_fit_raises_and_keeps_previous_fit(make_bad, match):
    """A failing fit raises a ValueError naming the problem and keeps the old index."""
    rng = np.random.default_rng(9)
    D = rng.random((50, 16)) < 0.5
    packed = match == "uint8"
    good = pack_codes(D) if packed else D
    index = HammingNeighbors(n_neighbors=3, packed=packed).fit(good)
    before = index.kneighbors(good[:4])
    keys = set(_state(index))
    bad = make_bad(good)
    with pytest.raises(ValueError, match=match):
        index.fit(bad)
    assert set(_state(index)) == keys
    np.testing.assert_array_equal(index.kneighbors(good[:4])[1], before[1])


def test_query_errors_name_the_problem():
    """Wrong width, NaN, too many neighbours, negative radius: clear ValueErrors."""
    rng = np.random.default_rng(10)
    D = rng.random((20, 16)) < 0.5
    index = HammingNeighbors().fit(D)
    with pytest.raises(ValueError, match=r"X has 8 features, .* fitted on 16-bit codes"):
        index.kneighbors(D[:, :8])
    with pytest.raises(ValueError, match="NaN"):
        index.kneighbors(np.full((2, 16), np.nan))
    with pytest.raises(ValueError, match="n_neighbors <= n_samples_fit"):
        index.kneighbors(D, n_neighbors=21)
    with pytest.raises(ValueError, match="n_neighbors < n_samples_fit"):
        index.kneighbors(n_neighbors=20)
    with pytest.raises(ValueError, match="radius"):
        index.radius_neighbors(D, radius=-1)
    with pytest.raises(ValueError, match="radius"):
        HammingNeighbors(radius=-1).fit(D)
    with pytest.raises(ValueError, match="uint8"):
        HammingNeighbors(packed=True).fit(pack_codes(D)).kneighbors(pack_codes(D).astype(int))
    with pytest.raises(ValueError, match="bytes per packed code"):
        HammingNeighbors(packed=True, n_bits=20).fit(pack_codes(D))
    with pytest.raises(ValueError, match="return_distance"):
        index.radius_neighbors(D, return_distance=False, sort_results=True)
    assert index.kneighbors(D, n_neighbors=20)[1].shape == (20, 20)


def test_packed_query_of_the_wrong_width_is_named_in_bits_and_bytes():
    """packed=True, n_bits=12: a 1-byte query is refused in bytes and bits, not as
    "1 features, expecting 2", by every query method."""
    D = np.random.default_rng(18).random((30, 12)) < 0.5
    index = HammingNeighbors(n_neighbors=2, packed=True, n_bits=12).fit(pack_codes(D))
    bad = pack_codes(D[:, :8])
    msg = r"X has 1 byte per row \(8 bits\), but .* 12-bit codes packed in 2 bytes per row"
    for method in (
        index.kneighbors,
        index.radius_neighbors,
        index.kneighbors_graph,
        index.radius_neighbors_graph,
    ):
        with pytest.raises(ValueError, match=msg):
            method(bad)
    wide = np.zeros((2, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="X has 3 bytes per row .24 bits."):
        index.kneighbors(wide)


def _clustered_codes(rng, n, n_bits, n_centres=20, flip=0.05):
    """Codes around a few random centres with a fraction of bits flipped, plus duplicates."""
    centres = rng.random((n_centres, n_bits)) < 0.5
    codes = centres[rng.integers(0, n_centres, n)] ^ (rng.random((n, n_bits)) < flip)
    codes[: n // 10] = codes[n // 10 : 2 * (n // 10)]
    return codes


def _probes_only(monkeypatch):
    """Make multi-index search free in the cost model, so no query falls back to a scan."""
    import skhash.neighbors._mih as mih

    monkeypatch.setattr(mih, "PROBE_COST", 0.0)
    monkeypatch.setattr(mih, "LISTED_ROW_COST", 0.0)


@pytest.mark.parametrize("path", ["probes", "default"])
@pytest.mark.parametrize("n_bits, n_substrings", [(16, 2), (32, 2), (64, 3), (64, None), (100, 5)])
def test_mih_kneighbors_identical_to_brute(n_bits, n_substrings, path, monkeypatch):
    """algorithm='mih' returns brute's distances and indices exactly, ties and X=None too,
    both when every query is answered by the tables and with the fallback to a scan."""
    if path == "probes":
        _probes_only(monkeypatch)
    rng = np.random.default_rng(n_bits)
    D = _clustered_codes(rng, 3000, n_bits)
    Q = np.vstack([_clustered_codes(rng, 40, n_bits), rng.random((10, n_bits)) < 0.5, D[:5]])
    mih = HammingNeighbors(algorithm="mih", n_substrings=n_substrings).fit(D)
    brute = HammingNeighbors(algorithm="brute").fit(D)
    assert mih.n_substrings_ >= 2 and brute.n_substrings_ is None
    scanned = mih._policy.tables.kneighbors(mih._to_words(Q), 10, return_work=True)[2][:, 2]
    assert not scanned.any() if path == "probes" else scanned.any()
    for Xq in (Q, None):
        for k in (1, 10, 60):
            a = mih.kneighbors(Xq, n_neighbors=k)
            b = brute.kneighbors(Xq, n_neighbors=k)
            np.testing.assert_array_equal(a[0], b[0])
            np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("path", ["probes", "default"])
@pytest.mark.parametrize("sort_results", [False, True])
def test_mih_radius_identical_to_brute(sort_results, path, monkeypatch):
    """algorithm='mih' radius search equals brute's, in index or (distance, index) order,
    through the tables alone and with the fallback to a scan."""
    if path == "probes":
        _probes_only(monkeypatch)
    rng = np.random.default_rng(11)
    D = _clustered_codes(rng, 3000, 64)
    Q = np.vstack([_clustered_codes(rng, 30, 64), D[:5]])
    mih = HammingNeighbors(algorithm="mih", n_substrings=4).fit(D)
    brute = HammingNeighbors(algorithm="brute").fit(D)
    for Xq in (Q, None):
        for radius in (0, 3, 9):
            A = mih.radius_neighbors_graph(Xq, radius, mode="distance", sort_results=sort_results)
            B = brute.radius_neighbors_graph(Xq, radius, mode="distance", sort_results=sort_results)
            assert B.nnz > 0
            for attr in ("indptr", "indices", "data"):
                np.testing.assert_array_equal(getattr(A, attr), getattr(B, attr))


def test_mih_on_long_codes_and_few_samples_finishes_by_a_scan():
    """Forced MIH on 257-bit codes, m=12, 1,500 uniform codes: exact, and each query
    stops probing within one scan's budget instead of enumerating 2^s buckets."""
    import time

    rng = np.random.default_rng(15)
    D = rng.random((1500, 257)) < 0.5
    Q = rng.random((200, 257)) < 0.5
    mih = HammingNeighbors(n_neighbors=10, algorithm="mih", n_substrings=12).fit(D)
    brute = HammingNeighbors(n_neighbors=10, algorithm="brute").fit(D)
    mih.kneighbors(Q[:1])  # compile outside the timing
    start = time.perf_counter()
    got = mih.kneighbors(Q)
    seconds = time.perf_counter() - start
    expected = brute.kneighbors(Q)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    for Xq in (Q[:20], None):
        np.testing.assert_array_equal(mih.kneighbors(Xq)[1], brute.kneighbors(Xq)[1])
    work = mih._policy.tables.kneighbors(mih._to_words(Q), 10, return_work=True)[2]
    assert work[:, 2].all()  # every query fell back to the scan
    assert (600 * work[:, 0] <= 1500).all()  # probes within one scan's cost
    assert seconds < 5  # was minutes: up to C(22, 9) probes per table and query
    A = mih.radius_neighbors_graph(Q[:50], 112, mode="distance", sort_results=True)
    B = brute.radius_neighbors_graph(Q[:50], 112, mode="distance", sort_results=True)
    assert B.nnz > 0
    for attr in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(A, attr), getattr(B, attr))


def test_mih_bad_n_substrings_keeps_previous_fit():
    """Substrings longer than 24 bits are refused with the valid range; old fit kept."""
    D = np.random.default_rng(12).random((200, 64)) < 0.5
    index = HammingNeighbors(algorithm="brute").fit(D)
    index.set_params(algorithm="mih", n_substrings=2)
    with pytest.raises(ValueError, match="n_substrings between 3 and 64"):
        index.fit(D)
    assert index.n_substrings_ is None and index.kneighbors(D[:2])[1].shape == (2, 5)


def _spy_searches(monkeypatch):
    """Count the queries answered by the exhaustive kernel and by the tables."""
    import skhash.neighbors._base as base
    from skhash.neighbors._mih import MIHIndex

    counts = {"brute": 0, "mih": 0}

    def wrap(fn, name, pos):
        def spy(*args, **kwargs):
            counts[name] += len(args[pos])
            return fn(*args, **kwargs)

        return spy

    monkeypatch.setattr(base, "kneighbors_words", wrap(base.kneighbors_words, "brute", 0))
    monkeypatch.setattr(
        base, "radius_neighbors_words", wrap(base.radius_neighbors_words, "brute", 0)
    )
    monkeypatch.setattr(MIHIndex, "kneighbors", wrap(MIHIndex.kneighbors, "mih", 1))
    monkeypatch.setattr(MIHIndex, "radius_neighbors", wrap(MIHIndex.radius_neighbors, "mih", 1))
    return counts


@pytest.fixture(scope="module")
def large_codes():
    """100,000 packed 64-bit codes, clustered and uniform, with 50 queries each."""
    rng = np.random.default_rng(13)
    out = {}
    for kind in ("clustered", "uniform"):
        if kind == "clustered":
            D = _clustered_codes(rng, 100_000, 64, n_centres=300, flip=0.03)
            Q = _clustered_codes(rng, 50, 64, n_centres=300, flip=0.03)
        else:
            D = rng.random((100_000, 64)) < 0.5
            Q = rng.random((50, 64)) < 0.5
        Dp = pack_codes(D)
        out[kind] = (Dp, pack_codes(Q), HammingNeighbors(packed=True, algorithm="brute").fit(Dp))
    return out


@pytest.mark.parametrize("kind", ["clustered", "uniform"])
@pytest.mark.parametrize("branch", ["default", "tables win", "scan wins"])
def test_auto_on_a_large_index_equals_brute(large_codes, kind, branch, monkeypatch):
    """algorithm='auto' on 100,000 codes equals brute, and each cost model takes its
    branch: by default no tables are built for 50 queries; with free tables they are
    built after the 32 exhaustive pilot queries; with costly probes never."""
    import skhash.neighbors._mih as mih
    import skhash.neighbors._policy as policy

    if branch == "tables win":
        monkeypatch.setattr(mih, "PROBE_COST", 0.0)
        monkeypatch.setattr(mih, "LISTED_ROW_COST", 0.0)
        monkeypatch.setattr(policy, "BUILD_COST", 0.0)
    elif branch == "scan wins":
        monkeypatch.setattr(mih, "PROBE_COST", 1e12)
        monkeypatch.setattr(policy, "BUILD_COST", 0.0)
    Dp, Qp, brute = large_codes[kind]
    auto = HammingNeighbors(n_neighbors=10, packed=True).fit(Dp)
    assert auto.n_substrings_ is None  # no tables at fit
    counts = _spy_searches(monkeypatch)
    expected = brute.kneighbors(Qp, n_neighbors=10)
    counts.update(brute=0, mih=0)
    for call in range(2):
        got = auto.kneighbors(Qp)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
        if branch == "tables win":
            want = {"brute": 32, "mih": 18} if call == 0 else {"brute": 0, "mih": 50}
        else:
            want = {"brute": 50, "mih": 0}
        assert counts == want, (call, counts)
        counts.update(brute=0, mih=0)
    assert (auto.n_substrings_ is not None) == (branch == "tables win")
    B = brute.radius_neighbors_graph(Qp, 4, mode="distance", sort_results=True)
    counts.update(brute=0, mih=0)
    A = auto.radius_neighbors_graph(Qp, 4, mode="distance", sort_results=True)
    assert counts == (
        {"brute": 0, "mih": 50} if branch == "tables win" else {"brute": 50, "mih": 0}
    )
    assert (A != B).nnz == 0 and A.nnz == B.nnz


def test_auto_builds_tables_when_the_saved_scans_pay_for_them(large_codes, monkeypatch):
    """'auto' answers by the scan until the scan time the tables would have saved (past
    calls and this one) covers their build time, then builds them and uses them."""
    import skhash.neighbors._mih as mih
    import skhash.neighbors._policy as policy

    Dp, Qp, brute = large_codes["clustered"]
    n = len(Dp)
    # Tables estimated at half a scan per query; building them costs 100 queries' saving.
    monkeypatch.setattr(mih, "estimated_cost", lambda probes, listed: np.full(len(probes), n / 2))
    auto = HammingNeighbors(n_neighbors=10, packed=True).fit(Dp)
    monkeypatch.setattr(policy, "BUILD_COST", 100 * 0.5 / auto._policy.m)
    counts = _spy_searches(monkeypatch)
    Q40 = Qp[:40]
    expected = brute.kneighbors(Q40, n_neighbors=10)
    counts.update(brute=0, mih=0)
    for call, want in enumerate([(40, 0), (40, 0), (0, 40), (0, 40)]):
        got = auto.kneighbors(Q40)
        np.testing.assert_array_equal(got[1], expected[1])
        assert (counts["brute"], counts["mih"]) == want, (call, counts)
        assert (auto.n_substrings_ is not None) == (call >= 2)
        counts.update(brute=0, mih=0)
    # A single call large enough to pay for the tables builds them at once.
    fresh = HammingNeighbors(n_neighbors=10, packed=True).fit(Dp)
    Q = np.repeat(Qp, 5, axis=0)  # 250 queries
    np.testing.assert_array_equal(fresh.kneighbors(Q)[1], brute.kneighbors(Q, n_neighbors=10)[1])
    assert fresh.n_substrings_ is not None


def test_auto_estimates_once_per_k_and_radius(large_codes, monkeypatch):
    """'auto' estimates the tables' cost on the first call for a given k (or radius)
    only; later calls reuse the decision, and a refit forgets it."""
    import skhash.neighbors._policy as policy

    calls = []
    real = policy.estimate_work
    monkeypatch.setattr(policy, "estimate_work", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    Dp, Qp, _ = large_codes["uniform"]
    auto = HammingNeighbors(n_neighbors=10, packed=True).fit(Dp)
    for _ in range(3):
        auto.kneighbors(Qp[:1])
    assert len(calls) == 1
    auto.kneighbors(Qp, n_neighbors=5)
    auto.kneighbors(Qp[:3], n_neighbors=5)
    assert len(calls) == 2
    auto.radius_neighbors(Qp, radius=3)
    auto.radius_neighbors(Qp[:2], radius=3)
    assert len(calls) == 3
    auto.fit(Dp).kneighbors(Qp[:1])
    assert len(calls) == 4


@pytest.mark.parametrize("n_neighbors", [1, 10, 60])
def test_auto_cost_estimate_is_the_tables_work(n_neighbors, monkeypatch):
    """On a database no larger than the sample, the estimated probes and listed rows of
    a k-NN search equal the work the tables actually do, query by query."""
    from skhash.neighbors._mih import estimate_work, knn_radii

    _probes_only(monkeypatch)
    rng = np.random.default_rng(16)
    D = _clustered_codes(rng, 2000, 64)
    Q = np.vstack([_clustered_codes(rng, 30, 64), rng.random((10, 64)) < 0.5])
    mih = HammingNeighbors(algorithm="mih", n_substrings=4).fit(D)
    Qw = mih._to_words(Q)
    d, _, work = mih._policy.tables.kneighbors(Qw, n_neighbors, return_work=True)
    radii = knn_radii(d[:, -1], mih._policy.tables.sub_bits)
    rows = np.ascontiguousarray(mih._db_words.T)
    probes, listed = estimate_work(Qw, rows, len(D), 64, mih._policy.tables.edges, radii)
    np.testing.assert_array_equal(probes, work[:, 0])
    np.testing.assert_array_equal(listed, work[:, 1])


def test_auto_pilot_queries_are_spread_over_the_call(large_codes):
    """'auto' estimates the tables' cost on queries spread over the whole call: for a
    sorted stream (near queries first, far ones after) the estimate is that of the
    batch's mix, not that of its head."""
    Dp, Qp, _ = large_codes["clustered"]
    near, far = Dp[:1], large_codes["uniform"][1][:1]

    def estimate(Q):
        auto = HammingNeighbors(n_neighbors=10, packed=True).fit(Dp)
        auto.kneighbors(Q)
        return auto._policy.cost[("k", 10)]

    cost_near, cost_far = (
        estimate(np.repeat(near, 64, axis=0)),
        estimate(np.repeat(far, 64, axis=0)),
    )
    assert cost_far > 2 * cost_near
    # Half near then half far: 16 pilot queries of each.
    stream = np.vstack([np.repeat(near, 300, axis=0), np.repeat(far, 300, axis=0)])
    assert estimate(stream) == pytest.approx((cost_near + cost_far) / 2)
    auto = HammingNeighbors(n_neighbors=10, packed=True).fit(Dp)
    auto.radius_neighbors(stream, radius=3)
    auto_near = HammingNeighbors(n_neighbors=10, packed=True).fit(Dp)
    auto_near.radius_neighbors(np.repeat(near, 64, axis=0), radius=3)
    assert auto._policy.cost[("radius", 3)] > auto_near._policy.cost[("radius", 3)]


@pytest.mark.parametrize("n_neighbors", [1, 10])
def test_auto_pilot_queries_of_the_fitted_codes_exclude_themselves(n_neighbors, monkeypatch):
    """With X=None, 'auto' answers its pilot queries (spread over the fitted codes) and
    the rows between them exactly as brute does, each code excluding itself."""
    import skhash.neighbors._policy as policy

    _probes_only(monkeypatch)
    monkeypatch.setattr(policy, "AUTO_MIN_SAMPLES", 0)
    monkeypatch.setattr(policy, "BUILD_COST", 0.0)
    D = _clustered_codes(np.random.default_rng(17), 3000, 64)
    counts = _spy_searches(monkeypatch)
    got = HammingNeighbors(n_neighbors=n_neighbors).fit(D).kneighbors()
    assert counts == {"brute": 32, "mih": 3000 - 32}
    expected = HammingNeighbors(n_neighbors=n_neighbors, algorithm="brute").fit(D).kneighbors()
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_auto_small_index_builds_no_tables():
    """Below 100,000 codes algorithm='auto' is the exhaustive search, without tables."""
    D = np.random.default_rng(14).random((1000, 32)) < 0.5
    assert HammingNeighbors().fit(D).n_substrings_ is None


@pytest.mark.parametrize(
    "n_bits, n_substrings, code_bytes",
    [(16, 2, 2), (24, 2, 4), (64, 4, 8), (100, 5, 16), (128, 11, 16)],
)
def test_mih_table_memory_is_the_documented_formula(n_bits, n_substrings, code_bytes):
    """MIH tables' nbytes: m x (code bytes + 4) per code plus 4 x (2^s + 1) per table."""
    n = 5000
    D = np.random.default_rng(n_bits).random((n, n_bits)) < 0.5
    index = HammingNeighbors(algorithm="mih", n_substrings=n_substrings).fit(D)
    tables = index._policy.tables
    expected = n_substrings * (code_bytes + 4) * n + 4 * int(((1 << tables.sub_bits) + 1).sum())
    masks = n_substrings * code_bytes
    assert tables.nbytes == expected + masks


@pytest.mark.parametrize(
    "fitted, changed",
    [
        ({"packed": True}, {"packed": False}),
        ({"packed": False}, {"packed": True}),
        ({"packed": True, "n_bits": 12}, {"n_bits": None}),
        ({"algorithm": "mih", "n_substrings": 2}, {"algorithm": "brute", "n_substrings": 5}),
        ({"algorithm": "brute"}, {"algorithm": "mih"}),
    ],
    ids=["packed-to-unpacked", "unpacked-to-packed", "n_bits", "mih-to-brute", "brute-to-mih"],
)
def test_queries_follow_the_fitted_layout_after_set_params(fitted, changed):
    """A layout parameter changed after fit (set_params) does not change what a query
    reads: results stay those of the fitted index, the same on every call."""
    rng = np.random.default_rng(21)
    n_bits = fitted.get("n_bits", 16)
    D = rng.random((60, n_bits)) < 0.5
    X = pack_codes(D) if fitted.get("packed") else D
    index = HammingNeighbors(n_neighbors=4, **fitted).fit(X)
    expected = index.kneighbors(X[:5])
    expected_radius = index.radius_neighbors(X[:5], radius=5, sort_results=True)
    index.set_params(**changed)
    for _ in range(3):
        dist, ind = index.kneighbors(X[:5])
        np.testing.assert_array_equal(dist, expected[0])
        np.testing.assert_array_equal(ind, expected[1])
    dist, ind = index.radius_neighbors(X[:5], radius=5, sort_results=True)
    for a, b in zip(ind, expected_radius[1], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(_brute(D[:5], D)[0, ind[0]], dist[0])


@pytest.mark.parametrize("radius", [np.inf, 1e308, 1.0])
@pytest.mark.parametrize("metric", ["bitcount", "hamming"])
def test_infinite_radius_returns_every_point_as_sklearn(radius, metric):
    """radius=inf (or 1e308) returns every fitted code, as NearestNeighbors does."""
    D = np.random.default_rng(22).random((30, 16)) < 0.5
    if metric == "bitcount" and radius == 1.0:
        radius = 16.0
    ours = HammingNeighbors(metric=metric).fit(D).radius_neighbors(D[:3], radius=radius)
    theirs = NearestNeighbors(metric="hamming").fit(D).radius_neighbors(D[:3], radius=radius)
    for a, b in zip(ours[1], theirs[1], strict=True):
        np.testing.assert_array_equal(np.sort(a), np.arange(30))
        np.testing.assert_array_equal(np.sort(a), np.sort(b))
    graph = HammingNeighbors(metric=metric, radius=radius).fit(D).radius_neighbors_graph()
    assert graph.nnz == 30 * 29


def test_n_jobs_zero_is_refused_in_fit():
    """n_jobs=0 is refused by fit with a message naming it (not joblib's, at query time),
    and a query after set_params(n_jobs=0) names it too."""
    D = np.random.default_rng(23).random((20, 16)) < 0.5
    with pytest.raises(ValueError, match="n_jobs=0"):
        HammingNeighbors(n_jobs=0).fit(D)
    index = HammingNeighbors().fit(D).set_params(n_jobs=0)
    with pytest.raises(ValueError, match="n_jobs=0"):
        index.kneighbors(D[:2])
