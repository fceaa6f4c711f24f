"""SCHHasher: soft-constraint codes learned block by block with boosted pair weights."""

from dataclasses import replace
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from scipy import linalg
from scipy.sparse.linalg import ArpackNoConvergence, eigsh, lobpcg
from sklearn.base import _fit_context
from sklearn.dummy import DummyClassifier
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.svm import SVC
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from ._base import BaseHasher, IntInterval, check_n_jobs, rollback_on_error, sign

__all__ = ["SCHHasher"]

# Below this many training samples the bit problem is solved densely: ARPACK needs a
# Krylov space larger than the problem and is slower than LAPACK at this size anyway.
_DENSE_EIGEN_MAX = 64

# Rows of X whose kernel against the support vectors is built at once in transform,
# bounding the working memory whatever the number of samples.
_KERNEL_ROWS = 2048


class _PairMatrix:
    """The symmetric sparse matrix A of one bit's problem, on a fixed set of pairs.

    A has the entry ``coef[k]`` at ``(i[k], j[k])`` and ``(j[k], i[k])``; the CSR
    structure is built once and only the values change from bit to bit.
    """

    def __init__(self, n_samples, i, j):
        rows = np.concatenate([i, j])
        cols = np.concatenate([j, i])
        self._order = np.lexsort((cols, rows))
        indptr = np.zeros(n_samples + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_samples), out=indptr[1:])
        self.matrix = sp.csr_matrix(
            (np.zeros(len(rows)), cols[self._order], indptr), shape=(n_samples, n_samples)
        )

    def set_values(self, coef):
        both = np.concatenate([coef, coef])
        self.matrix.data[:] = both[self._order]

    def smallest_eigenvector(self, v0):
        """Eigenvector of the smallest eigenvalue, warm-started from ``v0``."""
        A = self.matrix
        # LOBPCG normalises its start in place; never let a solver touch the caller's.
        v0 = np.array(v0, dtype=np.float64)
        n = A.shape[0]
        if n <= _DENSE_EIGEN_MAX:
            _, V = linalg.eigh(A.toarray(), subset_by_index=[0, 0])
            return V[:, 0]
        try:
            _, V = eigsh(A, k=1, which="SA", v0=v0, tol=1e-6)
        except ArpackNoConvergence:
            # LOBPCG from the same start; rarely needed (near-degenerate spectrum).
            _, V = lobpcg(A, v0[:, None], largest=False, tol=1e-6, maxiter=500)
        return V[:, 0]


def _training_subset(supervision, size, rng):
    """Sorted indices of ``size`` samples, each class keeping its share.

    Single-label supervision: class k of ``n_k`` samples gets ``size * n_k / n``
    samples rounded down, and the places left go to the largest remainders (ties in
    random order); the samples of a class are drawn uniformly. Multi-label
    supervision: a uniform draw.
    """
    n = supervision.n_samples
    if supervision.multilabel:
        return np.sort(rng.choice(n, size, replace=False)).astype(np.int64)
    entries = supervision.labels.tocoo()  # one stored label per sample
    labels = np.empty(n, dtype=np.int64)
    labels[entries.row] = entries.col
    counts = np.bincount(labels)
    share = size * counts / n
    quota = np.floor(share).astype(np.int64)
    order = np.lexsort((rng.permutation(len(counts)), -(share - quota)))
    quota[order[: size - quota.sum()]] += 1
    # A random order of the samples, grouped by class: each class's first samples.
    shuffled = rng.permutation(n)
    grouped = shuffled[np.argsort(labels[shuffled], kind="stable")]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(n) - np.repeat(starts, counts)
    chosen = grouped[rank < np.repeat(quota, counts)]
    return np.sort(chosen).astype(np.int64)


def _fit_bit_function(X, z, C, gamma, seed):
    """One bit's hash function: an RBF SVM on the bit as pseudo-label.

    A constant pseudo-label (every training sample on one side) has no second class
    for the SVM; the bit's function is then that constant. ``seed`` is the SVM's
    ``random_state``: with ``None`` scikit-learn would draw libsvm's seed from the
    global ``np.random`` state, advancing it.
    """
    if z.min() == z.max():
        return DummyClassifier(strategy="constant", constant=int(z[0])).fit(X, z)
    return SVC(C=C, kernel="rbf", gamma=gamma, random_state=seed).fit(X, z)


class SCHHasher(BaseHasher):
    """Supervised hashing with soft constraints and boosted pair weights (SCH).

    A two-step method (Leng et al., 2014). First, binary codes ``b_i ∈ {-1, 1}^K``
    of the training samples are learned from labelled pairs by minimising

        Σ_(i,j) w_ij (a_ij − t_ij)²,   a_ij = b_iᵀ b_j / K,

    with targets ``t_ij = +1`` for similar pairs and ``t_ij = −p`` for dissimilar
    ones: the *soft constraint* asks a dissimilar pair to differ in only
    ``(1 + p) / 2`` of its bits, not in all of them (``p = 1``, the classic hard
    constraint, is available for comparison). The code is learned in blocks of
    ``bits_per_block`` bits; each block's pair weights ``w_ij`` are *boosted* by how
    far the bits learned so far are from the target. Second, each bit becomes a
    pseudo-label for an RBF-kernel support vector machine, and a new sample's code is
    the sign of the machines' decision functions.

    Parameters
    ----------
    n_bits : int, default=32
        Code length K.
    p : float, default=0.6
        Target affinity ``−p`` of dissimilar pairs, in (0, 1]. The paper's value is
        0.6; ``p=1`` gives the hard constraint (maximal Hamming distance).
    bits_per_block : int, default=4
        Bits learned per block, after which the pair weights are updated (the
        paper's t = 4).
    weighting : {"boost", "none"}, default="boost"
        ``"boost"``: pair weights from the previous blocks' errors (SCH).
        ``"none"``: every pair weighs 1, and the whole code is one block of
        ``n_bits`` bits (the paper's SCH_uw; see Notes).
    n_pairs_per_sample : int or None, default=500
        How many others each training sample knows its relation to, on average (the
        paper: 1,000 training samples, each knowing 500 others). From label
        supervision, ``n_samples * n_pairs_per_sample // 2`` distinct pairs are drawn
        uniformly among all pairs, so a sample's number of partners varies around
        this value; memory and time grow as ``n_samples`` times it. None, or an
        integer of at least ``n_samples − 1``, uses every pair, all ``n(n − 1) / 2``
        of them; that is allowed up to 5,000,000 pairs (about 3,160 training
        samples), and beyond it ``fit`` raises a ``ValueError`` asking for a smaller
        integer rather than exhausting memory. With pair supervision, the given pairs
        are used, or a uniform subset of ``n_samples * n_pairs_per_sample // 2`` of
        them when there are more (None keeps them all).
    max_train_samples : int or None, default=1000
        With label supervision, at most this many samples learn codes and train the
        SVMs (the paper trains on 1,000): a larger training set is subsampled, by
        class in proportion to its size for class labels (uniformly for a multi-label
        indicator matrix), drawn with ``random_state``. The codes of the other
        samples are the hash functions' output. Fit time and memory then stop growing
        with ``n_samples`` except for that encoding (see Notes). None trains on every
        sample. With pair supervision every sample is used, as the given pairs
        require.
    similarity : {"binary", "jaccard", "cosine"}, default="binary"
        Similarity of label supervision: share-a-label, or the Jaccard or cosine
        similarity of multi-label indicator rows. A similarity ``s`` between 0 and 1
        gets the target ``(1 + p) s − p``.
    max_sweeps : int, default=10
        Maximum passes over the bits of a block.
    tol : float, default=1e-3
        A block stops after a pass that lowers its objective by less than this
        fraction.
    C : float, default=3.0
        Regularisation of the per-bit SVMs (see Notes for how the default was set).
    gamma : {"scale", "auto"} or float, default="scale"
        RBF kernel width of the SVMs, as in :class:`sklearn.svm.SVC`:
        ``"scale"`` is ``1 / (n_features · X.var())``, ``"auto"`` ``1 / n_features``.
    n_jobs : int, default=None
        Number of SVMs fitted in parallel (threads; libsvm releases the GIL).
        ``None`` means 1 unless in a :func:`joblib.parallel_backend` context, -1
        means all processors.
    random_state : int, RandomState instance or None, default=None
        Seed of the pair sampling, of the eigensolver's starting vectors and of the
        SVMs (libsvm's seed); the fit never draws from the global ``np.random`` state.
    verbose : int, default=0
        Print one line per block: passes, objective and weight range.

    Attributes
    ----------
    codes_ : ndarray of shape (n_samples, n_bits), dtype int8
        Codes of the training samples, in {-1, +1}: learned for the samples in
        ``train_indices_``. A sample left out of the training subset
        (``max_train_samples``), or in no labelled pair (possible with pair
        supervision), has no learned code; its row is the hash functions' output.
    train_indices_ : ndarray of shape (n_train,), dtype int64
        Sorted indices of the training subset drawn by ``max_train_samples``, whose
        codes were learned; every sample when none was drawn (then, with pair
        supervision, a sample in no pair still has no learned code).
    estimators_ : list of n_bits estimators
        Bit m's hash function: a fitted :class:`sklearn.svm.SVC`, or a
        :class:`sklearn.dummy.DummyClassifier` predicting the constant when the
        learned bit is constant over the training set.
    support_vectors_ : ndarray of shape (n_support, n_features)
        Union of the SVMs' support vectors.
    dual_coef_ : ndarray of shape (n_bits, n_support)
        Each bit's dual coefficients on ``support_vectors_`` (zero where a vector
        does not support that bit).
    intercept_ : ndarray of shape (n_bits,)
        Each bit's intercept (the constant, ±1, for a constant bit).
    gamma_ : float
        RBF kernel width used by every SVM.
    constant_bits_ : ndarray of shape (n_bits,), dtype bool
        Bits whose learned value is the same for every training sample.
    history_ : list of dict
        One record per block: ``"bits"`` (first and one-past-last bit),
        ``"n_sweeps"``, ``"objective"`` (the block's weighted mean squared error
        ``Σ w (a − t)² / Σ w`` after each pass, block affinity ``a`` on the block's
        bits only), ``"loss"`` (unweighted mean squared error of the code learned so
        far, all blocks together) and ``"max_weight"`` (largest pair weight; the
        weights have mean 1).
    n_pairs_ : int
        Number of distinct labelled pairs used.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    WSLHasher : Linear hash functions, supervised or not.
    ITQHasher : Unsupervised PCA with a learned rotation.

    Notes
    -----
    Follows Leng et al. (2014), Eqs. 4-12. Inside a block, bit m is learned with
    the block's other bits fixed. For each pair only two cases exist, same bit or
    different bit, with losses ``l⁺`` and ``l⁻``; the bit's problem is then
    ``min_z zᵀ A z`` over ``z ∈ {−1, 1}ⁿ`` with ``A_ij = w_ij (l⁺ − l⁻)`` (Lin et al.,
    TSH, Proposition 1). Here ``l⁺ − l⁻ = (4 / t) (c_ij / t − t_ij)``, with ``c_ij``
    the agreement of the pair on the block's other bits and t the block length; A is
    sparse (one entry per labelled pair). The relaxation over the sphere is solved
    by the eigenvector of A's smallest eigenvalue (ARPACK, warm-started from the
    bit's current value; LOBPCG if ARPACK does not converge) and quantised by its
    sign.

    Choices made where the paper is silent:

    - Training subset. Codes are learned from a sampled set of pairs and each bit's
      RBF SVM costs between quadratic and cubic time in its training samples, so
      ``max_train_samples`` (default 1,000, the paper's training set) bounds both.
      The subset keeps each class's share (largest remainders, ties broken at
      random), so no class is left out by chance. Beyond the subset, fit time grows
      linearly in ``n_samples``: the input check and the encoding of the samples
      outside the subset for ``codes_``, each linear in ``n_samples`` times the
      number of support vectors (at most ``max_train_samples``). Memory beyond ``X``
      grows by about ``n_bits + 40`` bytes per sample (``codes_``, the labels,
      index arrays): a float32 ``X`` is not converted (only the subset is, for the SVMs)
      and the rest is read by blocks of rows.

    - Block objective. A block of t bits is fitted to the targets on its own
      affinity (its bits only), as in the paper's ensemble view: the affinity of the
      whole code is the mean of the blocks' affinities.
    - Passes. The first pass learns the bits of a block in order, bits not yet
      learned counting 0 in ``c_ij``. Later passes revisit every bit and keep the
      new value only when it lowers the bit's objective ``zᵀAz``, so the block's
      objective never increases; they stop after ``max_sweeps`` passes, a pass with
      no change, or a pass gaining less than ``tol`` relatively.
    - Weights. Block k > 1 weighs a similar pair by ``1 − a_ij`` and a dissimilar
      pair by the hinge ``max(0, a_ij + p)``, ``a_ij`` the affinity of the
      ``(k − 1) t`` bits learned before; a pair of intermediate similarity by
      ``|a_ij − t_ij|``. The weights are divided by their mean (mean 1); if every
      pair is met exactly, they are all 1.
    - SCH_uw. Without weights every block would solve the same problem and repeat
      the first block's bits, so ``weighting="none"`` learns all ``n_bits`` bits as
      one block, as the supervised two-step methods SCH builds on (KSH, TSH) do.
    - Degenerate bits. If a learned bit is constant over the training set, the SVM
      has a single class and cannot be fitted; that bit's hash function is the
      constant instead (``constant_bits_``; a constant bit carries no information
      but changes no distance).
    - Pairs. Pairs are unordered, each counted once; a pair given twice with
      different similarities gets their mean.
    - Intermediate similarities. A block of t bits has affinities in steps of 2/t,
      so a target between them is met only to that resolution: with 4-bit blocks a
      pair of similarity 0.5 (target 0.2 at p=0.6) gets 0 or 0.5 in each block, and
      as the weights rescale pairs but do not move targets, every block makes the
      same choice. For graded (multi-label) similarity, longer blocks or
      ``weighting="none"`` (one block, steps of 2/n_bits) follow the targets more
      closely.
    - SVM settings. The paper only says "SVM with Gaussian kernel". ``C=3`` with
      ``gamma="scale"`` was chosen on validation mAP with the paper's 500 partners
      per sample (``benchmarks/bench_sch.py --select``, never on the queries); with
      much sparser supervision the codes are noisy and a smaller ``C`` fits them
      better.
    - Encoding. All SVMs share the kernel width, so ``transform`` builds the kernel
      between X and the union of their support vectors once and multiplies it by the
      stacked dual coefficients, instead of evaluating each SVM on its own; the
      outputs equal the SVMs' ``decision_function``. Encoding costs
      ``O(n_support · n_features)`` per sample, linear in the number of samples,
      and ``n_support`` is at most the number of training samples.

    Read more in the User Guide, :doc:`/user_guide/sch`.

    References
    ----------
    .. [1] C. Leng, J. Cheng, J. Wu, X. Zhang and H. Lu, "Supervised hashing with soft
       constraints", CIKM 2014.
    .. [2] G. Lin, C. Shen, D. Suter and A. van den Hengel, "A general two-step
       approach to learning-based hashing", ICCV 2013 (TSH).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import SCHHasher
    >>> X, y = load_digits(return_X_y=True)
    >>> sch = SCHHasher(n_bits=8, n_pairs_per_sample=50, random_state=0)
    >>> sch.fit(X[:300] / 16, y[:300]).transform(X[:3] / 16).shape
    (3, 8)
    >>> len(sch.estimators_), len(sch.history_)
    (8, 2)
    """

    _parameter_constraints: dict = {
        **BaseHasher._parameter_constraints,
        "p": [Interval(Real, 0, 1, closed="right")],
        "bits_per_block": [IntInterval(1, None, closed="left")],
        "weighting": [StrOptions({"boost", "none"})],
        "n_pairs_per_sample": [IntInterval(1, None, closed="left"), None],
        "max_train_samples": [IntInterval(2, None, closed="left"), None],
        "similarity": [StrOptions({"binary", "jaccard", "cosine"})],
        "max_sweeps": [IntInterval(1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "C": [Interval(Real, 0, None, closed="neither")],
        "gamma": [StrOptions({"scale", "auto"}), Interval(Real, 0, None, closed="neither")],
        "n_jobs": [Integral, None],
    }

    _supervised = True

    def __init__(
        self,
        n_bits=32,
        *,
        p=0.6,
        bits_per_block=4,
        weighting="boost",
        n_pairs_per_sample=500,
        max_train_samples=1000,
        similarity="binary",
        max_sweeps=10,
        tol=1e-3,
        C=3.0,
        gamma="scale",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(n_bits=n_bits, random_state=random_state, verbose=verbose)
        self.p = p
        self.bits_per_block = bits_per_block
        self.weighting = weighting
        self.n_pairs_per_sample = n_pairs_per_sample
        self.max_train_samples = max_train_samples
        self.similarity = similarity
        self.max_sweeps = max_sweeps
        self.tol = tol
        self.C = C
        self.gamma = gamma
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, pairs=None):
        """Learn the training codes, then one SVM hash function per bit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_labels), default=None
            Class labels or a multi-label indicator matrix; two samples are similar
            when they share a label (see ``similarity``).
        pairs : array-like of shape (n_pairs, 3) or sparse matrix of shape \
(n_samples, n_samples), default=None
            Pairwise supervision instead of labels: rows ``(i, j, s)``, s in [0, 1]
            (1 similar, 0 dissimilar), or a sparse similarity matrix whose stored
            entries are the known pairs.

        Returns
        -------
        self : SCHHasher
            The fitted estimator.
        """
        with rollback_on_error(self):
            # Float32 stays float32: only the training subset is converted, for the SVMs.
            X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
            self._check_squared_distances(X, training=True)
            n = X.shape[0]
            rng = check_random_state(self.random_state)
            check_n_jobs(self.n_jobs)  # here, not by joblib after the codes are learned
            supervision = self._check_supervision(y, pairs, n, kind=self.similarity)
            train = np.arange(n)
            if supervision.from_labels and self.max_train_samples is not None:
                if n > self.max_train_samples:
                    train = _training_subset(supervision, self.max_train_samples, rng)
                    supervision = replace(
                        supervision, n_samples=len(train), labels=supervision.labels[train]
                    )
            i, j, s = supervision.sample_pairs(self.n_pairs_per_sample, rng)
            if not (s > 0).any() or not (s < 1).any():
                missing = "similar" if not (s > 0).any() else "dissimilar"
                more = "samples per class" if missing == "similar" else "classes"
                subset = (
                    f", or max_train_samples (got {self.max_train_samples}, a subset of "
                    f"{len(train)} of the {n} samples)"
                    if len(train) < n
                    else ""
                )
                raise ValueError(
                    f"the {len(s)} sampled pairs contain no {missing} pair; raise "
                    f"n_pairs_per_sample (got {self.n_pairs_per_sample}){subset} or give "
                    f"more training {more}."
                )
            learned, history = self._learn_codes(len(train), i, j, s, rng)
            paired = np.zeros(n, dtype=bool)
            paired[train[i]] = paired[train[j]] = True
            codes = np.empty((n, self.n_bits), dtype=np.int8)
            codes[train] = learned
            self._fit_hash_functions(X[paired].astype(np.float64), codes[paired], rng)
            rest = np.flatnonzero(~paired)
            for start in range(0, len(rest), _KERNEL_ROWS):
                rows = rest[start : start + _KERNEL_ROWS]
                codes[rows] = sign(self._decision_function(X[rows]))
            self.codes_ = codes
            self.train_indices_ = train
            self.history_ = history
            self.n_pairs_ = len(s)
            self._set_n_features_out()
        return self

    def _pair_weights(self, affinity, s, target):
        """Boosting weights (mean 1) from the affinity of the bits learned so far."""
        deviation = np.abs(affinity - target)
        dissimilar = s == 0
        deviation[dissimilar] = np.maximum(0.0, affinity[dissimilar] + self.p)
        mean = deviation.mean()
        # Round-off deviations (every pair met) must not become weights.
        return deviation / mean if mean > 1e-12 else np.ones_like(deviation)

    def _learn_codes(self, n, i, j, s, rng):
        """Training codes in {-1, 1}, block by block; returns them and the history."""
        K = self.n_bits
        target = (1.0 + self.p) * s - self.p
        block = K if self.weighting == "none" else min(self.bits_per_block, K)
        A = _PairMatrix(n, i, j)
        codes = np.empty((n, K))
        agreement = np.zeros(len(s))  # Σ over learned bits of b_i b_j, per pair
        history = []
        for start in range(0, K, block):
            stop = min(start + block, K)
            if start and self.weighting == "boost":
                w = self._pair_weights(agreement / start, s, target)
            else:
                w = np.ones(len(s))
            Z, objective = self._learn_block(A, i, j, w, target, stop - start, n, rng)
            codes[:, start:stop] = Z
            agreement += np.einsum("pk,pk->p", Z[i], Z[j])
            loss = float(np.mean((agreement / stop - target) ** 2))
            history.append(
                {
                    "bits": (start, stop),
                    "n_sweeps": len(objective),
                    "objective": objective,
                    "loss": loss,
                    "max_weight": float(w.max()),
                }
            )
            if self.verbose:
                print(
                    f"[SCHHasher] bits {start}-{stop - 1}: {len(objective)} passes, "
                    f"objective {objective[0]:.4f} -> {objective[-1]:.4f}, "
                    f"loss {loss:.4f}, max weight {w.max():.2f}"
                )
        return codes, history

    def _learn_block(self, A, i, j, w, target, t, n, rng):
        """Block coordinate descent over t bits; returns the bits and objective per pass."""
        Z = np.zeros((n, t))
        agreement = np.zeros(len(w))  # Σ over the block's assigned bits of z_i z_j
        w_sum = w.sum()
        objective = []
        for sweep in range(self.max_sweeps):
            n_changed = 0
            for m in range(t):
                current = Z[:, m]
                old = current[i] * current[j]
                coef = w * ((agreement - old) / t - target)
                A.set_values(coef)
                v0 = current if sweep else rng.uniform(-1.0, 1.0, size=n)
                z = sign(A.smallest_eigenvector(v0), np.float64)
                new = z[i] * z[j]
                # First pass: the bit is unassigned (0) and takes the new value.
                # Later passes: keep it only if it lowers this bit's objective.
                if sweep == 0 or coef @ new < coef @ old - 1e-12 * np.abs(coef).sum():
                    Z[:, m] = z
                    agreement += new - old
                    n_changed += 1
            objective.append(float(w @ (agreement / t - target) ** 2 / w_sum))
            if sweep and (
                n_changed == 0 or objective[-2] - objective[-1] <= self.tol * objective[-2]
            ):
                break
        return Z, objective

    def _fit_hash_functions(self, X, codes, rng):
        """Fit one SVM per bit in parallel and stack them for fast encoding."""
        if self.gamma == "scale":
            var = X.var()
            gamma = 1.0 / (X.shape[1] * var) if var > 0 else 1.0
        elif self.gamma == "auto":
            gamma = 1.0 / X.shape[1]
        else:
            gamma = float(self.gamma)
        seed = rng.randint(np.iinfo(np.int32).max)
        estimators = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(_fit_bit_function)(X, codes[:, m], self.C, gamma, seed)
            for m in range(self.n_bits)
        )
        svms = [e for e in estimators if isinstance(e, SVC)]
        support = (
            np.unique(np.concatenate([e.support_ for e in svms]))
            if svms
            else np.zeros(0, dtype=np.int64)
        )
        dual = np.zeros((self.n_bits, len(support)))
        intercept = np.zeros(self.n_bits)
        constant = np.zeros(self.n_bits, dtype=bool)
        for m, e in enumerate(estimators):
            if isinstance(e, SVC):
                dual[m, np.searchsorted(support, e.support_)] = e.dual_coef_[0]
                intercept[m] = e.intercept_[0]
            else:
                constant[m] = True
                intercept[m] = float(e.constant)
        self.estimators_ = estimators
        self.support_vectors_ = X[support]
        self.dual_coef_ = dual
        self.intercept_ = intercept
        self.gamma_ = gamma
        self.constant_bits_ = constant

    def _check_squared_distances(self, X, *, training=False):
        """Refuse X whose squared distances overflow, or (training data) underflow.

        The RBF kernel is built on ``|x − x'|² = |x|² + |x'|² − 2 xᵀx'``. When every
        squared norm is below a quarter of the float64 range (training samples are
        checked in ``fit``, queries here), every term and the result stay finite;
        beyond it the SVMs' dual coefficients or the kernel values would be NaN. When
        the training samples differ but every squared distance between them is below
        the smallest normal float64, the distances have lost their precision (or are
        0) and the kernel cannot tell the samples apart.
        """
        with np.errstate(over="ignore", under="ignore"):
            largest = 4.0 * np.einsum("ij,ij->i", X, X, dtype=np.float64).max(initial=0.0)
            if training:
                # In float64 and by blocks of rows: no float64 copy of a float32 X.
                mean = X.mean(axis=0, dtype=np.float64)
                spread = 0.0
                for start in range(0, X.shape[0], _KERNEL_ROWS):
                    centred = X[start : start + _KERNEL_ROWS] - mean
                    spread = max(spread, np.einsum("ij,ij->i", centred, centred).max())
        if not np.isfinite(largest):
            raise ValueError(
                f"X holds values up to {float(np.abs(X).max()):.3g} in absolute value: "
                "squared distances between samples overflow float64, and SCHHasher's "
                "RBF kernel is built on them. Rescale X, for example with "
                "sklearn.preprocessing.StandardScaler."
            )
        if training and spread < np.finfo(np.float64).tiny and np.ptp(X, axis=0).max() > 0:
            raise ValueError(
                f"the training samples differ by at most {float(np.ptp(X, axis=0).max()):.3g} "
                "in any feature: squared distances between them underflow float64, and "
                "SCHHasher's RBF kernel is built on them. Rescale X, for example with "
                "sklearn.preprocessing.StandardScaler."
            )

    def _decision_function(self, X):
        self._check_squared_distances(X)
        # The fitted number of bits, whatever set_params has done to n_bits since.
        F = np.empty((X.shape[0], len(self.intercept_)))
        for start in range(0, X.shape[0], _KERNEL_ROWS):
            rows = slice(start, start + _KERNEL_ROWS)
            if len(self.support_vectors_):
                K = rbf_kernel(X[rows], self.support_vectors_, gamma=self.gamma_)
                F[rows] = K @ self.dual_coef_.T + self.intercept_
            else:
                F[rows] = self.intercept_
        return F
