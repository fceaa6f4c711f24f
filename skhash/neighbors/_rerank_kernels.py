"""numba kernels for exact re-ranking: distances in the original metric from the stored
float32 vectors, fused with the top-k selection, parallel over queries.

Metrics are coded as integers: ``EUCLIDEAN`` (the kernels keep squared distances and
take the square root of the k kept), ``COSINE`` (``1 - <q, x> / (|q| |x|)``, the query
normalised beforehand and the database's inverse norms precomputed; a zero vector has
cosine similarity 0 with everything, as in scikit-learn) and ``DOT`` (the negated inner
product, so that smaller is nearer). Sums are accumulated in float32, in the order the
compiler vectorises them.

Selection. Each query keeps its k best (distance, index) pairs sorted in two small
arrays; a candidate enters only if it beats the k-th, and is inserted in place. Equal
distances are ordered by database index whatever order the candidates come in.
"""

import numpy as np
from numba import prange

from .._numba import Threads, jit, parallel_jit

__all__ = [
    "COSINE",
    "DOT",
    "EUCLIDEAN",
    "candidate_distances",
    "exact_kneighbors",
    "rerank_kneighbors",
]

EUCLIDEAN, COSINE, DOT = 0, 1, 2


@jit(fastmath=True)
def _distance(X, inv_norm, j, q, metric):
    """Distance of the stored row ``j`` to the prepared query ``q`` (squared for
    euclidean)."""
    s = np.float32(0.0)
    if metric == EUCLIDEAN:
        for t in range(q.shape[0]):
            diff = X[j, t] - q[t]
            s += diff * diff
        return s
    for t in range(q.shape[0]):
        s += X[j, t] * q[t]
    if metric == COSINE:
        return np.float32(1.0) - s * inv_norm[j]
    return -s


@jit
def _push(best_d, best_i, m, d, j):
    """Insert (d, j) in the sorted top list of ``m`` entries (capacity ``len(best_d)``)
    if it belongs there; return the new number of entries."""
    k = best_d.shape[0]
    if m == k:
        last = k - 1
        if d > best_d[last] or (d == best_d[last] and j > best_i[last]):
            return m
        pos = last
    else:
        pos = m
        m += 1
    while pos > 0 and (best_d[pos - 1] > d or (best_d[pos - 1] == d and best_i[pos - 1] > j)):
        best_d[pos] = best_d[pos - 1]
        best_i[pos] = best_i[pos - 1]
        pos -= 1
    best_d[pos] = d
    best_i[pos] = j
    return m


@jit
def _finish(best_d, metric):
    if metric == EUCLIDEAN:
        for t in range(best_d.shape[0]):
            best_d[t] = np.sqrt(max(best_d[t], np.float32(0.0)))


@parallel_jit(fastmath=True)
def _rerank_kernel(X, inv_norm, Q, cand, k, metric):
    n_q, c = cand.shape
    dist = np.empty((n_q, k), dtype=np.float32)
    ind = np.empty((n_q, k), dtype=np.int64)
    for i in prange(n_q):
        best_d = dist[i]
        best_i = ind[i]
        q = Q[i]
        m = 0
        for t in range(c):
            j = cand[i, t]
            m = _push(best_d, best_i, m, _distance(X, inv_norm, j, q, metric), j)
        _finish(best_d, metric)
    return dist, ind


@parallel_jit(fastmath=True)
def _exact_kernel(X, inv_norm, Q, k, metric, self_offset):
    n_q = Q.shape[0]
    n = X.shape[0]
    dist = np.empty((n_q, k), dtype=np.float32)
    ind = np.empty((n_q, k), dtype=np.int64)
    for i in prange(n_q):
        best_d = dist[i]
        best_i = ind[i]
        q = Q[i]
        skip = self_offset + i if self_offset >= 0 else -1
        m = 0
        for j in range(n):
            if j != skip:
                m = _push(best_d, best_i, m, _distance(X, inv_norm, j, q, metric), j)
        _finish(best_d, metric)
    return dist, ind


@parallel_jit(fastmath=True)
def _distances_kernel(X, inv_norm, Q, cand, metric):
    n_q, c = cand.shape
    out = np.empty((n_q, c), dtype=np.float32)
    for i in prange(n_q):
        q = Q[i]
        for t in range(c):
            d = _distance(X, inv_norm, cand[i, t], q, metric)
            if metric == EUCLIDEAN:
                d = np.sqrt(max(d, np.float32(0.0)))
            out[i, t] = d
    return out


def rerank_kneighbors(X, inv_norm, Q, cand, k, metric, *, n_jobs=None):
    """The ``k`` nearest of each query's candidates, exactly in ``metric``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), dtype float32, C-contiguous
        Stored vectors.
    inv_norm : ndarray of shape (n_samples,), dtype float32
        Inverse norms of the rows of ``X`` (0 for a zero row); read for cosine only.
    Q : ndarray of shape (n_queries, n_features), dtype float32
        Queries, normalised for cosine.
    cand : ndarray of shape (n_queries, n_candidates), dtype int64
        Distinct candidate rows of each query, ``n_candidates >= k``.
    k : int
        Number of neighbours kept.
    metric : int
        ``EUCLIDEAN``, ``COSINE`` or ``DOT``.
    n_jobs : int, default=None
        Threads (joblib's convention: None means 1, -1 all cores).

    Returns
    -------
    dist : ndarray of shape (n_queries, k), dtype float32
    ind : ndarray of shape (n_queries, k), dtype int64
        Ties by index.
    """
    with Threads(n_jobs):
        return _rerank_kernel(X, inv_norm, Q, cand, k, metric)


def exact_kneighbors(X, inv_norm, Q, k, metric, *, self_offset=-1, n_jobs=None):
    """The ``k`` nearest rows of ``X`` to each query, exhaustively, as
    :func:`rerank_kneighbors` over every row; with ``self_offset >= 0`` query ``i`` is
    the stored row ``self_offset + i`` and excludes it."""
    with Threads(n_jobs):
        return _exact_kernel(X, inv_norm, Q, k, metric, self_offset)


def candidate_distances(X, inv_norm, Q, cand, metric, *, n_jobs=None):
    """Distances in ``metric`` from each query to each of its candidates, shape of
    ``cand``, float32."""
    with Threads(n_jobs):
        return _distances_kernel(X, inv_norm, Q, cand, metric)
