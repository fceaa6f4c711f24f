"""numba kernels for Hamming search: XOR + popcount on packed words, fused with selection.

Layout. Queries are rows of unsigned words, ``Q[q, w]``. The database is stored
word-major, ``DT[w, j]`` (the transpose), so that for a fixed word the codes of
consecutive database rows are contiguous: the compiler then vectorises the XOR +
popcount over database rows (AVX-512 ``vpopcntq`` where the CPU has it, scalar
``popcnt`` otherwise). Codes of up to 32 bits are one uint8, uint16 or uint32 word,
XORed and counted at that width; longer codes are uint64 words.

Selection. Distances are integers in [0, n_bits]. The k-NN kernel keeps, per query,
the current k-th smallest distance ``tau``; a chunk of 512 database rows is first
reduced to its minimum distance (vectorised), and only a chunk whose minimum is
below ``tau`` is scanned row by row. Queries go in blocks that sweep the database in
tiles of 32 KB, so that a tile is read from memory once and compared from L1 with
every query of the block: without it, codes of 64 bits and more are bound by memory
bandwidth rather than by the popcounts. Candidates go to a buffer in database order with
a histogram of their distances, from which ``tau`` is read; the final order is a
stable counting sort. Equal distances are therefore always ordered by database index.
"""

import numba
import numpy as np
from numba import prange
from numba.extending import intrinsic

from .._numba import Threads, jit, parallel_jit

__all__ = [
    "hamming_distance_matrix",
    "kneighbors_words",
    "radius_neighbors_words",
    "radius_scratch_bytes",
    "to_words",
    "word_dtype",
]

# Bytes of database codes per tile: a tile stays in L1 while every query of a block is
# compared with it, so the database is read from memory once per block of queries.
_TILE_BYTES = 32768
# Queries that share one pass over the database tiles, at most (fewer when a call has
# too few queries to give every thread a block).
_QUERY_BLOCK = 64
# Database rows reduced to one minimum before the row-by-row test.
_CHUNK = 512


@intrinsic
def _popcount(typingctx, x):
    """Number of set bits of an unsigned integer: the LLVM ``ctpop`` intrinsic."""
    sig = x(x)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


@intrinsic
def _xor_popcount(typingctx, x, y):
    """popcount(x ^ y) in the width of the words (no promotion to 64 bits), so that
    the loops over uint8/16/32 words vectorise at their own width."""
    if x != y:
        return None
    sig = x(x, y)

    def codegen(context, builder, signature, args):
        return builder.ctpop(builder.xor(args[0], args[1]))

    return sig, codegen


def word_dtype(n_bytes):
    """Unsigned word type of codes of ``n_bytes`` bytes: the smallest of uint8, uint16
    and uint32 that holds the code, uint64 words beyond 4 bytes."""
    if n_bytes <= 1:
        return np.dtype(np.uint8)
    if n_bytes == 2:
        return np.dtype(np.uint16)
    if n_bytes <= 4:
        return np.dtype(np.uint32)
    return np.dtype(np.uint64)


def to_words(packed, n_bits=None, *, transpose=False):
    """Packed uint8 codes as unsigned words for the kernels.

    Codes of up to 32 bits become one word of the smallest type that holds them
    (uint8, uint16 or uint32: 3-byte codes are padded to 4); longer ones are
    zero-padded to a multiple of 8 bytes and viewed as uint64 words. numba compiles
    each kernel once per word type (and caches it on disk). Byte order inside a word
    does not matter: the Hamming distance counts differing bits and both sides share
    the layout. When ``n_bits`` is given, the unused low bits of the last byte are
    cleared so that they cannot count. ``transpose=True`` returns the database
    layout, shape (n_words, n), C order.
    """
    packed = np.asarray(packed, dtype=np.uint8)
    n, n_bytes = packed.shape
    dtype = word_dtype(n_bytes)
    width = dtype.itemsize * -(-n_bytes // dtype.itemsize)
    padded = np.zeros((n, width), dtype=np.uint8)
    padded[:, :n_bytes] = packed
    if n_bits is not None and n_bits % 8:
        padded[:, n_bytes - 1] &= np.uint8((0xFF << (8 - n_bits % 8)) & 0xFF)
    words = padded.view(dtype)
    return np.ascontiguousarray(words.T) if transpose else words


# --- distances of one query to a run of database rows --------------------------------
# One function per number of words so that the loop over database rows has a fixed
# body and vectorises; beyond four words (256 bits) a generic loop.


@jit
def _min1(x0, s0):
    mn = _xor_popcount(x0, s0[0])
    for j in range(1, s0.shape[0]):
        mn = min(mn, _xor_popcount(x0, s0[j]))
    return np.int64(mn)


@jit
def _min2(x0, s0, x1, s1):
    mn = _popcount(x0 ^ s0[0]) + _popcount(x1 ^ s1[0])
    for j in range(1, s0.shape[0]):
        mn = min(mn, _popcount(x0 ^ s0[j]) + _popcount(x1 ^ s1[j]))
    return np.int64(mn)


@jit
def _min3(x0, s0, x1, s1, x2, s2):
    mn = _popcount(x0 ^ s0[0]) + _popcount(x1 ^ s1[0]) + _popcount(x2 ^ s2[0])
    for j in range(1, s0.shape[0]):
        mn = min(mn, _popcount(x0 ^ s0[j]) + _popcount(x1 ^ s1[j]) + _popcount(x2 ^ s2[j]))
    return np.int64(mn)


@jit
def _min4(x0, s0, x1, s1, x2, s2, x3, s3):
    mn = (
        _popcount(x0 ^ s0[0])
        + _popcount(x1 ^ s1[0])
        + _popcount(x2 ^ s2[0])
        + _popcount(x3 ^ s3[0])
    )
    for j in range(1, s0.shape[0]):
        mn = min(
            mn,
            _popcount(x0 ^ s0[j])
            + _popcount(x1 ^ s1[j])
            + _popcount(x2 ^ s2[j])
            + _popcount(x3 ^ s3[j]),
        )
    return np.int64(mn)


def _wide(DT):
    """The kernels' ``wide`` argument for a word-major database ``DT``: None for codes of
    one word, True for longer ones. numba drops the branches that an argument's
    None-ness rules out before it compiles a function, so codes of one word (up to 64
    bits, the common case) compile only the one-word loops: about half the
    compilation of a first search."""
    return None if DT.shape[0] == 1 else True


def _serial_ok(wide):
    """Whether one thread may run a kernel's serial version: for codes of one word. On
    longer codes the parallel version's loops are about twice as fast, even on one
    thread (see :mod:`skhash._numba`)."""
    return wide is None


def _blocking(n_q, DT):
    """The kernels' ``(q_block, tile)``: queries per block, up to ``_QUERY_BLOCK`` (fewer
    when the call has too few queries to give each of numba's threads a block), and
    database rows per tile, ``_TILE_BYTES`` of codes in a whole number of chunks. Given
    as arguments rather than computed in the kernels: one function less to compile."""
    q_block = max(1, min(_QUERY_BLOCK, -(-n_q // numba.get_num_threads())))
    rows = _TILE_BYTES // (DT.shape[0] * DT.itemsize)
    return q_block, max(_CHUNK, rows - rows % _CHUNK)


@jit
def _chunk_min(Q, q, DT, c0, c1, wide):
    """Smallest distance from query ``q`` to database rows ``c0:c1`` (a lower bound of
    every row's distance; 0 for more than four words, where no bound is computed)."""
    if wide is None:
        return _min1(Q[q, 0], DT[0, c0:c1])
    n_words = DT.shape[0]
    if n_words == 2:
        return _min2(Q[q, 0], DT[0, c0:c1], Q[q, 1], DT[1, c0:c1])
    if n_words == 3:
        return _min3(Q[q, 0], DT[0, c0:c1], Q[q, 1], DT[1, c0:c1], Q[q, 2], DT[2, c0:c1])
    if n_words == 4:
        return _min4(
            Q[q, 0], DT[0, c0:c1], Q[q, 1], DT[1, c0:c1],
            Q[q, 2], DT[2, c0:c1], Q[q, 3], DT[3, c0:c1],
        )  # fmt: skip
    return np.int64(0)


@jit
def _dist(Q, q, DT, j):
    """Distance from query ``q`` to database row ``j`` (scalar path)."""
    d = np.int64(0)
    for w in range(DT.shape[0]):
        # Cast: int64 + uint64 would promote to float64 in numba.
        d += np.int64(_popcount(Q[q, w] ^ DT[w, j]))
    return d


@jit
def _row1(x0, s0, out):
    for j in range(s0.shape[0]):
        out[j] = _xor_popcount(x0, s0[j])


@jit
def _row2(x0, s0, x1, s1, out):
    for j in range(s0.shape[0]):
        out[j] = _popcount(x0 ^ s0[j]) + _popcount(x1 ^ s1[j])


@jit
def _row3(x0, s0, x1, s1, x2, s2, out):
    for j in range(s0.shape[0]):
        out[j] = _popcount(x0 ^ s0[j]) + _popcount(x1 ^ s1[j]) + _popcount(x2 ^ s2[j])


@jit
def _row4(x0, s0, x1, s1, x2, s2, x3, s3, out):
    for j in range(s0.shape[0]):
        out[j] = (
            _popcount(x0 ^ s0[j])
            + _popcount(x1 ^ s1[j])
            + _popcount(x2 ^ s2[j])
            + _popcount(x3 ^ s3[j])
        )


@jit
def _row_dists(Q, q, DT, c0, c1, out, wide):
    """Distances from query ``q`` to database rows ``c0:c1`` written to ``out``."""
    if wide is None:
        _row1(Q[q, 0], DT[0, c0:c1], out)
        return
    n_words = DT.shape[0]
    if n_words == 2:
        _row2(Q[q, 0], DT[0, c0:c1], Q[q, 1], DT[1, c0:c1], out)
    elif n_words == 3:
        _row3(Q[q, 0], DT[0, c0:c1], Q[q, 1], DT[1, c0:c1], Q[q, 2], DT[2, c0:c1], out)
    elif n_words == 4:
        _row4(
            Q[q, 0], DT[0, c0:c1], Q[q, 1], DT[1, c0:c1],
            Q[q, 2], DT[2, c0:c1], Q[q, 3], DT[3, c0:c1], out,
        )  # fmt: skip
    else:
        for j in range(c1 - c0):
            out[j] = _dist(Q, q, DT, c0 + j)


# --- dense distance matrix ------------------------------------------------------------


@parallel_jit
def _distance_matrix_kernel(Q, DT, out, q_block, tile, wide):
    n_q = Q.shape[0]
    n_db = DT.shape[1]
    n_blocks = (n_q + q_block - 1) // q_block
    for b in prange(n_blocks):
        q0 = b * q_block
        q1 = min(q0 + q_block, n_q)
        for t0 in range(0, n_db, tile):
            t1 = min(t0 + tile, n_db)
            for q in range(q0, q1):
                _row_dists(Q, q, DT, t0, t1, out[q, t0:t1], wide)


def hamming_distance_matrix(Q_packed, D_packed, n_jobs=None):
    """Hamming distances between two sets of packed codes, as a dense int32 matrix.

    Meant for one chunk of queries at a time: the result is (n_q, n_db).

    Parameters
    ----------
    Q_packed : ndarray of shape (n_q, n_bytes), dtype uint8
        Packed query codes (:func:`skhash.codes.pack_codes` layout).
    D_packed : ndarray of shape (n_db, n_bytes), dtype uint8
        Packed database codes, with the same number of bytes per row.
    n_jobs : int, default=None
        Threads (joblib's convention: None means 1, -1 all cores).

    Returns
    -------
    dist : ndarray of shape (n_q, n_db), dtype int32
        Number of differing bits.

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.neighbors._kernels import hamming_distance_matrix
    >>> Q = np.array([[0b10110000]], dtype=np.uint8)
    >>> D = np.array([[0b10110000], [0b01000000], [0b10100001]], dtype=np.uint8)
    >>> hamming_distance_matrix(Q, D)
    array([[0, 4, 2]], dtype=int32)
    """
    Q_packed = np.asarray(Q_packed)
    D_packed = np.asarray(D_packed)
    if Q_packed.dtype != np.uint8 or D_packed.dtype != np.uint8:
        raise ValueError(
            f"packed codes must have dtype uint8; got {Q_packed.dtype} and {D_packed.dtype}."
        )
    if Q_packed.ndim != 2 or D_packed.ndim != 2 or Q_packed.shape[1] != D_packed.shape[1]:
        raise ValueError(
            "packed codes must be 2-D with the same number of bytes per row; got shapes "
            f"{Q_packed.shape} and {D_packed.shape}."
        )
    out = np.empty((Q_packed.shape[0], D_packed.shape[0]), dtype=np.int32)
    if out.size == 0:
        return out
    Q = to_words(Q_packed)
    DT = to_words(D_packed, transpose=True)
    with Threads(n_jobs):
        _distance_matrix_kernel(Q, DT, out, *_blocking(Q.shape[0], DT), _wide(DT))
    return out


# --- k nearest neighbours -------------------------------------------------------------


@jit
def _threshold(hist, k, n_bits):
    """Smallest t with hist[0] + ... + hist[t] >= k, or n_bits + 1 if there is none."""
    c = 0
    for t in range(n_bits + 1):
        c += hist[t]
        if c >= k:
            return t
    return n_bits + 1


@jit
def _push(d, j, k, n_bits, th, buf_d, buf_i, size, hist):
    """Append candidate (d, j) to one query's buffer; return the new threshold tau."""
    cap = buf_d.shape[0]
    s = size[0]
    if s == cap:
        # Compact: rows beyond tau can never be selected. At most k - 1 rows lie below
        # tau and at most k at tau (after k rows at <= tau no row at tau is accepted),
        # and cap >= 2k, so this always frees room.
        s = 0
        hist[:] = 0
        for r in range(cap):
            dr = buf_d[r]
            if dr <= th:
                buf_d[s] = dr
                buf_i[s] = buf_i[r]
                hist[dr] += 1
                s += 1
    buf_d[s] = d
    buf_i[s] = j
    size[0] = s + 1
    hist[d] += 1
    if s + 1 >= k:
        return _threshold(hist, k, n_bits)
    return th


@jit
def _knn_block(Q, DT, k, n_bits, self_offset, out_dist, out_ind, q0, q1, tile, wide):
    n_db = DT.shape[1]
    m = q1 - q0
    cap = 2 * k + 64
    buf_d = np.empty((m, cap), dtype=np.int32)
    buf_i = np.empty((m, cap), dtype=np.int64)
    size = np.zeros((m, 1), dtype=np.int64)
    hist = np.zeros((m, n_bits + 2), dtype=np.int64)
    tau = np.full(m, n_bits + 1, dtype=np.int64)
    dists = np.empty(_CHUNK, dtype=np.int32)
    for t0 in range(0, n_db, tile):
        t1 = min(t0 + tile, n_db)
        for qi in range(m):
            q = q0 + qi
            skip = q + self_offset if self_offset >= 0 else -1
            th = tau[qi]
            for c0 in range(t0, t1, _CHUNK):
                c1 = min(c0 + _CHUNK, t1)
                if _chunk_min(Q, q, DT, c0, c1, wide) >= th:
                    continue
                _row_dists(Q, q, DT, c0, c1, dists, wide)
                for r in range(c1 - c0):
                    d = dists[r]
                    if d < th and c0 + r != skip:
                        th = _push(
                            d, c0 + r, k, n_bits, th, buf_d[qi], buf_i[qi], size[qi], hist[qi]
                        )
            tau[qi] = th
    # Stable counting sort of each buffer by distance; the first k are the answer.
    start = np.empty(n_bits + 2, dtype=np.int64)
    for qi in range(m):
        q = q0 + qi
        th = tau[qi]
        start[:] = 0
        s = size[qi, 0]
        for r in range(s):
            dr = buf_d[qi, r]
            if dr <= th:
                start[dr + 1] += 1
        for t in range(1, n_bits + 2):
            start[t] += start[t - 1]
        for r in range(s):
            dr = buf_d[qi, r]
            if dr <= th:
                pos = start[dr]
                start[dr] += 1
                if pos < k:
                    out_dist[q, pos] = dr
                    out_ind[q, pos] = buf_i[qi, r]


@parallel_jit
def _knn_kernel(Q, DT, k, n_bits, self_offset, out_dist, out_ind, q_block, tile, wide):
    n_q = Q.shape[0]
    n_blocks = (n_q + q_block - 1) // q_block
    for b in prange(n_blocks):
        q0 = b * q_block
        q1 = min(q0 + q_block, n_q)
        _knn_block(Q, DT, k, n_bits, self_offset, out_dist, out_ind, q0, q1, tile, wide)


def kneighbors_words(Q, DT, k, n_bits, *, self_offset=-1, n_jobs=None):
    """The ``k`` nearest database rows of every query row, ties by database index.

    ``Q`` comes from :func:`to_words`, ``DT`` from ``to_words(..., transpose=True)``.
    Returns ``(dist, ind)``: int32 distances and int64 indices of shape (n_q, k),
    sorted by distance then index. With ``self_offset >= 0``, query ``q`` never
    returns database row ``q + self_offset`` (the fitted points querying themselves).
    The caller guarantees that ``k`` does not exceed the eligible database rows.
    """
    n_q = Q.shape[0]
    dist = np.empty((n_q, k), dtype=np.int32)
    ind = np.empty((n_q, k), dtype=np.int64)
    if n_q == 0 or k == 0:
        return dist, ind
    with Threads(n_jobs):
        w = _wide(DT)
        qb, tile = _blocking(n_q, DT)
        _knn_kernel(Q, DT, k, n_bits, self_offset, dist, ind, qb, tile, w, serial=_serial_ok(w))
    return dist, ind


# --- radius neighbours ----------------------------------------------------------------


@parallel_jit
def _radius_kernel(
    Q, DT, radius, self_offset, offsets, out_dist, out_ind, hits, fill, q_block, tile, wide
):
    """Count (``fill=False``, into ``offsets[q + 1]``, marking in ``hits[q, t]`` the
    tiles ``t`` that hold a row within radius) or write the rows within radius,
    scanning only the marked tiles."""
    n_q = Q.shape[0]
    n_db = DT.shape[1]
    n_blocks = (n_q + q_block - 1) // q_block
    for b in prange(n_blocks):
        q0 = b * q_block
        q1 = min(q0 + q_block, n_q)
        pos = np.zeros(q1 - q0, dtype=np.int64)
        dists = np.empty(_CHUNK, dtype=np.int32)
        if fill:
            pos[:] = offsets[q0:q1]
        for t0 in range(0, n_db, tile):
            t1 = min(t0 + tile, n_db)
            for q in range(q0, q1):
                if fill and not hits[q, t0 // tile]:
                    continue
                skip = q + self_offset if self_offset >= 0 else -1
                p = pos[q - q0]
                p_tile = p
                for c0 in range(t0, t1, _CHUNK):
                    c1 = min(c0 + _CHUNK, t1)
                    if _chunk_min(Q, q, DT, c0, c1, wide) > radius:
                        continue
                    _row_dists(Q, q, DT, c0, c1, dists, wide)
                    for r in range(c1 - c0):
                        d = dists[r]
                        if d <= radius and c0 + r != skip:
                            if fill:
                                out_dist[p] = d
                                out_ind[p] = c0 + r
                            p += 1
                pos[q - q0] = p
                if not fill:
                    hits[q, t0 // tile] = p > p_tile
        if not fill:
            for q in range(q0, q1):
                offsets[q + 1] = pos[q - q0]


@parallel_jit
def _sort_segments_kernel(offsets, dist, ind, n_bits):
    """Stable counting sort of each query's segment by distance (ties stay by index)."""
    n_q = offsets.shape[0] - 1
    for q in prange(n_q):
        a = offsets[q]
        z = offsets[q + 1]
        if z - a < 2:
            continue
        start = np.zeros(n_bits + 2, dtype=np.int64)
        for r in range(a, z):
            start[dist[r] + 1] += 1
        for t in range(1, n_bits + 2):
            start[t] += start[t - 1]
        seg_d = dist[a:z].copy()
        seg_i = ind[a:z].copy()
        for r in range(z - a):
            dr = seg_d[r]
            p = a + start[dr]
            start[dr] += 1
            dist[p] = dr
            ind[p] = seg_i[r]


def radius_scratch_bytes(DT):
    """Bytes per query that :func:`radius_neighbors_words` holds besides its output:
    one flag per database tile, set by the counting pass where a tile holds a row
    within the radius, so that the writing pass scans only those tiles."""
    return -(-DT.shape[1] // _blocking(1, DT)[1])


def radius_neighbors_words(
    Q, DT, radius, n_bits, *, self_offset=-1, sort_results=False, n_jobs=None
):
    """Database rows within Hamming distance ``radius`` of every query row.

    Returns ``(offsets, dist, ind)`` in CSR layout: query ``q``'s neighbours are
    ``ind[offsets[q]:offsets[q + 1]]`` (int64) at distances ``dist[...]`` (int32), in
    database order, or by distance then index with ``sort_results=True``. Two passes
    (count, then fill) so that the output is allocated once at its exact size; the
    second scans only the tiles of database rows where the first found a neighbour.
    """
    n_q = Q.shape[0]
    radius = int(min(radius, n_bits + 1))
    offsets = np.zeros(n_q + 1, dtype=np.int64)
    empty_d = np.empty(0, dtype=np.int32)
    empty_i = np.empty(0, dtype=np.int64)
    if n_q == 0 or radius < 0:
        return offsets, empty_d, empty_i
    w = _wide(DT)
    serial = _serial_ok(w)
    hits = np.empty((n_q, radius_scratch_bytes(DT)), dtype=np.bool_)
    with Threads(n_jobs):
        qb, tile = _blocking(n_q, DT)
        _radius_kernel(Q, DT, radius, self_offset, offsets, empty_d, empty_i, hits, False,
                       qb, tile, w, serial=serial)  # fmt: skip
        np.cumsum(offsets, out=offsets)
        dist = np.empty(offsets[-1], dtype=np.int32)
        ind = np.empty(offsets[-1], dtype=np.int64)
        if offsets[-1]:
            _radius_kernel(Q, DT, radius, self_offset, offsets, dist, ind, hits, True,
                           qb, tile, w, serial=serial)  # fmt: skip
            if sort_results:
                _sort_segments_kernel(offsets, dist, ind, n_bits)
    return offsets, dist, ind
