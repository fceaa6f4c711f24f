"""Linear baseline hashers every paper compares against: LSH, PCA hashing and ITQ."""

import numpy as np
from scipy import linalg
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data
from threadpoolctl import threadpool_limits

from ._base import BaseHasher, IntInterval, chunk_rows, rollback_on_error

__all__ = ["ITQHasher", "LSHHasher", "PCAHasher"]


#: The input dtypes the baselines compute in: float32 stays float32, anything else
#: becomes float64.
_FLOATS = [np.float64, np.float32]

#: Largest temporary of a fit's pass over X, per chunk of rows. Large enough for BLAS to
#: run at full speed, small next to data worth chunking.
_FIT_CHUNK_BYTES = 2**24

#: Size of a chunk of float32 projections in ITQ's iterations: a chunk and its codes stay
#: in a core's L2 cache between the two products that read them.
_ITQ_CHUNK_BYTES = 2**18


def _fit_chunks(n_rows, row_bytes, max_bytes=_FIT_CHUNK_BYTES):
    """Row slices covering ``n_rows``, each within ``working_memory`` and ``max_bytes``."""
    step = min(chunk_rows(n_rows, row_bytes), max(1, max_bytes // row_bytes))
    return [slice(start, start + step) for start in range(0, n_rows, step)]


class _LinearHasher(BaseHasher):
    """A hasher whose outputs are affine: ``F = X @ coef_.T + intercept_``.

    Subclasses set ``coef_`` of shape (n_bits, n_features) and ``intercept_`` of
    shape (n_bits,) in ``fit``. The outputs are computed in the dtype of ``X``:
    float32 queries are hashed in float32 with the fitted (float64) attributes
    rounded to float32, never copied to float64.
    """

    def _decision_function(self, X):
        coef, intercept = self.coef_, self.intercept_
        if X.dtype == np.float32:
            coef, intercept = coef.astype(np.float32), intercept.astype(np.float32)
        return X @ coef.T + intercept


def _validate_fit_data(estimator, X, y, *, dtype=np.float64, reset=True, min_samples=2):
    """Validate training data shared by the linear hashers; y is only length-checked."""
    X = validate_data(estimator, X, dtype=dtype, ensure_min_samples=min_samples, reset=reset)
    if y is not None:
        # Array-likes without a shape (lists, or objects with only __array__) are read
        # through np.asarray; np.shape would dispatch to their __array_function__.
        shape = y.shape if hasattr(y, "shape") else np.asarray(y).shape
        if not shape:
            raise ValueError(f"y must hold one entry per sample of X; got the scalar {y!r}.")
        if shape[0] != X.shape[0]:
            raise ValueError(
                f"y has {shape[0]} entries but X has {X.shape[0]} samples; they must match."
            )
    return X


def _centred(estimator, X):
    """The mean of X and the centred data, refused if either overflowed float64."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean = X.mean(axis=0)
        Xc = X - mean
    estimator._check_no_overflow(X, "the mean of X or X minus its mean", mean, Xc)
    return mean, Xc


def _column_sums(X):
    """Sums of the columns of X in float64; float32 X is summed without a float64 copy."""
    return X.sum(axis=0, dtype=np.float64)


def _fixed_signs(Vt):
    """Rows of ``Vt`` with their largest absolute loading made positive, so that the
    directions do not depend on the LAPACK build."""
    signs = np.sign(Vt[np.arange(len(Vt)), np.abs(Vt).argmax(axis=1)])
    signs[signs == 0] = 1.0
    return Vt * signs[:, None]


def _principal_directions(Xc, n_components):
    """Top principal directions of centred data, rows sorted by decreasing variance."""
    _, s, Vt = linalg.svd(Xc, full_matrices=False, check_finite=False)
    return _fixed_signs(Vt[:n_components]), s[:n_components] ** 2 / max(Xc.shape[0] - 1, 1)


def _covariance(X, mean):
    """Covariance matrix of X (``n_samples - 1`` degrees of freedom), in float64.

    Accumulated over row chunks centred in float64, so neither a centred copy nor a
    float64 copy of X is ever made.
    """
    n_samples, n_features = X.shape
    C = np.zeros((n_features, n_features))
    for rows in _fit_chunks(n_samples, 8 * n_features):
        chunk = X[rows] - mean
        C += chunk.T @ chunk
    return C / max(n_samples - 1, 1)


def _principal_directions_from_covariance(C, n_components):
    """Top eigenvectors of a covariance matrix as rows, by decreasing eigenvalue, and
    their eigenvalues: the principal directions and variances of its data."""
    n_features = C.shape[0]
    w, E = linalg.eigh(
        C, subset_by_index=(n_features - n_components, n_features - 1), check_finite=False
    )
    # eigh sorts eigenvalues in increasing order; round-off can make tiny ones negative.
    return _fixed_signs(E[:, ::-1].T), np.maximum(w[::-1], 0.0)


def _fit_pca(estimator, X):
    """Mean, top principal directions, their variances and the total variance of X
    (None unless ``verbose``: it costs a pass over the centred data).

    float64 X: the SVD of the centred data, as scikit-learn's PCA. float32 X: the
    eigenvectors of the covariance matrix accumulated in float64 over row chunks, so the
    fit adds O(n_features²) memory to X instead of copies of X.
    """
    n_bits = estimator.n_bits
    if X.dtype == np.float64:
        mean, Xc = _centred(estimator, X)
        with np.errstate(over="ignore", invalid="ignore"):
            P, variances = _principal_directions(Xc, n_bits)
            total = np.vdot(Xc, Xc) / max(X.shape[0] - 1, 1) if estimator.verbose else None
        return mean, P, variances, total
    mean = _column_sums(X) / X.shape[0]
    C = _covariance(X, mean)
    estimator._check_no_overflow(X, "the mean of X or its covariance", mean, C)
    P, variances = _principal_directions_from_covariance(C, n_bits)
    return mean, P, variances, np.trace(C)


def _projections(X, mean, P):
    """``V = (X - mean) @ P.T`` in the dtype of X, its largest absolute value and
    ``||V||_F²``, computed in float64 over row chunks."""
    n_samples, n_features = X.shape
    V = np.empty((n_samples, len(P)), dtype=X.dtype)
    largest, squares = 0.0, 0.0
    for rows in _fit_chunks(n_samples, 8 * (n_features + len(P))):
        chunk = (X[rows] - mean) @ P.T
        V[rows] = chunk
        largest = max(largest, float(np.abs(chunk).max()))
        squares += np.vdot(chunk, chunk)
    return V, largest, squares


def _largest_and_squares(V):
    """Largest ``|V|`` and ``||V||_F²`` of float64 V, over row chunks."""
    largest, squares = 0.0, 0.0
    for rows in _fit_chunks(len(V), 8 * V.shape[1]):
        largest = max(largest, float(np.abs(V[rows]).max()))
        squares += np.vdot(V[rows], V[rows])
    return largest, squares


def _check_pca_n_bits(estimator, n_samples, n_features):
    # Centring removes one degree of freedom: n samples span at most n - 1 directions.
    estimator._check_n_bits(
        min(n_samples - 1, n_features),
        f"it keeps n_bits principal directions of the centred data, whose rank is at "
        f"most min(n_samples - 1, n_features); here n_samples={n_samples}, "
        f"n_features={n_features}",
    )


class LSHHasher(_LinearHasher):
    """Locality-sensitive hashing: random hyperplanes through the data mean.

    Each bit is the side of a random hyperplane: ``h_k(x) = sign(w_kᵀ(x − x̄))`` with
    ``w_k`` drawn from a standard Gaussian and ``x̄`` the mean of the training data.
    For centred data the sign of a Gaussian projection preserves angles
    (Charikar, 2002): the probability that two points get different bits is their
    angle divided by π.

    Parameters
    ----------
    n_bits : int, default=32
        Code length K. Any positive value: random hyperplanes are not limited by the
        number of features.
    random_state : int, RandomState instance or None, default=None
        Seed of the hyperplane directions.
    verbose : int, default=0
        ``> 0``: ``fit`` prints one line saying what it fitted.

    Attributes
    ----------
    coef_ : ndarray of shape (n_bits, n_features)
        Hyperplane normals, rows drawn i.i.d. from N(0, I).
    intercept_ : ndarray of shape (n_bits,)
        ``-coef_ @ mean_``, so every hyperplane passes through the data mean.
    mean_ : ndarray of shape (n_features,)
        Mean of the training data.
    n_samples_seen_ : int
        Number of samples the mean was computed from: those of ``fit`` and of every
        ``partial_fit`` call since.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    PCAHasher : Sign of the top principal projections.
    ITQHasher : PCA followed by a learned rotation.

    Notes
    -----
    The classic LSH of Indyk and Motwani (1998) thresholds random projections at zero;
    this estimator thresholds at the projection of the mean (hyperplanes "through the
    data mean"), as hashing benchmarks do, so bits are roughly balanced whatever the
    offset of the data. Only the mean is learned from the data, so ``fit`` costs
    O(n_samples n_features) time and no memory of the size of X, and ``partial_fit``
    streams chunks (of a memory-mapped array, for example) to the same model: the
    hyperplanes are drawn from ``random_state`` on the first call, the mean is a running
    mean.

    Float32 input is neither copied nor converted: the mean is summed in float64, and
    float32 queries are hashed in float32. The fitted attributes are float64 whatever
    the input's dtype.

    References
    ----------
    .. [1] M. S. Charikar, "Similarity estimation techniques from rounding
       algorithms", STOC 2002.
    .. [2] P. Indyk and R. Motwani, "Approximate nearest neighbors: towards removing
       the curse of dimensionality", STOC 1998.

    Examples
    --------
    >>> import numpy as np
    >>> from skhash import LSHHasher
    >>> X = np.random.default_rng(0).normal(size=(100, 20))
    >>> codes = LSHHasher(n_bits=16, random_state=0).fit_transform(X)
    >>> codes.shape, codes.dtype
    ((100, 16), dtype('int8'))
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Draw the hyperplanes and learn the data mean.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored; present for API consistency (only its length is checked).

        Returns
        -------
        self : LSHHasher
            The fitted estimator.
        """
        with rollback_on_error(self):
            X = _validate_fit_data(self, X, y, dtype=_FLOATS)
            for name in ("coef_", "mean_", "n_samples_seen_"):
                self.__dict__.pop(name, None)
            self._add_samples(X)
        if self.verbose:
            print(
                f"[LSHHasher] {self.n_bits} random hyperplanes through the mean of "
                f"{X.shape[0]} samples with {X.shape[1]} features."
            )
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Add a chunk of samples to the mean; the first call draws the hyperplanes.

        Streaming the rows of a large (for example memory-mapped) array through
        ``partial_fit`` in chunks gives the model ``fit`` gives on the whole array:
        the same hyperplanes (drawn from ``random_state`` on the first call) and the
        same mean, up to round-off. ``partial_fit`` after ``fit`` continues from it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of training data, with the features of the first chunk.
        y : None
            Ignored; present for API consistency (only its length is checked).

        Returns
        -------
        self : LSHHasher
            The fitted estimator.
        """
        first = not hasattr(self, "coef_")
        with rollback_on_error(self):
            X = _validate_fit_data(self, X, y, dtype=_FLOATS, reset=first, min_samples=1)
            self._add_samples(X)
        return self

    def _add_samples(self, X):
        """Update the running mean with X; draw the hyperplanes if there are none yet."""
        n_seen = getattr(self, "n_samples_seen_", 0)
        with np.errstate(over="ignore", invalid="ignore"):
            if n_seen == 0:
                # The mean exactly as X.mean(axis=0) for float64 X.
                mean = _column_sums(X) / X.shape[0]
            else:
                mean = (self.mean_ * n_seen + _column_sums(X)) / (n_seen + X.shape[0])
            if not hasattr(self, "coef_"):
                rng = check_random_state(self.random_state)
                self.coef_ = rng.standard_normal((self.n_bits, X.shape[1]))
                self._set_n_features_out()
            intercept = -self.coef_ @ mean
        self._check_no_overflow(X, "the mean of X or the hyperplane offsets", mean, intercept)
        self.mean_, self.intercept_ = mean, intercept
        self.n_samples_seen_ = n_seen + X.shape[0]


class PCAHasher(_LinearHasher):
    """PCA hashing: the sign of the projections on the top principal directions.

    ``h_k(x) = sign(v_kᵀ(x − x̄))`` where ``v_1, ..., v_K`` are the principal
    directions of the training data with the largest variances (Wang, Kumar and
    Chang, 2012, "PCAH").

    Parameters
    ----------
    n_bits : int, default=32
        Code length K; at most ``min(n_samples - 1, n_features)``, the rank of
        the centred training data.
    random_state : int, RandomState instance or None, default=None
        Changes nothing: the fit is deterministic (an exact SVD or eigendecomposition,
        with the sign of each direction fixed). Accepted because every hasher takes ``n_bits``,
        ``random_state`` and ``verbose``, so a grid over hashers or the command line
        can set them on any of them.
    verbose : int, default=0
        ``> 0``: ``fit`` prints one line with the share of the training variance the
        ``n_bits`` directions explain.

    Attributes
    ----------
    coef_ : ndarray of shape (n_bits, n_features)
        Principal directions (unit norm), by decreasing variance.
    intercept_ : ndarray of shape (n_bits,)
        ``-coef_ @ mean_``.
    mean_ : ndarray of shape (n_features,)
        Mean of the training data.
    explained_variance_ : ndarray of shape (n_bits,)
        Variance of the training data along each direction (with ``n_samples - 1``
        degrees of freedom, as :class:`~sklearn.decomposition.PCA`).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    ITQHasher : Rotates these projections to reduce the quantization error.
    LSHHasher : Random hyperplanes.

    Notes
    -----
    Every principal direction gets one bit, however small its variance, so at
    larger code lengths the low-variance bits are mostly noise and retrieval can get
    worse as bits are added; ITQ's rotation fixes that by spreading the variance.
    The sign of each direction is fixed (its largest loading is positive) so codes do
    not depend on the linear algebra library.

    The principal directions of float64 input are those of the SVD of the centred data,
    as :class:`~sklearn.decomposition.PCA` with ``svd_solver="full"``: O(n_samples
    n_features²) time and a few copies of X in memory. Float32 input is not copied: its
    covariance matrix is accumulated in float64 over chunks of rows and the directions
    are its top eigenvectors, O(n_samples n_features²) time and O(n_features²) memory
    besides X; they span the same subspace, to float32 round-off. The fitted attributes
    are float64 for either dtype; float32 queries are hashed in float32.

    References
    ----------
    .. [1] J. Wang, S. Kumar and S.-F. Chang, "Semi-supervised hashing for
       large-scale search", IEEE TPAMI 34(12), 2012.

    Examples
    --------
    >>> import numpy as np
    >>> from skhash import PCAHasher
    >>> X = np.random.default_rng(0).normal(size=(100, 20))
    >>> PCAHasher(n_bits=8).fit(X).transform(X[:2]).shape
    (2, 8)
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the mean and the top principal directions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored; present for API consistency (only its length is checked).

        Returns
        -------
        self : PCAHasher
            The fitted estimator.
        """
        with rollback_on_error(self):
            X = _validate_fit_data(self, X, y, dtype=_FLOATS)
            _check_pca_n_bits(self, *X.shape)
            self.mean_, self.coef_, self.explained_variance_, total = _fit_pca(self, X)
            with np.errstate(over="ignore", invalid="ignore"):
                self.intercept_ = -self.coef_ @ self.mean_
            self._check_no_overflow(
                X,
                "the variance of X along its principal directions (explained_variance_) "
                "or the offsets",
                self.explained_variance_,
                self.intercept_,
            )
            self._set_n_features_out()
        if self.verbose:
            share = self.explained_variance_.sum() / total if total > 0 else 1.0
            print(
                f"[PCAHasher] {self.n_bits} principal directions of {X.shape[0]} samples "
                f"with {X.shape[1]} features explain {share:.1%} of their variance."
            )
        return self


class ITQHasher(_LinearHasher):
    """Iterative quantization: PCA, then the rotation that best fits the hypercube.

    The data are centred and projected on the top ``n_bits`` principal directions,
    ``V = (X − x̄) P``; ITQ then alternates between the codes ``B = sign(V R)`` and the
    orthogonal rotation ``R`` minimising the quantization error ``||B − V R||_F²``
    (an orthogonal Procrustes problem solved by an SVD), starting from a random
    rotation (Gong and Lazebnik, 2011).

    Parameters
    ----------
    n_bits : int, default=32
        Code length K; at most ``min(n_samples - 1, n_features)``, the rank of
        the centred training data.
    n_iter : int, default=50
        Number of alternations between codes and rotation (the paper's value).
    random_state : int, RandomState instance or None, default=None
        Seed of the initial random rotation.
    verbose : int, default=0
        ``> 0``: ``fit`` prints the quantization error after each iteration.

    Attributes
    ----------
    coef_ : ndarray of shape (n_bits, n_features)
        ``(P R)ᵀ``: principal directions followed by the learned rotation.
    intercept_ : ndarray of shape (n_bits,)
        ``-coef_ @ mean_``.
    mean_ : ndarray of shape (n_features,)
        Mean of the training data.
    rotation_ : ndarray of shape (n_bits, n_bits)
        The learned orthogonal rotation ``R``.
    quantization_error_ : ndarray of shape (`n_iter_`,)
        Mean squared quantization error ``||B − V R||_F² / n_samples`` after each
        rotation update; non-increasing, up to round-off.
    n_iter_ : int
        Number of iterations run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    PCAHasher : The same projections without the rotation.
    WSLHasher : Learns the projections with a W-shape quantization loss.

    Notes
    -----
    Follows Gong and Lazebnik (2011), Section 2: no whitening of the PCA projections,
    a random orthogonal initial rotation (QR of a Gaussian matrix), 50 iterations.
    The paper iterates a fixed number of times; so does this code (``n_iter``).

    Each iteration is one pass over the projections ``V`` in chunks of rows: the codes
    of a chunk are used for their share of ``Vᵀ B`` and dropped, and the quantization
    error follows from the Procrustes step's singular values ``S``:
    ``||B − V R||² = n_samples n_bits + ||V||² − 2 Σ S``. The principal directions are
    found as by :class:`~skhash.PCAHasher`: float64 input through the SVD of the
    centred data (a few copies of X in memory), float32 input through the covariance
    matrix, without a copy of X. For float32 input the fit adds the float32 projections
    (``n_samples × n_bits``) to X and little else; it takes O(n_samples n_features²) time for the
    directions and O(n_samples n_bits²) per iteration. The fitted attributes are float64
    for either dtype; float32 queries are hashed in float32. There is no
    ``partial_fit``: every iteration needs the projections of all the samples.

    References
    ----------
    .. [1] Y. Gong and S. Lazebnik, "Iterative quantization: a Procrustean approach
       to learning binary codes", CVPR 2011; extended in IEEE TPAMI 35(12), 2013.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import ITQHasher
    >>> X, _ = load_digits(return_X_y=True)
    >>> itq = ITQHasher(n_bits=16, random_state=0).fit(X)
    >>> itq.transform(X).shape
    (1797, 16)
    >>> bool(itq.quantization_error_[-1] <= itq.quantization_error_[0])
    True
    """

    _parameter_constraints: dict = {
        **BaseHasher._parameter_constraints,
        "n_iter": [IntInterval(0, None, closed="left")],
    }

    def __init__(self, n_bits=32, *, n_iter=50, random_state=None, verbose=0):
        super().__init__(n_bits=n_bits, random_state=random_state, verbose=verbose)
        self.n_iter = n_iter

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the principal directions and the rotation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored; present for API consistency (only its length is checked).

        Returns
        -------
        self : ITQHasher
            The fitted estimator.
        """
        with rollback_on_error(self):
            X = _validate_fit_data(self, X, y, dtype=_FLOATS)
            _check_pca_n_bits(self, *X.shape)
            rng = check_random_state(self.random_state)
            with np.errstate(over="ignore", invalid="ignore"):
                if X.dtype == np.float64:
                    self.mean_, Xc = _centred(self, X)
                    P, _ = _principal_directions(Xc, self.n_bits)
                    V = Xc @ P.T
                    del Xc
                    largest, squares = _largest_and_squares(V)
                else:
                    self.mean_, P, _, _ = _fit_pca(self, X)
                    V, largest, squares = _projections(X, self.mean_, P)
                # The squared projections, in V's dtype: the quantization error and the
                # sums of the iterations are of their order.
                self._check_no_overflow(
                    X, "the squared projections of X", np.square(V.dtype.type(largest)), squares
                )
                R, _ = linalg.qr(rng.standard_normal((self.n_bits, self.n_bits)))
                R, errors = self._rotate(V, R, squares)
                self.coef_ = R.T @ P
                self.intercept_ = -self.coef_ @ self.mean_
            self.rotation_ = R
            self.quantization_error_ = np.asarray(errors)
            self.n_iter_ = self.n_iter
            self._check_no_overflow(
                X,
                "the quantization error of X (quantization_error_) or the offsets",
                self.quantization_error_,
                self.intercept_,
            )
            self._set_n_features_out()
        return self

    def _rotate(self, V, R, squares):
        """ITQ's alternation on the projections V from the rotation R: (R, errors).

        Each iteration is one pass over V in row chunks: the codes of a chunk,
        ``B = sign(V R)``, are only used for their share of ``Vᵀ B`` (accumulated in
        float64), so no array of V's size is made. The quantization error follows from
        the Procrustes step without another pass: with ``Vᵀ B = U S Wᵀ`` and
        ``R = U Wᵀ``, ``||B − V R||² = n K + ||V||² − 2 trace(S)``.
        """
        n_samples, n_bits = V.shape
        if V.dtype == np.float64:
            # The arithmetic of one pass over V, as before chunking, for inputs that fit.
            chunks, limits = _fit_chunks(n_samples, n_bits * 2 * V.itemsize), None
        else:
            # Small products: one BLAS thread each, as scikit-learn's KMeans does, since
            # threads waiting for each other on every small product cost more than they
            # bring, most of all on a shared machine.
            chunks = _fit_chunks(n_samples, n_bits * V.itemsize, _ITQ_CHUNK_BYTES)
            limits = 1
        with threadpool_limits(limits=limits, user_api="blas"):
            return self._alternate(V, R, squares, chunks)

    def _alternate(self, V, R, squares, chunks):
        """The iterations of :meth:`_rotate` over the given row chunks of V."""
        n_samples, n_bits = V.shape
        one = V.dtype.type(1)
        errors = []
        for _ in range(self.n_iter):
            Rv = R.astype(V.dtype)
            VtB = np.zeros((n_bits, n_bits))
            for rows in chunks:
                B = V[rows] @ Rv
                # sign(0) = +1 for -0.0 too: adding +0.0 turns -0.0 into +0.0, then
                # copysign writes the codes in place.
                B += 0.0
                np.copysign(one, B, out=B)
                VtB += V[rows].T @ B
            # Procrustes: the rotation maximising trace(Bᵀ V R).
            U, S, Wt = linalg.svd(VtB, check_finite=False)
            R = U @ Wt
            errors.append((n_samples * n_bits + squares - 2 * S.sum()) / n_samples)
            if self.verbose:
                print(
                    f"[ITQHasher] iteration {len(errors)}/{self.n_iter}: "
                    f"quantization error {errors[-1]:.6g}"
                )
        return R, errors
