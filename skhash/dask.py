"""skhash on Dask: sharded exact Hamming search and block-wise hashing of dask arrays.

This module is optional and imported on its own (``import skhash.dask``); ``import
skhash`` never loads Dask. Install the dependency with ``pip install skhash[dask]``.
"""

import uuid
from numbers import Integral

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_array, check_is_fitted

from ._base import rollback_on_error
from .codes import n_bytes
from .neighbors import HammingNeighbors
from .neighbors._base import (
    HammingNeighborsBase,
    KNeighborsMixin,
    RadiusNeighborsMixin,
    query_width_message,
)

try:
    import dask
    import dask.array as da
    from dask.delayed import delayed
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "skhash.dask needs Dask (dask.array and dask.delayed), which is not installed. "
        "Install it with `pip install skhash[dask]`, or `pip install "
        "'dask[array,distributed]'`."
    ) from exc

__all__ = ["DaskHammingNeighbors", "encode", "transform"]


# --- hashing a dask array -----------------------------------------------------------------


def _as_dask_rows(X, name="X"):
    """``X`` as a 2-D dask array chunked by rows only (one chunk across the columns)."""
    if not isinstance(X, da.Array):
        # In-memory input gets scikit-learn's checks (sparse, object dtype, 1-D, NaN).
        X = da.asarray(check_array(X, dtype="numeric", input_name=name))
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_features); got a dask "
            f"array with {X.ndim} dimension(s) and shape {X.shape}."
        )
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    return X


def _apply_block(block, estimator, method):
    return getattr(estimator, method)(block)


def _map_hasher(hasher, X, method, dtype, n_cols):
    check_is_fitted(hasher)
    X = _as_dask_rows(X)
    # One graph key holds the fitted hasher, so it is serialised once, not per block.
    shipped = delayed(hasher, name=f"skhash-{type(hasher).__name__.lower()}-{uuid.uuid4().hex}")
    return X.map_blocks(
        _apply_block,
        shipped,
        method,
        dtype=dtype,
        chunks=(X.chunks[0], (n_cols,)),
        meta=np.empty((0, 0), dtype=dtype),
        name=f"skhash-{method}-{uuid.uuid4().hex}",
    )


def transform(hasher, X):
    """Codes of a dask array with a fitted hasher, computed block by block.

    Parameters
    ----------
    hasher : fitted skhash hasher
        Any fitted hasher (``WSLHasher``, ``ITQHasher``, ``HashNetHasher``, ...). It is
        shipped once to wherever the blocks are computed (the workers of a
        ``distributed`` cluster, pickled, torch models included).
    X : dask array of shape (n_samples, n_features)
        Features, chunked by rows (column chunks are merged first). Other array-likes
        are wrapped with :func:`dask.array.asarray`.

    Returns
    -------
    codes : dask array of shape (n_samples, n_bits), dtype int8
        Lazy; ``hasher.transform`` of each row block, with the row chunks of ``X``.

    See Also
    --------
    encode : The same codes, bit-packed.

    Examples
    --------
    >>> import dask.array as da
    >>> from sklearn.datasets import load_digits
    >>> from skhash import ITQHasher
    >>> from skhash.dask import transform
    >>> X = load_digits().data
    >>> hasher = ITQHasher(n_bits=16, random_state=0).fit(X)
    >>> codes = transform(hasher, da.from_array(X, chunks=(500, 64)))
    >>> codes.shape, codes.dtype, codes.chunks[0]
    ((1797, 16), dtype('int8'), (500, 500, 500, 297))
    >>> bool((codes.compute() == hasher.transform(X)).all())
    True
    """
    n_bits = len(_feature_names_out(hasher))
    return _map_hasher(hasher, X, "transform", np.int8, n_bits)


def encode(hasher, X):
    """Bit-packed codes of a dask array with a fitted hasher, computed block by block.

    Parameters
    ----------
    hasher : fitted skhash hasher
        Any fitted hasher; see :func:`transform`.
    X : dask array of shape (n_samples, n_features)
        Features, chunked by rows.

    Returns
    -------
    packed : dask array of shape (n_samples, ceil(n_bits / 8)), dtype uint8
        Lazy; ``hasher.encode`` of each row block, ready for
        ``DaskHammingNeighbors(packed=True)``.

    See Also
    --------
    transform : The unpacked {-1, +1} codes.

    Examples
    --------
    >>> import dask.array as da
    >>> from sklearn.datasets import load_digits
    >>> from skhash import ITQHasher
    >>> from skhash.dask import encode
    >>> X = load_digits().data
    >>> hasher = ITQHasher(n_bits=16, random_state=0).fit(X)
    >>> packed = encode(hasher, da.from_array(X, chunks=(500, 64)))
    >>> packed.shape, packed.dtype
    ((1797, 2), dtype('uint8'))
    >>> bool((packed.compute() == hasher.encode(X)).all())
    True
    """
    n_bits = len(_feature_names_out(hasher))
    return _map_hasher(hasher, X, "encode", np.uint8, n_bytes(n_bits))


def _feature_names_out(hasher):
    check_is_fitted(hasher)
    return hasher.get_feature_names_out()


# --- per-shard tasks ------------------------------------------------------------------------
#
# A k-NN candidate (distance d, global index i) travels as the single int64 key
# d * n_samples + i: sorting keys sorts by distance, then by index, which is exactly the
# single-machine order, and merging candidate lists is a sort of their concatenation.


def _fit_shard(block, params):
    if block.shape[0] == 0:
        return None
    return HammingNeighbors(**params).fit(block)


def _shard_info(shard):
    if shard is None:
        return 0, None, None
    return shard.n_samples_fit_, shard.n_bits_, shard.n_features_in_


def _shard_kneighbors(shard, queries, k, offset, n_total):
    """Keys of the k nearest codes of one shard (``queries=None``: the shard itself)."""
    if queries is not None and queries.shape[0] == 0:
        return np.empty((0, k), dtype=np.int64)
    dist, ind = shard.kneighbors(queries, k)
    return dist.astype(np.int64) * n_total + (ind + offset)


def _merge_keys(*parts, k):
    keys = np.concatenate(parts, axis=1)
    if keys.shape[1] > k:
        keys = np.partition(keys, k - 1, axis=1)[:, :k]
    keys.sort(axis=1)
    return keys


def _decode_keys(keys, n_total, scale):
    return scale((keys // n_total).astype(np.int32)), keys % n_total


def _shard_radius(shard, queries, r_bits, offset):
    """Codes within ``r_bits`` bits in one shard, flat: (n_queries, qid, bits, ind)."""
    if queries is not None and queries.shape[0] == 0:
        return 0, np.empty(0, np.int64), np.empty(0, np.int32), np.empty(0, np.int64)
    indptr, dist, ind = shard._radius_csr(queries, r_bits, False)
    n_q = len(indptr) - 1
    qid = np.repeat(np.arange(n_q, dtype=np.int64), np.diff(indptr))
    return n_q, qid, dist, ind + offset


def _concat_radius(*parts):
    n_q = parts[0][0]
    return (n_q, *(np.concatenate([p[j] for p in parts]) for j in (1, 2, 3)))


def _radius_pieces(merged, sort_results, scale):
    """Merged shard results as CSR pieces (indptr, distances, indices)."""
    n_q, qid, dist, ind = merged
    # Global indices are unique, so these orders are total: by index, or by
    # (distance, index) when sorted, exactly as on one machine.
    order = np.lexsort((ind, dist, qid) if sort_results else (ind, qid))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(qid, minlength=n_q))])
    return indptr.astype(np.int64), scale(dist[order]), ind[order]


def _split_radius(pieces):
    indptr, dist, ind = pieces
    neigh_dist = np.empty(len(indptr) - 1, dtype=object)
    neigh_ind = np.empty(len(indptr) - 1, dtype=object)
    neigh_dist[:] = np.split(dist, indptr[1:-1])
    neigh_ind[:] = np.split(ind, indptr[1:-1])
    return neigh_dist, neigh_ind


def _tree(parts, merge, split_every, name, **kwargs):
    """Reduce ``parts`` (delayed) with ``merge`` in groups of ``split_every``, in order."""
    level = 0
    while len(parts) > 1:
        parts = [
            delayed(merge)(*parts[i : i + split_every], dask_key_name=(name, level, i), **kwargs)
            for i in range(0, len(parts), split_every)
        ]
        level += 1
    return parts[0]


# --- the estimator --------------------------------------------------------------------------


class DaskHammingNeighbors(KNeighborsMixin, RadiusNeighborsMixin, HammingNeighborsBase):
    """Exact Hamming k-NN and radius search over a code database sharded by Dask.

    The database is a dask array of codes partitioned by rows; each row block becomes
    one shard, indexed by its own :class:`~skhash.HammingNeighbors` where the block
    lives (on a worker of a ``distributed`` cluster, or in this process with Dask's
    local schedulers). A query is searched in every shard in parallel, and the
    per-shard candidates (distance, global index) are merged by a tree reduction.
    Only queries and k candidates per query and shard travel; the shards stay put.

    The results are identical to ``HammingNeighbors`` fitted on the whole database
    (``dask.array.compute`` of it), distances, indices and the order of ties included,
    and so are the graphs of :meth:`kneighbors_graph` and
    :meth:`radius_neighbors_graph`.

    Read more in :doc:`/scaling`.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours returned by :meth:`kneighbors` by default.
    radius : float, default=2
        Range of :meth:`radius_neighbors` by default: a number of differing bits, or a
        fraction of ``n_bits_`` with ``metric="hamming"``.
    algorithm : {"auto", "brute", "mih"}, default="auto"
        Search algorithm of every shard's :class:`~skhash.HammingNeighbors`
        (exhaustive kernel or multi-index hashing); all give the same results.
    leaf_size : int, default=30
        Accepted for compatibility with ``NearestNeighbors``; changes nothing.
    metric : {"bitcount", "hamming"}, default="bitcount"
        ``"bitcount"``: distances (and ``radius``) are numbers of differing bits.
        ``"hamming"``: scikit-learn's ``metric="hamming"``, fractions of the bits.
    p : float, default=2
        Accepted for compatibility with ``NearestNeighbors``; changes nothing.
    metric_params : None
        Must be None (or empty).
    n_jobs : int, default=None
        Threads of each shard's search kernel. None means 1, the usual choice when
        Dask already runs one task per core.
    packed : bool, default=False
        If True, the codes are packed uint8 bytes (as from a hasher's ``encode`` or
        :func:`encode`); otherwise any numeric codes with bit = value > 0. As in
        :class:`~skhash.HammingNeighbors`.
    n_bits : int, default=None
        With ``packed=True``, the code length when it is not ``8 * n_bytes``.
    n_substrings : int, default=None
        Substrings per code for multi-index hashing in each shard; None lets each
        shard choose from its size, as :class:`~skhash.HammingNeighbors` does.
    normalize : bool
        Deprecated: ``normalize=True`` is ``metric="hamming"``.
    split_every : int, default=8
        Fan-in of the tree reduction that merges per-shard candidates: each merge
        task combines up to this many candidate lists.

    Attributes
    ----------
    effective_metric_ : {"bitcount", "hamming"}
        The metric the queries use, fixed at fit.
    n_bits_ : int
        Number of bits per code.
    n_samples_fit_ : int
        Number of codes in the database, over all shards.
    n_features_in_ : int
        Number of columns of the fitted codes (bits, or bytes when ``packed=True``).
    n_shards_ : int
        Number of shards, one per row block of the fitted dask array.
    shard_offsets_ : ndarray of shape (n_shards + 1,), dtype int64
        Shard ``s`` holds the database rows ``shard_offsets_[s]`` to
        ``shard_offsets_[s + 1] - 1``.
    shards_ : tuple of dask.delayed.Delayed
        The persisted per-shard ``HammingNeighbors`` (None for an empty block); with a
        ``distributed`` client they live in the workers' memory.

    See Also
    --------
    skhash.HammingNeighbors : The single-machine index each shard uses.
    encode : Hash a dask array of features into packed codes for this index.

    Notes
    -----
    Exactness. Each shard returns its ``min(k, shard size)`` nearest codes ordered by
    (distance, index). The k nearest of the whole database under that total order are
    among the union of these lists, and a merge keeps the k smallest pairs; since the
    order is total the merge is associative, so any reduction tree gives the
    single-machine answer, ties included. Radius search concatenates the per-shard
    lists and orders them by index (or by distance, then index, with
    ``sort_results=True``). The shards count bits; distances become fractions
    (``metric="hamming"``) after the merge, with the single-machine formula.

    Laziness. :meth:`fit` builds and persists the shard indexes (with the active Dask
    scheduler: a ``distributed.Client`` if one exists) and waits for them, so invalid
    codes fail in ``fit``. Queries given as a dask array, or ``X=None`` (the database
    querying itself, each code excluding itself), give lazy dask arrays chunked like
    the queries; queries given as an in-memory array give computed NumPy arrays.

    Memory. Every shard stores its codes as :class:`~skhash.HammingNeighbors` does,
    ``ceil(n_bits / 64) * 8`` bytes per code, plus its multi-index tables when it
    uses them (``algorithm="mih"``, or ``"auto"`` on large shards). ``X=None`` reads
    the fitted dask array again for the queries: persist it first if it is expensive
    to compute.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> from skhash import HammingNeighbors
    >>> from skhash.dask import DaskHammingNeighbors
    >>> rng = np.random.default_rng(0)
    >>> codes = rng.integers(0, 2, size=(1000, 32))
    >>> db = da.from_array(codes, chunks=(300, 32))
    >>> index = DaskHammingNeighbors(n_neighbors=3).fit(db)
    >>> index.n_shards_, index.shard_offsets_
    (4, array([   0,  300,  600,  900, 1000]))
    >>> dist, ind = index.kneighbors(codes[:2])
    >>> ref_dist, ref_ind = HammingNeighbors(n_neighbors=3).fit(codes).kneighbors(codes[:2])
    >>> bool((dist == ref_dist).all() and (ind == ref_ind).all())
    True
    """

    _parameter_constraints: dict = {
        **HammingNeighborsBase._parameter_constraints,
        "split_every": [Interval(Integral, 2, None, closed="left")],
    }

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
        split_every=8,
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
        self.split_every = split_every

    # --- fit --------------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Build one ``HammingNeighbors`` per row block of ``X`` and persist them.

        Parameters
        ----------
        X : dask array of shape (n_samples, n_bits) or (n_samples, n_bytes)
            Codes partitioned by rows (column chunks are merged); bit = value > 0, or
            packed uint8 bytes when ``packed=True``. Other array-likes are wrapped
            with :func:`dask.array.asarray` (Dask's automatic row chunks). Row
            blocks of unknown size (``nan`` chunks) are fine.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : DaskHammingNeighbors
            The fitted index.
        """
        with rollback_on_error(self):
            self._fit_params()
            self._check_dense(X)
            X = _as_dask_rows(X)
            if self._packed and X.dtype != np.uint8:
                raise ValueError(
                    "With packed=True the codes must be uint8 bytes (as from "
                    f"skhash.dask.encode or numpy.packbits); got dtype {X.dtype}. Pass "
                    "packed=False for unpacked codes."
                )
            params = {
                "packed": self._packed,
                "n_bits": self.n_bits,
                "n_jobs": self.n_jobs,
                "algorithm": self._algorithm,
                "n_substrings": self.n_substrings,
            }
            token = uuid.uuid4().hex
            blocks = X.to_delayed()[:, 0]
            shards = [
                delayed(_fit_shard)(b, params, dask_key_name=(f"skhash-shard-{token}", s))
                for s, b in enumerate(blocks)
            ]
            shards = dask.persist(*shards)
            infos = dask.compute(*[delayed(_shard_info)(s) for s in shards])
            sizes = np.array([info[0] for info in infos], dtype=np.int64)
            fitted = [info for info in infos if info[0] > 0]
            if not fitted:
                raise ValueError(
                    f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of "
                    "1 is required by DaskHammingNeighbors."
                )
            if (int(fitted[0][1]) + 1) * int(sizes.sum()) >= 2**63:
                raise ValueError(
                    f"{int(sizes.sum())} codes of {fitted[0][1]} bits exceed the int64 keys "
                    "of the candidate merge; split the database into several indexes."
                )
            self.n_bits_ = int(fitted[0][1])
            self.n_features_in_ = int(fitted[0][2])
            self.n_samples_fit_ = int(sizes.sum())
            self.n_shards_ = len(shards)
            self.shard_offsets_ = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
            self.shards_ = tuple(None if n == 0 else s for s, n in zip(shards, sizes, strict=True))
            self._fit_codes = X
        return self

    # --- queries ----------------------------------------------------------------------

    def _query_blocks(self, X):
        """(lazy, [(delayed query block or None, index of the shard it is, n_rows)])."""
        if X is None:
            sizes = np.diff(self.shard_offsets_)
            blocks = self._fit_codes.to_delayed()[:, 0]
            return True, [
                (b, s, int(n)) for s, (b, n) in enumerate(zip(blocks, sizes, strict=True))
            ]
        if not isinstance(X, da.Array):
            X = self._validate_codes(X, reset=False)
            return False, [(delayed(X), None, X.shape[0])]
        X = _as_dask_rows(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                query_width_message(
                    X.shape[1],
                    packed=self._packed,
                    n_bits=self.n_bits_,
                    n_features_in=self.n_features_in_,
                    estimator="DaskHammingNeighbors",
                )
            )
        if self._packed and X.dtype != np.uint8:
            raise ValueError(
                f"With packed=True the query codes must be uint8 bytes; got dtype {X.dtype}."
            )
        blocks = X.to_delayed()[:, 0]
        return True, [(b, None, n) for b, n in zip(blocks, X.chunks[0], strict=True)]

    def _split_every(self):
        """``split_every``, checked at query time (it may have been set after fit)."""
        if not isinstance(self.split_every, Integral) or self.split_every < 2:
            raise ValueError(
                f"split_every must be an integer >= 2 (the fan-in of the merge), got "
                f"split_every={self.split_every!r}."
            )
        return int(self.split_every)

    def _shards_for(self, own):
        """(shard, n_codes, offset, is the query block itself) for every non-empty shard."""
        for s, shard in enumerate(self.shards_):
            if shard is not None:
                n = int(self.shard_offsets_[s + 1] - self.shard_offsets_[s])
                yield shard, n, int(self.shard_offsets_[s]), s == own

    @staticmethod
    def _assemble(lazy, pieces, sizes, dtype, width):
        """Per-query-block delayed arrays as one dask array, or the computed array."""
        if not lazy:
            return pieces[0].compute()
        cols = () if width is None else (width,)
        return da.concatenate(
            [
                da.from_delayed(p, shape=(n, *cols), dtype=dtype)
                for p, n in zip(pieces, sizes, strict=True)
            ]
        )

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Find the k nearest neighbours of each query code, over all shards.

        Parameters
        ----------
        X : array-like or dask array of shape (n_queries, n_features), default=None
            Query codes in the fitted format. A dask array (or None: the fitted codes,
            each excluding itself) gives lazy results chunked like the queries; an
            in-memory array gives NumPy arrays.
        n_neighbors : int, default=None
            Number of neighbours; ``self.n_neighbors`` if None. May exceed the size
            of any one shard.
        return_distance : bool, default=True
            Whether to return the distances.

        Returns
        -------
        neigh_dist : ndarray or dask array of shape (n_queries, n_neighbors)
            Distances, int32 bit counts (float64 fractions with ``metric="hamming"``),
            increasing along each row. Only returned if ``return_distance=True``.
        neigh_ind : ndarray or dask array of shape (n_queries, n_neighbors)
            Global database indices (int64); equal distances in increasing index order.
        """
        check_is_fitted(self)
        k = self._check_n_neighbors(n_neighbors, X is None)
        split_every = self._split_every()
        lazy, qblocks = self._query_blocks(X)
        n_total = self.n_samples_fit_
        token = uuid.uuid4().hex
        dists, inds, sizes = [], [], []
        for b, (qb, own, n_rows) in enumerate(qblocks):
            parts = []
            for shard, n_codes, offset, is_own in self._shards_for(own):
                k_s = min(k, n_codes - 1 if is_own else n_codes)
                if k_s == 0:
                    continue
                parts.append(
                    delayed(_shard_kneighbors)(
                        shard,
                        None if is_own else qb,
                        k_s,
                        offset,
                        n_total,
                        dask_key_name=(f"skhash-knn-shard-{token}", b, offset),
                    )
                )
            keys = _tree(parts, _merge_keys, split_every, f"skhash-knn-merge-{token}-{b}", k=k)
            out = delayed(_decode_keys, nout=2)(
                keys, n_total, self._scale, dask_key_name=(f"skhash-knn-{token}", b)
            )
            dists.append(out[0])
            inds.append(out[1])
            sizes.append(n_rows)
        if not lazy and return_distance:
            dist, ind = dask.compute(dists[0], inds[0])
            return dist, ind
        ind = self._assemble(lazy, inds, sizes, np.int64, k)
        if not return_distance:
            return ind
        dist_dtype = np.float64 if self.effective_metric_ == "hamming" else np.int32
        return self._assemble(lazy, dists, sizes, dist_dtype, k), ind

    def _computed_kneighbors(self, X, n_neighbors):
        """kneighbors, computed in one pass (distances and indices together)."""
        dist, ind = self.kneighbors(X, n_neighbors)
        return dask.compute(dist, ind) if isinstance(ind, da.Array) else (dist, ind)

    def _radius_blocks(self, X, r_bits, sort_results):
        """(lazy, delayed CSR pieces per query block, rows per query block)."""
        split_every = self._split_every()
        lazy, qblocks = self._query_blocks(X)
        token = uuid.uuid4().hex
        pieces, sizes = [], []
        for b, (qb, own, n_rows) in enumerate(qblocks):
            parts = [
                delayed(_shard_radius)(
                    shard,
                    None if is_own else qb,
                    r_bits,
                    offset,
                    dask_key_name=(f"skhash-radius-shard-{token}", b, offset),
                )
                for shard, _, offset, is_own in self._shards_for(own)
            ]
            merged = _tree(parts, _concat_radius, split_every, f"skhash-radius-merge-{token}-{b}")
            pieces.append(
                delayed(_radius_pieces)(
                    merged, sort_results, self._scale, dask_key_name=(f"skhash-radius-{token}", b)
                )
            )
            sizes.append(n_rows)
        return lazy, pieces, sizes

    def _radius_csr(self, X, r_bits, sort_results):
        """Radius search, computed, as CSR pieces over all query blocks."""
        _, pieces, _ = self._radius_blocks(X, r_bits, sort_results)
        pieces = dask.compute(*pieces)
        indptr, total = [np.zeros(1, dtype=np.int64)], 0
        for p in pieces:
            indptr.append(p[0][1:] + total)
            total += p[0][-1]
        return (
            np.concatenate(indptr),
            np.concatenate([p[1] for p in pieces]),
            np.concatenate([p[2] for p in pieces]),
        )

    def radius_neighbors(self, X=None, radius=None, return_distance=True, sort_results=False):
        """Find the codes within Hamming distance ``radius`` of each query, over all shards.

        Parameters
        ----------
        X : array-like or dask array of shape (n_queries, n_features), default=None
            Query codes; see :meth:`kneighbors` for lazy and computed results.
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
        neigh_dist : ndarray or dask array of shape (n_queries,), dtype object
            One array of distances per query. Only returned if
            ``return_distance=True``.
        neigh_ind : ndarray or dask array of shape (n_queries,), dtype object
            One int64 array of global indices per query.
        """
        if sort_results and not return_distance:
            raise ValueError("return_distance must be True if sort_results is True.")
        check_is_fitted(self)
        r_bits = self._radius_in_bits(radius)
        lazy, pieces, sizes = self._radius_blocks(X, r_bits, sort_results)
        if not lazy:
            neigh_dist, neigh_ind = _split_radius(pieces[0].compute())
            return (neigh_dist, neigh_ind) if return_distance else neigh_ind
        splits = [delayed(_split_radius, nout=2)(p) for p in pieces]
        ind = self._assemble(lazy, [s[1] for s in splits], sizes, object, None)
        if not return_distance:
            return ind
        return self._assemble(lazy, [s[0] for s in splits], sizes, object, None), ind
