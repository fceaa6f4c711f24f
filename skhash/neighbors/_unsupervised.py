"""HammingNeighbors: sklearn's NearestNeighbors API for binary codes, on packed words."""

import numbers
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._base import rollback_on_error
from ..codes import n_bytes
from . import _mih
from ._kernels import kneighbors_words, radius_neighbors_words, to_words
from ._mih import MIHIndex, default_n_substrings, estimate_work, knn_radii, substring_layout

__all__ = ["HammingNeighbors"]

# algorithm="auto" (see the Notes of HammingNeighbors and benchmarks/bench_mih.py).
# Below this many codes the exhaustive kernel is always used and no tables are built.
_AUTO_MIN_SAMPLES = 100_000
# Queries of the first call for a given k (or radius) whose multi-index work is
# estimated, spread evenly over the call's queries (a sorted query stream does not
# skew the estimate); for k-NN they are answered by the exhaustive kernel, whose k-th
# distances say how far the tables would have to be probed.
_PILOT_QUERIES = 32
# Database rows (evenly spaced) from which the rows listed by the tables are estimated.
_SAMPLE_ROWS = 2048
# Time to build the tables, in rows of the exhaustive scan per code and table. With
# the counting-sort build, measured on a 2-core AMD EPYC (Zen 3, one thread, clustered
# codes of benchmarks/bench_mih.py, default m): 63 (1M codes) and 78 (10M) at 64 bits,
# 43 (1M) and 65 (10M) at 128 bits. The argsort build it replaced took 260 to 370 on
# that machine (312/370 and 261/331), and 300 to 900 on a Zen 4 with AVX-512, whose
# scan rows are ~3x cheaper; 100 leaves room for such a faster scan.
_BUILD_COST = 100.0


def _spread_rows(n, n_rows):
    """``min(n, n_rows)`` distinct row indices spread evenly over ``range(n)`` (the
    middles of equal parts), in increasing order."""
    p = min(n, n_rows)
    return (2 * np.arange(p, dtype=np.int64) + 1) * n // (2 * p)


def _n_bytes_text(n):
    return f"{n} byte" if n == 1 else f"{n} bytes"


def _query_width_message(n_cols, *, packed, n_bits, n_features_in, estimator):
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
        f"X has {n_cols} columns ({n_cols} bits per code), but {estimator} was fitted on "
        f"{n_bits}-bit codes: queries need one column per bit (packed=False), {n_bits} "
        "columns."
    )


class HammingNeighbors(BaseEstimator):
    """Exact nearest neighbours in Hamming space: ``NearestNeighbors`` for binary codes.

    The public API of :class:`sklearn.neighbors.NearestNeighbors` (``kneighbors``,
    ``radius_neighbors`` and their ``_graph`` versions, ``X=None`` for the fitted
    points querying themselves) on codes stored bit-packed and searched with an
    XOR + popcount kernel fused with the top-k selection.

    Read more in the :doc:`User Guide </user_guide/search>`.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours returned by :meth:`kneighbors` by default.
    radius : float, default=2
        Range of :meth:`radius_neighbors` by default: a number of differing bits, or a
        fraction of ``n_bits_`` when ``normalize=True``. Neighbours at distance
        ``<= radius`` are returned.
    packed : bool, default=False
        If False, codes are any numeric or boolean array of shape (n_samples, n_bits)
        and a bit is set where the value is > 0 ({-1, +1}, {0, 1}, booleans and the
        sign of a real embedding all work). If True, codes are already packed: uint8
        of shape (n_samples, ceil(n_bits / 8)) in :func:`numpy.packbits` order, as
        returned by a hasher's ``encode`` or :func:`skhash.pack_codes`.
    n_bits : int, default=None
        With ``packed=True``, the code length when it is not ``8 * n_bytes``: the
        padding bits of the last byte are then ignored and ``normalize`` divides by
        ``n_bits``. None means ``8 * n_bytes`` (packed) or the number of columns.
    normalize : bool, default=False
        If False, distances are integer bit counts (int32). If True, they are the
        fraction of differing bits (float64), exactly scikit-learn's
        ``metric="hamming"``, and ``radius`` is a fraction too.
    n_jobs : int, default=None
        Threads of the search kernel, parallel over queries. None means 1 unless in a
        :func:`joblib.parallel_config` context; -1 means all processors.
    algorithm : {"auto", "brute", "mih"}, default="auto"
        ``"brute"``: the exhaustive kernel. ``"mih"``: multi-index hashing (Norouzi et
        al.), exact and sub-linear on codes whose neighbours are close, with hash
        tables built at fit. ``"auto"``: the exhaustive kernel, and from 100,000
        codes up, tables built by a query call once the queries show that they pay for
        their build time (see Notes). All three return identical results.
    n_substrings : int, default=None
        Number m of substrings (hash tables) of multi-index hashing, each of about
        ``n_bits / m`` bits (at most 24). None: ``n_bits / (log2(n_samples) - 8)``,
        rounded, with substrings of 8 to 24 bits (see Notes).

    Attributes
    ----------
    n_bits_ : int
        Number of bits per code.
    n_samples_fit_ : int
        Number of codes in the index.
    n_features_in_ : int
        Number of columns of the fitted input: ``n_bits_``, or the number of bytes
        per code when ``packed=True``.
    n_substrings_ : int or None
        Number of multi-index hash tables built: by ``fit`` for ``algorithm="mih"``,
        by the query call where they start to pay off for ``"auto"``; None while none
        are built.

    See Also
    --------
    sklearn.neighbors.NearestNeighbors : The general-metric estimator this replaces.
    skhash.pack_codes : Pack codes for ``packed=True``.

    Notes
    -----
    Ties. Equal distances are always ordered by database index, in
    :meth:`kneighbors` and in :meth:`radius_neighbors` with ``sort_results=True``,
    whatever ``n_jobs``. scikit-learn leaves the order within ties unspecified, so on
    0/1 data ``normalize=True`` gives exactly scikit-learn's distances, and the same
    indices wherever no tie straddles the k-th neighbour or reorders a list.

    ``X=None`` queries the fitted codes with each excluding itself, as scikit-learn
    does: the k nearest among the other rows, so an exact duplicate of a row is
    still its neighbour at distance 0.

    Memory. The index holds each code in the smallest unsigned words that hold it:
    one uint8, uint16 or uint32 word up to 8, 16 or 32 bits (1, 2 or 4 bytes per
    code; 17 to 24 bits are padded to 4), beyond that ``ceil(n_bits / 64)`` uint64
    words (``8 * ceil(n_bits / 64)`` bytes: n_bits / 8 for multiples of 64, 40-bit
    codes take 8). numba compiles the kernels once per word type (cached on disk;
    the first search with a new type compiles for about 10 s). The words are stored
    word-major so that the kernel's loop over database rows vectorises, at the
    words' own width. That is all ``"brute"`` keeps, and all ``"auto"`` keeps until
    it builds tables; multi-index tables add ``m * (code bytes + 4)`` bytes per code
    (260 bytes per code at 200,000 128-bit codes, next to the codes' 16; see below).
    Queries are processed in chunks bounded by
    ``sklearn.get_config()["working_memory"]``; the k-NN kernel keeps O(k + n_bits)
    integers per query and never an n_queries x n_samples matrix.

    Algorithm. A chunk of 64 database rows is reduced to its smallest distance to the
    query (vectorised XOR + popcount); only when that minimum beats the current k-th
    distance are the rows examined one by one and appended to a candidate buffer with
    a histogram of candidate distances. Distances being integers in [0, n_bits], the
    k-th distance is read off the histogram and the final order is a stable counting
    sort: no heap and no comparison sort.

    Multi-index hashing (``algorithm="mih"``; Norouzi, Punjani & Fleet, CVPR 2012).
    Each code is cut into m contiguous substrings, each indexing a direct-addressed
    table. A code at distance d from the query has a substring within floor(d / m)
    of the query's (pigeonhole), so tables are probed at substring radius 0, 1, ...
    and every listed code is verified on the full code, until the k-th distance found
    is below the distance that is guaranteed to be complete. Results are exactly the
    exhaustive search's, ties included. Each table keeps the ids and a copy of the
    codes in bucket order (so that a bucket is verified with the vectorised kernel):
    the tables take ``m * (code bytes + 4)`` bytes per code plus
    ``4 * 2^(n_bits / m)`` bytes per table. The default m gives substrings of
    ``log2(n_samples) - 8`` bits, about 256 codes per bucket, rather than the
    authors' ``log2(n_samples)``: with vectorised verification a probe costs as much
    as checking ~150 listed codes, and shorter substrings measured 2-4x faster.
    The keys within substring radius r number C(s, r), so far neighbours on long
    substrings could need millions of probes per query (257-bit codes, m = 12, 1,500
    codes: 0.35 s per query against 35 microseconds for the scan). The buckets each
    query probes are therefore counted, at 600 rows of the exhaustive scan each, and
    when the next (table, radius) level would take them past ``n_samples`` rows, the
    query is finished by scanning every code: still exact, and its probes cost at
    most one scan.

    ``algorithm="auto"``. ``fit`` stores only the codes, as ``"brute"`` does: a
    ``NearestNeighbors`` user expects the index to cost about its data, and the
    tables cost 5 to 17 times the codes. Below 100,000 codes the exhaustive kernel
    is always used. From 100,000 codes, the first k-NN call for a given k answers 32
    of its queries, spread evenly over the call, with the exhaustive kernel; their
    k-th distances d say how far the tables would be probed (table i to substring
    radius (d - i) // m), hence the buckets probed, exactly, and the codes those
    buckets would list are counted on 2,048 evenly spaced database codes. The
    estimated cost ``600 * probes + 4 * listed`` (in rows of the exhaustive scan,
    fitted on ``benchmarks/bench_mih.py``) is kept for that k; a radius search
    estimates it from its radius, for 32 queries spread over its first call. Tables
    estimated to beat the scan are built only once they pay for themselves: when the
    scan time they would have saved on the queries answered so far, plus those of
    the current call, reaches their build time (estimated at 100 rows of the scan per
    code and table; 43 to 78 measured on 1M and 10M codes, see the user guide). Until
    then, and for every k or radius where they would not beat the scan, queries go to
    the exhaustive kernel. So a small call costs what ``"brute"`` costs (plus, once per k
    or radius, an estimate of well under a millisecond), and in total ``"auto"``
    takes at most about twice the time of the better choice made in hindsight (the
    rent-or-buy bound, up to the cost model's error). The estimates and the tables
    stay on the fitted estimator, and in its pickle, until the next fit. Near
    neighbours (real learned codes, small k) make the tables win; far ones (uniformly
    random codes, large k) make the exhaustive scan win. The choice changes speed and
    memory, never results.

    Examples
    --------
    >>> import numpy as np
    >>> from skhash import HammingNeighbors
    >>> codes = np.array([[1, 1, -1, -1], [1, -1, -1, -1], [-1, -1, 1, 1], [1, 1, -1, 1]])
    >>> index = HammingNeighbors(n_neighbors=2).fit(codes)
    >>> dist, ind = index.kneighbors([[1, 1, -1, -1]])
    >>> dist
    array([[0, 1]], dtype=int32)
    >>> ind
    array([[0, 1]])
    >>> index.radius_neighbors([[1, 1, 1, 1]], radius=2, return_distance=False)[0]
    array([0, 2, 3])
    """

    _parameter_constraints: dict = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "radius": [Interval(Real, 0, None, closed="both")],
        "packed": ["boolean"],
        "n_bits": [Interval(Integral, 1, None, closed="left"), None],
        "normalize": ["boolean"],
        "n_jobs": [Integral, None],
        "algorithm": [StrOptions({"auto", "brute", "mih"})],
        "n_substrings": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        n_neighbors=5,
        radius=2,
        *,
        packed=False,
        n_bits=None,
        normalize=False,
        n_jobs=None,
        algorithm="auto",
        n_substrings=None,
    ):
        self.n_neighbors = n_neighbors
        self.radius = radius
        self.packed = packed
        self.n_bits = n_bits
        self.normalize = normalize
        self.n_jobs = n_jobs
        self.algorithm = algorithm
        self.n_substrings = n_substrings

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    # --- input ------------------------------------------------------------------------

    def _check_n_jobs(self):
        """Refuse ``n_jobs=0`` (in fit, and at query time after ``set_params``)."""
        if self.n_jobs == 0:
            raise ValueError(
                "n_jobs=0 is not a number of jobs; use a positive integer, -1 for every "
                "processor, or None."
            )
        return self.n_jobs

    def _check_query_width(self, X):
        """Refuse queries of the wrong width with a message in bits and bytes."""
        try:
            shape = np.shape(X)
        except ValueError:
            return  # ragged input: validate_data names the problem
        if len(shape) != 2 or shape[1] == self.n_features_in_:
            return
        raise ValueError(
            _query_width_message(
                shape[1],
                packed=self._packed,
                n_bits=self.n_bits_,
                n_features_in=self.n_features_in_,
                estimator="HammingNeighbors",
            )
        )

    def _validate_codes(self, X, *, reset):
        """Validated codes as a 2-D array: uint8 bytes if packed, else numeric/bool."""
        if not reset:
            self._check_query_width(X)
        if self._packed:
            X = validate_data(self, X, reset=reset, dtype=None, ensure_all_finite=True)
            if X.dtype != np.uint8:
                raise ValueError(
                    "With packed=True the codes must be uint8 bytes (as from "
                    f"skhash.pack_codes or numpy.packbits); got dtype {X.dtype}. Pass "
                    "packed=False for unpacked codes."
                )
            return np.ascontiguousarray(X)
        return validate_data(self, X, reset=reset, dtype="numeric", ensure_all_finite=True)

    def _to_words(self, X, *, transpose=False):
        """Validated codes (or a chunk of them) as kernel words."""
        if self._packed:
            return to_words(X, self.n_bits_, transpose=transpose)
        return to_words(np.packbits(X > 0, axis=1), self.n_bits_, transpose=transpose)

    # --- fit --------------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Index the codes ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_bits) or (n_samples, n_bytes)
            Codes, bit = value > 0; or packed uint8 bytes when ``packed=True``.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : HammingNeighbors
            The fitted index.
        """
        with rollback_on_error(self):
            self._check_n_jobs()
            # Queries follow the layout fixed here, whatever set_params changes later.
            self._packed = bool(self.packed)
            self._algorithm = self.algorithm
            X = self._validate_codes(X, reset=True)
            n_cols = X.shape[1]
            if self.packed:
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
            self.n_samples_fit_ = int(X.shape[0])
            self._db_words = self._to_words(X, transpose=True)
            self._mih = None
            self.n_substrings_ = None
            # algorithm="auto": estimated multi-index cost per query, in rows of the
            # exhaustive scan, per ("k", k) or ("radius", bits); and the scan time the
            # tables would have saved so far (see Notes).
            self._auto_cost = {}
            self._auto_saved = 0.0
            self._m = None
            if self.algorithm == "mih" or (
                self.algorithm == "auto" and self.n_samples_fit_ >= _AUTO_MIN_SAMPLES
            ):
                m = self.n_substrings
                if m is None:
                    m = default_n_substrings(n_bits, self.n_samples_fit_)
                substring_layout(n_bits, m, 1)  # a bad n_substrings fails in fit
                self._m = int(m)
                if self.algorithm == "mih":
                    self._build_tables()
        return self

    def _build_tables(self):
        """Build the multi-index tables (at fit for "mih", when they pay off for "auto")."""
        rows = np.ascontiguousarray(self._db_words.T)
        self._mih = MIHIndex(rows, self.n_bits_, self._m)
        self.n_substrings_ = self._m

    def _auto_estimate(self, Q, *, kth=None, radius=None):
        """Mean estimated multi-index cost (rows of the exhaustive scan) of a k-NN search
        of the queries ``Q`` whose k-th distances are ``kth``, or of a radius search."""
        edges, sub_bits, _ = substring_layout(self.n_bits_, self._m, 1)
        if kth is not None:
            radii = knn_radii(kth, sub_bits)
        else:
            radii = np.tile(np.minimum(radius // self._m, sub_bits), (len(Q), 1))
        step = max(1, self.n_samples_fit_ // _SAMPLE_ROWS)
        sample = self._db_words[:, ::step].T
        probes, listed = estimate_work(Q, sample, self.n_samples_fit_, self.n_bits_, edges, radii)
        return float(np.mean(_mih.estimated_cost(probes, listed)))

    def _auto_uses_tables(self, key, n_past, n_ahead):
        """algorithm="auto": whether the tables answer the ``n_ahead`` queries still to
        come in this call for ``key``, ``n_past`` queries of it having been answered by
        the exhaustive kernel. Builds the tables once the scan time they would have
        saved, with this call's, covers their estimated build time (see Notes)."""
        saving = self.n_samples_fit_ - self._auto_cost[key]  # rows per query
        if saving <= 0:
            return False
        if self._mih is not None:
            return True
        self._auto_saved += saving * n_past
        if self._auto_saved + saving * n_ahead >= _BUILD_COST * self._m * self.n_samples_fit_:
            self._build_tables()
            return True
        self._auto_saved += saving * n_ahead
        return False

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
        chunk = get_chunk_n_rows(row_bytes=max(row_bytes, 1), max_n_rows=max(n_q, 1))
        for start in range(0, n_q, chunk):
            yield start, min(start + chunk, n_q)

    def _brute_knn(self, Q, n_neighbors, start, query_is_train):
        """k-NN of a chunk of query words with the exhaustive kernel."""
        return kneighbors_words(
            Q,
            self._db_words,
            n_neighbors,
            self.n_bits_,
            self_offset=start if query_is_train else -1,
            n_jobs=self._check_n_jobs(),
        )

    def _scale(self, dist):
        if self.normalize:
            return dist.astype(np.float64) / self.n_bits_
        return dist

    def _radius_in_bits(self, radius):
        """Largest integer bit count d with scale(d) <= radius (-1 if none)."""
        if radius >= (1 if self.normalize else self.n_bits_):
            return self.n_bits_  # every code; also an infinite radius
        if self.normalize:
            r = int(np.floor(radius * self.n_bits_))
            r = min(max(r, -1), self.n_bits_)
            # Match the float comparison d / n_bits <= radius exactly.
            while r < self.n_bits_ and (r + 1) / self.n_bits_ <= radius:
                r += 1
            while r >= 0 and r / self.n_bits_ > radius:
                r -= 1
            return r
        return int(min(np.floor(radius), self.n_bits_))

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
            Distances, int32 bit counts (float64 fractions with ``normalize=True``),
            increasing along each row. Only returned if ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries, n_neighbors), dtype int64
            Indices of the neighbours in the fitted codes; equal distances in
            increasing index order.
        """
        check_is_fitted(self)
        if n_neighbors is None:
            n_neighbors = self.n_neighbors
        elif not isinstance(n_neighbors, numbers.Integral) or isinstance(n_neighbors, bool):
            raise TypeError(
                f"n_neighbors does not take {type(n_neighbors)} value, enter integer value"
            )
        elif n_neighbors <= 0:
            raise ValueError(f"Expected n_neighbors > 0. Got {n_neighbors}")
        n_neighbors = int(n_neighbors)
        query_is_train = X is None
        limit = self.n_samples_fit_ - 1 if query_is_train else self.n_samples_fit_
        if n_neighbors > limit:
            inequality = "<" if query_is_train else "<="
            raise ValueError(
                f"Expected n_neighbors {inequality} n_samples_fit, but "
                f"n_neighbors = {n_neighbors}, n_samples_fit = {self.n_samples_fit_}."
            )
        # Per query: output (int64 index, int32 distance, float64 if normalized) and
        # the kernel's candidate buffer and histogram.
        row_bytes = n_neighbors * 20 + (2 * n_neighbors + 64) * 12 + (self.n_bits_ + 2) * 8
        X, n_q = self._queries(X)
        dist = np.empty((n_q, n_neighbors), dtype=np.int32)
        ind = np.empty((n_q, n_neighbors), dtype=np.int64)
        use_mih = self._mih is not None and self._algorithm == "mih"
        key = ("k", n_neighbors)
        pilot = np.empty(0, dtype=np.int64)
        if self._algorithm == "auto" and self._m is not None and n_q:
            if key not in self._auto_cost:
                # The first call for this k answers a few pilot queries, spread over
                # the call's queries, exhaustively: their k-th distances give the
                # tables' cost.
                pilot = _spread_rows(n_q, _PILOT_QUERIES)
                Q = self._query_words(X, pilot)
                if query_is_train:
                    for t, row in enumerate(pilot):
                        dist[row], ind[row] = self._brute_knn(Q[t : t + 1], n_neighbors, row, True)
                else:
                    dist[pilot], ind[pilot] = self._brute_knn(Q, n_neighbors, 0, False)
                self._auto_cost[key] = self._auto_estimate(Q, kth=dist[pilot, -1])
            use_mih = self._auto_uses_tables(key, len(pilot), n_q - len(pilot))
        for start, stop in self._chunks(X, n_q, row_bytes):
            Q = self._query_words(X, slice(start, stop))
            # The runs of rows between the pilot queries already answered.
            ends = pilot[(pilot >= start) & (pilot < stop)]
            a = start
            for b in [*ends.tolist(), stop]:
                if b > a:
                    Qr = Q[a - start : b - start]
                    if use_mih:
                        offset = a if query_is_train else -1
                        dist[a:b], ind[a:b] = self._mih.kneighbors(
                            Qr, n_neighbors, self_offset=offset, n_jobs=self._check_n_jobs()
                        )
                    else:
                        dist[a:b], ind[a:b] = self._brute_knn(Qr, n_neighbors, a, query_is_train)
                a = b + 1
        if not return_distance:
            return ind
        return self._scale(dist), ind

    def _radius_csr(self, X, radius, sort_results):
        """Radius search as CSR pieces: (indptr, distances in bits, indices)."""
        check_is_fitted(self)
        if radius is None:
            radius = self.radius
        if not isinstance(radius, Real) or isinstance(radius, bool) or not radius >= 0:
            raise ValueError(
                f"radius must be a non-negative number (a bit count, or a fraction when "
                f"normalize=True); got radius={radius!r}."
            )
        r_bits = self._radius_in_bits(radius)
        query_is_train = X is None
        row_bytes = 16 + 16 * 64
        indptrs, dists, inds = [np.zeros(1, dtype=np.int64)], [], []
        total = 0
        use_mih = self._mih is not None and self._algorithm == "mih"
        decide = self._algorithm == "auto" and self._m is not None and r_bits >= 0
        key = ("radius", r_bits)
        X, n_q = self._queries(X)
        if decide and n_q:
            # The probes of a radius search are known from the radius; the rows they
            # list are estimated on a sample of the database, for a few queries spread
            # over the call's.
            if key not in self._auto_cost:
                pilot = self._query_words(X, _spread_rows(n_q, _PILOT_QUERIES))
                self._auto_cost[key] = self._auto_estimate(pilot, radius=r_bits)
            use_mih = self._auto_uses_tables(key, 0, n_q)
        for start, stop in self._chunks(X, n_q, row_bytes):
            Q = self._query_words(X, slice(start, stop))
            offset = start if query_is_train else -1
            if use_mih:
                offsets, d, i = self._mih.radius_neighbors(
                    Q,
                    r_bits,
                    self_offset=offset,
                    sort_results=sort_results,
                    n_jobs=self._check_n_jobs(),
                )
            else:
                offsets, d, i = radius_neighbors_words(
                    Q,
                    self._db_words,
                    r_bits,
                    self.n_bits_,
                    self_offset=offset,
                    sort_results=sort_results,
                    n_jobs=self._check_n_jobs(),
                )
            indptrs.append(offsets[1:] + total)
            total += offsets[-1]
            dists.append(d)
            inds.append(i)
        return np.concatenate(indptrs), np.concatenate(dists), np.concatenate(inds)

    def radius_neighbors(self, X=None, radius=None, return_distance=True, sort_results=False):
        """Find the fitted codes within Hamming distance ``radius`` of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Query codes, in the fitted input format. If None, the fitted codes query
            the index, each excluding itself.
        radius : float, default=None
            Range: a bit count, or a fraction of ``n_bits_`` with ``normalize=True``;
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
        indptr, dist, ind = self._radius_csr(X, radius, sort_results)
        splits = indptr[1:-1]
        neigh_ind = np.empty(len(indptr) - 1, dtype=object)
        neigh_ind[:] = np.split(ind, splits)
        if not return_distance:
            return neigh_ind
        neigh_dist = np.empty(len(indptr) - 1, dtype=object)
        neigh_dist[:] = np.split(self._scale(dist), splits)
        return neigh_dist, neigh_ind

    def kneighbors_graph(self, X=None, n_neighbors=None, mode="connectivity"):
        """Graph of the k nearest neighbours of each query, as a CSR matrix.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Query codes; None for the fitted codes, each excluding itself.
        n_neighbors : int, default=None
            Number of neighbours per query; ``self.n_neighbors`` if None.
        mode : {"connectivity", "distance"}, default="connectivity"
            "connectivity" puts ones, "distance" the distances.

        Returns
        -------
        A : sparse matrix of shape (n_queries, n_samples_fit)
            CSR; ``A[i, j]`` is set when ``j`` is a neighbour of query ``i``.
        """
        if mode not in ("connectivity", "distance"):
            raise ValueError(
                'Unsupported mode, must be one of "connectivity", or "distance" but got '
                f'"{mode}" instead'
            )
        if n_neighbors is None:
            n_neighbors = self.n_neighbors
        if mode == "connectivity":
            ind = self.kneighbors(X, n_neighbors, return_distance=False)
            data = np.ones(ind.size)
        else:
            data, ind = self.kneighbors(X, n_neighbors, return_distance=True)
            data = np.ravel(data)
        n_queries = ind.shape[0]
        indptr = np.arange(0, n_queries * n_neighbors + 1, n_neighbors)
        return sp.csr_matrix((data, ind.ravel(), indptr), shape=(n_queries, self.n_samples_fit_))

    def radius_neighbors_graph(self, X=None, radius=None, mode="connectivity", sort_results=False):
        """Graph of the neighbours within ``radius`` of each query, as a CSR matrix.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Query codes; None for the fitted codes, each excluding itself.
        radius : float, default=None
            Range (bit count, or fraction with ``normalize=True``); ``self.radius``
            if None.
        mode : {"connectivity", "distance"}, default="connectivity"
            "connectivity" puts ones, "distance" the distances.
        sort_results : bool, default=False
            If True, the entries of each row are sorted by distance (ties by index)
            instead of by index; ignored with ``mode="connectivity"``, as in
            scikit-learn.

        Returns
        -------
        A : sparse matrix of shape (n_queries, n_samples_fit)
            CSR; ``A[i, j]`` is set when ``j`` is within ``radius`` of query ``i``.
        """
        if mode not in ("connectivity", "distance"):
            raise ValueError(
                'Unsupported mode, must be one of "connectivity", or "distance" but got '
                f'"{mode}" instead'
            )
        sort_results = sort_results and mode == "distance"
        indptr, dist, ind = self._radius_csr(X, radius, sort_results)
        data = np.ones(len(ind)) if mode == "connectivity" else self._scale(dist)
        return sp.csr_matrix((data, ind, indptr), shape=(len(indptr) - 1, self.n_samples_fit_))
