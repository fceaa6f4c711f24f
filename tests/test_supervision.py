"""Labels and pairs turned into pairwise supervision."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from skhash import _supervision as supervision
from skhash._supervision import (
    check_labels,
    check_supervision,
    label_similarity,
    pairs_to_csr,
)


def test_class_labels_give_binary_similarity():
    """Samples are similar exactly when their class labels are equal."""
    y = np.array(["a", "b", "a", "c"])
    sup = check_supervision(y, n_samples=4)
    S, known = sup.block(np.arange(4))
    assert known is None
    np.testing.assert_array_equal(S, (y[:, None] == y[None, :]).astype(float))


def test_multilabel_jaccard_and_cosine():
    """Continuous similarities follow their definitions on indicator rows."""
    Y = np.array([[1, 1, 0], [0, 1, 1], [0, 0, 1]])
    jac = label_similarity(sp.csr_matrix(Y), sp.csr_matrix(Y), "jaccard")
    cos = label_similarity(Y, Y, "cosine")
    assert jac[0, 1] == pytest.approx(1 / 3)
    assert cos[0, 1] == pytest.approx(1 / 2)
    assert jac[0, 2] == 0 and cos[1, 2] == pytest.approx(1 / np.sqrt(2))
    binary = label_similarity(Y, Y, "binary")
    np.testing.assert_array_equal(binary, (Y @ Y.T > 0).astype(float))


@pytest.mark.parametrize("n_pairs", [1, 20, 150, 250, 298])
def test_sample_pairs_is_seeded_and_gives_each_pair_once(n_pairs):
    """n * n_pairs // 2 distinct pairs i < j: each sample knows n_pairs others on average."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, size=300)
    sup = check_supervision(y, n_samples=300)
    i, j, s = sup.sample_pairs(n_pairs, random_state=1)
    assert len(i) == len(j) == len(s) == 300 * n_pairs // 2
    assert np.all(i < j) and i.min() >= 0 and j.max() < 300
    assert len(np.unique(i * 300 + j)) == len(i)
    degree = np.bincount(np.concatenate([i, j]), minlength=300)
    assert abs(degree.mean() - n_pairs) < 1
    np.testing.assert_array_equal(s, (y[i] == y[j]).astype(float))
    i2, j2, s2 = sup.sample_pairs(n_pairs, random_state=1)
    np.testing.assert_array_equal(i, i2)
    np.testing.assert_array_equal(j, j2)
    np.testing.assert_array_equal(s, s2)
    i3, j3, _ = sup.sample_pairs(n_pairs, random_state=2)
    assert not (np.array_equal(i, i3) and np.array_equal(j, j3))


@pytest.mark.parametrize("n_pairs", [2, 3])
def test_sampled_pairs_are_uniform(n_pairs):
    """Every pair of 6 samples is drawn equally often, below and above half of all pairs."""
    sup = check_supervision(np.arange(6) % 2, n_samples=6)
    counts = np.zeros((6, 6), dtype=int)
    for seed in range(600):
        i, j, _ = sup.sample_pairs(n_pairs, random_state=seed)
        assert len(i) == 3 * n_pairs
        counts[i, j] += 1
    upper = counts[np.triu_indices(6, 1)]
    expected = 600 * 3 * n_pairs / 15  # 240 or 360, standard deviation 12
    assert np.all(np.abs(upper - expected) < 50)


@pytest.mark.parametrize("n_pairs_per_sample", [None, 59, 10**9])
@pytest.mark.parametrize("kind", ["binary", "jaccard", "cosine"])
def test_every_partner_means_all_pairs_once(n_pairs_per_sample, kind):
    """None or >= n - 1 partners gives each pair i < j once, with its similarity."""
    Y = (np.random.default_rng(0).random((60, 5)) < 0.3).astype(int)
    Y[0] = 0  # a sample with no label: similarity 0 to everyone
    sup = check_supervision(Y, n_samples=60, kind=kind)
    i, j, s = sup.sample_pairs(n_pairs_per_sample, random_state=0)
    assert len(i) == 60 * 59 // 2 and np.all(i < j)
    grid = np.full((60, 60), -1.0)
    grid[i, j] = grid[j, i] = s
    expected = label_similarity(sp.csr_matrix(Y), sp.csr_matrix(Y), kind)
    off_diagonal = ~np.eye(60, dtype=bool)
    np.testing.assert_allclose(grid[off_diagonal], expected[off_diagonal])


def test_given_pairs_beyond_the_budget_are_a_uniform_subset():
    """Pair supervision keeps n * n_pairs_per_sample // 2 of the given pairs when more."""
    rng = np.random.default_rng(0)
    given = np.column_stack([rng.integers(0, 40, 600), rng.integers(0, 40, 600), rng.random(600)])
    sup = check_supervision(pairs=given, n_samples=40)
    i_all, j_all, s_all = sup.sample_pairs(None)
    assert np.all(i_all < j_all) and len(i_all) > 100
    i, j, s = sup.sample_pairs(5, random_state=0)
    assert len(i) == 40 * 5 // 2
    pairs = zip(i_all.tolist(), j_all.tolist(), strict=True)
    lookup = dict(zip(pairs, s_all.tolist(), strict=True))
    kept = zip(i.tolist(), j.tolist(), s.tolist(), strict=True)
    assert all(lookup[(a, b)] == v for a, b, v in kept)
    assert len(set(zip(i.tolist(), j.tolist(), strict=True))) == len(i)
    i2, j2, _ = sup.sample_pairs(5, random_state=0)
    np.testing.assert_array_equal(i, i2)
    np.testing.assert_array_equal(j, j2)
    # Fewer given pairs than the budget: all of them.
    assert len(sup.sample_pairs(500, random_state=0)[0]) == len(i_all)


@pytest.mark.parametrize("n_pairs_per_sample", [None, 3199, 10**6])
def test_all_pairs_of_a_large_training_set_are_refused(n_pairs_per_sample):
    """Asking every partner of 3,200 samples (5.1M pairs) is a clear error, not an OOM."""
    sup = check_supervision(np.arange(3200) % 7, n_samples=3200)
    with pytest.raises(
        ValueError,
        match=rf"n_pairs_per_sample={n_pairs_per_sample} uses all 5118400 pairs of the "
        r"3200 training samples \(n_samples=3200.*limit of 5000000",
    ):
        sup.sample_pairs(n_pairs_per_sample)


def test_all_pairs_take_about_the_memory_of_the_pairs_returned():
    """All pairs of 1,500 samples peak below twice the arrays returned (no n x n grid)."""
    sup = check_supervision(np.arange(1500) % 5, n_samples=1500)
    tracemalloc.start()
    try:
        i, j, s = sup.sample_pairs(None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(i) == 1500 * 1499 // 2
    assert peak < 2 * (i.nbytes + j.nbytes + s.nbytes)


def test_pair_supervision_block_marks_unknown_pairs():
    """With pairs only, block() knows exactly the given pairs (symmetrised)."""
    pairs = np.array([[0, 1, 1], [1, 2, 0], [3, 0, 0]])
    sup = check_supervision(pairs=pairs, n_samples=4)
    S, known = sup.block(np.arange(4))
    expected_known = np.zeros((4, 4), dtype=bool)
    for i, j, _ in pairs:
        expected_known[i, j] = expected_known[j, i] = True
    np.testing.assert_array_equal(known, expected_known)
    assert S[0, 1] == S[1, 0] == 1 and S[1, 2] == 0
    i, j, s = sup.sample_pairs()
    assert len(i) == 3 and np.all(i < j) and set(s) == {0.0, 1.0}


def test_sparse_similarity_matrix_keeps_explicit_zeros():
    """A sparse matrix's stored zeros are dissimilar pairs, not missing ones."""
    M = sp.coo_matrix(([1.0, 0.0], ([0, 1], [1, 2])), shape=(3, 3))
    sup = check_supervision(pairs=M, n_samples=3)
    _, known = sup.block(np.arange(3))
    assert known[1, 2] and known[2, 1] and known[0, 1]
    assert not known[0, 2]


def test_pairs_to_csr_averages_conflicting_duplicates():
    """A pair given twice with different s is averaged, and kept when it averages to 0."""
    M = pairs_to_csr([0, 1, 2], [1, 0, 0], [1.0, 0.0, 0.0], 3)
    assert M[0, 1] == pytest.approx(0.5)
    assert M.nnz == 4


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(y=[1, 1, 1, 1]), "single class"),
        (dict(y=[0, 1, 2, 3]), "no similar pairs"),
        (dict(y=[1, 1, 1, 1]), "every pair of samples is similar"),
        (dict(y=[[1, 0], [1, 1], [1, 0], [1, 1]]), "every pair of samples is similar"),
        (dict(y=[[1, 1, 0], [0, 1, 1], [1, 0, 1], [1, 1, 0]]), "every pair of samples is"),
        (dict(y=[[1, 2], [0, 1], [1, 0], [0, 1]]), "0/1"),
        (dict(y=np.zeros((4, 0))), r"shape \(4, 0\)\) has no positive entry"),
        (dict(y=sp.csr_matrix((4, 0))), "no sample has a label"),
        (dict(y=np.zeros((4, 3))), "no positive entry"),
        (dict(y=[0.0, np.nan, 1.0, 1.0]), "NaN"),
        (dict(y=[0, 1, 0]), "3 rows but X has 4"),
        (dict(y=[0, 1, 0, 1], pairs=[[0, 1, 1]]), "not both"),
        (dict(pairs=[[0, 4, 1], [0, 1, 0]]), "out of range"),
        (dict(pairs=[[0, 1, 2], [0, 2, 0]]), r"\[0, 1\]"),
        (dict(pairs=[[0, 1, 0], [0, 2, 0]]), "no similar pair"),
        (dict(pairs=[[0, 1, 1], [0, 2, 1]]), "no dissimilar pair"),
        (dict(pairs=[[0, 1.5, 1], [0, 2, 0]]), "integers"),
        (dict(pairs=[[0, 1]]), r"\(n_pairs, 3\)"),
        (dict(pairs=sp.eye(3)), r"shape \(4, 4\)"),
    ],
)
def test_bad_supervision_raises_clear_error(kwargs, match):
    """Supervision that cannot teach anything fails loudly, naming the problem."""
    with pytest.raises(ValueError, match=match):
        check_supervision(n_samples=4, **kwargs)


@pytest.mark.parametrize("subset_labels", [20, 0])
def test_dissimilar_pair_detection_matches_brute_force(subset_labels, monkeypatch):
    """Multi-label y is refused exactly when every two samples share a label."""
    # Both searches: over label subsets (few labels) and over pairs of label sets.
    monkeypatch.setattr(supervision, "_SUBSET_LABELS", subset_labels)
    rng = np.random.default_rng(0)
    n_refused = 0
    for _ in range(300):
        n, n_labels = rng.integers(2, 9), rng.integers(1, 6)
        Y = (rng.random((n, n_labels)) < rng.uniform(0.3, 0.9)).astype(int)
        Y[rng.integers(n), rng.integers(n_labels)] = 1  # at least one positive entry
        shares = Y @ Y.T > 0
        all_similar = shares[~np.eye(n, dtype=bool)].all()
        try:
            check_supervision(sp.csr_matrix(Y), n_samples=n)
            refused = False
        except ValueError as exc:
            refused = "every pair of samples is similar" in str(exc)
        assert refused == all_similar, Y
        n_refused += refused
    assert 20 < n_refused < 280


@pytest.mark.parametrize("n_labels", [12, 30])
def test_overlapping_label_sets_of_a_large_set_are_found_in_bounded_memory(n_labels):
    """20,000 pairwise-overlapping label sets (no common label) are refused in < 40 MB."""
    rng = np.random.default_rng(0)
    n = 20_000
    # Two of the labels 0-2 per sample, so any two samples overlap, plus random other
    # labels: 2,000 distinct sets, 10 samples each, and no label shared by all.
    Y = np.zeros((n // 10, n_labels), dtype=np.int8)
    Y[:, 3:] = rng.random((n // 10, n_labels - 3)) < 0.3
    Y[np.arange(n // 10)[:, None], np.argsort(rng.random((n // 10, 3)), axis=1)[:, :2]] = 1
    Y = sp.csr_matrix(np.tile(Y, (10, 1)))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="every pair of samples is similar"):
            check_supervision(Y, n_samples=n)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40e6  # a dense n x n boolean matrix alone is 400 MB
    # Two samples whose sets are disjoint ({0, 1} and {2, 3}) make the labels usable.
    Y = Y.tolil()
    Y[0, :], Y[1, :] = 0, 0
    Y[0, [0, 1]], Y[1, [2, 3]] = 1, 1
    sup = check_supervision(Y.tocsr(), n_samples=n)
    assert sup.block([0], [1])[0][0, 0] == 0


def test_check_labels_accepts_column_vector_and_sparse():
    """A (n, 1) column of labels is class labels; a sparse indicator is multi-label."""
    Y, classes, multilabel = check_labels(np.array([[3], [5], [3]]))
    assert not multilabel and list(classes) == [3, 5]
    assert Y.toarray().tolist() == [[1, 0], [0, 1], [1, 0]]
    _, _, multilabel = check_labels(sp.csr_matrix(np.eye(3)))
    assert multilabel


def _objects(*values):
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


@pytest.mark.parametrize(
    "y, match",
    [
        (_objects(0, 1, None, 1), r"y contains None at position 2"),
        (
            _objects(0, 1, "1", 1),
            r"mixes label types: 0 \(number, position 0\) and '1' \(string, position 2\)",
        ),
        (_objects("a", "b", 2, "a"), r"mixes label types: 'a' .* and 2"),
        (_objects(0, 1, float("nan"), 1), r"NaN or infinity \(nan at position 2\)"),
        (_objects(0, 1, {"a": 1}, 1), r"numbers or strings .*dict at position 2"),
        (np.array([0, 1, 0, 1], dtype="datetime64[D]"), "numbers or strings"),
    ],
)
def test_object_labels_with_missing_or_mixed_values_are_a_clear_error(y, match):
    """None, NaN, unorderable values and strings mixed with numbers: a ValueError naming them."""
    with pytest.raises(ValueError, match=match):
        check_labels(y)
    with pytest.raises(ValueError, match=match):
        check_supervision(y, n_samples=4)


def test_numbers_of_any_type_are_compared_as_values():
    """1, 1.0, True and numpy integers are one class; strings are classes of their own."""
    Y, classes, _ = check_labels(_objects(1, 1.0, True, np.int64(1), 2, np.float32(2.0)))
    np.testing.assert_array_equal(Y.toarray().argmax(axis=1), [0, 0, 0, 0, 1, 1])
    assert len(classes) == 2
    Y, classes, _ = check_labels(_objects("1", "1", "b", np.str_("b")))
    assert list(classes) == ["1", "b"]
    np.testing.assert_array_equal(Y.toarray().argmax(axis=1), [0, 0, 1, 1])
