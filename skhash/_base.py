"""BaseHasher: the parameters, transform/encode/score and feature names every hasher shares."""

import contextlib
from numbers import Integral

import numpy as np
from sklearn import get_config
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from ._supervision import check_supervision

__all__ = [
    "BaseHasher",
    "IntInterval",
    "check_n_jobs",
    "chunk_rows",
    "rollback_on_error",
    "sign",
]


def check_n_jobs(n_jobs):
    """``n_jobs``, refused with a ValueError when it is 0 (joblib's and numba's
    ``n_jobs`` take None, -1 or any non-zero integer)."""
    if n_jobs == 0:
        raise ValueError(
            "n_jobs=0 is not a number of jobs; use a positive integer, -1 for every "
            "processor, or None."
        )
    return n_jobs


def chunk_rows(n_rows, row_bytes):
    """Rows per chunk so that ``row_bytes`` per row fit in scikit-learn's
    ``working_memory`` (MiB): at least one row, silently, and at most ``n_rows``.

    Every query path of skhash (metrics, Hamming search, re-ranking) sizes its chunks
    with this, so one ``sklearn.config_context(working_memory=...)`` bounds them all.
    """
    budget = get_config()["working_memory"] * 2**20
    return int(min(max(n_rows, 1), max(1, budget // max(row_bytes, 1))))


def sign(F, dtype=np.int8):
    """Signs of real-valued outputs as codes in {-1, +1}, with sign(0) = +1.

    ``numpy.sign`` maps 0 to 0, which is not a binary code; every hasher's codes,
    and the sign steps inside their fits, use this tie rule instead.
    """
    # Scalars of the asked dtype: the result is built in it, without an int64 array
    # of the outputs' size in between.
    one, minus_one = np.array([1, -1], dtype=dtype)
    return np.where(np.asarray(F) >= 0, one, minus_one)


class IntInterval(Interval):
    """``Interval(Integral, left, right, closed=...)`` that refuses booleans.

    ``bool`` is an ``Integral``, so scikit-learn's ``Interval(Integral, ...)`` takes
    ``n_bits=True`` as 1 bit; a boolean is never meant as a count, so the parameter
    check refuses it with the usual ``InvalidParameterError`` naming the value.
    """

    def __init__(self, left, right, *, closed):
        super().__init__(Integral, left, right, closed=closed)

    def is_satisfied_by(self, val):
        return not isinstance(val, bool) and super().is_satisfied_by(val)

    def __str__(self):
        return super().__str__().replace("an int", "an int (not a bool)", 1)


@contextlib.contextmanager
def rollback_on_error(estimator):
    """Restore ``estimator.__dict__`` if the body raises, so no half-fit survives.

    Every hasher wraps the body of ``fit`` in this: a fit that fails part-way (bad
    labels found late, a solver error, KeyboardInterrupt) leaves the estimator exactly
    as it was before the call, fitted or not.
    """
    saved = dict(estimator.__dict__)
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(saved)
        raise


class BaseHasher(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Base class for all hashers: real-valued hash functions, then the sign.

    Subclasses implement ``fit`` (setting ``n_features_in_`` through
    ``validate_data`` and every fitted attribute) and ``_decision_function(X)``,
    which maps validated features to real-valued outputs of shape
    (n_samples, n_bits). This class derives everything else from it:

    - ``decision_function(X)``: the real-valued outputs f(x), before the sign;
    - ``transform(X)``: codes in {-1, +1}, dtype int8 (sign with sign(0) = +1);
    - ``encode(X)``: the same codes packed to bytes (:func:`skhash.codes.pack_codes`);
    - ``score(X, y)``: leave-one-out retrieval mAP of the codes of ``X`` with
      relevance "shares a label", so that ``GridSearchCV`` needs no scorer;
    - ``get_feature_names_out()``: ``<classname>0 .. <classname>{n_bits-1}``.

    Supervision is checked once, here: a hasher sets ``_supervised`` (and
    ``_labels_only_reason`` if pairs cannot teach it) and its ``fit`` calls
    ``_check_supervision(y, pairs, n_samples)``, which refuses missing labels in one
    wording and validates what was given.

    Queries follow the fitted model: ``_decision_function`` reads fitted attributes
    only, never a parameter that ``set_params`` may have changed since ``fit``, and
    outputs of another width than the fitted number of bits are an error. Outputs that
    overflow on finite ``X`` are a ValueError asking to rescale ``X``, never codes.

    ``X`` is read in chunks of rows that fit scikit-learn's ``working_memory``, and
    only the result asked for is kept whole: ``encode`` of a memory-mapped ``X`` holds
    the packed codes and one chunk's outputs, never all the real-valued outputs.
    ``_decision_function`` is called once per chunk.
    """

    _parameter_constraints: dict = {
        "n_bits": [IntInterval(1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    #: Whether ``fit`` needs supervision, ``y`` or ``pairs``; supervised hashers set
    #: True. One whose need depends on a parameter overrides ``_requires_supervision``.
    _supervised = False

    #: Why a supervised hasher needs class labels and cannot learn from ``pairs``
    #: alone (a sentence for the error message), or None when pairs are enough.
    _labels_only_reason = None

    def __init__(self, n_bits=32, *, random_state=None, verbose=0):
        self.n_bits = n_bits
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = self._requires_supervision()
        # Codes are int8 whatever the input dtype.
        tags.transformer_tags.preserves_dtype = []
        return tags

    def _requires_supervision(self):
        """Whether this ``fit`` needs ``y`` or ``pairs`` (the ``_supervised`` flag)."""
        return self._supervised

    def _check_supervision(self, y, pairs, n_samples, *, kind="binary"):
        """The fit-time supervision check of every hasher: a Supervision, or None.

        Refuses a fit without ``y`` and ``pairs`` when the hasher needs supervision,
        and ``pairs`` alone when it needs class labels (``_labels_only_reason``), then
        validates what was given (:func:`skhash._supervision.check_supervision`).
        Returns None when neither is given to a hasher that does not need them.
        """
        name = type(self).__name__
        reason = self._labels_only_reason
        if y is None and pairs is None:
            if not self._requires_supervision():
                return None
            if reason is None:
                hint = (
                    "pass class labels y, a label indicator matrix, or pairwise supervision pairs=."
                )
            else:
                hint = f"pass class labels y or a label indicator matrix: {reason}"
            # Worded as scikit-learn's estimator checks expect of a supervised fit.
            raise ValueError(f"{name} requires y to be passed, but the target y is None: {hint}")
        if reason is not None and y is None:
            raise ValueError(
                f"{name} needs class labels y (class labels or a label indicator "
                f"matrix), not pairs=: {reason}"
            )
        return check_supervision(y, pairs, n_samples, kind=kind)

    def _check_n_bits(self, limit, reason):
        """Raise if ``n_bits`` exceeds a method-specific ``limit``."""
        if self.n_bits > limit:
            raise ValueError(
                f"n_bits must be <= {limit} for {type(self).__name__} ({reason}); got "
                f"n_bits={self.n_bits}."
            )

    def _set_n_features_out(self):
        # The fitted number of bits: queries read it, never ``n_bits``, which
        # ``set_params`` may have changed since the fit.
        self._n_features_out = self.n_bits

    def _check_no_overflow(self, X, what, *values):
        """Raise a ValueError if ``values`` computed from the finite ``X`` overflowed.

        ``X`` has passed ``validate_data``, so a NaN or infinity in ``values`` means
        that ``what`` exceeded the float range, and the codes built from it would be
        meaningless.
        """
        if all(np.isfinite(v).all() for v in values):
            return
        largest = float(np.abs(X).max()) if X.size else 0.0
        raise ValueError(
            f"computing {what} overflowed: X holds values up to "
            f"{largest:.3g} in absolute value, too large for {type(self).__name__}. "
            "Rescale X, for example with sklearn.preprocessing.StandardScaler."
        )

    def _validate_for_predict(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])

    def _decision_function(self, X):
        raise NotImplementedError

    def _output_chunks(self, X):
        """``(first row, outputs)`` for consecutive row chunks of the validated ``X``.

        Rows are taken in chunks that fit scikit-learn's ``working_memory`` (the rows
        of ``X``, as float64 at worst, and a few arrays of outputs per row), so that a
        memory-mapped ``X`` is read chunk by chunk and nothing of the size of all the
        outputs exists unless the caller keeps them. Every chunk's outputs are checked
        for the fitted width and for overflow.
        """
        n_samples, n_features = X.shape
        step = chunk_rows(n_samples, 8 * (n_features + 3 * self._n_features_out))
        for start in range(0, n_samples, step):
            rows = X[start : start + step]
            with np.errstate(over="ignore", invalid="ignore"):
                F = np.asarray(self._decision_function(rows))
            if F.shape != (rows.shape[0], self._n_features_out):
                raise ValueError(
                    f"{type(self).__name__} was fitted with {self._n_features_out} bits but "
                    f"its hash functions gave outputs of shape {F.shape} for "
                    f"{rows.shape[0]} samples; refit after changing n_bits."
                )
            self._check_no_overflow(X, "the hash functions' outputs on X", F)
            yield start, F

    def _collect(self, X, n_columns, dtype, convert):
        """``convert`` of the outputs of every row chunk of ``X``, stacked.

        One chunk is returned as converted; more are written into one array of
        ``n_columns`` columns of ``dtype`` (the outputs' own dtype when None).
        """
        out = None
        for start, F in self._output_chunks(X):
            part = convert(F)
            if start == 0 and part.shape[0] == X.shape[0]:
                return part
            if out is None:
                out = np.empty((X.shape[0], n_columns), dtype=dtype or part.dtype)
            out[start : start + part.shape[0]] = part
        return out

    def decision_function(self, X):
        """Real-valued hash function outputs, before taking the sign.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Float32 input is hashed in float32, float64 in float64; a memory-mapped
            ``X`` is read in chunks of scikit-learn's ``working_memory``.

        Returns
        -------
        F : ndarray of shape (n_samples, n_bits), dtype float
            ``transform(X)`` is ``where(F >= 0, 1, -1)``.
        """
        X = self._validate_for_predict(X)
        return self._collect(X, self._n_features_out, None, lambda F: F)

    def transform(self, X):
        """Binary codes of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Read in chunks of scikit-learn's ``working_memory``: only the codes are
            kept whole, never the real-valued outputs.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_bits), dtype int8
            Values in {-1, +1}; an output of exactly 0 maps to +1.
        """
        X = self._validate_for_predict(X)
        return self._collect(X, self._n_features_out, np.int8, sign)

    def encode(self, X):
        """Binary codes of ``X``, bit-packed for storage and search.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Read in chunks of scikit-learn's ``working_memory``: only the packed codes
            are kept whole.

        Returns
        -------
        packed : ndarray of shape (n_samples, ceil(n_bits / 8)), dtype uint8
            Bit set where ``transform(X)`` is +1, in :func:`numpy.packbits` order;
            ready for ``HammingNeighbors(packed=True)``.
        """
        X = self._validate_for_predict(X)
        n_bytes = -(-self._n_features_out // 8)
        # Bit set where the sign is +1 (output >= 0), as pack_codes(transform(X)).
        return self._collect(X, n_bytes, np.uint8, lambda F: np.packbits(F >= 0, axis=1))

    def score(self, X, y, sample_weight=None):
        """Leave-one-out retrieval mAP of the codes of ``X``.

        Every sample of ``X`` queries all the others, ranked by Hamming distance
        (ties by index); a retrieved sample is relevant when it shares a label with
        the query. See :func:`skhash.metrics.mean_average_precision`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels or a multi-label indicator matrix.
        sample_weight : None
            Not supported; present for API compatibility.

        Returns
        -------
        score : float
            mAP over all queries, in [0, 1].
        """
        # Imported here: metrics rank with the neighbors kernels, whose estimator
        # imports this module.
        from .metrics import mean_average_precision

        if sample_weight is not None:
            raise ValueError("score does not support sample_weight; pass None.")
        codes = self.transform(X)
        return mean_average_precision(codes, y)
