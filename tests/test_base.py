"""Behaviour every hasher inherits from BaseHasher."""

import numpy as np
import pytest
import sklearn
from sklearn.utils.validation import validate_data

import skhash
from skhash._base import BaseHasher, rollback_on_error, sign
from skhash.codes import unpack_codes


class _ProjectionHasher(BaseHasher):
    """Minimal hasher: fixed random projections; fails on demand after partial fitting."""

    def fit(self, X, y=None, fail=False):
        with rollback_on_error(self):
            X = validate_data(self, X)
            rng = np.random.default_rng(self.random_state)
            self.coef_ = rng.normal(size=(X.shape[1], self.n_bits))
            if fail:
                raise RuntimeError("solver failed")
            self._set_n_features_out()
        return self

    def _decision_function(self, X):
        return X @ self.coef_


def test_transform_encode_and_decision_function_agree():
    """transform is the sign of decision_function (0 -> +1); encode packs transform."""
    X = np.random.default_rng(0).normal(size=(30, 5))
    X[0] = 0.0
    h = _ProjectionHasher(n_bits=11, random_state=0).fit(X)
    F, codes = h.decision_function(X), h.transform(X)
    assert codes.dtype == np.int8 and codes.shape == (30, 11)
    np.testing.assert_array_equal(codes, np.where(F >= 0, 1, -1))
    assert (codes[0] == 1).all()
    np.testing.assert_array_equal(unpack_codes(h.encode(X), 11), codes)


def test_feature_names_and_pandas_output():
    """Output columns are named <classname>0..K-1, also through set_output(pandas)."""
    pd = pytest.importorskip("pandas")
    X = np.random.default_rng(0).normal(size=(10, 4))
    h = _ProjectionHasher(n_bits=3).set_output(transform="pandas").fit(X)
    out = h.transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["_projectionhasher0", "_projectionhasher1", "_projectionhasher2"]


def test_failed_fit_leaves_estimator_unchanged():
    """A fit that raises part-way leaves neither new attributes nor a changed model."""
    X = np.random.default_rng(0).normal(size=(10, 4))
    h = _ProjectionHasher(n_bits=3, random_state=0)
    with pytest.raises(RuntimeError):
        h.fit(X, fail=True)
    assert not hasattr(h, "coef_") and not hasattr(h, "n_features_in_")
    h.fit(X)
    coef = h.coef_.copy()
    with pytest.raises(RuntimeError):
        h.fit(np.ones((10, 7)), fail=True)
    assert h.n_features_in_ == 4
    np.testing.assert_array_equal(h.coef_, coef)


def test_n_bits_limit_message_names_value():
    """The per-method n_bits limit error names the value and the limit."""
    h = _ProjectionHasher(n_bits=70)
    with pytest.raises(ValueError, match=r"n_bits must be <= 64 .*got n_bits=70"):
        h._check_n_bits(64, "at most n_features bits")


class _ParamReadingHasher(_ProjectionHasher):
    """A faulty hasher whose outputs follow the n_bits parameter, not the fitted model."""

    def _decision_function(self, X):
        return np.zeros((X.shape[0], self.n_bits))


def test_outputs_of_another_width_than_fitted_are_a_clear_error():
    """A hash function giving other than the fitted bit count raises, not wrong-width codes."""
    X = np.random.default_rng(0).normal(size=(10, 4))
    h = _ParamReadingHasher(n_bits=3).fit(X)
    assert h.transform(X).shape == (10, 3)
    h.set_params(n_bits=5)
    with pytest.raises(ValueError, match=r"fitted with 3 bits .*shape \(10, 5\)"):
        h.transform(X)


def test_overflowing_outputs_are_a_clear_error():
    """Finite X whose projections overflow float64 raises a ValueError, not +-1 codes."""
    X = np.random.default_rng(0).normal(size=(10, 4))
    h = _ProjectionHasher(n_bits=3, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"overflowed: X holds values up to 1.5e\+308"):
        h.transform(np.full((2, 4), 1.5e308))
    with pytest.raises(ValueError, match="overflowed"):
        h.encode(np.full((2, 4), -1.5e308))


def _hashers():
    for name in sorted(skhash.__all__):
        obj = getattr(skhash, name)
        if isinstance(obj, type) and issubclass(obj, BaseHasher):
            yield obj


@pytest.mark.parametrize("Hasher", list(_hashers()), ids=lambda h: h.__name__)
@pytest.mark.parametrize("value", [True, False])
def test_boolean_n_bits_is_refused(Hasher, value):
    """n_bits=True/False is a ValueError naming the value, never taken as 1 or 0 bits."""
    X, y = np.random.default_rng(0).normal(size=(20, 4)), np.arange(20) % 2
    with pytest.raises(ValueError, match=rf"'n_bits' parameter .*not a bool.*Got {value}"):
        Hasher(n_bits=value).fit(X, y)


class _LabelledHasher(_ProjectionHasher):
    """Minimal supervised hasher: checks its supervision through the base, then projects."""

    _supervised = True

    def fit(self, X, y=None, pairs=None):
        X = validate_data(self, X)
        self.supervision_ = self._check_supervision(y, pairs, X.shape[0])
        return super().fit(X)


class _ClassOnlyHasher(_LabelledHasher):
    _labels_only_reason = "its centres are per class."


def test_supervision_flag_drives_the_fit_check_and_the_tags():
    """_supervised=True: fit without y or pairs says what to pass, and the tags require y."""
    X = np.random.default_rng(0).normal(size=(12, 3))
    y = np.arange(12) % 3
    assert _LabelledHasher().__sklearn_tags__().target_tags.required
    assert not _ProjectionHasher().__sklearn_tags__().target_tags.required
    with pytest.raises(ValueError, match=r"^_LabelledHasher requires y to be passed.*pairs=\.$"):
        _LabelledHasher(n_bits=2).fit(X)
    assert _LabelledHasher(n_bits=2).fit(X, y).supervision_.labels.shape == (12, 3)
    pairs = np.array([[0, 1, 1.0], [0, 2, 0.0]])
    assert _LabelledHasher(n_bits=2).fit(X, pairs=pairs).supervision_.pairs.nnz == 4


def test_labels_only_hasher_refuses_pairs_and_asks_for_labels_with_its_reason():
    """_labels_only_reason: no y asks for labels (not pairs=), and pairs alone are refused."""
    X = np.random.default_rng(0).normal(size=(12, 3))
    with pytest.raises(ValueError, match="requires y to be passed") as info:
        _ClassOnlyHasher(n_bits=2).fit(X)
    assert "per class" in str(info.value) and "pairs=" not in str(info.value)
    with pytest.raises(ValueError, match="needs class labels y.*not pairs=.*per class"):
        _ClassOnlyHasher(n_bits=2).fit(X, pairs=np.array([[0, 1, 1.0], [0, 2, 0.0]]))


@pytest.mark.parametrize("name", ["SCHHasher", "HashNetHasher", "FisherHasher", "DHAHasher"])
def test_every_supervised_hasher_refuses_a_fit_without_y_in_the_same_words(name):
    """Supervised hashers: required-y tags, and one message naming the class without y."""
    Hasher = getattr(skhash, name)
    assert Hasher().__sklearn_tags__().target_tags.required
    with pytest.raises(ValueError, match=f"^{name} requires y to be passed, but the target y"):
        Hasher(n_bits=2).fit(np.random.default_rng(0).normal(size=(12, 3)))


def test_sign_maps_zero_to_plus_one_in_the_dtype_asked():
    """sign gives ±1 codes, +1 for 0 and -0 (numpy.sign gives 0), int8 unless told."""
    F = np.array([[-2.5, -0.0, 0.0, 1e-300, -1e-300, 7.0]])
    np.testing.assert_array_equal(sign(F), [[-1, 1, 1, 1, -1, 1]])
    assert sign(F).dtype == np.int8 and sign(F, np.float64).dtype == np.float64


def _traced_peak(func, *args):
    """Result of func(*args) and the peak of Python-traced memory it added, in bytes."""
    import tracemalloc

    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = func(*args)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    return out, peak


def test_encode_of_a_memmap_runs_in_working_memory_chunks(tmp_path):
    """encode of a float32 memmap equals encode of the array, within working_memory."""
    n, d, n_bits = 40_000, 16, 64
    X = np.random.default_rng(0).normal(size=(n, d)).astype(np.float32)
    mm = np.memmap(tmp_path / "x.f32", dtype=np.float32, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    mm = np.memmap(tmp_path / "x.f32", dtype=np.float32, mode="r", shape=X.shape)
    h = _ProjectionHasher(n_bits=n_bits, random_state=0).fit(X[:100])
    expected = h.encode(X)
    with sklearn.config_context(working_memory=1):
        packed, peak = _traced_peak(h.encode, mm)
        codes = h.transform(mm)
    np.testing.assert_array_equal(packed, expected)
    np.testing.assert_array_equal(codes, unpack_codes(expected, n_bits))
    # Whole-array float64 outputs alone would take n * n_bits * 8 bytes (20 MB); the
    # packed output is n * 8 bytes and each chunk about 1 MiB.
    assert peak < n * n_bits * 8 / 8, peak


def test_decision_function_in_chunks_equals_one_pass():
    """A small working_memory changes no output of decision_function or transform."""
    X = np.random.default_rng(0).normal(size=(3000, 8))
    h = _ProjectionHasher(n_bits=40, random_state=0).fit(X)
    F, codes = h.decision_function(X), h.transform(X)
    with sklearn.config_context(working_memory=0.05):
        np.testing.assert_allclose(h.decision_function(X), F, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(h.transform(X), codes)
        with pytest.raises(ValueError, match="overflowed"):
            h.encode(np.vstack([X, np.full((1, 8), 1.5e308)]))
