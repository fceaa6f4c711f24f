"""SCHHasher: retrieval on digits, soft constraints, blocks, supervision forms and robustness."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.dummy import DummyClassifier
from sklearn.svm import SVC

import skhash._sch as sch_module
from skhash import ITQHasher, SCHHasher
from skhash._supervision import check_labels, label_similarity
from skhash.datasets import load_retrieval_dataset
from skhash.metrics import mean_average_precision


@pytest.fixture(scope="module")
def digits():
    return load_retrieval_dataset("digits")


@pytest.fixture(scope="module")
def fitted(digits):
    """32-bit SCH on 500 digits database samples, 100 partners each."""
    model = SCHHasher(n_bits=32, n_pairs_per_sample=100, random_state=0)
    return model.fit(digits.X_db[:500], digits.y_db[:500])


def _query_map(model, data):
    return mean_average_precision(
        model.transform(data.X_query), data.y_query, model.transform(data.X_db), data.y_db
    )


def _two_digits(data, n=200):
    keep = data.y_db < 2
    return data.X_db[keep][:n], data.y_db[keep][:n]


def test_supervised_codes_retrieve_far_better_than_itq(fitted, digits):
    """Digits protocol, 32 bits: SCH from 500 labelled samples beats ITQ by a wide margin."""
    itq = ITQHasher(n_bits=32, random_state=0).fit(digits.X_db)
    sch_map, itq_map = _query_map(fitted, digits), _query_map(itq, digits)
    assert sch_map > itq_map + 0.2
    # The learned training codes themselves separate the classes almost perfectly.
    assert fitted.score(digits.X_db[:500], digits.y_db[:500]) > 0.95


def test_fitted_attributes_describe_the_model(fitted):
    """codes_, estimators_, history_ and the stacked SVMs have the documented shapes."""
    assert fitted.codes_.shape == (500, 32) and fitted.codes_.dtype == np.int8
    assert set(np.unique(fitted.codes_)) == {-1, 1}
    assert len(fitted.estimators_) == 32
    assert all(isinstance(e, SVC) for e in fitted.estimators_)
    assert not fitted.constant_bits_.any()
    assert fitted.dual_coef_.shape == (32, len(fitted.support_vectors_))
    assert [h["bits"] for h in fitted.history_] == [(k, k + 4) for k in range(0, 32, 4)]
    assert fitted.history_[0]["max_weight"] == 1.0
    assert all(h["max_weight"] > 1.0 for h in fitted.history_[1:])
    # Each sample drew 100 partners; a pair drawn from both ends counts once.
    assert 100 * 500 / 2 <= fitted.n_pairs_ <= 100 * 500
    assert list(fitted.get_feature_names_out()[:2]) == ["schhasher0", "schhasher1"]


def test_decision_function_equals_the_per_bit_svms(fitted, digits):
    """The stacked kernel gives each SVC's own decision function; transform is its sign."""
    F = fitted.decision_function(digits.X_query)
    G = np.column_stack([e.decision_function(digits.X_query) for e in fitted.estimators_])
    np.testing.assert_allclose(F, G, atol=1e-9)
    np.testing.assert_array_equal(fitted.transform(digits.X_query), np.where(F >= 0, 1, -1))


def test_block_objective_never_increases_over_passes(fitted):
    """Each pass over a block keeps a new bit only if it helps: the objective falls."""
    for record in fitted.history_:
        objective = record["objective"]
        assert len(objective) == record["n_sweeps"] >= 1
        assert np.all(np.diff(objective) <= 1e-12)


@pytest.mark.parametrize("p, expected", [(0.6, (-0.7, -0.45)), (1.0, (-1.0, -0.95))])
def test_soft_constraint_sets_how_far_dissimilar_codes_are(p, expected, digits):
    """Two classes: dissimilar pairs reach affinity about −p, not always −1; similar +1."""
    X, y = _two_digits(digits)
    model = SCHHasher(n_bits=16, p=p, random_state=0).fit(X, y)
    B = model.codes_.astype(float)
    affinity = B @ B.T / 16
    dissimilar = y[:, None] != y[None, :]
    low, high = expected
    assert low <= affinity[dissimilar].mean() <= high
    assert affinity[~dissimilar].mean() > 0.95


@pytest.mark.parametrize("weighting", ["boost", "none"])
def test_soft_constraint_learns_far_better_codes_than_the_hard_one_from_few_pairs(
    weighting, digits
):
    """Ten classes, 40 partners per sample: the hard constraint's codes lose the classes.

    Forcing every dissimilar pair to opposite codes makes samples of different classes
    collide (the paper's argument); the soft target does not. Measured on the training
    codes themselves, leave-one-out, seeds 0-2: 0.66-0.82 soft against 0.36-0.50 hard.
    """
    X, y = digits.X_db[:400], digits.y_db[:400]
    params = dict(n_bits=16, weighting=weighting, n_pairs_per_sample=40, random_state=0)
    soft = SCHHasher(**params).fit(X, y)
    hard = SCHHasher(p=1.0, **params).fit(X, y)
    assert mean_average_precision(soft.codes_, y) > mean_average_precision(hard.codes_, y) + 0.2


def test_unweighted_variant_learns_one_block_with_unit_weights(digits):
    """weighting='none' (SCH_uw) learns all bits as a single block, every weight 1."""
    model = SCHHasher(n_bits=12, weighting="none", n_pairs_per_sample=50, random_state=0)
    model.fit(digits.X_db[:300], digits.y_db[:300])
    assert len(model.history_) == 1
    assert model.history_[0]["bits"] == (0, 12) and model.history_[0]["max_weight"] == 1.0


def test_blocks_longer_than_the_code_give_one_block(digits):
    """bits_per_block >= n_bits is a single block: the same fit as weighting='none'."""
    X, y = digits.X_db[:200], digits.y_db[:200]
    params = dict(n_bits=6, n_pairs_per_sample=40, random_state=0)
    a = SCHHasher(bits_per_block=10, **params).fit(X, y)
    b = SCHHasher(weighting="none", **params).fit(X, y)
    np.testing.assert_array_equal(a.codes_, b.codes_)


def test_labels_and_the_same_pairs_given_directly_give_identical_codes(digits):
    """All pairs from labels, or the same (i, j, s) rows as pairs=, teach the same codes."""
    X, y = digits.X_db[:150], digits.y_db[:150]
    i, j = np.nonzero(~np.eye(150, dtype=bool))
    pairs = np.column_stack([i, j, y[i] == y[j]])
    params = dict(n_bits=8, n_pairs_per_sample=None, random_state=0)
    from_labels = SCHHasher(**params).fit(X, y)
    from_pairs = SCHHasher(**params).fit(X, pairs=pairs)
    np.testing.assert_array_equal(from_labels.codes_, from_pairs.codes_)
    np.testing.assert_array_equal(from_labels.transform(X), from_pairs.transform(X))


def test_twenty_pairs_per_sample_beat_itq(digits):
    """Twenty random pairs per sample given as rows (no labels) beat ITQ clearly."""
    n = 600
    y = digits.y_db[:n]
    rng = np.random.default_rng(0)
    i = np.repeat(np.arange(n), 20)
    j = rng.integers(0, n, size=20 * n)
    model = SCHHasher(n_bits=16, random_state=0)
    model.fit(digits.X_db[:n], pairs=np.column_stack([i, j, y[i] == y[j]]))
    itq = ITQHasher(n_bits=16, random_state=0).fit(digits.X_db)
    assert _query_map(model, digits) > _query_map(itq, digits) + 0.15


def test_samples_in_no_pair_get_the_hash_functions_code(digits):
    """With pairs covering part of X, the other samples' codes_ are their transform."""
    X, y = digits.X_db[:200], digits.y_db[:200]
    i, j = np.nonzero(~np.eye(150, dtype=bool))
    model = SCHHasher(n_bits=8, random_state=0)
    model.fit(X, pairs=np.column_stack([i, j, y[i] == y[j]]))
    np.testing.assert_array_equal(model.codes_[150:], model.transform(X[150:]))
    # Support vectors come from the paired samples only.
    paired = X[:150]
    assert all(np.any(np.all(paired == sv, axis=1)) for sv in model.support_vectors_)


def test_one_hot_indicator_is_the_same_as_class_labels(digits):
    """A 0/1 indicator with one label per sample is treated exactly like class labels."""
    X, y = digits.X_db[:150], digits.y_db[:150]
    params = dict(n_bits=8, n_pairs_per_sample=30, random_state=0)
    a = SCHHasher(**params).fit(X, y)
    b = SCHHasher(**params).fit(X, np.eye(10, dtype=int)[y])
    np.testing.assert_array_equal(a.codes_, b.codes_)


@pytest.mark.parametrize("kind", ["binary", "jaccard", "cosine"])
def test_multilabel_similarity_equals_the_same_pairs_given_explicitly(kind):
    """Multi-label y with a similarity kind teaches what its full list of pairs does."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 6))
    Y = (rng.random((80, 4)) < 0.35).astype(int)
    Y[Y.sum(axis=1) == 0, 0] = 1
    Yi, _, _ = check_labels(Y)
    S = label_similarity(Yi, Yi, kind)
    i, j = np.nonzero(~np.eye(80, dtype=bool))
    params = dict(n_bits=6, similarity=kind, n_pairs_per_sample=None, random_state=0)
    from_labels = SCHHasher(**params).fit(X, Y)
    from_pairs = SCHHasher(**params).fit(X, pairs=np.column_stack([i, j, S[i, j]]))
    np.testing.assert_array_equal(from_labels.codes_, from_pairs.codes_)


def test_same_random_state_gives_identical_codes(digits):
    """Two fits with the same random_state (pair draw, eigensolver starts) agree exactly."""
    X, y = digits.X_db[:300], digits.y_db[:300]
    a = SCHHasher(n_bits=8, n_pairs_per_sample=50, random_state=3).fit(X, y)
    b = SCHHasher(n_bits=8, n_pairs_per_sample=50, random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.codes_, b.codes_)
    np.testing.assert_array_equal(a.transform(digits.X_query), b.transform(digits.X_query))


def test_parallel_svms_give_the_same_model(digits):
    """n_jobs=2 fits the per-bit SVMs in threads and gives the same hash functions."""
    X, y = digits.X_db[:300], digits.y_db[:300]
    a = SCHHasher(n_bits=8, n_pairs_per_sample=50, random_state=0).fit(X, y)
    b = SCHHasher(n_bits=8, n_pairs_per_sample=50, random_state=0, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(a.dual_coef_, b.dual_coef_)
    np.testing.assert_array_equal(a.transform(digits.X_query), b.transform(digits.X_query))


def test_constant_bit_becomes_a_constant_hash_function(monkeypatch, digits):
    """A learned bit equal for every sample has no SVM; that bit hashes to the constant."""
    real = SCHHasher._learn_codes

    def with_constant_bit(self, *args):
        codes, history = real(self, *args)
        codes[:, 2] = -1.0
        return codes, history

    monkeypatch.setattr(SCHHasher, "_learn_codes", with_constant_bit)
    model = SCHHasher(n_bits=6, n_pairs_per_sample=40, random_state=0)
    model.fit(digits.X_db[:200], digits.y_db[:200])
    assert isinstance(model.estimators_[2], DummyClassifier)
    assert model.constant_bits_.tolist() == [False, False, True, False, False, False]
    codes = model.transform(digits.X_query)
    assert np.all(codes[:, 2] == -1)
    assert all(len(np.unique(codes[:, k])) == 2 for k in (0, 1, 3, 4, 5))


def test_lobpcg_takes_over_when_arpack_does_not_converge(monkeypatch, digits):
    """If ARPACK fails to converge, LOBPCG solves the bit problems and codes stay good."""
    calls = {"lobpcg": 0}
    real_lobpcg = sch_module.lobpcg

    def no_convergence(*args, **kwargs):
        raise sch_module.ArpackNoConvergence("no convergence", None, None)

    def counted_lobpcg(*args, **kwargs):
        calls["lobpcg"] += 1
        return real_lobpcg(*args, **kwargs)

    monkeypatch.setattr(sch_module, "eigsh", no_convergence)
    monkeypatch.setattr(sch_module, "lobpcg", counted_lobpcg)
    X, y = digits.X_db[:300], digits.y_db[:300]
    model = SCHHasher(n_bits=8, n_pairs_per_sample=50, random_state=0).fit(X, y)
    assert calls["lobpcg"] >= 8
    assert model.score(X, y) > 0.9


def test_verbose_reports_each_block(capsys, digits):
    """verbose=1 prints one line per block with its passes and objective."""
    model = SCHHasher(n_bits=8, n_pairs_per_sample=30, verbose=1, random_state=0)
    model.fit(digits.X_db[:150], digits.y_db[:150])
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == len(model.history_) == 2
    assert all("objective" in line and "passes" in line for line in out)


def test_tiny_problems_use_the_dense_eigensolver():
    """A handful of samples (below ARPACK's reach) still fits and separates two classes."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-3, 1, size=(5, 2)), rng.normal(3, 1, size=(5, 2))])
    y = np.repeat([0, 1], 5)
    model = SCHHasher(n_bits=4, random_state=0).fit(X, y)
    codes = model.transform(X)
    assert np.all(codes[:5] == codes[0]) and np.all(codes[5:] == codes[5])
    assert np.any(codes[0] != codes[5])


@pytest.mark.parametrize(
    "fit_args, match",
    [
        (dict(X=np.full((30, 3), np.nan)), "NaN"),
        (dict(X=np.ones((1, 3))), "1 sample"),
        (dict(y=np.arange(29) % 2), "29 rows but X has 30 samples"),
        (dict(y=np.zeros(30)), "single class"),
        (dict(y=np.arange(30)), "no two samples share a label"),
        (dict(y=None), "requires y to be passed"),
        (dict(y=None, pairs=np.array([[0, 45, 1.0], [0, 1, 0.0]])), "out of range"),
        (dict(y=None, pairs=np.array([[0, 1, 1.5]])), r"\[0, 1\]"),
        (dict(y=None, pairs=np.array([[0, 1, 1.0], [1, 2, 1.0]])), "no dissimilar pair"),
        (dict(y=None, pairs=np.array([[0, 1, 0.0], [1, 2, 0.0]])), "no similar pair"),
        (dict(y=None, pairs=np.array([[0, 1.5, 1.0], [0, 2, 0.0]])), "integers; got 1.5"),
    ],
)
def test_bad_input_is_a_clear_error_and_leaves_the_model_unchanged(fit_args, match):
    """Bad X, labels or pairs raise a clear ValueError; a fitted model is untouched."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 3)), np.arange(30) % 3
    model = SCHHasher(n_bits=4, random_state=0).fit(X, y)
    before = (model.codes_.copy(), model.dual_coef_.copy(), model.history_)
    fit_args = dict(fit_args)
    Xbad = fit_args.pop("X", X)
    fit_args.setdefault("y", y)
    with pytest.raises(ValueError, match=match):
        model.fit(Xbad, **fit_args)
    np.testing.assert_array_equal(model.codes_, before[0])
    np.testing.assert_array_equal(model.dual_coef_, before[1])
    assert model.history_ is before[2] and model.n_features_in_ == 3


def test_zero_jobs_is_refused_before_any_work():
    """n_jobs=0 fails at once with SCHHasher's own message, not joblib's after the codes."""
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="n_jobs=0 is not a number of jobs"):
        SCHHasher(n_bits=4, n_jobs=0).fit(rng.normal(size=(30, 3)), np.arange(30) % 3)


def test_boosting_weights_follow_the_deviation_from_the_target():
    """Similar 1 - a, dissimilar hinge max(0, a + p), intermediate |a - t|; mean 1."""
    model = SCHHasher(p=0.6)
    s = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 0.5])
    target = 1.6 * s - 0.6
    affinity = np.array([1.0, 0.5, -1.0, -0.6, 0.4, 0.0])
    raw = np.array([0.0, 0.5, 0.0, 0.0, 1.0, 0.2])
    w = model._pair_weights(affinity, s, target)
    np.testing.assert_allclose(w, raw / raw.mean())
    # Every pair met: all weights 1.
    met = np.array([1.0, 1.0, -0.7, -0.6, -1.0, 0.2])
    np.testing.assert_array_equal(model._pair_weights(met, s, target), 1.0)


def test_intermediate_similarity_sets_an_intermediate_affinity(digits):
    """Similarity 0.5 gets the target (1 + p) 0.5 - p = 0.2, between +1 and -p = -0.6.

    Three groups of 15 samples: similar within a group, similarity 0.5 between groups
    0 and 1, dissimilar to group 2. One block of 32 bits (affinities in steps of 1/16);
    with 4-bit blocks each block can only reach 0 or 0.5 (see the Notes).
    """
    group = np.arange(45) // 15
    i, j = np.triu_indices(45, 1)
    gi, gj = group[i], group[j]
    s = np.where(gi == gj, 1.0, np.where(np.maximum(gi, gj) == 1, 0.5, 0.0))
    model = SCHHasher(n_bits=32, weighting="none", random_state=0)
    B = model.fit(digits.X_db[:45], pairs=np.column_stack([i, j, s])).codes_.astype(float)
    affinity = (B @ B.T / 32)[i, j]
    assert affinity[s == 1].mean() > 0.95
    assert abs(affinity[s == 0.5].mean() - 0.2) < 0.05
    assert abs(affinity[s == 0].mean() + 0.6) < 0.05


def test_sparse_pairs_matrix_is_the_same_supervision_as_rows(digits):
    """pairs= as a sparse similarity matrix and as (i, j, s) rows give identical models."""
    n = 120
    y = digits.y_db[:n]
    rng = np.random.default_rng(0)
    key = np.unique(rng.integers(0, n, 1500) * n + rng.integers(0, n, 1500))
    i, j = np.divmod(key, n)
    i, j = i[i != j], j[i != j]
    s = (y[i] == y[j]).astype(float)
    rows = np.column_stack([i, j, s])
    # Explicit zeros are the dissimilar pairs: store s + 1, then subtract.
    matrix = sp.csr_matrix((s + 1.0, (i, j)), shape=(n, n))
    matrix.data -= 1.0
    params = dict(n_bits=8, n_pairs_per_sample=None, random_state=0)
    a = SCHHasher(**params).fit(digits.X_db[:n], pairs=rows)
    b = SCHHasher(**params).fit(digits.X_db[:n], pairs=matrix)
    np.testing.assert_array_equal(a.codes_, b.codes_)
    np.testing.assert_array_equal(a.transform(digits.X_query), b.transform(digits.X_query))


def test_sampled_pairs_without_a_similar_pair_are_a_clear_error():
    """If the drawn partners contain no similar pair, the error says to draw more."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), np.arange(40) // 2
    # 40 samples in pairs of two: with one partner each, some seed draws no similar pair.
    for seed in range(50):
        model = SCHHasher(n_bits=2, n_pairs_per_sample=1, random_state=seed)
        try:
            model.fit(X, y)
        except ValueError as exc:
            assert "no similar pair" in str(exc) and "n_pairs_per_sample" in str(exc)
            break
    else:
        pytest.fail("no seed drew a pair set without a similar pair")


@pytest.mark.parametrize("n_pairs_per_sample", [None, 10**6])
def test_all_pairs_of_a_large_training_set_are_refused(n_pairs_per_sample):
    """None, or more partners than samples, on a set with too many pairs asks for less."""
    X = np.zeros((3200, 2))
    y = np.arange(3200) % 2
    model = SCHHasher(n_pairs_per_sample=n_pairs_per_sample, max_train_samples=None)
    with pytest.raises(
        ValueError,
        match=rf"n_pairs_per_sample={n_pairs_per_sample} uses all 5118400 pairs.*limit",
    ):
        model.fit(X, y)
    assert not hasattr(model, "codes_")


@pytest.mark.parametrize(
    "params",
    [
        dict(p=0.0),
        dict(p=1.5),
        dict(bits_per_block=0),
        dict(weighting="boosted"),
        dict(n_pairs_per_sample=0),
        dict(C=0.0),
        dict(gamma="wide"),
        dict(max_sweeps=0),
        dict(max_train_samples=1),
        dict(max_train_samples=500.0),
    ],
)
def test_invalid_parameters_are_rejected(params):
    """p outside (0, 1], empty blocks, unknown options or a zero C fail validation."""
    X, y = np.random.default_rng(0).normal(size=(20, 3)), np.arange(20) % 2
    with pytest.raises(ValueError, match=f"'{next(iter(params))}' parameter"):
        SCHHasher(**params).fit(X, y)


def test_svm_failure_mid_fit_rolls_back(monkeypatch, digits):
    """If a bit's SVM fails part-way through a refit, the previous model is kept intact."""
    X, y = digits.X_db[:200], digits.y_db[:200]
    model = SCHHasher(n_bits=6, n_pairs_per_sample=40, random_state=0).fit(X, y)
    before = (model.codes_.copy(), model.dual_coef_.copy(), list(model.estimators_))
    calls = {"n": 0}
    real = sch_module._fit_bit_function

    def failing(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("libsvm failure")
        return real(*args)

    monkeypatch.setattr(sch_module, "_fit_bit_function", failing)
    with pytest.raises(RuntimeError, match="libsvm failure"):
        model.set_params(random_state=1).fit(X, y)
    np.testing.assert_array_equal(model.codes_, before[0])
    np.testing.assert_array_equal(model.dual_coef_, before[1])
    assert model.estimators_ == before[2] and model.random_state == 1


def test_fit_leaves_the_global_numpy_random_state_alone(digits):
    """fit draws only from its own random_state (SVMs included), never from np.random."""
    before = np.random.get_state()  # noqa: NPY002 (the global state is the subject)
    SCHHasher(n_bits=4, n_pairs_per_sample=20, random_state=0).fit(
        digits.X_db[:150], digits.y_db[:150]
    )
    after = np.random.get_state()  # noqa: NPY002
    np.testing.assert_array_equal(after[1], before[1])
    assert after[2:] == before[2:]


@pytest.mark.parametrize("scale", [1e155, 1e300])
def test_values_whose_squared_distances_overflow_are_a_clear_error(scale, digits):
    """X too large for the RBF kernel's squared distances: a ValueError, in fit and transform."""
    X, y = digits.X_db[:150], digits.y_db[:150]
    match = r"values up to .*e\+(155|300) .*squared distances .*overflow.*Rescale"
    with pytest.raises(ValueError, match=match):
        SCHHasher(n_bits=4, n_pairs_per_sample=20).fit(X * scale, y)
    model = SCHHasher(n_bits=4, n_pairs_per_sample=20, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=match):
        model.transform(X[:5] * scale)


def test_training_values_whose_squared_distances_underflow_are_a_clear_error(digits):
    """Samples so close that their squared distances underflow: a ValueError, not noise codes."""
    X, y = digits.X_db[:150], digits.y_db[:150]
    with pytest.raises(ValueError, match=r"differ by at most 1e-300 .*underflow.*Rescale"):
        SCHHasher(n_bits=4, n_pairs_per_sample=20).fit(X / X.max() * 1e-300, y)


@pytest.mark.parametrize("scale", [1e100, 1e-150])
def test_large_or_small_but_representable_values_give_the_same_model(scale, digits):
    """X scaled by 1e100 or 1e-150 (squared distances still normal floats): X's own codes."""
    X, y = digits.X_db[:150], digits.y_db[:150]
    params = dict(n_bits=8, n_pairs_per_sample=20, random_state=0)
    codes = SCHHasher(**params).fit(X, y).transform(X)
    scaled = SCHHasher(**params).fit(X * scale, y).transform(X * scale)
    # The kernel is the same up to round-off (gamma="scale" follows the scale).
    assert np.mean(codes == scaled) > 0.99


@pytest.mark.parametrize("bad, match", [(None, "contains None at position 3"), ("1", "mixes")])
def test_object_labels_with_none_or_mixed_types_are_a_clear_error(bad, match):
    """Class labels holding None, or a string among numbers, are a ValueError naming them."""
    X = np.random.default_rng(0).normal(size=(20, 3))
    y = (np.arange(20) % 2).astype(object)
    y[3] = bad
    with pytest.raises(ValueError, match=match):
        SCHHasher(n_bits=4).fit(X, y)


def test_training_subset_keeps_each_class_share_and_bounds_the_fit(digits):
    """max_train_samples: that many samples, each class in proportion, the rest encoded."""
    X, y = digits.X_db, digits.y_db
    model = SCHHasher(n_bits=8, n_pairs_per_sample=50, max_train_samples=300, random_state=0)
    model.fit(X, y)
    train = model.train_indices_
    assert len(train) == len(np.unique(train)) == 300
    share = 300 * np.bincount(y) / len(y)
    counts = np.bincount(y[train], minlength=len(share))
    assert np.all((counts >= np.floor(share)) & (counts <= np.ceil(share)))
    # Only the subset is paired and trains the SVMs; every other sample is encoded.
    assert model.n_pairs_ <= 300 * 50 // 2
    assert len(model.support_vectors_) <= 300
    assert np.isin(model.support_vectors_, X[train]).all(axis=1).all()
    assert model.codes_.shape == (len(y), 8)
    rest = np.setdiff1d(np.arange(len(y)), train)
    np.testing.assert_array_equal(model.codes_[rest], model.transform(X[rest]))
    # The subset's codes still separate the classes.
    assert mean_average_precision(model.codes_[train], y[train]) > 0.6


def test_training_subset_is_reproducible_with_random_state(digits):
    """The same random_state draws the same subset and model; another seed another subset."""
    X, y = digits.X_db[:800], digits.y_db[:800]
    params = dict(n_bits=4, n_pairs_per_sample=30, max_train_samples=150)
    a = SCHHasher(random_state=3, **params).fit(X, y)
    b = SCHHasher(random_state=3, **params).fit(X, y)
    c = SCHHasher(random_state=4, **params).fit(X, y)
    np.testing.assert_array_equal(a.train_indices_, b.train_indices_)
    np.testing.assert_array_equal(a.codes_, b.codes_)
    assert not np.array_equal(a.train_indices_, c.train_indices_)


def test_without_a_subset_every_sample_learns_its_code(digits):
    """max_train_samples=None, or a training set within it, learns every sample's code."""
    X, y = digits.X_db[:400], digits.y_db[:400]
    for limit in (None, 400):
        model = SCHHasher(n_bits=4, n_pairs_per_sample=30, max_train_samples=limit)
        model.fit(X, y)
        np.testing.assert_array_equal(model.train_indices_, np.arange(400))


def test_pair_supervision_uses_every_sample_whatever_the_subset_size(digits):
    """Given pairs name their samples: max_train_samples does not drop any of them."""
    X, y = digits.X_db[:300], digits.y_db[:300]
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, 300, size=(2, 6000))
    pairs = np.column_stack([i, j, y[i] == y[j]])
    model = SCHHasher(n_bits=4, max_train_samples=100, random_state=0)
    model.fit(X, pairs=pairs)
    np.testing.assert_array_equal(model.train_indices_, np.arange(300))


def test_subset_too_small_for_a_similar_pair_names_max_train_samples(digits):
    """A subset of one sample per class has no similar pair: the error says what to raise."""
    model = SCHHasher(n_bits=4, max_train_samples=10, random_state=0)
    with pytest.raises(ValueError, match=r"no similar pair.*max_train_samples \(got 10"):
        model.fit(digits.X_db, digits.y_db)
    assert not hasattr(model, "codes_")


def test_float32_input_is_not_copied_to_float64_and_gives_the_same_model():
    """A float32 X larger than the subset: fit allocates far less than a float64 copy."""
    rng = np.random.default_rng(0)
    y = np.arange(20_000) % 5
    X = (rng.standard_normal((20_000, 64)) + 3 * y[:, None] * (np.arange(64) < 5)).astype(
        np.float32
    )
    params = dict(n_bits=4, n_pairs_per_sample=20, max_train_samples=100, random_state=0)
    tracemalloc.start()
    try:
        model = SCHHasher(**params).fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes  # a float64 copy alone would be 2 * X.nbytes
    same = SCHHasher(**params).fit(X.astype(np.float64), y)
    np.testing.assert_array_equal(model.codes_, same.codes_)
