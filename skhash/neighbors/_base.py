"""Shared machinery of the Hamming neighbours estimators: parameters, checks, scaling,
the in-memory packed index, and the k-NN and radius query and graph methods."""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._base import check_n_jobs, chunk_rows
from ..codes import n_bytes
from ._kernels import kneighbors_words, radius_neighbors_words, radius_scratch_bytes, to_words
from ._policy import PILOT_QUERIES, TablePolicy, spread_rows

__all__ = ["HammingNeighborsBase", "KNeighborsMixin", "RadiusNeighborsMixin"]


def _n_bytes_text(n):
    return f"{n} byte" if n == 1 else f"{n} bytes"


def query_width_message(n_cols, *, packed, n_bits, n_features_in, estimator):
    """Error message for queries of ``n_cols`` columns given to an index fitted on
    ``n_bits``-bit codes of ``n_features_in`` columns, in bits and bytes (sklearn's
    "X has 1 features, ... expecting 2 features" says nothing of packed bytes)."""
    if packed:
        return (
            f"X has {_n_bytes_text(n_cols)} per row ({8 * n_cols} bits), but {estimator} "
            f"was fitted on {n_bits}-bit codes packed in {_n_bytes_text(n_features_in)} per "
            "row (packed=True: one column per byte, numpy.packbits order). Pack the "
            "queries as the fitted codes were."
        )
    return (
        f"X has {n_cols} features, but {estimator} is expecting {n_bits} features as "
        f"input: it was fitted on {n_bits}-bit codes, and queries need one column per bit "
        "(packed=False)."
    )


def _check_mode(mode):
    if mode not in ("connectivity", "distance"):
        raise ValueError(
            'Unsupported mode, must be one of "connectivity", or "distance" but got '
            f'"{mode}" instead'
        )


def _split(values, indptr):
    """Object array of one array per row of CSR-like pieces."""
    out = np.empty(len(indptr) - 1, dtype=object)
    out[:] = np.split(values, indptr[1:-1])
    return out


class HammingNeighborsBase(BaseEstimator):
    """Base of the Hamming neighbours estimators.

    Holds what every one of them shares: the parameters of scikit-learn's
    ``NeighborsBase`` (those that do not apply are refused or change nothing), the
    code layout fixed at fit (``packed``, ``n_bits``), the metric (bit counts, or
    fractions of the bits as scikit-learn's ``"hamming"``), the checks of query
    arguments, and the in-memory packed index searched by the XOR + popcount kernels
    or multi-index tables. Subclasses add the public ``fit`` and the query mixins.
    """

    _parameter_constraints: dict = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left"), None],
        "radius": [Interval(Real, 0, None, closed="both"), None],
        "algorithm": [
            StrOptions({"auto", "brute", "mih"}),
            Hidden(StrOptions({"ball_tree", "kd_tree"})),
        ],
        "leaf_size": [Interval(Integral, 1, None, closed="left")],
        "metric": [StrOptions({"bitcount", "hamming"})],
        "p": [Interval(Real, 0, None, closed="right"), None],
        "metric_params": [dict, None],
        "n_jobs": [Integral, None],
        "packed": ["boolean"],
        "n_bits": [Interval(Integral, 1, None, closed="left"), None],
        "n_substrings": [Interval(Integral, 1, None, closed="left"), None],
        "normalize": ["boolean", Hidden(StrOptions({"deprecated"}))],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags

    # --- parameters fixed at fit ------------------------------------------------------

    def _check_n_jobs(self):
        """``n_jobs``, refusing 0 (in fit, and at query time after ``set_params``)."""
        return check_n_jobs(self.n_jobs)

    def _fit_params(self, stacklevel=4):
        """Check the parameters that fit fixes; set ``effective_metric_`` and the layout
        queries will follow, whatever ``set_params`` changes later."""
        self._check_n_jobs()
        name = type(self).__name__
        if self.algorithm in ("ball_tree", "kd_tree"):
            raise ValueError(
                f"algorithm={self.algorithm!r} is not available in {name}: it searches "
                "packed codes exactly with 'brute' (XOR + popcount over every code) or "
                "'mih' (multi-index hash tables), and 'auto' chooses between them. Both "
                "return the results of an exact tree search."
            )
        if self.metric_params:
            raise ValueError(
                f"metric_params={self.metric_params!r} cannot be honoured: {name}'s "
                "Hamming distance takes no parameters (no per-bit weights). Pass "
                "metric_params=None."
            )
        metric = self.metric
        normalize = getattr(self, "normalize", "deprecated")
        if normalize != "deprecated":
            warnings.warn(
                "normalize is deprecated and will be removed: use metric='hamming' "
                "(fractions of the bits, as scikit-learn) for normalize=True and "
                "metric='bitcount' (the default) for normalize=False.",
                FutureWarning,
                stacklevel=stacklevel,
            )
            metric = "hamming" if normalize else "bitcount"
        self.effective_metric_ = metric
        self._packed = bool(self.packed)
        self._algorithm = self.algorithm

    def _check_dense(self, X):
        """Refuse sparse input with a ValueError, as scikit-learn's metric='hamming'."""
        if sp.issparse(X):
            raise ValueError(
                f"{type(self).__name__} does not take sparse input (neither does "
                "scikit-learn's metric='hamming'): pass dense codes, e.g. X.toarray(), "
                "or packed bytes with packed=True."
            )

    def _validate_codes(self, X, *, reset):
        """Validated codes as a 2-D array: uint8 bytes if packed, else numeric/bool."""
        self._check_dense(X)
        if not reset:
            self._check_query_width(X)
        packed = self._packed
        X = validate_data(
            self, X, reset=reset, dtype=None if packed else "numeric", ensure_all_finite=True
        )
        if packed and X.dtype != np.uint8:
            raise ValueError(
                "With packed=True the codes must be uint8 bytes (as from "
                f"skhash.pack_codes or numpy.packbits); got dtype {X.dtype}. Pass "
                "packed=False for unpacked codes."
            )
        return np.ascontiguousarray(X) if packed else X

    def _fit_n_bits(self, n_cols):
        """``n_bits_`` of codes of ``n_cols`` columns in the fitted layout."""
        if self._packed:
            n_bits = 8 * n_cols if self.n_bits is None else self.n_bits
            if n_bytes(n_bits) != n_cols:
                raise ValueError(
                    f"n_bits={self.n_bits} needs {n_bytes(n_bits)} bytes per packed "
                    f"code, but X has {n_cols} columns."
                )
        else:
            n_bits = n_cols
            if self.n_bits is not None and self.n_bits != n_cols:
                raise ValueError(
                    f"n_bits={self.n_bits} does not match the {n_cols} columns of the "
                    "unpacked codes X; leave n_bits=None for unpacked codes."
                )
        self.n_bits_ = int(n_bits)

    def _check_query_width(self, X):
        """Refuse queries of the wrong width with a message in bits and bytes."""
        try:
            shape = np.shape(X)
        except (TypeError, ValueError):
            return  # ragged or array-like input: validate_data names the problem
        if len(shape) != 2 or shape[1] == self.n_features_in_:
            return
        raise ValueError(
            query_width_message(
                shape[1],
                packed=self._packed,
                n_bits=self.n_bits_,
                n_features_in=self.n_features_in_,
                estimator=type(self).__name__,
            )
        )

    # --- query arguments and distances ------------------------------------------------

    def _check_n_neighbors(self, n_neighbors, query_is_train):
        """``n_neighbors`` (``self.n_neighbors`` if None) checked against the index."""
        if n_neighbors is None:
            n_neighbors = self.n_neighbors
        if not isinstance(n_neighbors, Integral) or isinstance(n_neighbors, bool):
            raise TypeError(
                f"n_neighbors does not take {type(n_neighbors)} value, enter integer value"
            )
        if n_neighbors <= 0:
            raise ValueError(f"Expected n_neighbors > 0. Got {n_neighbors}")
        limit = self.n_samples_fit_ - 1 if query_is_train else self.n_samples_fit_
        if n_neighbors > limit:
            inequality = "<" if query_is_train else "<="
            raise ValueError(
                f"Expected n_neighbors {inequality} n_samples_fit, but "
                f"n_neighbors = {n_neighbors}, n_samples_fit = {self.n_samples_fit_}."
            )
        return int(n_neighbors)

    def _radius_in_bits(self, radius):
        """Largest bit count d within ``radius`` (``self.radius`` if None): d <= radius,
        or d / n_bits <= radius for ``metric="hamming"``; -1 if none."""
        if radius is None:
            radius = self.radius
        if not isinstance(radius, Real) or isinstance(radius, bool) or not radius >= 0:
            raise ValueError(
                f"radius must be a non-negative number (a bit count, or a fraction with "
                f"metric='hamming'); got radius={radius!r}."
            )
        n_bits = self.n_bits_
        if self.effective_metric_ == "bitcount":
            if 0 < radius < 1:
                # A fraction of the bits meant for metric="hamming" would otherwise
                # silently find only exact duplicates.
                raise ValueError(
                    f"radius={radius!r} is below one bit, but distances are bit counts "
                    "(metric='bitcount'). For scikit-learn's metric='hamming' (distances "
                    "and radius as fractions of the bits) pass metric='hamming'; for a "
                    "number of bits pass a whole number."
                )
            return int(min(np.floor(radius), n_bits)) if radius < n_bits else n_bits
        if radius >= 1:
            return n_bits  # every code; also an infinite radius
        r = int(np.floor(radius * n_bits))
        # Match the float comparison d / n_bits <= radius exactly.
        while r < n_bits and (r + 1) / n_bits <= radius:
            r += 1
        while r >= 0 and r / n_bits > radius:
            r -= 1
        return r

    def _scale(self, dist):
        """Bit counts as the metric's distances: int32 counts, or float64 fractions."""
        if self.effective_metric_ == "hamming":
            return dist.astype(np.float64) / self.n_bits_
        return dist

    # --- the in-memory index ----------------------------------------------------------

    def _fit_index(self, X):
        """Check the parameters, validate ``X`` and index it."""
        self._fit_params(stacklevel=5)
        X = self._validate_codes(X, reset=True)
        self._fit_n_bits(X.shape[1])
        self.n_samples_fit_ = int(X.shape[0])
        self._db_words = self._to_words(X, transpose=True)
        self._policy = TablePolicy.for_index(
            self._db_words, self.n_bits_, self._algorithm, self.n_substrings
        )

    @property
    def n_substrings_(self):
        """Number of multi-index tables built, or None while none are."""
        policy = self.__dict__.get("_policy")
        return None if policy is None or policy.tables is None else policy.m

    def _to_words(self, X, *, transpose=False):
        """Validated codes (or a chunk of them) as kernel words."""
        if not self._packed:
            X = np.packbits(X > 0, axis=1)
        return to_words(X, self.n_bits_, transpose=transpose)

    def _queries(self, X):
        """Validated queries (None for the fitted codes) and their number."""
        if X is None:
            return None, self.n_samples_fit_
        X = self._validate_codes(X, reset=False)
        return X, X.shape[0]

    def _query_words(self, X, rows):
        """Kernel words of the query rows ``rows`` (a slice or an index array) of the
        validated queries ``X``, or of the fitted codes when ``X`` is None."""
        if X is None:
            return np.ascontiguousarray(self._db_words[:, rows].T)
        return self._to_words(X[rows])

    def _chunks(self, X, n_q, row_bytes):
        """Yield (start, stop) over chunks of the validated queries (the fitted codes
        when ``X`` is None), each chunk's memory bounded by ``working_memory``."""
        if X is not None:
            row_bytes += X.shape[1] * (X.dtype.itemsize + 1)
        chunk = chunk_rows(n_q, row_bytes)
        for start in range(0, n_q, chunk):
            yield start, min(start + chunk, n_q)

    def _brute_knn(self, Q, k, start, query_is_train):
        """k-NN of a chunk of query words with the exhaustive kernel."""
        return kneighbors_words(
            Q,
            self._db_words,
            k,
            self.n_bits_,
            self_offset=start if query_is_train else -1,
            n_jobs=self._check_n_jobs(),
        )

    def _kneighbors_bits(self, X, k):
        """k-NN of the queries ``X`` (None: the fitted codes, each excluding itself):
        (int32 bit counts, int64 indices), ties by index."""
        query_is_train = X is None
        # Per query: output (int64 index, int32 distance, float64 if scaled) and the
        # kernel's candidate buffer and histogram.
        row_bytes = k * 20 + (2 * k + 64) * 12 + (self.n_bits_ + 2) * 8
        X, n_q = self._queries(X)
        dist = np.empty((n_q, k), dtype=np.int32)
        ind = np.empty((n_q, k), dtype=np.int64)
        tables = None
        pilot = np.empty(0, dtype=np.int64)
        policy = self._policy
        if policy is not None and n_q:
            key = ("k", k)
            if policy.needs_estimate(key):
                # The pilot queries, spread over the call's, are answered exhaustively:
                # their k-th distances give the tables' cost.
                pilot = spread_rows(n_q, PILOT_QUERIES)
                Q = self._query_words(X, pilot)
                if query_is_train:
                    for t, row in enumerate(pilot):
                        dist[row], ind[row] = self._brute_knn(Q[t : t + 1], k, row, True)
                else:
                    dist[pilot], ind[pilot] = self._brute_knn(Q, k, 0, False)
                policy.estimate(key, Q, kth=dist[pilot, -1])
            tables = policy.tables_for(key, len(pilot), n_q - len(pilot))
        for start, stop in self._chunks(X, n_q, row_bytes):
            Q = self._query_words(X, slice(start, stop))
            # The runs of rows between the pilot queries already answered.
            a = start
            for b in [*pilot[(pilot >= start) & (pilot < stop)].tolist(), stop]:
                if b > a:
                    Qr = Q[a - start : b - start]
                    if tables is not None:
                        dist[a:b], ind[a:b] = tables.kneighbors(
                            Qr,
                            k,
                            self_offset=a if query_is_train else -1,
                            n_jobs=self._check_n_jobs(),
                        )
                    else:
                        dist[a:b], ind[a:b] = self._brute_knn(Qr, k, a, query_is_train)
                a = b + 1
        return dist, ind

    def _radius_csr(self, X, r_bits, sort_results):
        """Codes within ``r_bits`` bits of each query as CSR pieces: (indptr, distances
        in the metric's unit, indices); each row by index, or by (distance, index)."""
        query_is_train = X is None
        X, n_q = self._queries(X)
        tables = None
        policy = self._policy
        if policy is not None and n_q and r_bits >= 0:
            key = ("radius", r_bits)
            if policy.needs_estimate(key):
                # The probes of a radius search are known from the radius; the rows they
                # list are estimated on a sample of the database.
                Q = self._query_words(X, spread_rows(n_q, PILOT_QUERIES))
                policy.estimate(key, Q, radius=r_bits)
            tables = policy.tables_for(key, 0, n_q)
        indptrs, dists, inds = [np.zeros(1, dtype=np.int64)], [], []
        total = 0
        # Per query: offsets, a guess of its output (64 rows) and the kernel's tile flags.
        row_bytes = 16 + 16 * 64 + radius_scratch_bytes(self._db_words)
        for start, stop in self._chunks(X, n_q, row_bytes):
            Q = self._query_words(X, slice(start, stop))
            offset = start if query_is_train else -1
            n_jobs = self._check_n_jobs()
            if tables is not None:
                offsets, d, i = tables.radius_neighbors(
                    Q, r_bits, self_offset=offset, sort_results=sort_results, n_jobs=n_jobs
                )
            else:
                offsets, d, i = radius_neighbors_words(
                    Q,
                    self._db_words,
                    r_bits,
                    self.n_bits_,
                    self_offset=offset,
                    sort_results=sort_results,
                    n_jobs=n_jobs,
                )
            indptrs.append(offsets[1:] + total)
            total += offsets[-1]
            dists.append(d)
            inds.append(i)
        return np.concatenate(indptrs), self._scale(np.concatenate(dists)), np.concatenate(inds)


class KNeighborsMixin:
    """k-NN queries and graphs, on a subclass's ``_kneighbors_bits``."""

    def _computed_kneighbors(self, X, n_neighbors):
        """``kneighbors`` as in-memory arrays (an index with lazy results computes them)."""
        return self.kneighbors(X, n_neighbors)

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Find the k nearest neighbours of each query code.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Query codes, in the fitted input format. If None, the fitted codes query
            the index, each excluding itself.
        n_neighbors : int, default=None
            Number of neighbours; ``self.n_neighbors`` if None.
        return_distance : bool, default=True
            Whether to return the distances.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries, n_neighbors)
            Distances, int32 bit counts (float64 fractions with ``metric="hamming"``),
            increasing along each row. Only returned if ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries, n_neighbors), dtype int64
            Indices of the neighbours in the fitted codes; equal distances in
            increasing index order.
        """
        check_is_fitted(self)
        k = self._check_n_neighbors(n_neighbors, X is None)
        dist, ind = self._kneighbors_bits(X, k)
        return (self._scale(dist), ind) if return_distance else ind

    def kneighbors_graph(self, X=None, n_neighbors=None, mode="connectivity"):
        """Graph of the k nearest neighbours of each query, as a CSR matrix.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Query codes; None for the fitted codes, each excluding itself.
        n_neighbors : int, default=None
            Number of neighbours per query; ``self.n_neighbors`` if None.
        mode : {"connectivity", "distance"}, default="connectivity"
            "connectivity" puts ones, "distance" the distances (explicit zeros
            included).

        Returns
        -------
        A : sparse matrix of shape (n_queries, n_samples_fit)
            CSR; row ``i`` holds the neighbours of query ``i`` by increasing distance,
            ties by index.
        """
        _check_mode(mode)
        if n_neighbors is None:
            n_neighbors = self.n_neighbors
        dist, ind = self._computed_kneighbors(X, n_neighbors)
        data = np.ones(ind.size) if mode == "connectivity" else dist.astype(np.float64).ravel()
        n_queries, k = ind.shape
        indptr = np.arange(0, n_queries * k + 1, k)
        return sp.csr_matrix((data, ind.ravel(), indptr), shape=(n_queries, self.n_samples_fit_))


class RadiusNeighborsMixin:
    """Radius queries and graphs, on a subclass's ``_radius_csr``."""

    def radius_neighbors(self, X=None, radius=None, return_distance=True, sort_results=False):
        """Find the fitted codes within Hamming distance ``radius`` of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Query codes, in the fitted input format. If None, the fitted codes query
            the index, each excluding itself.
        radius : float, default=None
            Range: a bit count, or a fraction of ``n_bits_`` with ``metric="hamming"``;
            ``self.radius`` if None. Codes at distance ``<= radius`` are returned.
        return_distance : bool, default=True
            Whether to return the distances.
        sort_results : bool, default=False
            If True, each query's neighbours are sorted by distance, ties by index;
            otherwise they come in index order. Requires ``return_distance=True``.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries,), dtype object
            One array of distances per query. Only returned if
            ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries,), dtype object
            One int64 array of indices per query.
        """
        if sort_results and not return_distance:
            raise ValueError("return_distance must be True if sort_results is True.")
        check_is_fitted(self)
        indptr, dist, ind = self._radius_csr(X, self._radius_in_bits(radius), sort_results)
        neigh_ind = _split(ind, indptr)
        return (_split(dist, indptr), neigh_ind) if return_distance else neigh_ind

    def radius_neighbors_graph(self, X=None, radius=None, mode="connectivity", sort_results=False):
        """Graph of the neighbours within ``radius`` of each query, as a CSR matrix.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Query codes; None for the fitted codes, each excluding itself.
        radius : float, default=None
            Range (bit count, or fraction with ``metric="hamming"``); ``self.radius``
            if None.
        mode : {"connectivity", "distance"}, default="connectivity"
            "connectivity" puts ones, "distance" the distances (explicit zeros
            included).
        sort_results : bool, default=False
            If True, the entries of each row are sorted by distance (ties by index)
            instead of by index; ignored with ``mode="connectivity"``, as in
            scikit-learn.

        Returns
        -------
        A : sparse matrix of shape (n_queries, n_samples_fit)
            CSR; ``A[i, j]`` is set when ``j`` is within ``radius`` of query ``i``.
        """
        _check_mode(mode)
        check_is_fitted(self)
        sort_results = sort_results and mode == "distance"
        indptr, dist, ind = self._radius_csr(X, self._radius_in_bits(radius), sort_results)
        data = np.ones(len(ind)) if mode == "connectivity" else np.asarray(dist, np.float64)
        return sp.csr_matrix((data, ind, indptr), shape=(len(indptr) - 1, self.n_samples_fit_))
