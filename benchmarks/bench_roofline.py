"""The Hamming scan's roofline on this machine beside HammingNeighbors' k-NN and radius search.

Run from the repository root::

    python benchmarks/bench_roofline.py                   # 1M codes, 1000 queries, 2 and 1 threads
    python benchmarks/bench_roofline.py --threads 2 --bits 64 256
    python benchmarks/bench_roofline.py --no-avx512       # also rerun without AVX-512

Protocol: uniformly random codes (the same packed bytes for every row of a table). The
roofline is a plain numba loop, parallel over queries, that for one query at a time
XORs it with every database code of the contiguous word-major array, popcounts (LLVM
``ctpop``) and counts the codes within a radius: no selection, no output but a count,
so it is what the scan itself costs here. At 32 bits it is not a limit: numba widens
the count to 64-bit lanes (its integer arithmetic promotes to int64), while the kernels
compare and reduce at the words' own width, so they beat it there. The same words are
then searched with ``HammingNeighbors(algorithm="brute")``: ``kneighbors`` at k = 1, 10 and 100, and
``radius_neighbors`` at the radius within which a query has about 10 random codes
(binomial tail). Every row prints billions of (query, code) pairs per second
(n_queries x n_db / seconds) and its ratio to the roofline of the same length and
threads. Timings are the best of ``--repeat`` runs after a warm-up (numba compiles on
first use); the machine is likely shared, so the load average is printed before and
after, with the CPU model and whether it has AVX-512.

``--no-avx512`` reruns the same script in a subprocess whose numba targets the host
CPU with its AVX-512 features turned off (``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES``,
an empty ``NUMBA_CACHE_DIR`` so that nothing compiled for AVX-512 is reused): what the
code does on a CPU without AVX-512, such as a Haswell-to-Skylake client part.

Results: the printed output of recorded runs, with machine, date and command, is in
``docs/results/bench_roofline.txt``; docs/user_guide/search.rst includes it.
"""

import argparse
import datetime
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

import numba
import numpy as np
from numba import prange
from numba.extending import intrinsic

from skhash import HammingNeighbors
from skhash.neighbors._kernels import to_words


@intrinsic
def _ctpop(typingctx, x):
    sig = x(x)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


@numba.njit(nogil=True, boundscheck=False)
def _run1(x0, s0, radius):
    c = 0
    for j in range(s0.shape[0]):
        c += np.int64(_ctpop(x0 ^ s0[j])) <= radius
    return c


@numba.njit(nogil=True, boundscheck=False)
def _run2(x0, s0, x1, s1, radius):
    c = 0
    for j in range(s0.shape[0]):
        c += np.int64(_ctpop(x0 ^ s0[j]) + _ctpop(x1 ^ s1[j])) <= radius
    return c


@numba.njit(nogil=True, boundscheck=False)
def _run4(x0, s0, x1, s1, x2, s2, x3, s3, radius):
    c = 0
    for j in range(s0.shape[0]):
        d = _ctpop(x0 ^ s0[j]) + _ctpop(x1 ^ s1[j]) + _ctpop(x2 ^ s2[j]) + _ctpop(x3 ^ s3[j])
        c += np.int64(d) <= radius
    return c


@numba.njit(parallel=True, nogil=True, boundscheck=False)
def _count(Q, DT, radius, out, q_block, tile):
    """Per query, the codes within ``radius``; queries in blocks of ``q_block`` that
    each sweep the database in runs of ``tile`` codes (1 and n_db: one query at a time
    over the whole array)."""
    n_q, n_db, n_words = Q.shape[0], DT.shape[1], DT.shape[0]
    for b in prange((n_q + q_block - 1) // q_block):
        q0 = b * q_block
        q1 = min(q0 + q_block, n_q)
        for q in range(q0, q1):
            out[q] = 0
        for t0 in range(0, n_db, tile):
            t1 = min(t0 + tile, n_db)
            for q in range(q0, q1):
                if n_words == 1:
                    out[q] += _run1(Q[q, 0], DT[0, t0:t1], radius)
                elif n_words == 2:
                    out[q] += _run2(Q[q, 0], DT[0, t0:t1], Q[q, 1], DT[1, t0:t1], radius)
                else:
                    out[q] += _run4(
                        Q[q, 0], DT[0, t0:t1], Q[q, 1], DT[1, t0:t1],
                        Q[q, 2], DT[2, t0:t1], Q[q, 3], DT[3, t0:t1], radius,
                    )  # fmt: skip


def roofline_count(Q, DT, radius, blocked=False):
    """Per query, the number of database codes within ``radius``: one query at a time
    over the whole array, or (``blocked``) 64 queries per sweep of 32 KB tiles, so
    that the codes are read from L1/L2 rather than from memory."""
    out = np.zeros(Q.shape[0], dtype=np.int64)
    tile = 32768 // (DT.shape[0] * DT.itemsize)
    _count(Q, DT, radius, out, *((64, tile) if blocked else (1, DT.shape[1])))
    return out


def radius_for(n_bits, n_db, expected):
    """Smallest radius within which a random query has at least ``expected`` random
    codes of ``n_db`` on average."""
    tail = 0
    for r in range(n_bits + 1):
        tail += math.comb(n_bits, r)
        if tail / 2.0**n_bits * n_db >= expected:
            return r
    return n_bits


def best_time(fn, repeat):
    fn()
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def machine():
    """CPU model, cores, AVX-512 or not, and what numba targets."""
    model, flags = platform.processor() or "unknown CPU", ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = line
                    break
    except OSError:
        pass
    if "avx512_vpopcntdq" in flags:
        avx512 = "AVX-512 with VPOPCNTDQ"
    else:
        avx512 = "AVX-512F" if "avx512f" in flags else "no AVX-512"
    target = os.environ.get("NUMBA_CPU_NAME")
    if target is None:
        numba_target = "numba targets the host"
    else:
        off = "-avx512f" in os.environ.get("NUMBA_CPU_FEATURES", "")
        numba_target = f"numba targets {target}, AVX-512 features {'off' if off else 'on'}"
    return (
        f"{model}, {os.cpu_count()} cores, {avx512}; {numba_target}; "
        f"numba {numba.__version__}, Python {platform.python_version()}"
    )


def line(name, g, roof, block, extra=""):
    """One row: billions of pairs per second and the ratios to both rooflines."""
    return f"  {name:<32} {g:>6.2f} G pairs/s  {g / roof:>5.2f}  {g / block:>5.2f}{extra}"


def bench(n_bits, n_db, n_q, ks, threads, repeat, rng):
    n_bytes = n_bits // 8
    db = rng.integers(0, 256, size=(n_db, n_bytes), dtype=np.uint8)
    queries = rng.integers(0, 256, size=(n_q, n_bytes), dtype=np.uint8)
    Q = to_words(queries, n_bits)
    DT = to_words(db, n_bits, transpose=True)
    radius = radius_for(n_bits, n_db, 10)
    counts = roofline_count(Q, DT, radius)
    pairs = n_db * n_q / 1e9
    for nt in threads:
        numba.set_num_threads(nt)
        roof = pairs / best_time(lambda: roofline_count(Q, DT, radius), repeat)
        block = pairs / best_time(lambda: roofline_count(Q, DT, radius, True), repeat)
        print(f"\n{n_bits}-bit codes, {n_db:,d} codes, {n_q:,d} queries, {nt} thread(s)")
        print(line("roofline: XOR+popcount+count", roof, roof, block))
        print(line("same, queries blocked on cache", block, roof, block))
        index = HammingNeighbors(packed=True, algorithm="brute", n_jobs=nt).fit(db)
        for k in ks:
            s = best_time(lambda k=k, i=index: i.kneighbors(queries, n_neighbors=k), repeat)
            print(line(f"kneighbors k={k}", pairs / s, roof, block))
        s = best_time(lambda i=index: i.radius_neighbors(queries, radius=radius), repeat)
        found = [len(i) for i in index.radius_neighbors(queries, radius=radius)[1]]
        same = np.array_equal(found, counts)
        extra = f"  ({counts.mean():.1f} per query; counts as the roofline's: {same})"
        print(line(f"radius_neighbors r={radius}", pairs / s, roof, block, extra))


def rerun_without_avx512(args):
    from llvmlite import binding as llvm

    llvm.initialize_native_target()
    features = llvm.get_host_cpu_features().flatten()
    features = ",".join(
        "-" + f[1:] if f[1:].startswith("avx512") else f for f in features.split(",")
    )
    argv = [sys.executable, __file__, "--n-db", str(args.n_db), "--n-queries",
            str(args.n_queries), "--repeat", str(args.repeat), "--bits",
            *map(str, args.bits), "--k", *map(str, args.k), "--threads",
            *map(str, args.threads)]  # fmt: skip
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "NUMBA_CPU_NAME": "skylake",
               "NUMBA_CPU_FEATURES": features}  # fmt: skip
        print("\n--- same script, numba targeting skylake (AVX2, no AVX-512), empty cache ---",
              flush=True)  # fmt: skip
        subprocess.run(argv, env=env, check=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-db", type=int, default=1_000_000)
    p.add_argument("--n-queries", type=int, default=1000)
    p.add_argument("--bits", type=int, nargs="+", default=[32, 64, 128, 256])
    p.add_argument("--k", type=int, nargs="+", default=[1, 10, 100])
    p.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-avx512", action="store_true", help="then rerun without AVX-512")
    args = p.parse_args()
    print(f"{datetime.datetime.now():%Y-%m-%d %H:%M}  {machine()}")
    print(f"load average at the start {os.getloadavg()[0]:.2f}")
    print("G pairs/s = n_queries x n_db / best time; then the ratios to the roofline (the")
    print("streaming loop of the issue) and to the same loop blocked on cache")
    rng = np.random.default_rng(0)
    for n_bits in args.bits:
        bench(n_bits, args.n_db, args.n_queries, args.k, args.threads, args.repeat, rng)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}", flush=True)
    if args.no_avx512:
        rerun_without_avx512(args)


if __name__ == "__main__":
    main()
