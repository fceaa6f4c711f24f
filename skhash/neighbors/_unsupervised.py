"""HammingNeighbors: sklearn's NearestNeighbors for binary codes, on packed words."""

from sklearn.base import _fit_context

from .._base import rollback_on_error
from ._base import HammingNeighborsBase, KNeighborsMixin, RadiusNeighborsMixin

__all__ = ["HammingNeighbors"]


class HammingNeighbors(KNeighborsMixin, RadiusNeighborsMixin, HammingNeighborsBase):
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
        fraction of ``n_bits_`` with ``metric="hamming"``. Neighbours at distance
        ``<= radius`` are returned.
    algorithm : {"auto", "brute", "mih"}, default="auto"
        ``"brute"``: the exhaustive kernel. ``"mih"``: multi-index hashing (Norouzi et
        al.), exact and sub-linear on codes whose neighbours are close, with hash
        tables built at fit. ``"auto"``: the exhaustive kernel, and from 100,000
        codes up, tables built by a query call once the queries show that they pay for
        their build time (see Notes). All three return identical results.
        scikit-learn's ``"ball_tree"`` and ``"kd_tree"`` are refused.
    leaf_size : int, default=30
        Accepted for compatibility with ``NearestNeighbors``; no tree is built, so it
        changes nothing.
    metric : {"bitcount", "hamming"}, default="bitcount"
        ``"bitcount"``: distances are integer numbers of differing bits (int32) and
        ``radius`` is a bit count. ``"hamming"``: scikit-learn's ``metric="hamming"``,
        the fraction of differing bits (float64), ``radius`` a fraction too.
    p : float, default=2
        Accepted for compatibility with ``NearestNeighbors``, where it only applies to
        the Minkowski metric; changes nothing.
    metric_params : None
        Must be None (or empty): the Hamming distance here takes no parameters.
    n_jobs : int, default=None
        Threads of the search kernel, parallel over queries. None means 1 unless in a
        :func:`joblib.parallel_config` context; -1 means all processors.
    packed : bool, default=False
        If False, codes are any numeric or boolean array of shape (n_samples, n_bits)
        and a bit is set where the value is > 0 ({-1, +1}, {0, 1}, booleans and the
        sign of a real embedding all work). If True, codes are already packed: uint8
        of shape (n_samples, ceil(n_bits / 8)) in :func:`numpy.packbits` order, as
        returned by a hasher's ``encode`` or :func:`skhash.pack_codes`.
    n_bits : int, default=None
        With ``packed=True``, the code length when it is not ``8 * n_bytes``: the
        padding bits of the last byte are then ignored and ``metric="hamming"``
        divides by ``n_bits``. None means ``8 * n_bytes`` (packed) or the number of
        columns.
    n_substrings : int, default=None
        Number m of substrings (hash tables) of multi-index hashing, each of about
        ``n_bits / m`` bits (at most 24). None: ``n_bits / (log2(n_samples) - 8)``,
        rounded, with substrings of 8 to 24 bits (see Notes).
    normalize : bool
        Deprecated: ``normalize=True`` is ``metric="hamming"``, ``normalize=False``
        is ``metric="bitcount"``.

    Attributes
    ----------
    effective_metric_ : {"bitcount", "hamming"}
        The metric the queries use, fixed at fit.
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
    HammingKNeighborsTransformer : The k-NN graph as a Pipeline step.
    HammingRadiusNeighborsTransformer : The radius graph as a Pipeline step.
    skhash.pack_codes : Pack codes for ``packed=True``.

    Notes
    -----
    Drop-in. The constructor takes ``NearestNeighbors``' parameters, so that changing
    the class name of ``NearestNeighbors(..., metric="hamming")`` changes no result.
    ``leaf_size`` and ``p`` change nothing (no tree; ``p`` only applies to the
    Minkowski metric) and are accepted; a tree ``algorithm``, ``metric_params`` and
    sparse input are refused with a ValueError. The default metric counts bits,
    which is what radius searches on codes speak in; a radius strictly between 0 and
    1 with bit counts is refused, as it can only be a fraction meant for
    ``metric="hamming"`` (see :doc:`/migrating`).

    Ties. Equal distances are always ordered by database index, in
    :meth:`kneighbors` and in :meth:`radius_neighbors` with ``sort_results=True``,
    whatever ``n_jobs``. scikit-learn leaves the order within ties unspecified, so on
    0/1 data ``metric="hamming"`` gives exactly scikit-learn's distances, and the same
    indices wherever no tie straddles the k-th neighbour or reorders a list.

    ``X=None`` queries the fitted codes with each excluding itself, as scikit-learn
    does: the k nearest among the other rows, so an exact duplicate of a row is
    still its neighbour at distance 0.

    Memory. The index holds each code in the smallest unsigned words that hold it:
    one uint8, uint16 or uint32 word up to 8, 16 or 32 bits (1, 2 or 4 bytes per
    code; 17 to 24 bits are padded to 4), beyond that ``ceil(n_bits / 64)`` uint64
    words (``8 * ceil(n_bits / 64)`` bytes: n_bits / 8 for multiples of 64, 40-bit
    codes take 8). numba compiles the kernels once per word type (cached on disk;
    the first search with a new type compiles for seconds). The words are stored
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
    as checking ~150 listed codes, so shorter substrings are faster.
    The keys within substring radius r number C(s, r), so far neighbours on long
    substrings could need millions of probes per query. The buckets each
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
    code and table, above what was measured). Until
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

    scikit-learn's ``metric="hamming"`` gives fractions of the bits:

    >>> index = HammingNeighbors(n_neighbors=2, metric="hamming").fit(codes)
    >>> index.kneighbors([[1, 1, -1, -1]])[0]
    array([[0.  , 0.25]])
    """

    def __init__(
        self,
        n_neighbors=5,
        radius=2,
        *,
        algorithm="auto",
        leaf_size=30,
        metric="bitcount",
        p=2,
        metric_params=None,
        n_jobs=None,
        packed=False,
        n_bits=None,
        n_substrings=None,
        normalize="deprecated",
    ):
        self.n_neighbors = n_neighbors
        self.radius = radius
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.metric = metric
        self.p = p
        self.metric_params = metric_params
        self.n_jobs = n_jobs
        self.packed = packed
        self.n_bits = n_bits
        self.n_substrings = n_substrings
        self.normalize = normalize

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
            self._fit_index(X)
        return self
