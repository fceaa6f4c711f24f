"""LSH, PCA hashing and ITQ: the baselines users compare every learned hasher against."""

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

from skhash import ITQHasher, LSHHasher, PCAHasher
from skhash.datasets import load_retrieval_dataset
from skhash.metrics import mean_average_precision

BASELINES = [LSHHasher, PCAHasher, ITQHasher]


@pytest.fixture(scope="module")
def digits():
    return load_retrieval_dataset("digits")


def _retrieval_map(hasher, data):
    hasher.fit(data.X_db)
    return mean_average_precision(
        hasher.transform(data.X_query), data.y_query, hasher.transform(data.X_db), data.y_db
    )


def test_itq_beats_pca_hashing_and_lsh_on_digits(digits):
    """On digits at 32 bits ITQ retrieves clearly better than PCAH and LSH (Gong 2011)."""
    itq = _retrieval_map(ITQHasher(n_bits=32, random_state=0), digits)
    pcah = _retrieval_map(PCAHasher(n_bits=32), digits)
    lsh = _retrieval_map(LSHHasher(n_bits=32, random_state=0), digits)
    assert itq > lsh + 0.1
    assert itq > pcah + 0.2


def test_lsh_bits_differ_with_probability_angle_over_pi():
    """For centred data, two points get different LSH bits with probability θ/π."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(50, 6))
    X = np.vstack([base, -base])  # mean exactly 0: hyperplanes through the origin
    lsh = LSHHasher(n_bits=4000, random_state=0).fit(X)
    codes = lsh.transform(X[:10])
    for i, j in [(0, 1), (2, 3), (4, 9)]:
        cos = X[i] @ X[j] / np.linalg.norm(X[i]) / np.linalg.norm(X[j])
        expected = np.arccos(cos) / np.pi
        assert np.mean(codes[i] != codes[j]) == pytest.approx(expected, abs=0.03)


def test_lsh_hyperplanes_pass_through_the_data_mean():
    """The mean of the training data lies on every LSH hyperplane."""
    X = np.random.default_rng(0).normal(loc=5.0, size=(40, 3))
    lsh = LSHHasher(n_bits=16, random_state=0).fit(X)
    np.testing.assert_allclose(lsh.decision_function(X.mean(axis=0)[None]), 0.0, atol=1e-9)
    assert LSHHasher(n_bits=80, random_state=0).fit(X).n_features_in_ == 3


def test_pca_hasher_matches_sklearn_pca():
    """PCAHasher's outputs are sklearn PCA's projections, up to the sign of each axis."""
    X = np.random.default_rng(0).normal(size=(60, 8)) @ np.diag(np.arange(1, 9))
    ph = PCAHasher(n_bits=4).fit(X)
    pca = PCA(n_components=4).fit(X)
    F, Z = ph.decision_function(X), pca.transform(X)
    signs = np.sign((F * Z).sum(axis=0))
    np.testing.assert_allclose(F, Z * signs, atol=1e-8)
    np.testing.assert_allclose(ph.explained_variance_, pca.explained_variance_)


def test_itq_quantization_error_decreases_and_rotation_is_orthogonal(digits):
    """ITQ's alternation never increases ||B − VR||² and keeps R orthogonal."""
    itq = ITQHasher(n_bits=16, n_iter=30, random_state=0).fit(digits.X_db)
    err = itq.quantization_error_
    assert itq.n_iter_ == 30 and err.shape == (30,)
    assert np.all(np.diff(err) <= 1e-9 * err[0])
    assert err[-1] < err[0]
    np.testing.assert_allclose(itq.rotation_.T @ itq.rotation_, np.eye(16), atol=1e-10)


def test_itq_without_iterations_is_a_random_rotation_of_pca(digits):
    """n_iter=0 gives the PCA projections under the initial random rotation."""
    X = digits.X_db
    itq = ITQHasher(n_bits=8, n_iter=0, random_state=0).fit(X)
    ph = PCAHasher(n_bits=8).fit(X)
    F_itq, F_pca = itq.decision_function(X), ph.decision_function(X)
    # Same subspace, rotated: F_itq = F_pca @ R with R orthogonal.
    R = itq.rotation_
    np.testing.assert_allclose(F_itq, F_pca @ R, atol=1e-8)
    np.testing.assert_allclose(R.T @ R, np.eye(8), atol=1e-10)


@pytest.mark.parametrize("Hasher", BASELINES)
def test_same_random_state_gives_identical_codes(Hasher, digits):
    """Two fits with the same random_state give identical codes."""
    a = Hasher(n_bits=16, random_state=3).fit(digits.X_db).transform(digits.X_query)
    b = Hasher(n_bits=16, random_state=3).fit(digits.X_db).transform(digits.X_query)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.int8 and set(np.unique(a)) <= {-1, 1}


@pytest.mark.parametrize("Hasher", [PCAHasher, ITQHasher])
def test_n_bits_above_the_pca_limit_is_a_clear_error(Hasher):
    """PCA-based hashers refuse more bits than min(n_samples - 1, n_features), naming both."""
    X = np.random.default_rng(0).normal(size=(30, 5))
    with pytest.raises(ValueError, match=r"n_bits must be <= 5 .*n_features=5.*n_bits=6"):
        Hasher(n_bits=6).fit(X)
    # 4 centred samples span only 3 directions.
    with pytest.raises(
        ValueError, match=r"n_bits must be <= 3 .*n_samples - 1.*n_samples=4.*n_bits=4"
    ):
        Hasher(n_bits=4).fit(X[:4])
    with pytest.raises(ValueError, match=r"n_bits must be <= 1 .*n_samples=2.*n_bits=2"):
        Hasher(n_bits=2).fit(X[:2])


@pytest.mark.parametrize("Hasher", [PCAHasher, ITQHasher])
def test_n_bits_at_the_pca_limit_gives_informative_bits(Hasher):
    """At n_bits = n_samples - 1 every bit has variance on the training data."""
    X = np.random.default_rng(0).normal(size=(6, 10))
    h = Hasher(n_bits=5, random_state=0).fit(X)
    F = h.decision_function(X)
    assert F.shape == (6, 5)
    assert np.all(F.std(axis=0) > 1e-6)
    if Hasher is PCAHasher:
        assert np.all(h.explained_variance_ > 1e-6)


@pytest.mark.parametrize("Hasher", BASELINES)
@pytest.mark.parametrize(
    "bad, match",
    [
        (np.nan, "NaN"),
        (np.inf, "infinity"),
    ],
)
def test_non_finite_input_is_rejected(Hasher, bad, match):
    """NaN or inf in X raises a ValueError saying so."""
    X = np.random.default_rng(0).normal(size=(20, 4))
    X[3, 1] = bad
    with pytest.raises(ValueError, match=match):
        Hasher(n_bits=2).fit(X)


@pytest.mark.parametrize("Hasher", BASELINES)
def test_bad_shapes_and_parameters_are_clear_errors(Hasher):
    """One sample, y of the wrong length and n_bits < 1 are refused with clear messages."""
    X = np.random.default_rng(0).normal(size=(20, 4))
    with pytest.raises(ValueError, match="1 sample"):
        Hasher(n_bits=2).fit(X[:1])
    with pytest.raises(ValueError, match="y has 19 entries but X has 20 samples"):
        Hasher(n_bits=2).fit(X, np.zeros(19))
    with pytest.raises(ValueError, match="n_bits"):
        Hasher(n_bits=0).fit(X)


@pytest.mark.parametrize("Hasher", BASELINES)
def test_failed_refit_leaves_the_fitted_model_unchanged(Hasher):
    """After a refit that fails validation, the previous model still transforms as before."""
    X = np.random.default_rng(0).normal(size=(20, 4))
    h = Hasher(n_bits=3, random_state=0).fit(X)
    before = h.transform(X)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        h.fit(bad)
    with pytest.raises(ValueError):
        h.fit(np.ones((20, 7)), np.zeros(3))
    assert h.n_features_in_ == 4
    np.testing.assert_array_equal(h.transform(X), before)


@pytest.mark.parametrize(
    "Hasher, scale, what",
    [
        (LSHHasher, 1e307, "mean of X"),
        (PCAHasher, 1e200, "variance of X along its principal directions"),
        (PCAHasher, 1e307, "mean of X"),
        (ITQHasher, 1e200, "squared projections of X"),
        (ITQHasher, 1e307, "mean of X"),
    ],
)
def test_values_that_overflow_the_fit_are_a_clear_error(Hasher, scale, what, digits):
    """Finite X too large for the fit's float64 sums raises a ValueError naming the cause."""
    X = digits.X_db[:200]
    h = Hasher(n_bits=8, random_state=0).fit(X)
    before = h.transform(X)
    with pytest.raises(ValueError, match=rf"{what}.*overflowed: X holds values up to .*Rescale"):
        h.fit(X * scale)
    np.testing.assert_array_equal(h.transform(X), before)


@pytest.mark.parametrize(
    "Hasher, exponent", [(LSHHasher, 1000), (PCAHasher, 500), (ITQHasher, 500)]
)
def test_large_values_within_float64_give_the_codes_of_the_unscaled_data(Hasher, exponent, digits):
    """X times 2**exponent (exact scaling, no overflow) gives exactly the codes of X."""
    X, scale = digits.X_db[:200], 2.0**exponent
    codes = Hasher(n_bits=8, random_state=0).fit(X).transform(X)
    scaled = Hasher(n_bits=8, random_state=0).fit(X * scale).transform(X * scale)
    np.testing.assert_array_equal(scaled, codes)


@pytest.mark.parametrize("Hasher", BASELINES)
def test_y_of_another_length_or_a_scalar_y_is_refused(Hasher):
    """y is only length-checked: lists and sparse labels pass; wrong lengths, scalars do not."""
    X = np.random.default_rng(0).normal(size=(20, 4))
    Hasher(n_bits=2).fit(X, list(range(20)))
    Hasher(n_bits=2).fit(X, sp.csr_matrix(np.eye(20, 3)))
    with pytest.raises(ValueError, match="y has 21 entries but X has 20 samples"):
        Hasher(n_bits=2).fit(X, np.zeros((21, 1)))
    with pytest.raises(ValueError, match="one entry per sample of X; got the scalar 3"):
        Hasher(n_bits=2).fit(X, 3)


@pytest.mark.parametrize("Hasher", BASELINES)
def test_verbose_zero_prints_nothing(Hasher, capsys):
    """The default verbose=0 fits silently."""
    Hasher(n_bits=4, random_state=0).fit(load_digits().data[:200])
    assert capsys.readouterr().out == ""


def test_verbose_lsh_and_pca_say_what_they_fitted(capsys):
    """LSH and PCA with verbose=1 print one line; PCA's gives its explained variance share."""
    X = load_digits().data[:300]
    LSHHasher(n_bits=16, random_state=0, verbose=1).fit(X)
    assert capsys.readouterr().out == (
        "[LSHHasher] 16 random hyperplanes through the mean of 300 samples with 64 features.\n"
    )
    pca = PCAHasher(n_bits=16, verbose=1).fit(X)
    share = pca.explained_variance_.sum() / X.var(axis=0, ddof=1).sum()
    assert capsys.readouterr().out == (
        f"[PCAHasher] 16 principal directions of 300 samples with 64 features explain "
        f"{share:.1%} of their variance.\n"
    )


def test_verbose_itq_prints_the_quantization_error_of_every_iteration(capsys):
    """ITQ with verbose=1 prints each iteration's quantization_error_ entry."""
    itq = ITQHasher(n_bits=8, n_iter=5, random_state=0, verbose=1).fit(load_digits().data[:300])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    for t, (line, error) in enumerate(zip(lines, itq.quantization_error_, strict=True)):
        assert line == f"[ITQHasher] iteration {t + 1}/5: quantization error {error:.6g}"


def _fit_peak(hasher, X):
    """Peak of Python-traced memory (numpy arrays included) added by hasher.fit(X)."""
    import tracemalloc

    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        hasher.fit(X)
        return tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("Hasher", BASELINES)
def test_float32_input_is_fitted_and_hashed_in_float32(Hasher):
    """Float32 X is never copied to float64 whole: fit adds less than X's own size."""
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(20_000, 64)) * np.linspace(3, 0.1, 64)).astype(np.float32)
    hasher = Hasher(n_bits=16, random_state=0)
    with sklearn.config_context(working_memory=1):
        peak = _fit_peak(hasher, X)
    # A float64 copy alone would be 2 * X.nbytes; ITQ keeps n x n_bits float32 projections.
    assert peak < X.nbytes, (peak, X.nbytes)
    assert hasher.decision_function(X[:5]).dtype == np.float32
    assert hasher.decision_function(X[:5].astype(np.float64)).dtype == np.float64


@pytest.mark.parametrize("Hasher", BASELINES)
def test_float32_digits_give_the_float64_model(Hasher, digits):
    """Fitted on float32 digits, a hasher finds the float64 fit's model, to float32 precision."""
    h64 = Hasher(n_bits=16, random_state=0).fit(digits.X_db)
    h32 = Hasher(n_bits=16, random_state=0).fit(digits.X_db.astype(np.float32))
    np.testing.assert_allclose(h32.mean_, h64.mean_, rtol=1e-6)
    np.testing.assert_allclose(h32.coef_, h64.coef_, atol=1e-3)
    codes64 = h64.transform(digits.X_query)
    codes32 = h32.transform(digits.X_query.astype(np.float32))
    assert np.mean(codes32 != codes64) < 0.002
    if Hasher is PCAHasher:
        np.testing.assert_allclose(h32.explained_variance_, h64.explained_variance_, rtol=1e-5)
    if Hasher is ITQHasher:
        np.testing.assert_allclose(h32.quantization_error_, h64.quantization_error_, rtol=1e-5)


def _memmap(path, X):
    mm = np.memmap(path, dtype=X.dtype, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    return np.memmap(path, dtype=X.dtype, mode="r", shape=X.shape)


def test_lsh_partial_fit_over_memmap_chunks_equals_fit(digits, tmp_path):
    """LSH partial_fit over chunks of a memmap gives fit's hyperplanes, mean and codes."""
    X = digits.X_db.astype(np.float32)
    mm = _memmap(tmp_path / "X.f32", X)
    streamed = LSHHasher(n_bits=32, random_state=0)
    for start in range(0, len(mm), 250):
        assert streamed.partial_fit(mm[start : start + 250]) is streamed
    whole = LSHHasher(n_bits=32, random_state=0).fit(X)
    assert streamed.n_samples_seen_ == whole.n_samples_seen_ == len(X)
    np.testing.assert_array_equal(streamed.coef_, whole.coef_)
    np.testing.assert_allclose(streamed.mean_, whole.mean_, rtol=1e-12)
    np.testing.assert_allclose(streamed.intercept_, whole.intercept_, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(
        streamed.transform(digits.X_query), whole.transform(digits.X_query)
    )


def test_lsh_partial_fit_continues_a_fit_and_checks_the_features(digits):
    """partial_fit after fit adds samples to its mean; other feature counts are refused."""
    X = digits.X_db
    lsh = LSHHasher(n_bits=8, random_state=0).fit(X[:300])
    coef = lsh.coef_.copy()
    lsh.partial_fit(X[300:])
    assert lsh.n_samples_seen_ == len(X)
    np.testing.assert_allclose(lsh.mean_, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_array_equal(lsh.coef_, coef)
    with pytest.raises(ValueError, match="X has 10 features, but LSHHasher is expecting 64"):
        lsh.partial_fit(X[:5, :10])
    assert lsh.n_samples_seen_ == len(X)
