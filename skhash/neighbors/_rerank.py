"""HashingNearestNeighbors: NearestNeighbors on float features, binary codes for the
candidates and exact re-ranking in the original metric."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._base import IntInterval, chunk_rows, rollback_on_error
from ._base import HammingNeighborsBase, KNeighborsMixin, RadiusNeighborsMixin
from ._rerank_kernels import (
    COSINE,
    DOT,
    EUCLIDEAN,
    candidate_distances,
    exact_kneighbors,
    rerank_kneighbors,
)
from ._unsupervised import HammingNeighbors

__all__ = ["HashingNearestNeighbors"]

_METRICS = {"euclidean": EUCLIDEAN, "cosine": COSINE, "inner_product": DOT, "dot": DOT}
# Rows encoded at once in fit, so that the hasher's float outputs stay small.
_ENCODE_ROWS = 65536


class HashingNearestNeighbors(KNeighborsMixin, RadiusNeighborsMixin, BaseEstimator):
    """Nearest neighbours on features: binary codes find candidates, the original
    metric ranks them.

    ``NearestNeighbors``' API on float vectors (embeddings, descriptors). ``fit``
    learns a hasher (or takes the sign bits of the vectors), indexes the codes in a
    :class:`~skhash.HammingNeighbors` and keeps the vectors. A query is encoded, its
    ``n_candidates`` nearest codes are found in Hamming space, and those candidates are
    re-ranked exactly in ``metric`` from the stored vectors. Results are the exact
    neighbours whenever they are among the candidates; with a budget that covers the
    database they are exactly those of an exhaustive search.

    Read more in the :doc:`User Guide </user_guide/rerank>`.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours returned by :meth:`kneighbors` by default.
    radius : float, default=1.0
        Range of :meth:`radius_neighbors` by default, in ``metric``.
    hasher : estimator, default=None
        A hasher (any skhash hasher, or a transformer whose ``transform`` gives codes,
        bit set where the value is > 0), cloned and fitted on ``X`` by :meth:`fit`.
        None: the sign bits of the vectors, one bit per feature (bit set where
        ``x >= 0``), without centring, as vector databases quantize embeddings.
    n_candidates : int or float, default=10.0
        Candidate budget per query. An int is a number of candidates; a float is an
        oversampling factor, ``ceil(n_candidates * n_neighbors)`` candidates (the
        ``max_samples`` convention of scikit-learn). At least ``n_neighbors`` and at
        most the database are re-ranked. Radius queries use the budget of
        ``self.n_neighbors``.
    metric : {"euclidean", "cosine", "inner_product", "dot"}, default="euclidean"
        The metric of the vectors, in which results are ranked and distances
        returned. ``"cosine"`` is ``1 - cosine similarity`` (a zero vector has
        similarity 0 with every vector, as in scikit-learn); ``"inner_product"`` (or
        its alias ``"dot"``) returns the negated inner product, so that smaller is
        nearer as for every distance here.
    algorithm : {"auto", "brute", "mih"}, default="auto"
        Candidate search of the codes, as :class:`~skhash.HammingNeighbors`; all give
        the same candidates.
    n_jobs : int, default=None
        Threads of the candidate search and of the re-ranking, parallel over queries.
        None means 1 unless in a :func:`joblib.parallel_config` context; -1 means all
        processors.

    Attributes
    ----------
    hasher_ : estimator or None
        The fitted clone of ``hasher``; None for sign bits.
    index_ : HammingNeighbors
        The index of the database's codes.
    effective_metric_ : {"euclidean", "cosine", "inner_product"}
        The metric fixed at fit (``"dot"`` is ``"inner_product"``).
    n_bits_ : int
        Bits per code.
    n_samples_fit_ : int
        Number of vectors in the database.
    n_features_in_ : int
        Number of features of the vectors.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when ``X`` has string column names.

    See Also
    --------
    sklearn.neighbors.NearestNeighbors : The exhaustive search this approximates.
    HammingNeighbors : The search on the codes.
    skhash.ITQHasher : Unsupervised learned codes.

    Notes
    -----
    Candidates and re-ranking. The codes of a query are compared with every code (or
    through multi-index tables, see ``algorithm``), and the ``n_candidates`` nearest
    in Hamming distance, ties by index, are the candidates. A fused kernel then
    computes the exact distance of each candidate from the stored vectors and keeps
    the k nearest, ties by index, in one pass per query. The budget trades recall for
    speed; better codes need fewer candidates for the same recall, which is the point
    of learning them. :meth:`score` measures that recall.

    Sign bits. With ``hasher=None`` a bit is the sign of a feature of the raw vector,
    as vector databases quantize embeddings. Embeddings whose features share an offset
    give poor sign bits (non-negative features, such as pixels, give constant ones):
    ``hasher=StandardScaler(with_std=False)`` takes the signs of the centred features
    (any transformer works, bit set where its output is > 0);
    :class:`~skhash.ITQHasher` and :class:`~skhash.PCAHasher` centre and rotate, and
    supervised hashers learn from labels (``fit(X, y)``).

    Memory. The vectors are kept as float32 (a C-contiguous float32 array, such as a
    read-only :class:`numpy.memmap`, is kept as given, without a copy, so a database
    larger than memory stays on disk), beside ``n_bits / 8`` bytes of code per vector
    and 4 bytes of inverse norm for ``"cosine"``. Distances are computed and returned
    in float32.

    ``X=None`` queries the database itself, each vector excluding itself, as
    scikit-learn does.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import HashingNearestNeighbors, ITQHasher
    >>> X, _ = load_digits(return_X_y=True)
    >>> nn = HashingNearestNeighbors(
    ...     n_neighbors=10, hasher=ITQHasher(n_bits=32, random_state=0), n_candidates=20.0
    ... ).fit(X[:1500])
    >>> dist, ind = nn.kneighbors(X[1500:1503])
    >>> ind.shape
    (3, 10)
    >>> bool(nn.score(X[1500:]) > 0.95)
    True
    """

    _parameter_constraints: dict = {
        "n_neighbors": [IntInterval(1, None, closed="left")],
        "radius": [Interval(Real, None, None, closed="neither")],
        "hasher": [HasMethods(["fit", "transform"]), None],
        "n_candidates": [
            IntInterval(1, None, closed="left"),
            Interval(RealNotInt, 1, None, closed="left"),
        ],
        "metric": [StrOptions(set(_METRICS))],
        "algorithm": [StrOptions({"auto", "brute", "mih"})],
        "n_jobs": [Integral, None],
    }

    # Shared with the Hamming estimators: the n_jobs and n_neighbors checks.
    _check_n_jobs = HammingNeighborsBase._check_n_jobs
    _check_n_neighbors = HammingNeighborsBase._check_n_neighbors

    def __init__(
        self,
        n_neighbors=5,
        radius=1.0,
        *,
        hasher=None,
        n_candidates=10.0,
        metric="euclidean",
        algorithm="auto",
        n_jobs=None,
    ):
        self.n_neighbors = n_neighbors
        self.radius = radius
        self.hasher = hasher
        self.n_candidates = n_candidates
        self.metric = metric
        self.algorithm = algorithm
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags

    # --- fit ------------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, **fit_params):
        """Fit the hasher, index the codes of ``X`` and keep ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The database vectors; kept as float32 (without a copy when already a
            C-contiguous float32 array or memmap).
        y : array-like of shape (n_samples,) or (n_samples, n_labels), default=None
            Labels for a supervised hasher; ignored with ``hasher=None``.
        **fit_params : dict
            Passed to the hasher's ``fit``, e.g. ``pairs=`` for pairwise supervision.

        Returns
        -------
        self : HashingNearestNeighbors
            The fitted estimator.
        """
        with rollback_on_error(self):
            self._check_n_jobs()
            X = validate_data(self, X, dtype=np.float32, order="C", ensure_all_finite=True)
            if self.hasher is None:
                self.hasher_ = None  # sign bits learn nothing: y is ignored
            else:
                # y positional, as scikit-learn passes it (FrozenEstimator requires it).
                self.hasher_ = clone(self.hasher)
                self.hasher_.fit(X, y, **fit_params)
            self._metric = _METRICS[self.metric]
            self.effective_metric_ = "inner_product" if self.metric == "dot" else self.metric
            self._fit_X = X
            cosine = self._metric == COSINE
            self._inv_norm = _inverse_norms(X) if cosine else np.zeros(0, np.float32)
            self.n_samples_fit_ = int(X.shape[0])
            self.n_bits_ = None  # set by the first chunk's codes
            codes = np.concatenate(
                [self._encode(X[a : a + _ENCODE_ROWS]) for a in range(0, len(X), _ENCODE_ROWS)]
            )
            self.index_ = HammingNeighbors(
                algorithm=self.algorithm, n_jobs=self.n_jobs, packed=True, n_bits=self.n_bits_
            ).fit(codes)
        return self

    def _encode(self, X):
        """Packed codes of validated float32 rows; sets ``n_bits_`` on the first call
        of a fit, and checks the width of the codes against it after."""
        if self.hasher_ is None:
            bits = X >= 0
        else:
            bits = np.asarray(self.hasher_.transform(X)) > 0
        n_bits = self.n_bits_
        if n_bits is None:
            self.n_bits_ = n_bits = int(bits.shape[1])
        if bits.ndim != 2 or bits.shape[1] != n_bits:
            raise ValueError(
                f"the hasher gave codes of shape {bits.shape}, expected {n_bits} bits per "
                "row as at fit; refit after changing the hasher."
            )
        return np.packbits(bits, axis=1)

    # --- queries --------------------------------------------------------------------

    def _queries(self, X):
        """Validated float32 queries (the database for None) and their number."""
        check_is_fitted(self)
        if X is None:
            return self._fit_X, self.n_samples_fit_
        X = validate_data(self, X, reset=False, dtype=np.float32, order="C")
        return X, X.shape[0]

    def _budget(self, k, query_is_train):
        """Candidates per query for ``k`` neighbours: the budget, at least ``k``, at
        most the database (less the query itself for ``X=None``)."""
        n = self.n_candidates
        c = n if isinstance(n, Integral) else int(np.ceil(n * k))
        return int(min(max(c, k), self.n_samples_fit_ - int(query_is_train)))

    def _chunks(self, n_q, c):
        """(start, stop) over the queries, each chunk's candidate arrays bounded by
        ``working_memory``."""
        row_bytes = c * 24 + self.n_features_in_ * 4 + 64
        rows = chunk_rows(n_q, row_bytes)
        for start in range(0, n_q, rows):
            yield start, min(start + rows, n_q)

    def _candidates(self, Q, c, start):
        """Candidate rows (n_queries, c) of the float32 queries ``Q``; ``start`` is
        the database row of ``Q[0]`` when the queries are the database (each then
        excludes itself), else None."""
        codes = self._encode(Q)
        if start is None:
            return self.index_.kneighbors(codes, c, return_distance=False)
        # The c + 1 nearest codes, ties by index: without the query itself when it is
        # among them, else the first c, all at distance 0 and before it; either way
        # the c nearest of the others, as the index's own X=None gives.
        ind = self.index_.kneighbors(codes, c + 1, return_distance=False)
        keep = ind != np.arange(start, start + len(Q))[:, None]
        keep[keep.all(axis=1), -1] = False
        return ind[keep].reshape(len(Q), c)

    def _prepare(self, Q):
        """Queries as the kernels take them: float32, unit norm for cosine."""
        if self._metric == COSINE:
            return np.ascontiguousarray(Q * _inverse_norms(Q)[:, None])
        return np.ascontiguousarray(Q)

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Find the k nearest neighbours of each query in the original metric.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Query vectors. If None, the database vectors query it, each excluding
            itself.
        n_neighbors : int, default=None
            Number of neighbours; ``self.n_neighbors`` if None.
        return_distance : bool, default=True
            Whether to return the distances.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries, n_neighbors), dtype float32
            Distances in ``metric``, increasing along each row (negated inner
            products for ``"inner_product"``). Only returned if
            ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries, n_neighbors), dtype int64
            Indices of the neighbours in the database; equal distances in increasing
            index order.
        """
        check_is_fitted(self)
        query_is_train = X is None
        k = self._check_n_neighbors(n_neighbors, query_is_train)
        X, n_q = self._queries(X)
        c = self._budget(k, query_is_train)
        dist = np.empty((n_q, k), dtype=np.float32)
        ind = np.empty((n_q, k), dtype=np.int64)
        n_jobs = self._check_n_jobs()
        for a, b in self._chunks(n_q, c):
            Q = X[a:b]
            cand = self._candidates(Q, c, a if query_is_train else None)
            dist[a:b], ind[a:b] = rerank_kneighbors(
                self._fit_X, self._inv_norm, self._prepare(Q), cand, k, self._metric,
                n_jobs=n_jobs,
            )
        return (dist, ind) if return_distance else ind

    def _radius_in_bits(self, radius):
        """The radius of a query (``self.radius`` if None), checked. (The name is the
        hook of :class:`RadiusNeighborsMixin`; here the radius is in ``metric``.)"""
        if radius is None:
            radius = self.radius
        if not isinstance(radius, Real) or isinstance(radius, bool) or np.isnan(radius):
            raise ValueError(f"radius must be a number in the metric's unit; got {radius!r}.")
        return float(radius)

    def _radius_csr(self, X, radius, sort_results):
        """Candidates within ``radius`` of each query as CSR pieces (indptr, float32
        distances, indices); each row by index, or by (distance, index)."""
        query_is_train = X is None
        X, n_q = self._queries(X)
        c = self._budget(self.n_neighbors, query_is_train)
        n_jobs = self._check_n_jobs()
        counts, dists, inds = [], [], []
        for a, b in self._chunks(n_q, max(c, 1)):
            Q = X[a:b]
            if c == 0:
                counts.append(np.zeros(b - a, np.int64))
                continue
            cand = self._candidates(Q, c, a if query_is_train else None)
            D = candidate_distances(
                self._fit_X, self._inv_norm, self._prepare(Q), cand, self._metric,
                n_jobs=n_jobs,
            )
            order = np.lexsort((cand, D)) if sort_results else np.argsort(cand, axis=1)
            cand = np.take_along_axis(cand, order, axis=1)
            D = np.take_along_axis(D, order, axis=1)
            within = D <= radius
            counts.append(within.sum(axis=1))
            dists.append(D[within])
            inds.append(cand[within])
        indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64)
        dist = np.concatenate(dists) if dists else np.zeros(0, np.float32)
        ind = np.concatenate(inds) if inds else np.zeros(0, np.int64)
        return indptr, dist, ind.astype(np.int64)

    def radius_neighbors(self, X=None, radius=None, return_distance=True, sort_results=False):
        """Find the candidates within ``radius`` of each query in the original metric.

        The candidates of a query are its budget for ``self.n_neighbors``; those within
        ``radius`` are returned, which are all the database's when the budget covers
        it.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Query vectors. If None, the database vectors query it, each excluding
            itself.
        radius : float, default=None
            Range in ``metric``; ``self.radius`` if None. Vectors at distance
            ``<= radius`` are returned.
        return_distance : bool, default=True
            Whether to return the distances.
        sort_results : bool, default=False
            If True, each query's neighbours are sorted by distance, ties by index;
            otherwise they come in index order. Requires ``return_distance=True``.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries,), dtype object
            One float32 array of distances per query. Only returned if
            ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries,), dtype object
            One int64 array of indices per query.
        """
        return super().radius_neighbors(X, radius, return_distance, sort_results)

    def score(self, X, y=None, sample_weight=None):
        """Recall@k of the queries ``X`` against the exact neighbours.

        ``k`` is ``n_neighbors`` (at most the database). The exact neighbours are
        found by an exhaustive search of the stored vectors in ``metric``; a returned
        neighbour counts as found when it is one of them or ties with the k-th (a tie
        at the k-th distance may be broken either way).

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Query vectors.
        y : None
            Ignored; present for API consistency (``GridSearchCV`` passes it).
        sample_weight : None
            Not supported; present for API compatibility.

        Returns
        -------
        score : float
            Mean recall over the queries, in [0, 1].
        """
        if sample_weight is not None:
            raise ValueError("score does not support sample_weight; pass None.")
        check_is_fitted(self)
        X, n_q = self._queries(X)
        k = min(self.n_neighbors, self.n_samples_fit_)
        dist, ind = self.kneighbors(X, k)
        found = 0
        n_jobs = self._check_n_jobs()
        for a, b in self._chunks(n_q, k):
            exact_d, exact_i = exact_kneighbors(
                self._fit_X, self._inv_norm, self._prepare(X[a:b]), k, self._metric,
                n_jobs=n_jobs,
            )
            hit = (ind[a:b, :, None] == exact_i[:, None, :]).any(axis=2)
            hit |= dist[a:b] <= exact_d[:, -1:]
            found += int(hit.sum())
        return found / (n_q * k) if n_q else 0.0


def _inverse_norms(X):
    """float32 inverse L2 norms of the rows of ``X``, 0 for a zero row."""
    norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))
    with np.errstate(divide="ignore"):
        inv = np.where(norms > 0, 1.0 / norms, 0.0)
    return inv.astype(np.float32)

