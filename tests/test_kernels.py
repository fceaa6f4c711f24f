"""Hamming kernels against a plain numpy reference: distances, k-NN, radius, threads."""

import numba
import numpy as np
import pytest

from skhash.neighbors._kernels import (
    hamming_distance_matrix,
    kneighbors_words,
    radius_neighbors_words,
    to_words,
)

# Bytes per code in the kernels' words: 1, 2, 4, 4 up to 32 bits, then 8 per 64 bits.
WORD_BYTES = {1: 1, 2: 2, 3: 4, 4: 4}

# Bit widths covering every word layout: one uint8, uint16 or uint32 word (5, 16, 24
# and 32 bits), one to four uint64 words (the vectorised paths), and the generic path
# beyond 256 bits; with and without a partial last byte.
N_BITS = [5, 16, 24, 32, 64, 100, 128, 192, 256, 300]


def _codes(rng, n, n_bits):
    return np.packbits(rng.random((n, n_bits)) < 0.5, axis=1)


def _reference(Qp, Dp, n_bits):
    Q = np.unpackbits(Qp, axis=1, count=n_bits).astype(bool)
    D = np.unpackbits(Dp, axis=1, count=n_bits).astype(bool)
    return (Q[:, None, :] != D[None, :, :]).sum(axis=2)


def _hard_database(rng, n, n_bits):
    """Random codes plus duplicates, a block of all-zero codes and many ties."""
    Dp = _codes(rng, n, n_bits)
    Dp[5] = Dp[7]
    Dp[n // 2] = Dp[7]
    Dp[n // 3 : n // 3 + 40] = 0
    return Dp


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("n_bits", N_BITS)
def test_distance_matrix_matches_numpy(n_bits, n_jobs):
    """hamming_distance_matrix equals the count of differing unpacked bits, on one
    thread (serial kernels) and two (parallel kernels)."""
    rng = np.random.default_rng(n_bits)
    Dp = _hard_database(rng, 4500, n_bits)
    Qp = np.vstack([_codes(rng, 20, n_bits), Dp[:3], np.zeros_like(Dp[:1])])
    got = hamming_distance_matrix(Qp, Dp, n_jobs=n_jobs)
    assert got.dtype == np.int32 and got.shape == (len(Qp), len(Dp))
    np.testing.assert_array_equal(got, _reference(Qp, Dp, n_bits))


def test_distance_matrix_rejects_mismatched_input():
    """Non-uint8 or differently sized packed rows raise a ValueError."""
    with pytest.raises(ValueError, match="uint8"):
        hamming_distance_matrix(np.zeros((2, 8)), np.zeros((2, 8), np.uint8))
    with pytest.raises(ValueError, match="same number of bytes"):
        hamming_distance_matrix(np.zeros((2, 8), np.uint8), np.zeros((2, 4), np.uint8))


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("n_bits", N_BITS)
def test_kneighbors_matches_stable_sort(n_bits, n_jobs):
    """k-NN equals a stable sort by (distance, index) for k from 1 to n, ties included,
    on one thread and two."""
    rng = np.random.default_rng(n_bits + 1)
    n = 3000
    Dp = _hard_database(rng, n, n_bits)
    Qp = np.vstack([_codes(rng, 30, n_bits), Dp[[7, n // 3]]])
    ref = _reference(Qp, Dp, n_bits)
    order = np.argsort(ref, axis=1, kind="stable")
    Q, DT = to_words(Qp), to_words(Dp, transpose=True)
    for k in (1, 7, 200, n):
        dist, ind = kneighbors_words(Q, DT, k, n_bits, n_jobs=n_jobs)
        np.testing.assert_array_equal(ind, order[:, :k])
        np.testing.assert_array_equal(dist, np.take_along_axis(ref, order[:, :k], axis=1))


def test_kneighbors_self_offset_excludes_the_query_row():
    """With self_offset, row q + offset is never returned, even at distance 0."""
    rng = np.random.default_rng(3)
    Dp = _hard_database(rng, 500, 32)
    ref = _reference(Dp, Dp, 32).astype(float)
    np.fill_diagonal(ref, np.inf)
    order = np.argsort(ref, axis=1, kind="stable")[:, :5]
    dist, ind = kneighbors_words(to_words(Dp), to_words(Dp, transpose=True), 5, 32, self_offset=0)
    np.testing.assert_array_equal(ind, order)
    # Queries that are rows 100.. of the database: offset 100.
    dist2, ind2 = kneighbors_words(
        to_words(Dp[100:]), to_words(Dp, transpose=True), 5, 32, self_offset=100
    )
    np.testing.assert_array_equal(ind2, order[100:])


def test_all_equal_codes_give_index_order():
    """Identical codes: every distance is 0 and neighbours come in database order."""
    Dp = np.zeros((300, 8), dtype=np.uint8)
    dist, ind = kneighbors_words(to_words(Dp[:4]), to_words(Dp, transpose=True), 250, 64)
    assert not dist.any()
    np.testing.assert_array_equal(ind, np.tile(np.arange(250), (4, 1)))


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("n_bits", [16, 64, 256, 300])
@pytest.mark.parametrize("sort_results", [False, True])
def test_radius_matches_numpy(n_bits, sort_results, n_jobs):
    """Radius search returns exactly the rows with distance <= r, in index or distance
    order, on one thread and two."""
    rng = np.random.default_rng(n_bits)
    Dp = _hard_database(rng, 2000, n_bits)
    Qp = np.vstack([_codes(rng, 10, n_bits), Dp[[7, 2000 // 3]]])
    ref = _reference(Qp, Dp, n_bits)
    Q, DT = to_words(Qp), to_words(Dp, transpose=True)
    for r in (0, 2, n_bits // 2 - 4, n_bits):
        offsets, dist, ind = radius_neighbors_words(
            Q, DT, r, n_bits, sort_results=sort_results, n_jobs=n_jobs
        )
        for q in range(len(Qp)):
            expected = np.flatnonzero(ref[q] <= r)
            if sort_results:
                expected = expected[np.argsort(ref[q, expected], kind="stable")]
            np.testing.assert_array_equal(ind[offsets[q] : offsets[q + 1]], expected)
            np.testing.assert_array_equal(dist[offsets[q] : offsets[q + 1]], ref[q, expected])


def test_padding_bits_are_ignored_when_n_bits_given():
    """to_words(n_bits=...) clears the unused low bits of the last byte."""
    a = np.array([[0b10100000]], dtype=np.uint8)
    b = np.array([[0b10100111]], dtype=np.uint8)
    d = kneighbors_words(to_words(a, 3), to_words(b, 3, transpose=True), 1, 3)[0]
    assert d[0, 0] == 0


def test_thread_count_restored_and_results_thread_independent():
    """n_jobs changes numba's threads only during the call; results do not depend on it."""
    rng = np.random.default_rng(0)
    Dp = _hard_database(rng, 3000, 64)
    Qp = _codes(rng, 100, 64)
    before = numba.get_num_threads()
    one = kneighbors_words(to_words(Qp), to_words(Dp, transpose=True), 10, 64, n_jobs=1)
    two = kneighbors_words(to_words(Qp), to_words(Dp, transpose=True), 10, 64, n_jobs=-1)
    assert numba.get_num_threads() == before
    np.testing.assert_array_equal(one[1], two[1])
    np.testing.assert_array_equal(
        hamming_distance_matrix(Qp, Dp, n_jobs=1), hamming_distance_matrix(Qp, Dp, n_jobs=2)
    )


@pytest.mark.parametrize("n_bits", range(1, 65))
def test_every_length_up_to_64_bits_matches_numpy(n_bits):
    """Distances, k-NN and radius search equal the numpy reference for 1 to 64 bits, in
    words of the documented size (smallest of 1, 2, 4 bytes, else 8 per 64 bits)."""
    rng = np.random.default_rng(1000 + n_bits)
    Dp = _hard_database(rng, 300, n_bits)
    Qp = np.vstack([_codes(rng, 12, n_bits), Dp[[7]]])
    Dp[:, -1] |= np.uint8(0xFF >> (n_bits % 8 or 8))  # garbage in the padding bits
    ref = _reference(Qp, Dp, n_bits)
    Q, DT = to_words(Qp, n_bits), to_words(Dp, n_bits, transpose=True)
    n_bytes = -(-n_bits // 8)
    assert DT.nbytes == 300 * WORD_BYTES.get(n_bytes, 8 * -(-n_bytes // 8))
    assert Q.dtype == DT.dtype and Q.dtype.kind == "u"
    order = np.argsort(ref, axis=1, kind="stable")
    for k in (1, 10, 300):
        dist, ind = kneighbors_words(Q, DT, k, n_bits, n_jobs=2)
        np.testing.assert_array_equal(ind, order[:, :k])
        np.testing.assert_array_equal(dist, np.take_along_axis(ref, order[:, :k], axis=1))
    r = n_bits // 3
    offsets, dist, ind = radius_neighbors_words(Q, DT, r, n_bits)
    for q in range(len(Qp)):
        np.testing.assert_array_equal(ind[offsets[q] : offsets[q + 1]], np.flatnonzero(ref[q] <= r))
    if n_bits % 8 == 0:
        np.testing.assert_array_equal(hamming_distance_matrix(Qp, Dp), ref)


@pytest.mark.parametrize(
    "n_bits, n_substrings", [(5, 2), (16, 2), (24, 3), (64, 5), (100, 7), (300, 13)]
)
def test_mih_tables_match_a_stable_sort_by_substring(n_bits, n_substrings):
    """Multi-index tables: substring keys equal the unpacked bits read as integers, and
    each table lists every code once, bucket by bucket in increasing database index
    (a stable argsort of the keys), with its codes copied in that order."""
    from skhash.neighbors._mih import MIHIndex

    rng = np.random.default_rng(n_bits)
    Dp = _hard_database(rng, 2000, n_bits)
    words = to_words(Dp, n_bits)
    tables = MIHIndex(words, n_bits, n_substrings)
    bits = np.unpackbits(Dp, axis=1, count=n_bits).astype(np.int64)
    for i in range(n_substrings):
        lo, hi = tables.edges[i], tables.edges[i + 1]
        keys = bits[:, lo:hi] @ (1 << np.arange(hi - lo))
        np.testing.assert_array_equal(tables.keys(words)[:, i], keys)
        order = np.argsort(keys, kind="stable")
        np.testing.assert_array_equal(tables.ids[i], order)
        np.testing.assert_array_equal(tables.codes[i], words[order].T)
        offsets = tables.offsets[tables.starts[i] : tables.starts[i] + (1 << (hi - lo)) + 1]
        np.testing.assert_array_equal(np.diff(offsets), np.bincount(keys, minlength=1 << (hi - lo)))


def _byte_reference(Qp, Dp):
    """Distances through a per-byte popcount table (no unpacked bit arrays)."""
    table = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(axis=1)
    return np.array([table[q ^ Dp].sum(axis=1) for q in Qp])


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("n_bits", [32, 64, 128, 256])
def test_many_tiles_and_query_blocks_match_numpy(n_bits, n_jobs):
    """Over a database of many tiles (a partial last one) and more queries than one
    block, k-NN and radius search (neighbours planted in a few far tiles, the queries
    being database rows excluded by self_offset) equal numpy's stable sort and filter."""
    rng = np.random.default_rng(n_bits + 7)
    n, n_bytes = 20_011, n_bits // 8
    Dp = _codes(rng, n, n_bits)
    rows = np.arange(3000, 3150)
    # Near copies of the query rows, one bit off, in tiles far from the queries.
    planted = rng.choice(np.arange(12_000, n), size=(len(rows), 3), replace=False)
    for q, targets in zip(rows, planted, strict=True):
        for t in targets:
            Dp[t] = Dp[q]
            Dp[t, rng.integers(n_bytes)] ^= np.uint8(1 << rng.integers(8))
    Dp[planted[0, 0]] = Dp[rows[0]]  # an exact duplicate: distance 0, a tie with itself
    Qp = Dp[rows]
    ref = _byte_reference(Qp, Dp)
    ref[np.arange(len(rows)), rows] = n_bits + 1  # the query's own row is excluded
    Q, DT = to_words(Qp, n_bits), to_words(Dp, n_bits, transpose=True)
    order = np.argsort(ref, axis=1, kind="stable")
    for k in (1, 10, 100):
        dist, ind = kneighbors_words(Q, DT, k, n_bits, self_offset=3000, n_jobs=n_jobs)
        np.testing.assert_array_equal(ind, order[:, :k])
        np.testing.assert_array_equal(dist, np.take_along_axis(ref, order[:, :k], axis=1))
    for r in (2, n_bits // 4):
        offsets, dist, ind = radius_neighbors_words(
            Q, DT, r, n_bits, self_offset=3000, n_jobs=n_jobs
        )
        for q in range(len(rows)):
            expected = np.flatnonzero(ref[q] <= r)
            np.testing.assert_array_equal(ind[offsets[q] : offsets[q + 1]], expected)
            np.testing.assert_array_equal(dist[offsets[q] : offsets[q + 1]], ref[q, expected])


@pytest.mark.parametrize("budget", [0.0, 300.0])
@pytest.mark.parametrize("n_bits, n_substrings", [(64, 4), (128, 6)])
def test_mih_queries_that_give_up_probing_get_the_exhaustive_answer(n_bits, n_substrings, budget):
    """Queries that stop probing (all of them at budget 0, some at 300) are answered by the
    exhaustive kernel: k-NN and radius equal it exactly, self-exclusion included, also
    when more than k duplicates of a query tie with it ahead of it."""
    from skhash.neighbors._mih import MIHIndex

    rng = np.random.default_rng(n_bits)
    dups = np.repeat(_codes(rng, 3, n_bits), 8, axis=0)
    Dp = np.vstack([_hard_database(rng, 1500, n_bits), dups])
    words = to_words(Dp, n_bits)
    DT = to_words(Dp, n_bits, transpose=True)
    tables = MIHIndex(words, n_bits, n_substrings)
    Q = words[::7]  # fitted codes querying themselves: rows 0, 7, 14, ... (duplicates too)
    for self_offset, Qs in ((-1, Q), (0, words)):
        for k in (1, 5):
            got = tables.kneighbors(Qs, k, self_offset=self_offset, budget=budget, return_work=True)
            want = kneighbors_words(Qs, DT, k, n_bits, self_offset=self_offset)
            assert got[2][:, 2].any()
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])
        for radius in (0, n_bits // 4):
            for sort_results in (False, True):
                got = tables.radius_neighbors(
                    Qs, radius, self_offset=self_offset, sort_results=sort_results, budget=budget
                )
                want = radius_neighbors_words(
                    Qs, DT, radius, n_bits, self_offset=self_offset, sort_results=sort_results
                )
                for a, b in zip(got, want, strict=True):
                    np.testing.assert_array_equal(a, b)
