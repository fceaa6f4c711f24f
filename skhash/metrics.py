"""Retrieval metrics for binary codes: mAP@k, precision@N, Hamming-ball precision, PR curves.

Every function ranks a database by Hamming distance to each query and scores the ranking
against labels: a database item is *relevant* to a query when the two share at least one
label (1-D class labels: the same class; 2-D 0/1 indicator matrices: a common column).
Labels are checked as the supervised hashers check them: class labels are numbers or
strings compared as values of one type, so a string ``"1"`` never matches a number ``1``.

The work is done a chunk of queries at a time, so the memory used never grows with
``n_queries * n_database`` and the metrics scale to large databases. A chunk holds, per
query and database item, an int32 distance and a bool relevance (5 bytes), and as many
queries as fit in scikit-learn's ``working_memory``; besides the chunk, the database's
codes and labels are held once as kernel words. Within one chunk all statistics come
from two histograms per query, "items at distance d" and "relevant items at distance d"
(counted by a numba kernel, no temporary per item), so no ranking is ever sorted.
Distances, relevance, histograms and index-order AP run on ``n_jobs`` threads, in
parallel over queries; the results do not depend on ``n_jobs``.
"""

import numbers

import numpy as np
import scipy.sparse as sp
from numba import prange
from sklearn.utils import gen_batches

from ._base import chunk_rows
from ._numba import Threads, parallel_jit
from ._supervision import check_labels, encode_class_labels
from .codes import check_codes, check_packed
from .neighbors._kernels import _blocking, _distance_matrix_kernel, _wide, to_words

__all__ = [
    "mean_average_precision",
    "precision_at_k",
    "precision_recall_within_radius",
    "precision_recall_curve",
]

_TIES = ("index", "average")


# ---------------------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------------------


def _as_packed(codes, name, packed):
    """Validate codes and return (packed uint8 codes, n_bits)."""
    if packed:
        arr = check_packed(codes, name=name)
        return arr, arr.shape[1] * 8
    bits = check_codes(codes, name=name)
    return np.ascontiguousarray(np.packbits(bits, axis=1)), bits.shape[1]


def _as_label_arrays(y_query, y_db):
    """Encode query and database labels on a common vocabulary.

    Returns ``(q, d, multilabel)``: int64 class indices for 1-D labels, CSR 0/1 indicator
    matrices for multi-label input.
    """
    # The hashers' label checks (skhash._supervision), so that labels a hasher accepts
    # score the same way here; they refuse None and other than 1-D or 2-D labels.
    qs, ds = sp.issparse(y_query), sp.issparse(y_db)
    q = y_query if qs else np.asarray(y_query)
    d = y_db if ds else np.asarray(y_db)
    q_ndim = 2 if qs else (1 if q.ndim == 2 and q.shape[1] == 1 else q.ndim)
    d_ndim = 2 if ds else (1 if d.ndim == 2 and d.shape[1] == 1 else d.ndim)
    for y, ndim, name in ((y_query, q_ndim, "query_labels"), (y_db, d_ndim, "db_labels")):
        if ndim not in (1, 2):
            check_labels(y, name=name)
    if q_ndim != d_ndim:
        raise ValueError(
            "query and database labels must both be 1-D class labels or both be 2-D "
            f"indicator matrices; got shapes {q.shape} and {d.shape}."
        )
    if q_ndim == 1:
        _, (q, d) = encode_class_labels(
            q.reshape(-1), d.reshape(-1), names=("query_labels", "db_labels")
        )
        return q, d, False
    out = [check_labels(q, name="query_labels")[0], check_labels(d, name="db_labels")[0]]
    if out[0].shape[1] != out[1].shape[1]:
        raise ValueError(
            f"query labels have {out[0].shape[1]} columns but database labels have "
            f"{out[1].shape[1]}; indicator matrices must share their label columns."
        )
    return out[0], out[1], True


def _check_k(k, name="k"):
    if k is None:
        return None
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
        raise ValueError(f"{name} must be a positive integer or None; got {name}={k!r}.")
    return int(k)


def _prepare(query_codes, query_labels, db_codes, db_labels, packed):
    """Validate everything; ``db_codes=None`` means leave-one-out among the queries."""
    leave_one_out = db_codes is None
    if leave_one_out != (db_labels is None):
        raise ValueError(
            "pass db_codes and db_labels together, or neither (leave-one-out among the queries)."
        )
    Q, n_bits = _as_packed(query_codes, "query_codes", packed)
    if leave_one_out:
        D, n_bits_db = Q, n_bits
        db_labels = query_labels
        if Q.shape[0] < 2:
            raise ValueError(f"leave-one-out retrieval needs at least 2 samples; got {Q.shape[0]}.")
    else:
        D, n_bits_db = _as_packed(db_codes, "db_codes", packed)
    if n_bits_db != n_bits:
        raise ValueError(
            f"query codes have {n_bits} bits but database codes have {n_bits_db}; "
            "they must come from the same hasher."
        )
    yq, yd, multilabel = _as_label_arrays(query_labels, db_labels)
    if yq.shape[0] != Q.shape[0]:
        raise ValueError(f"query_labels has {yq.shape[0]} rows but query_codes has {Q.shape[0]}.")
    if yd.shape[0] != D.shape[0]:
        raise ValueError(f"db_labels has {yd.shape[0]} rows but db_codes has {D.shape[0]}.")
    return Q, D, n_bits, yq, yd, multilabel, leave_one_out


# ---------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------


def _label_words(M):
    """Rows of a CSR 0/1 label matrix as bitsets of uint64 words, (n, ceil(n_labels / 64))."""
    n, n_labels = M.shape
    words = np.zeros((n, max(1, -(-n_labels // 64))), dtype=np.uint64)
    rows = np.repeat(np.arange(n), np.diff(M.indptr))
    cols = M.indices.astype(np.int64)
    np.bitwise_or.at(
        words, (rows, cols // 64), np.left_shift(np.uint64(1), (cols % 64).astype(np.uint64))
    )
    return words


@parallel_jit
def _shared_label_kernel(Lq, Ld, out):
    """out[i, j] = whether query i and database item j share a label (bitset AND)."""
    for i in prange(Lq.shape[0]):
        for j in range(Ld.shape[0]):
            hit = False
            for w in range(Lq.shape[1]):
                if Lq[i, w] & Ld[j, w]:
                    hit = True
                    break
            out[i, j] = hit


@parallel_jit
def _same_class_kernel(yq, yd, out):
    for i in prange(yq.shape[0]):
        for j in range(yd.shape[0]):
            out[i, j] = yq[i] == yd[j]


@parallel_jit
def _histogram_kernel(dist, rel, tot, relcnt):
    """tot[i, d] / relcnt[i, d]: items / relevant items at distance d of query i
    (distances >= tot.shape[1] are not counted: the query itself in leave-one-out)."""
    n_levels = tot.shape[1]
    for i in prange(dist.shape[0]):
        for d in range(n_levels):
            tot[i, d] = 0
            relcnt[i, d] = 0
        for j in range(dist.shape[1]):
            d = dist[i, j]
            if d < n_levels:
                tot[i, d] += 1
                relcnt[i, d] += rel[i, j]


@parallel_jit
def _index_order_ap(dist, rel, n_levels, k, tot, relcnt):
    """AP@k of each row when ties are broken by database index (items with a distance
    of ``n_levels`` or more are excluded: the query itself in leave-one-out)."""
    n_q, n_db = dist.shape
    out = np.zeros(n_q)
    for i in prange(n_q):
        start_tot = np.empty(n_levels, dtype=np.int64)
        start_rel = np.empty(n_levels, dtype=np.int64)
        seen_tot = np.zeros(n_levels, dtype=np.int64)
        seen_rel = np.zeros(n_levels, dtype=np.int64)
        acc_t = 0
        acc_r = 0
        for d in range(n_levels):
            start_tot[d] = acc_t
            start_rel[d] = acc_r
            acc_t += tot[i, d]
            acc_r += relcnt[i, d]
        s = 0.0
        r_k = 0
        for j in range(n_db):
            d = dist[i, j]
            if d >= n_levels:
                continue
            pos = start_tot[d] + seen_tot[d] + 1
            seen_tot[d] += 1
            if rel[i, j]:
                hits = start_rel[d] + seen_rel[d] + 1
                seen_rel[d] += 1
                if pos <= k:
                    s += hits / pos
                    r_k += 1
        if r_k > 0:
            out[i] = s / r_k
    return out


def _tie_average_ap(tot, relcnt, k):
    """Expected AP@k over all orders within tied groups (He & Sclaroff, CVPR 2018).

    For ``k`` at the end of a tie group (always the case for ``k=None``) this is the exact
    expectation of AP; otherwise it is E[sum of precisions at relevant ranks <= k] divided
    by E[relevant items in the top k].
    """
    n_q, n_levels = tot.shape
    out = np.zeros(n_q)
    for i in range(n_q):
        before_t = 0
        before_r = 0
        num = 0.0
        r_k = 0.0
        for d in range(n_levels):
            n_d = int(tot[i, d])
            if n_d == 0:
                continue
            if before_t >= k:
                break
            p_d = int(relcnt[i, d])
            last = min(before_t + n_d, k)
            if p_d > 0:
                t = np.arange(before_t + 1, last + 1, dtype=np.float64)
                slope = (p_d - 1) / (n_d - 1) if n_d > 1 else 0.0
                expected_hits = before_r + 1 + (t - before_t - 1) * slope
                num += (p_d / n_d) * np.sum(expected_hits / t)
                r_k += p_d * (last - before_t) / n_d
            before_t += n_d
            before_r += p_d
        if r_k > 0:
            out[i] = num / r_k
    return out


# Bytes per query and database item held by a chunk: int32 distance + bool relevance.
_BYTES_PER_ITEM = 5


def _chunk_stats(Q, DT, yq, yd_arr, multilabel, n_bits, leave_one_out, offset):
    """Distances, relevance and per-query histograms for one chunk of queries (run
    inside a ``Threads`` block). ``yd_arr``: class indices, or label bitsets."""
    n_q, n_db = Q.shape[0], DT.shape[1]
    dist = np.empty((n_q, n_db), dtype=np.int32)
    _distance_matrix_kernel(to_words(Q), DT, dist, *_blocking(n_q, DT), _wide(DT))
    rel = np.empty((n_q, n_db), dtype=np.bool_)
    if multilabel:
        _shared_label_kernel(_label_words(yq), yd_arr, rel)
    else:
        _same_class_kernel(yq, yd_arr, rel)
    n_levels = n_bits + 1
    if leave_one_out:
        rows = np.arange(n_q)
        dist[rows, offset + rows] = n_levels  # a level beyond the histogram: excluded
    tot = np.empty((n_q, n_levels), dtype=np.int64)
    relcnt = np.empty((n_q, n_levels), dtype=np.int64)
    _histogram_kernel(dist, rel, tot, relcnt)
    return dist, rel, tot, relcnt


def _map_chunks(Q, D, yq, yd, multilabel, n_bits, leave_one_out, n_jobs, score):
    """``score(dist, rel, tot, relcnt)`` of each chunk of queries, in order. A chunk
    holds at most ``working_memory`` MiB of per-item arrays (at least one query), and
    only one chunk is alive at a time."""
    chunk = chunk_rows(Q.shape[0], D.shape[0] * _BYTES_PER_ITEM)
    # Once, not per chunk: the database as kernel words, its labels as bitsets.
    DT = to_words(D, transpose=True)
    yd_arr = _label_words(yd) if multilabel else np.ascontiguousarray(yd)
    with Threads(n_jobs):  # also for the kernels ``score`` runs (index-order AP)
        return [
            score(
                *_chunk_stats(
                    Q[sl], DT, yq[sl], yd_arr, multilabel, n_bits, leave_one_out, sl.start
                )
            )  # fmt: skip
            for sl in gen_batches(Q.shape[0], chunk)
        ]


def _check_ties(ties):
    if ties not in _TIES:
        raise ValueError(f"ties must be one of {_TIES}; got ties={ties!r}.")


# ---------------------------------------------------------------------------------------
# Public metrics
# ---------------------------------------------------------------------------------------


def mean_average_precision(
    query_codes,
    query_labels,
    db_codes=None,
    db_labels=None,
    *,
    k=None,
    ties="index",
    packed=False,
    n_jobs=None,
):
    r"""Mean average precision of Hamming ranking, mAP@k.

    Each query ranks the database by Hamming distance. With relevance :math:`rel(r)` of
    the item at rank :math:`r`, precision :math:`P(r)` of the top :math:`r` and
    :math:`R_k` relevant items in the top :math:`k`,

    .. math:: AP@k = \frac{1}{R_k} \sum_{r=1}^{k} P(r)\, rel(r),

    and mAP@k is the mean over queries. **A query with no relevant item in its top k
    scores 0 and still counts** in the mean. Published evaluation codes differ on this:
    some drop such queries, which raises their figures.

    Parameters
    ----------
    query_codes : array-like of shape (n_queries, n_bits)
        Query codes, any numeric or boolean dtype; a bit is set where the value is > 0.
    query_labels : array-like of shape (n_queries,) or (n_queries, n_labels)
        Class labels, or a 0/1 multi-label indicator matrix (dense or sparse). Class
        labels are numbers or strings, compared as values of one type: ``1``, ``1.0``
        and ``True`` are the same class, but the string ``"1"`` is never the number
        ``1``, so string labels on one side and numbers on the other raise a
        ``ValueError`` (as do None, NaN, and strings mixed with numbers in one array).
    db_codes : array-like of shape (n_database, n_bits), default=None
        Database codes. ``None`` (with ``db_labels=None``) means leave-one-out: every
        query ranks all the other queries.
    db_labels : array-like of shape (n_database,) or (n_database, n_labels), default=None
        Database labels, in the same form as ``query_labels`` (and of the same type:
        numbers with numbers, strings with strings).
    k : int, default=None
        Depth of the ranking; ``None`` scores the whole database (mAP@all).
    ties : {"index", "average"}, default="index"
        How items at equal Hamming distance are ordered. ``"index"``: by database index,
        the order :class:`~skhash.HammingNeighbors` returns, so the figure is
        deterministic but depends on the database order. ``"average"``: the tie-aware AP
        of He & Sclaroff (CVPR 2018), the expected AP over all orders within tied
        groups. For ``k=None``, and whenever the k-th item ends a group of ties, this is
        the exact expectation; when the k-th item splits a tied group, it is the expected
        sum of precisions divided by the expected number of relevant items in the top k.
    packed : bool, default=False
        Whether the codes are already bit-packed uint8 (as from
        :func:`skhash.pack_codes` or a hasher's ``encode``).
    n_jobs : int, default=None
        Threads of the distance, relevance and ranking kernels, parallel over
        queries (joblib's convention: None means 1 unless in a
        :func:`joblib.parallel_config` context, -1 all processors). The result does
        not depend on it.

    Returns
    -------
    score : float
        mAP@k, in [0, 1].

    See Also
    --------
    precision_at_k : Precision of the top N.
    precision_recall_within_radius : Precision in a Hamming ball.

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.metrics import mean_average_precision
    >>> db = np.array([[1, 1, 1, 1], [1, 1, -1, -1], [-1, -1, -1, -1]])
    >>> query = np.array([[1, 1, 1, -1]])
    >>> float(mean_average_precision(query, [0], db, [0, 1, 0]))
    0.8333333333333333
    """
    _check_ties(ties)
    k = _check_k(k)
    Q, D, n_bits, yq, yd, multilabel, loo = _prepare(
        query_codes, query_labels, db_codes, db_labels, packed
    )
    kk = D.shape[0] if k is None else k

    def score(dist, rel, tot, relcnt):
        if ties == "index":
            return _index_order_ap(dist, rel, n_bits + 1, kk, tot, relcnt)
        return _tie_average_ap(tot, relcnt, kk)

    parts = _map_chunks(Q, D, yq, yd, multilabel, n_bits, loo, n_jobs, score)
    return float(np.mean(np.concatenate(parts)))


def precision_at_k(
    query_codes,
    query_labels,
    db_codes=None,
    db_labels=None,
    *,
    k=100,
    ties="index",
    packed=False,
    n_jobs=None,
):
    """Mean precision of the top ``k`` items of the Hamming ranking (precision@N).

    Precision of one query is (relevant items among its first ``k``) / ``k``; when the
    database (leave-one-out: the other queries) holds fewer than ``k`` items, the divisor
    is the database size.

    Parameters
    ----------
    query_codes, query_labels, db_codes, db_labels, packed, n_jobs
        As in :func:`mean_average_precision`.
    k : int, default=100
        Number of retrieved items.
    ties : {"index", "average"}, default="index"
        ``"index"``: the first ``k`` items with ties broken by database index.
        ``"average"``: expected precision over all orders within tied groups.

    Returns
    -------
    precision : float
        Mean precision@k over queries, in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.metrics import precision_at_k
    >>> db = np.array([[1, 1, 1, 1], [1, 1, -1, -1], [-1, -1, -1, -1]])
    >>> float(precision_at_k(np.array([[1, 1, 1, -1]]), [0], db, [0, 1, 0], k=2))
    0.5
    """
    _check_ties(ties)
    k = _check_k(k)
    if k is None:
        raise ValueError("k must be a positive integer; got k=None.")
    Q, D, n_bits, yq, yd, multilabel, loo = _prepare(
        query_codes, query_labels, db_codes, db_labels, packed
    )

    def score(dist, rel, tot, relcnt):
        n_items = tot.sum(axis=1)
        kk = np.minimum(k, n_items)
        cum_t = np.cumsum(tot, axis=1)
        cum_r = np.cumsum(relcnt, axis=1)
        # the level where the k-th item lies, and what lies strictly before it
        level = np.array([np.searchsorted(cum_t[i], kk[i]) for i in range(len(kk))])
        rows = np.arange(len(kk))
        before_t = cum_t[rows, level] - tot[rows, level]
        before_r = cum_r[rows, level] - relcnt[rows, level]
        take = kk - before_t
        if ties == "average":
            frac = relcnt[rows, level] / np.maximum(tot[rows, level], 1)
            hits = before_r + take * frac
        else:
            hits = np.empty(len(kk))
            for i in range(len(kk)):
                in_level = rel[i][dist[i] == level[i]]
                hits[i] = before_r[i] + np.count_nonzero(in_level[: take[i]])
        return hits / kk

    parts = _map_chunks(Q, D, yq, yd, multilabel, n_bits, loo, n_jobs, score)
    return float(np.mean(np.concatenate(parts)))


def _ball_stats(query_codes, query_labels, db_codes, db_labels, packed, n_jobs):
    Q, D, n_bits, yq, yd, multilabel, loo = _prepare(
        query_codes, query_labels, db_codes, db_labels, packed
    )
    parts = _map_chunks(
        Q, D, yq, yd, multilabel, n_bits, loo, n_jobs,
        lambda dist, rel, tot, relcnt: (np.cumsum(tot, axis=1), np.cumsum(relcnt, axis=1)),
    )  # fmt: skip
    tots, rels = zip(*parts, strict=True)
    return np.concatenate(tots), np.concatenate(rels), n_bits


def _ball_precision_recall(cum_t, cum_r):
    """Per-query precision/recall in balls of every radius (0 for empty balls and for
    queries without any relevant item)."""
    n_rel = cum_r[:, -1:]
    precision = np.divide(cum_r, cum_t, out=np.zeros(cum_r.shape), where=cum_t > 0)
    recall = np.divide(
        cum_r, n_rel, out=np.zeros(cum_r.shape), where=np.broadcast_to(n_rel > 0, cum_r.shape)
    )
    return precision, recall


def precision_recall_within_radius(
    query_codes,
    query_labels,
    db_codes=None,
    db_labels=None,
    *,
    radius=2,
    packed=False,
    n_jobs=None,
):
    """Mean precision and recall of the items within a Hamming radius (P@H≤r).

    For each query, the retrieved set is every database item at Hamming distance
    ``<= radius``. Precision is (relevant retrieved) / (retrieved), **0 when the ball is
    empty** (the convention of the hashing literature's "precision within Hamming radius
    2", which penalises codes that scatter neighbours); recall is (relevant retrieved) /
    (relevant in the database), 0 for a query with no relevant item.

    Parameters
    ----------
    query_codes, query_labels, db_codes, db_labels, packed, n_jobs
        As in :func:`mean_average_precision`.
    radius : int, default=2
        Hamming radius, in bits (>= 0).

    Returns
    -------
    precision : float
        Mean precision over queries.
    recall : float
        Mean recall over queries.

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.metrics import precision_recall_within_radius
    >>> db = np.array([[1, 1, 1, 1], [1, 1, -1, -1], [-1, -1, -1, -1]])
    >>> p, r = precision_recall_within_radius(np.array([[1, 1, 1, -1]]), [0], db, [0, 1, 0],
    ...                                       radius=1)
    >>> float(p), float(r)
    (0.5, 0.5)
    """
    if not isinstance(radius, numbers.Integral) or isinstance(radius, bool) or radius < 0:
        raise ValueError(f"radius must be a non-negative integer; got radius={radius!r}.")
    cum_t, cum_r, n_bits = _ball_stats(
        query_codes, query_labels, db_codes, db_labels, packed, n_jobs
    )
    precision, recall = _ball_precision_recall(cum_t, cum_r)
    r = min(int(radius), n_bits)
    return float(precision[:, r].mean()), float(recall[:, r].mean())


def precision_recall_curve(
    query_codes, query_labels, db_codes=None, db_labels=None, *, packed=False, n_jobs=None
):
    """Precision and recall of Hamming-ball retrieval for every radius 0..n_bits.

    Point ``r`` of the curve is :func:`precision_recall_within_radius` at radius ``r``
    (same conventions: empty balls have precision 0). Recall grows with the radius and
    reaches 1 at ``r = n_bits`` for every query with a relevant item.

    Parameters
    ----------
    query_codes, query_labels, db_codes, db_labels, packed, n_jobs
        As in :func:`mean_average_precision`. With ``packed=True`` the curve runs over
        every bit of the packed bytes (padding bits are equal in all codes and only
        repeat the last point).

    Returns
    -------
    precision : ndarray of shape (n_bits + 1,)
        Mean precision within each radius.
    recall : ndarray of shape (n_bits + 1,)
        Mean recall within each radius.
    radii : ndarray of shape (n_bits + 1,)
        The radii, ``0..n_bits``.

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.metrics import precision_recall_curve
    >>> db = np.array([[1, 1, 1, 1], [1, 1, -1, -1], [-1, -1, -1, -1]])
    >>> precision, recall, radii = precision_recall_curve(
    ...     np.array([[1, 1, 1, -1]]), [0], db, [0, 1, 0])
    >>> recall
    array([0. , 0.5, 0.5, 1. , 1. ])
    """
    cum_t, cum_r, n_bits = _ball_stats(
        query_codes, query_labels, db_codes, db_labels, packed, n_jobs
    )
    precision, recall = _ball_precision_recall(cum_t, cum_r)
    return precision.mean(axis=0), recall.mean(axis=0), np.arange(n_bits + 1)
