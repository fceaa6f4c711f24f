"""Multi-index hashing (Norouzi, Punjani & Fleet): exact sub-linear Hamming search.

Each code of n_bits bits is cut into m disjoint substrings (contiguous bit ranges) and
every substring indexes one table. By the pigeonhole principle a code at Hamming
distance d from the query has at least one substring within distance floor(d / m) of
the query's; so probing every table at substring radius 0, 1, 2, ... and verifying the
candidates on the full code finds all codes within any distance, in order of a
guaranteed bound: after radius r in tables 0..j (and radius r - 1 in the others),
every code at full distance <= m * r + j has been seen.

Tables are direct-addressed: for a substring of s bits, a table has 2^s + 1 offsets
and bucket v lists, in increasing database index, the rows whose substring equals v
(``ids``), placed by one counting-sort pass per table (linear time, no sort). Each
table also keeps a copy of the codes in bucket order, so that a bucket is verified
as one contiguous run with the exhaustive kernel's vectorised distance loops rather
than by random reads into the database: this costs m times the code's words per code
and is what makes verification cheap. Keys at substring radius r are
enumerated as the bit masks of popcount r over s bits (Gosper's hack).

A candidate can be listed by several tables; it is counted once, by the first
(table, radius) that reaches it: found in table i at radius r, it is new exactly
when every table j < i has substring distance > r and every table j > i has
substring distance >= r (those probes happened earlier). No per-query "seen"
bitmap is needed.

The number of keys at radius r grows as C(s, r): on long codes with few samples (far
neighbours, long substrings) a query could probe millions of mostly empty buckets to
find neighbours that a scan of the few codes finds at once. So the buckets each query
probes are counted and, as soon as the next (table, radius) level would take their
cost (``PROBE_COST`` rows of an exhaustive scan each) past one exhaustive scan, the
query is answered by scanning every code instead: still exact, and its probes cost at
most one scan. Rows listed are not part of this cap: they are bounded by the buckets
probed, and where they are many the neighbours are near and the search ends soon.
"""

import math

import numpy as np
from numba import prange

from .._numba import Threads, jit, parallel_jit
from ._kernels import (
    _CHUNK,
    _chunk_min,
    _popcount,
    _row_dists,
    _serial_ok,
    _wide,
    kneighbors_words,
    radius_neighbors_words,
)

__all__ = [
    "LISTED_ROW_COST",
    "MIHIndex",
    "PROBE_COST",
    "default_n_substrings",
    "estimate_work",
    "estimated_cost",
    "knn_radii",
    "substring_keys",
    "substring_layout",
]

# Longest substring: a direct-addressed table has 2^s + 1 int32 offsets (64 MB at 24).
MAX_SUBSTRING_BITS = 24
# Cost of the search in units of one row of the exhaustive scan, fitted on
# Costs in rows of the exhaustive scan, fitted on benchmarks/bench_mih.py's runs (the
# search user guide has them): a bucket probe, and a row listed by a probed bucket.
PROBE_COST = 600.0
LISTED_ROW_COST = 4.0


def default_n_substrings(n_bits, n_samples):
    """m = n_bits / (log2(n_samples) - 8), so a bucket holds ~256 codes on average.

    The authors choose m ~ n_bits / log2(n_samples): substrings of log2(n) bits, about
    one code per bucket, which balances probes against candidate checks when both
    cost about the same. Here a bucket's codes are checked as one contiguous run with
    the vectorised kernel and a probe costs about 150 times more than checking one
    listed code, so shorter substrings (more codes per bucket, fewer probes) are
    faster; the search user guide has the timings of m around this rule
    (``benchmarks/bench_mih.py --n-substrings``). Substrings have 8 to 24 bits.
    """
    s = min(max(math.log2(max(n_samples, 2)) - 8.0, 8.0), float(MAX_SUBSTRING_BITS))
    m = round(n_bits / s)
    m = max(m, math.ceil(n_bits / MAX_SUBSTRING_BITS), 1)
    return int(min(m, n_bits))


def _substring_bounds(n_bits, m):
    """Bit ranges of m contiguous substrings, lengths differing by at most one."""
    edges = np.linspace(0, n_bits, m + 1).round().astype(np.int64)
    return edges


def substring_layout(n_bits, n_substrings, n_words, word_dtype=np.uint64):
    """Substrings of multi-index hashing: ``(edges, sub_bits, masks)``.

    ``edges`` are the m + 1 bit boundaries, ``sub_bits`` the m lengths, ``masks`` (m,
    n_words) the bits of each substring in the word layout of the codes. Raises a
    ValueError naming the valid range when a substring would not have 1 to 24 bits.
    """
    m = int(n_substrings)
    edges = _substring_bounds(n_bits, m)
    sub_bits = np.diff(edges)
    if sub_bits.max() > MAX_SUBSTRING_BITS or sub_bits.min() < 1:
        raise ValueError(
            f"n_substrings={m} gives substrings of {sub_bits.min()} to {sub_bits.max()} "
            f"bits for n_bits={n_bits}; each must have 1 to {MAX_SUBSTRING_BITS} bits, "
            f"i.e. n_substrings between {math.ceil(n_bits / MAX_SUBSTRING_BITS)} and "
            f"{n_bits}."
        )
    word_bits = 8 * np.dtype(word_dtype).itemsize
    mask_bits = np.zeros((m, n_words * word_bits), dtype=bool)
    for i in range(m):
        mask_bits[i, edges[i] : edges[i + 1]] = True
    masks = np.ascontiguousarray(np.packbits(mask_bits, axis=1).view(word_dtype))
    return edges, sub_bits.astype(np.int64), masks


@jit
def _sample_counts(qkeys, skeys, radii, out):
    """out[q, i] = sampled rows whose substring i is within radii[q, i] of query q's
    (radius -1: table not probed); ``skeys`` is table-major, (m, n_sample)."""
    for q in range(qkeys.shape[0]):
        for i in range(skeys.shape[0]):
            r = radii[q, i]
            if r < 0:
                continue
            key = qkeys[q, i]
            c = 0
            for j in range(skeys.shape[1]):
                c += _popcount(key ^ skeys[i, j]) <= r
            out[q, i] = c


@jit
def _substring_keys_kernel(packed, edges, out):
    """out[j, i] = substring i of packed code j, its bit edges[i] + t worth 2^t."""
    for j in range(packed.shape[0]):
        for i in range(edges.shape[0] - 1):
            v = np.int64(0)
            for b in range(edges[i], edges[i + 1]):
                bit = (packed[j, b >> 3] >> (7 - (b & 7))) & 1
                v |= np.int64(bit) << (b - edges[i])
            out[j, i] = v


def substring_keys(words, n_bits, edges):
    """Substring values of codes given as word rows: (n, m) int64, bit j -> 2^j."""
    packed = np.ascontiguousarray(words).view(np.uint8)
    out = np.empty((words.shape[0], len(edges) - 1), dtype=np.int64)
    _substring_keys_kernel(packed, np.asarray(edges, dtype=np.int64), out)
    return out


def knn_radii(kth_dist, sub_bits):
    """Substring radius each table is probed to by a k-NN search whose k-th distance is
    ``kth_dist`` (one per query): the search stops after table i at radius r once
    m * r + i reaches the k-th distance, so table i goes to (d - i) // m (-1: never)."""
    m = len(sub_bits)
    d = np.asarray(kth_dist, dtype=np.int64)[:, None]
    i = np.arange(m)[None, :]
    r = np.where(d >= i, (d - i) // m, -1)
    return np.minimum(r, sub_bits[None, :])


def estimate_work(Q_words, sample_words, n_samples, n_bits, edges, radii):
    """Buckets probed and rows listed by a multi-index search of each query, without
    the tables: ``(probes, listed)``, one per query.

    Table i probed to substring radius r_i probes sum_{r <= r_i} C(s_i, r) buckets
    (exact) and lists the codes within substring distance r_i, estimated from the
    database rows ``sample_words`` (word rows): exact when the sample is the whole
    database.
    """
    radii = np.ascontiguousarray(radii, dtype=np.int64)
    sub_bits = np.diff(edges)
    n_q, m = radii.shape
    counts = np.zeros((n_q, m), dtype=np.int64)
    if n_q and len(sample_words):
        qkeys = substring_keys(Q_words, n_bits, edges)
        skeys = np.ascontiguousarray(substring_keys(sample_words, n_bits, edges).T)
        _sample_counts(qkeys, skeys, radii, counts)
    listed = counts.sum(axis=1) * (n_samples / max(len(sample_words), 1))
    # cum[i, r + 1] = number of keys within substring radius r of table i.
    max_s = int(sub_bits.max())
    cum = np.zeros((m, max_s + 2))
    for i, s in enumerate(sub_bits):
        cum[i, 1 : s + 2] = np.cumsum([math.comb(int(s), r) for r in range(int(s) + 1)])
        cum[i, s + 2 :] = cum[i, s + 1]
    probes = cum[np.arange(m)[None, :], radii + 1].sum(axis=1)
    return probes, listed


def estimated_cost(probes, listed):
    """Cost of multi-index search in rows of the exhaustive scan (the cost model)."""
    return PROBE_COST * np.asarray(probes) + LISTED_ROW_COST * np.asarray(listed)


@jit
def _is_new(Q, q, codes, p, masks, i, r):
    """Whether the row at position p of table i, reached at radius r, is reached for the
    first time: no table j < i within substring distance r, none j > i below r."""
    for j in range(masks.shape[0]):
        if j == i:
            continue
        sd = np.int64(0)
        for w in range(Q.shape[1]):
            sd += np.int64(_popcount((Q[q, w] ^ codes[w, p]) & masks[j, w]))
        if sd < r or (j < i and sd == r):
            return False
    return True


@jit
def _next_mask(x):
    """The next larger integer with the same number of set bits (Gosper's hack)."""
    c = x & -x
    y = x + c
    return (((x ^ y) >> 2) // c) | y


@jit
def _first_mask(r):
    return np.int64(0) if r == 0 else (np.int64(1) << r) - 1


@jit
def _n_masks(s, r):
    """Number of keys at substring radius r over s bits: C(s, r)."""
    c = np.int64(1)
    for t in range(r):
        c = c * (s - t) // (t + 1)
    return c


# Rows verified per call of _verify_run; the candidate buffer is made room for first.
_RUN = 256


@jit(inline="always")
def _verify_run(Q, q, codes, ids_i, a, b, skip, masks, i, r, check_new, k, n_bits, tau,
                buf_d, buf_i, size, hist, dists, wide):  # fmt: skip
    """Verify rows a:b (at most _RUN) of a table's codes: candidates within tau go to
    the buffer, which has room for them; ``check_new`` skips rows already reached.
    Returns the buffer's new size and tau."""
    for c0 in range(a, b, _CHUNK):
        c1 = min(c0 + _CHUNK, b)
        # The rows are contiguous: screen them 64 at a time on their vectorised minimum
        # distance, as the exhaustive kernel does.
        if _chunk_min(Q, q, codes, c0, c1, wide) > tau:
            continue
        _row_dists(Q, q, codes, c0, c1, dists, wide)
        for t in range(c1 - c0):
            d = dists[t]
            if d > tau:
                continue
            p = c0 + t
            c = ids_i[p]
            if c == skip or (check_new and not _is_new(Q, q, codes, p, masks, i, r)):
                continue
            buf_d[size] = d
            buf_i[size] = c
            size += 1
            hist[d] += 1
            if size >= k:
                cum = 0
                for u in range(n_bits + 1):
                    cum += hist[u]
                    if cum >= k:
                        tau = u
                        break
    return size, tau


@jit
def _compact(buf_d, buf_i, size, tau, hist):
    """Drop the candidates beyond tau (they can no longer be selected); new size."""
    new = 0
    for u in range(size):
        if buf_d[u] <= tau:
            buf_d[new] = buf_d[u]
            buf_i[new] = buf_i[u]
            new += 1
        else:
            hist[buf_d[u]] -= 1
    return new


@jit
def _mih_knn_one(Q, q, qkeys, offsets, starts, ids, tcodes, sub_bits, masks, k, n_bits, skip,
                 costs, out_d, out_i, work, wide):  # fmt: skip
    m = sub_bits.shape[0]
    probe_cost, budget = costs[0], costs[2]
    n_probes = 0
    n_rows = 0
    buf_d = np.empty(4 * k + 2 * _RUN, dtype=np.int32)
    buf_i = np.empty(4 * k + 2 * _RUN, dtype=np.int64)
    size = 0
    hist = np.zeros(n_bits + 2, dtype=np.int64)
    tau = np.int64(n_bits + 1)
    dists = np.empty(_CHUNK, dtype=np.int32)
    max_s = 0
    for i in range(m):
        max_s = max(max_s, sub_bits[i])
    done = False
    scan = False
    for r in range(max_s + 1):
        for i in range(m):
            s = sub_bits[i]
            if r > s:
                continue
            # The search stops only after a whole (table, radius) level: if its probes
            # would take the probes' cost past an exhaustive scan, scan instead.
            if probe_cost * (n_probes + _n_masks(s, r)) > budget:
                scan = True
                break
            key = qkeys[q, i]
            base = starts[i]
            codes = tcodes[i]
            ids_i = ids[i]
            mask = _first_mask(r)
            limit = np.int64(1) << s
            while mask < limit:
                v = key ^ mask
                a = offsets[base + v]
                b = offsets[base + v + 1]
                n_probes += 1
                n_rows += b - a
                for a0 in range(a, b, _RUN):
                    a1 = min(a0 + _RUN, b)
                    if size + _RUN > buf_d.shape[0]:
                        size = _compact(buf_d, buf_i, size, tau, hist)
                        if size > buf_d.shape[0] // 2:  # ties at tau fill it: grow
                            nd = np.empty(2 * buf_d.shape[0], dtype=np.int32)
                            ni = np.empty(2 * buf_d.shape[0], dtype=np.int64)
                            nd[:size] = buf_d[:size]
                            ni[:size] = buf_i[:size]
                            buf_d = nd
                            buf_i = ni
                    size, tau = _verify_run(Q, q, codes, ids_i, a0, a1, skip, masks, i, r, True,
                                            k, n_bits, tau, buf_d, buf_i, size, hist,
                                            dists, wide)  # fmt: skip
                if r == 0:
                    break
                mask = _next_mask(mask)
            if scan:
                break
            # Every code at distance <= m * r + i has been seen; a table probed to its
            # full length (r == s) has listed every code.
            if tau <= m * r + i or r == s:
                done = True
                break
        if done or scan:
            break
    work[q, 0] = n_probes
    work[q, 1] = n_rows
    work[q, 2] = scan
    if scan:
        return  # answered by the blocked exhaustive kernel, with the other such queries
    # Sort the candidates at distance <= tau by (distance, index); keep k.
    sel = 0
    for u in range(size):
        if buf_d[u] <= tau:
            buf_d[sel] = buf_d[u]
            buf_i[sel] = buf_i[u]
            sel += 1
    n_db = ids.shape[1]
    keys = np.empty(sel, dtype=np.int64)
    for u in range(sel):
        keys[u] = np.int64(buf_d[u]) * n_db + buf_i[u]
    order = np.argsort(keys)
    for u in range(k):
        out_d[q, u] = buf_d[order[u]]
        out_i[q, u] = buf_i[order[u]]


@parallel_jit
def _mih_knn_kernel(Q, qkeys, offsets, starts, ids, tcodes, sub_bits, masks, k, n_bits,
                    self_offset, costs, out_d, out_i, work, wide):  # fmt: skip
    for q in prange(Q.shape[0]):
        skip = q + self_offset if self_offset >= 0 else -1
        _mih_knn_one(Q, q, qkeys, offsets, starts, ids, tcodes, sub_bits, masks, k, n_bits,
                     skip, costs, out_d, out_i, work, wide)  # fmt: skip


@jit(inline="always")
def _radius_run(Q, q, codes, ids_i, a, b, skip, masks, i, r, check_new, radius, out_d, out_i,
                p_out, fill, dists, wide):  # fmt: skip
    """Count or write the rows a:b of a table within ``radius``; return the new end."""
    for c0 in range(a, b, _CHUNK):
        c1 = min(c0 + _CHUNK, b)
        if _chunk_min(Q, q, codes, c0, c1, wide) > radius:
            continue
        _row_dists(Q, q, codes, c0, c1, dists, wide)
        for t in range(c1 - c0):
            d = dists[t]
            if d > radius:
                continue
            c = ids_i[c0 + t]
            if c == skip or (check_new and not _is_new(Q, q, codes, c0 + t, masks, i, r)):
                continue
            if fill:
                out_d[p_out] = d
                out_i[p_out] = c
            p_out += 1
    return p_out


@jit
def _mih_radius_one(Q, q, qkeys, offsets, starts, ids, tcodes, sub_bits, masks, radius, skip,
                    costs, out_d, out_i, start, fill, wide):  # fmt: skip
    """Count (fill=False) or write from ``start`` the codes within ``radius``; the
    decision to fall back to a scan depends on the query only, so both passes agree."""
    m = sub_bits.shape[0]
    probe_cost, budget = costs[0], costs[2]
    dists = np.empty(_CHUNK, dtype=np.int32)
    p_out = start
    n_probes = 0
    n_rows = 0
    scan = False
    for r in range(radius // m + 1):
        for i in range(m):
            s = sub_bits[i]
            if r > s:
                continue
            if probe_cost * (n_probes + _n_masks(s, r)) > budget:
                scan = True
                break
            key = qkeys[q, i]
            base = starts[i]
            codes = tcodes[i]
            ids_i = ids[i]
            mask = _first_mask(r)
            limit = np.int64(1) << s
            while mask < limit:
                v = key ^ mask
                a = offsets[base + v]
                b = offsets[base + v + 1]
                n_probes += 1
                n_rows += b - a
                p_out = _radius_run(Q, q, codes, ids_i, a, b, skip, masks, i, r, True, radius,
                                    out_d, out_i, p_out, fill, dists, wide)  # fmt: skip
                if r == 0:
                    break
                mask = _next_mask(mask)
            if scan:
                break
        if scan:
            break
    if scan:
        return -1  # answered by the blocked exhaustive kernel, with the other such queries
    return p_out - start


@parallel_jit
def _mih_radius_kernel(Q, qkeys, offsets, starts, ids, tcodes, sub_bits, masks, radius,
                       self_offset, costs, indptr, out_d, out_i, fill,
                       sort_by_distance, wide):  # fmt: skip
    n_db = ids.shape[1]
    for q in prange(Q.shape[0]):
        skip = q + self_offset if self_offset >= 0 else -1
        start = indptr[q] if fill else 0
        n = _mih_radius_one(Q, q, qkeys, offsets, starts, ids, tcodes, sub_bits, masks, radius,
                            skip, costs, out_d, out_i, start, fill, wide)  # fmt: skip
        if not fill:
            indptr[q + 1] = n
            continue
        if n < 0:
            continue
        # Rows arrive in probe order: sort by index, or by (distance, index).
        seg_d = out_d[start : start + n].copy()
        seg_i = out_i[start : start + n].copy()
        if sort_by_distance:
            keys = seg_d.astype(np.int64) * n_db + seg_i
        else:
            keys = seg_i.copy()
        order = np.argsort(keys)
        for t in range(n):
            out_d[start + t] = seg_d[order[t]]
            out_i[start + t] = seg_i[order[t]]


@jit
def _fill_table(keys, words, offsets, ids, codes):
    """Counting sort of the rows into their buckets: ids and word-major codes in bucket
    order, rows of a bucket in increasing database index (one pass, no sort)."""
    pos = offsets[:-1].astype(np.int64)
    for j in range(keys.shape[0]):
        p = pos[keys[j]]
        pos[keys[j]] = p + 1
        ids[p] = j
        for w in range(words.shape[1]):
            codes[w, p] = words[j, w]


class MIHIndex:
    """Multi-index hash tables over packed codes (built by :class:`HammingNeighbors`).

    Parameters
    ----------
    words : ndarray of shape (n_samples, n_words), unsigned integer dtype
        Codes as rows of words (:func:`skhash.neighbors._kernels.to_words`), padding
        bits zero; the tables keep copies in the same word type.
    n_bits : int
        Code length.
    n_substrings : int
        Number of substrings m (tables), of n_bits / m bits each (at most 24).
    db_words : ndarray of shape (n_words, n_samples), default=None
        The same codes word-major (``to_words(..., transpose=True)``), which queries
        that give up probing scan with the exhaustive kernel; a copy of ``words`` if
        None.
    """

    def __init__(self, words, n_bits, n_substrings, db_words=None):
        m = int(n_substrings)
        n, n_words = words.shape
        self.edges, self.sub_bits, self.masks = substring_layout(
            n_bits, m, n_words, words.dtype.type
        )
        self.n_bits = int(n_bits)
        self.db_words = np.ascontiguousarray(words.T) if db_words is None else db_words
        keys = self.keys(words)
        index_dtype = np.int64 if n >= 2**31 else np.int32
        # Direct-addressed offsets of all tables in one array: table i's bucket v is
        # offsets[starts[i] + v] : offsets[starts[i] + v + 1].
        sizes = (1 << self.sub_bits) + 1
        self.starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.offsets = np.empty(int(sizes.sum()), dtype=index_dtype)
        self.ids = np.empty((m, n), dtype=index_dtype)
        # Each table keeps its own copy of the codes in bucket order (word-major), so a
        # bucket is scanned as a contiguous run instead of n random reads.
        self.codes = np.empty((m, n_words, n), dtype=words.dtype)
        for i in range(m):
            counts = np.bincount(keys[:, i], minlength=1 << int(self.sub_bits[i]))
            table = self.offsets[self.starts[i] : self.starts[i] + sizes[i]]
            table[0] = 0
            np.cumsum(counts, out=table[1:])
            _fill_table(keys[:, i], words, table, self.ids[i], self.codes[i])

    @property
    def nbytes(self):
        """Memory of the tables, in bytes: bucket offsets, ids, the per-table copies of
        the codes in bucket order and the substring masks."""
        return int(self.offsets.nbytes + self.ids.nbytes + self.codes.nbytes + self.masks.nbytes)

    def keys(self, words):
        """Substring values of codes given as word rows: (n, m) int64, bit j -> 2^j."""
        return substring_keys(words, self.n_bits, self.edges)

    def _costs(self, budget):
        """Cost model and budget of one query, as the kernels take them."""
        if budget is None:
            budget = float(self.ids.shape[1])
        return np.array([PROBE_COST, LISTED_ROW_COST, budget], dtype=np.float64)

    def kneighbors(self, Q_words, k, *, self_offset=-1, n_jobs=None, return_work=False,
                   budget=None):  # fmt: skip
        """k-NN of query word rows, same contract as the exhaustive kernel.

        A query whose buckets probed (``PROBE_COST`` rows of an exhaustive scan each)
        would exceed ``budget`` (default: n_samples, one scan) gives up probing; all such
        queries of the call are then answered together by the exhaustive kernel, whose
        query blocking reuses each tile of codes from cache.

        With ``return_work=True`` also returns, per query, the number of buckets probed,
        of rows listed by the probed buckets, and 1 if the query fell back to the scan:
        shape (n_q, 3).
        """
        n_q = Q_words.shape[0]
        dist = np.empty((n_q, k), dtype=np.int32)
        ind = np.empty((n_q, k), dtype=np.int64)
        work = np.zeros((n_q, 3), dtype=np.int64)
        if n_q:
            qkeys = self.keys(Q_words)
            wide = _wide(self.codes[0])
            with Threads(n_jobs):
                _mih_knn_kernel(Q_words, qkeys, self.offsets, self.starts, self.ids, self.codes,
                                self.sub_bits, self.masks, k, self.n_bits, self_offset,
                                self._costs(budget), dist, ind, work, wide,
                                serial=_serial_ok(wide))  # fmt: skip
            scan = np.flatnonzero(work[:, 2])
            if scan.size:
                dist[scan], ind[scan] = self._scan_knn(Q_words[scan], scan, k, self_offset, n_jobs)
        if return_work:
            return dist, ind, work
        return dist, ind

    def radius_neighbors(self, Q_words, radius, *, self_offset=-1,
                         sort_results=False, n_jobs=None, budget=None):  # fmt: skip
        """Radius search, same CSR contract as the brute kernel (and the same fallback
        to a scan as :meth:`kneighbors`)."""
        n_q = Q_words.shape[0]
        indptr = np.zeros(n_q + 1, dtype=np.int64)
        radius = int(min(radius, self.n_bits))
        if n_q == 0 or radius < 0:
            return indptr, np.empty(0, np.int32), np.empty(0, np.int64)
        qkeys = self.keys(Q_words)
        args = (Q_words, qkeys, self.offsets, self.starts, self.ids, self.codes, self.sub_bits,
                self.masks, radius, self_offset, self._costs(budget))  # fmt: skip
        wide = _wide(self.codes[0])
        with Threads(n_jobs):
            empty_d, empty_i = np.empty(0, np.int32), np.empty(0, np.int64)
            _mih_radius_kernel(*args, indptr, empty_d, empty_i, False, False, wide,
                               serial=_serial_ok(wide))  # fmt: skip
            scan = np.flatnonzero(indptr[1:] < 0)
            if scan.size:
                s_ptr, s_dist, s_ind = self._scan_radius(
                    Q_words[scan], scan, radius, self_offset, sort_results, n_jobs
                )
                indptr[scan + 1] = np.diff(s_ptr)
            np.cumsum(indptr, out=indptr)
            dist = np.empty(indptr[-1], dtype=np.int32)
            ind = np.empty(indptr[-1], dtype=np.int64)
            if indptr[-1]:
                _mih_radius_kernel(*args, indptr, dist, ind, True, sort_results, wide,
                                   serial=_serial_ok(wide))  # fmt: skip
            if scan.size:
                seg = np.repeat(np.arange(scan.size), np.diff(s_ptr))
                pos = indptr[scan][seg] + np.arange(s_ptr[-1]) - s_ptr[seg]
                dist[pos] = s_dist
                ind[pos] = s_ind
        return indptr, dist, ind

    def _scan_knn(self, Q_words, rows, k, self_offset, n_jobs):
        """k-NN of the queries ``rows`` of the call by the exhaustive kernel. A query
        that is a fitted code excludes itself: among its k + 1 nearest (ties by index)
        drop itself, or the last when k codes tie with it ahead of it."""
        if self_offset < 0:
            return kneighbors_words(Q_words, self.db_words, k, self.n_bits, n_jobs=n_jobs)
        dist, ind = kneighbors_words(Q_words, self.db_words, k + 1, self.n_bits, n_jobs=n_jobs)
        keep = ind != (rows + self_offset)[:, None]
        keep[keep.all(axis=1), -1] = False
        return dist[keep].reshape(-1, k), ind[keep].reshape(-1, k)

    def _scan_radius(self, Q_words, rows, radius, self_offset, sort_results, n_jobs):
        """CSR radius search of the queries ``rows`` of the call by the exhaustive
        kernel, each fitted code excluding itself."""
        ptr, dist, ind = radius_neighbors_words(
            Q_words, self.db_words, radius, self.n_bits, sort_results=sort_results, n_jobs=n_jobs
        )
        if self_offset < 0:
            return ptr, dist, ind
        seg = np.repeat(np.arange(len(rows)), np.diff(ptr))
        keep = ind != rows[seg] + self_offset
        counts = np.bincount(seg[keep], minlength=len(rows))
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return ptr, dist[keep], ind[keep]
