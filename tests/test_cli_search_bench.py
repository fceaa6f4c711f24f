"""skhash search-bench: every row's "same distances" is a check that can fail."""

import numpy as np

from skhash import _cli
from skhash.neighbors import HammingNeighbors


def test_reference_distances_equal_a_direct_count_of_differing_bits():
    """The numpy brute force gives the k smallest bit counts, found here bit by bit."""
    rng = np.random.default_rng(0)
    db = rng.integers(0, 2, size=(300, 20), dtype=np.uint8)
    queries = rng.integers(0, 2, size=(11, 20), dtype=np.uint8)
    got = _cli._hamming_reference(np.packbits(db, axis=1), np.packbits(queries, axis=1), 7)
    counts = (queries[:, None, :] != db[None, :, :]).sum(axis=2)
    np.testing.assert_array_equal(got, np.sort(counts, axis=1)[:, :7])


def test_search_bench_says_no_when_skhash_distances_are_wrong(monkeypatch):
    """skhash's own row is checked against plain numpy, so wrong distances say NO."""
    kneighbors = HammingNeighbors.kneighbors

    def off_by_one(self, *args, **kwargs):
        dist, ind = kneighbors(self, *args, **kwargs)
        return dist + 1, ind

    rows = _cli.run_search_bench(n_db=2000, n_queries=20, bits=32, k=5, n_jobs=1, sklearn_db=300)
    assert rows[0]["name"] == "skhash HammingNeighbors" and rows[0]["agrees"]
    monkeypatch.setattr(HammingNeighbors, "kneighbors", off_by_one)
    rows = _cli.run_search_bench(n_db=2000, n_queries=20, bits=32, k=5, n_jobs=1, sklearn_db=300)
    assert not rows[0]["agrees"]
