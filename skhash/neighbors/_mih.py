"""Multi-index hashing (Norouzi, Punjani & Fleet): exact sub-linear Hamming search.

Each code of n_bits bits is cut into m disjoint substrings (contiguous bit ranges) and
every substring indexes one table. By the pigeonhole principle a code at Hamming
distance d from the query has at least one substring within distance floor(d / m) of
the query's; so probing every table at substring radius 0, 1, 2, ... and verifying the
candidates on the full code finds all codes within any distance, in order of a
guaranteed bound: after radius r in tables 0..j (and radius r - 1 in the others),
every code at full distance <= m * r + j has been seen.

Tables are direct-addressed: for a substring of s bits, ``offsets`` has 2^s + 1
entries and ``ids[offsets[v]:offsets[v + 1]]`` lists, in increasing database index,
the rows whose substring equals v. Keys are probed by enumerating the bit masks of
popcount r over s bits (Gosper's hack).

A candidate can be listed by several tables; it is counted once, by the first
(table, radius) that reaches it: found in table i at radius r, it is new exactly
when every table j < i has substring distance > r and every table j > i has
substring distance >= r (those probes happened earlier). No per-query "seen"
bitmap is needed.
"""

import math

import numpy as np
from numba import njit, prange

from ._kernels import _JIT, _popcount, _Threads

__all__ = ["MIHIndex", "default_n_substrings"]

# Longest substring: a direct-addressed table has 2^s + 1 int32 offsets (64 MB at 24).
MAX_SUBSTRING_BITS = 24


def default_n_substrings(n_bits, n_samples):
    """m ~ n_bits / log2(n_samples) (the authors' choice), with substrings <= 24 bits."""
    m = round(n_bits / max(math.log2(max(n_samples, 2)), 1.0))
    m = max(m, math.ceil(n_bits / MAX_SUBSTRING_BITS), 1)
    return int(min(m, n_bits))


def _substring_bounds(n_bits, m):
    """Bit ranges of m contiguous substrings, lengths differing by at most one."""
    edges = np.linspace(0, n_bits, m + 1).round().astype(np.int64)
    return edges


@njit(**_JIT)
def _sub_dist(x, y, masks, i):
    d = 0
    for w in range(x.shape[0]):
        d += _popcount((x[w] ^ y[w]) & masks[i, w])
    return d


@njit(**_JIT)
def _full_dist(Q, q, DT, c):
    d = 0
    for w in range(Q.shape[1]):
        d += _popcount(Q[q, w] ^ DT[w, c])
    return d


@njit(**_JIT)
def _is_new(Q, q, DT, c, masks, i, r, cand):
    """Whether candidate c, reached in table i at radius r, was not reached before."""
    m = masks.shape[0]
    for w in range(Q.shape[1]):
        cand[w] = DT[w, c]
    qrow = Q[q]
    for j in range(m):
        if j == i:
            continue
        sd = _sub_dist(qrow, cand, masks, j)
        if j < i and sd <= r:
            return False
        if j > i and sd < r:
            return False
    return True


@njit(**_JIT)
def _next_mask(x):
    """The next larger integer with the same number of set bits (Gosper's hack)."""
    c = x & -x
    y = x + c
    return (((x ^ y) >> 2) // c) | y


@njit(**_JIT)
def _mih_knn_one(Q, q, DT, qkeys, offsets, ids, sub_bits, masks, k, n_bits, skip, out_d, out_i):
    m = sub_bits.shape[0]
    cap = 4 * k + 64
    buf_d = np.empty(cap, dtype=np.int32)
    buf_i = np.empty(cap, dtype=np.int64)
    size = 0
    hist = np.zeros(n_bits + 2, dtype=np.int64)
    tau = n_bits + 1
    cand = np.empty(Q.shape[1], dtype=np.uint64)
    max_s = 0
    for i in range(m):
        max_s = max(max_s, sub_bits[i])
    done = False
    for r in range(max_s + 1):
        for i in range(m):
            s = sub_bits[i]
            if r > s:
                continue
            key = qkeys[q, i]
            table = offsets[i]
            if r == 0:
                mask = np.int64(0)
            else:
                mask = (np.int64(1) << r) - 1
            limit = np.int64(1) << s
            while mask < limit:
                v = key ^ mask
                for p in range(table[v], table[v + 1]):
                    c = ids[i, p]
                    if c == skip:
                        continue
                    d = _full_dist(Q, q, DT, c)
                    if d > tau:
                        continue
                    if not _is_new(Q, q, DT, c, masks, i, r, cand):
                        continue
                    if size == cap:
                        # Drop candidates beyond tau; grow if ties at tau fill the buffer.
                        new = 0
                        for t in range(size):
                            if buf_d[t] <= tau:
                                buf_d[new] = buf_d[t]
                                buf_i[new] = buf_i[t]
                                new += 1
                            else:
                                hist[buf_d[t]] -= 1
                        size = new
                        if size > cap // 2:
                            cap *= 2
                            nd = np.empty(cap, dtype=np.int32)
                            ni = np.empty(cap, dtype=np.int64)
                            nd[:size] = buf_d[:size]
                            ni[:size] = buf_i[:size]
                            buf_d = nd
                            buf_i = ni
                    buf_d[size] = d
                    buf_i[size] = c
                    size += 1
                    hist[d] += 1
                    if size >= k:
                        cum = 0
                        for t in range(n_bits + 1):
                            cum += hist[t]
                            if cum >= k:
                                tau = t
                                break
                if r == 0:
                    break
                mask = _next_mask(mask)
            # Every code at distance <= m * r + i has been seen; a table probed to its
            # full length (r == s) has seen every code.
            if tau <= m * r + i or r == s:
                done = True
                break
        if done:
            break
    # Sort the candidates at distance <= tau by (distance, index); keep k.
    sel = 0
    for t in range(size):
        if buf_d[t] <= tau:
            buf_d[sel] = buf_d[t]
            buf_i[sel] = buf_i[t]
            sel += 1
    keys = np.empty(sel, dtype=np.int64)
    n_db = DT.shape[1]
    for t in range(sel):
        keys[t] = np.int64(buf_d[t]) * n_db + buf_i[t]
    order = np.argsort(keys)
    for t in range(k):
        out_d[q, t] = buf_d[order[t]]
        out_i[q, t] = buf_i[order[t]]


@njit(parallel=True, **_JIT)
def _mih_knn_kernel(Q, DT, qkeys, offsets, ids, sub_bits, masks, k, n_bits, self_offset,
                    out_d, out_i):  # fmt: skip
    for q in prange(Q.shape[0]):
        skip = q + self_offset if self_offset >= 0 else -1
        _mih_knn_one(Q, q, DT, qkeys, offsets, ids, sub_bits, masks, k, n_bits, skip,
                     out_d, out_i)  # fmt: skip


@njit(**_JIT)
def _mih_radius_one(Q, q, DT, qkeys, offsets, ids, sub_bits, masks, radius, skip, out_d,
                    out_i, start, fill):  # fmt: skip
    """Count (fill=False) or write from ``start`` the codes within ``radius``."""
    m = sub_bits.shape[0]
    r_max = radius // m
    cand = np.empty(Q.shape[1], dtype=np.uint64)
    p_out = start
    for r in range(r_max + 1):
        for i in range(m):
            s = sub_bits[i]
            if r > s:
                continue
            key = qkeys[q, i]
            table = offsets[i]
            mask = np.int64(0) if r == 0 else (np.int64(1) << r) - 1
            limit = np.int64(1) << s
            while mask < limit:
                v = key ^ mask
                for p in range(table[v], table[v + 1]):
                    c = ids[i, p]
                    if c == skip:
                        continue
                    d = _full_dist(Q, q, DT, c)
                    if d > radius or not _is_new(Q, q, DT, c, masks, i, r, cand):
                        continue
                    if fill:
                        out_d[p_out] = d
                        out_i[p_out] = c
                    p_out += 1
                if r == 0:
                    break
                mask = _next_mask(mask)
    return p_out - start


@njit(parallel=True, **_JIT)
def _mih_radius_kernel(Q, DT, qkeys, offsets, ids, sub_bits, masks, radius, self_offset,
                       indptr, out_d, out_i, fill, sort_by_distance, n_bits):  # fmt: skip
    for q in prange(Q.shape[0]):
        skip = q + self_offset if self_offset >= 0 else -1
        start = indptr[q] if fill else 0
        n = _mih_radius_one(Q, q, DT, qkeys, offsets, ids, sub_bits, masks, radius, skip,
                            out_d, out_i, start, fill)  # fmt: skip
        if not fill:
            indptr[q + 1] = n
            continue
        # Candidates arrive in probe order: sort by index, or by (distance, index).
        seg_d = out_d[start : start + n].copy()
        seg_i = out_i[start : start + n].copy()
        if sort_by_distance:
            keys = seg_d.astype(np.int64) * DT.shape[1] + seg_i
        else:
            keys = seg_i.copy()
        order = np.argsort(keys)
        for t in range(n):
            out_d[start + t] = seg_d[order[t]]
            out_i[start + t] = seg_i[order[t]]


class MIHIndex:
    """Multi-index hash tables over packed codes (built by :class:`HammingNeighbors`).

    Parameters
    ----------
    words : ndarray of shape (n_samples, n_words), dtype uint64
        Codes as rows of words (:func:`skhash.neighbors._kernels.to_words`), padding
        bits zero.
    n_bits : int
        Code length.
    n_substrings : int
        Number of substrings m (tables), of n_bits / m bits each (at most 24).
    """

    def __init__(self, words, n_bits, n_substrings):
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
        self.n_bits = int(n_bits)
        self.edges = edges
        self.sub_bits = sub_bits.astype(np.int64)
        n, n_words = words.shape
        # Bit masks of each substring in the same uint64 word layout as the codes.
        mask_bits = np.zeros((m, n_words * 64), dtype=bool)
        for i in range(m):
            mask_bits[i, edges[i] : edges[i + 1]] = True
        self.masks = np.ascontiguousarray(np.packbits(mask_bits, axis=1).view(np.uint64))
        keys = self.keys(words)
        index_dtype = np.int64 if n >= 2**31 else np.int32
        table_len = int(2 ** self.sub_bits.max()) + 1
        self.offsets = np.zeros((m, table_len), dtype=index_dtype)
        self.ids = np.empty((m, n), dtype=index_dtype)
        for i in range(m):
            counts = np.bincount(keys[:, i], minlength=2 ** int(self.sub_bits[i]))
            self.offsets[i, 1 : len(counts) + 1] = np.cumsum(counts)
            self.offsets[i, len(counts) + 1 :] = n
            # Stable: within a bucket, rows in increasing database index.
            self.ids[i] = np.argsort(keys[:, i], kind="stable")

    @property
    def nbytes(self):
        """Memory of the tables (offsets and ids), in bytes."""
        return int(self.offsets.nbytes + self.ids.nbytes + self.masks.nbytes)

    def keys(self, words, chunk=1 << 16):
        """Substring values of codes given as word rows: (n, m) int64, bit j -> 2^j."""
        n = words.shape[0]
        m = len(self.sub_bits)
        out = np.empty((n, m), dtype=np.int64)
        for a in range(0, n, chunk):
            packed = np.ascontiguousarray(words[a : a + chunk]).view(np.uint8)
            bits = np.unpackbits(packed, axis=1, count=self.n_bits)
            for i in range(m):
                sub = bits[:, self.edges[i] : self.edges[i + 1]].astype(np.int64)
                out[a : a + chunk, i] = sub @ (np.int64(1) << np.arange(sub.shape[1]))
        return out

    def kneighbors(self, Q_words, DT, k, *, self_offset=-1, n_jobs=None):
        """k-NN of query words against database words DT, same contract as brute."""
        n_q = Q_words.shape[0]
        dist = np.empty((n_q, k), dtype=np.int32)
        ind = np.empty((n_q, k), dtype=np.int64)
        if n_q == 0:
            return dist, ind
        qkeys = self.keys(Q_words)
        with _Threads(n_jobs):
            _mih_knn_kernel(Q_words, DT, qkeys, self.offsets, self.ids, self.sub_bits,
                            self.masks, k, self.n_bits, self_offset, dist, ind)  # fmt: skip
        return dist, ind

    def radius_neighbors(self, Q_words, DT, radius, *, self_offset=-1,
                         sort_results=False, n_jobs=None):  # fmt: skip
        """Radius search, same CSR contract as the brute kernel."""
        n_q = Q_words.shape[0]
        indptr = np.zeros(n_q + 1, dtype=np.int64)
        radius = int(min(radius, self.n_bits))
        if n_q == 0 or radius < 0:
            return indptr, np.empty(0, np.int32), np.empty(0, np.int64)
        qkeys = self.keys(Q_words)
        args = (Q_words, DT, qkeys, self.offsets, self.ids, self.sub_bits, self.masks, radius,
                self_offset)  # fmt: skip
        with _Threads(n_jobs):
            empty_d, empty_i = np.empty(0, np.int32), np.empty(0, np.int64)
            _mih_radius_kernel(*args, indptr, empty_d, empty_i, False, False, self.n_bits)
            np.cumsum(indptr, out=indptr)
            dist = np.empty(indptr[-1], dtype=np.int32)
            ind = np.empty(indptr[-1], dtype=np.int64)
            if indptr[-1]:
                _mih_radius_kernel(*args, indptr, dist, ind, True, sort_results, self.n_bits)
        return indptr, dist, ind
