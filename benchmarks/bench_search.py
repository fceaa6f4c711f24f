"""HammingNeighbors against FAISS IndexBinaryFlat and sklearn NearestNeighbors(metric="hamming").

Run from the repository root with the bench extra installed (``pip install -e .[bench]``)::

    python benchmarks/bench_search.py                 # 1M codes, 1000 queries, k=10, 2 threads
    python benchmarks/bench_search.py --n-db 200000 --bits 64

Protocol: uniformly random codes, the same packed bytes given to every method; k-NN of
every query; the same thread count for all (numba threads for HammingNeighbors,
``faiss.omp_set_num_threads`` for FAISS, ``n_jobs`` for scikit-learn). scikit-learn is
timed on a subset of the database (it is too slow for the full one) and compared with
HammingNeighbors on the same subset. Throughput is reported as queries per second and
as code comparisons per second (n_queries x n_db / seconds). Every method's distances
are checked against HammingNeighbors': the script exits with status 1 (after printing
every table) if any method's distances differ. Timings are the best of several repeats
after a warm-up (numba compiles on first use); the load average is printed because the
machine may be shared.

Results: the printed output of recorded runs, each with its machine, date and
command, is in ``docs/results/bench_search.txt``;
docs/user_guide/search.rst summarises it.
"""

import argparse
import os
import sys
import time

import numpy as np
from sklearn.neighbors import NearestNeighbors

from skhash import HammingNeighbors


def best_time(fn, repeat=3):
    """Best wall-clock time of ``fn()`` over ``repeat`` runs, after one warm-up run."""
    fn()
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def row(name, n_db, n_q, seconds):
    """One line of the table: database size, queries/s and code comparisons/s."""
    qps = n_q / seconds
    return f"  {name:<34} {n_db:>9,d} {qps:>10,.0f} q/s {n_db * n_q / seconds / 1e9:>6.2f} G cmp/s"


def bench(n_bits, n_db, n_queries, k, n_jobs, sklearn_db, rng):
    n_bytes = n_bits // 8
    db = rng.integers(0, 256, size=(n_db, n_bytes), dtype=np.uint8)
    queries = rng.integers(0, 256, size=(n_queries, n_bytes), dtype=np.uint8)
    print(f"\n{n_bits}-bit codes, {n_db:,d} database codes, {n_queries} queries, k={k}, "
          f"{n_jobs} threads")  # fmt: skip

    index = HammingNeighbors(n_neighbors=k, packed=True, n_jobs=n_jobs, algorithm="brute").fit(db)
    ours_s = best_time(lambda: index.kneighbors(queries))
    ours_d = index.kneighbors(queries)[0]
    print(row("skhash HammingNeighbors", n_db, n_queries, ours_s))
    out = {"ours": ours_s, "mismatches": []}

    try:
        import faiss
    except ImportError:
        print("  faiss not installed: pip install faiss-cpu")
    else:
        faiss.omp_set_num_threads(n_jobs)
        flat = faiss.IndexBinaryFlat(n_bits)
        flat.add(db)
        faiss_s = best_time(lambda: flat.search(queries, k))
        faiss_d = flat.search(queries, k)[0]
        same = np.array_equal(faiss_d, ours_d)
        print(row("faiss IndexBinaryFlat", n_db, n_queries, faiss_s)
              + f"   distances equal: {same}")  # fmt: skip
        out["faiss"] = faiss_s
        if not same:
            out["mismatches"].append(f"{n_bits} bits: FAISS")
        print(f"  -> HammingNeighbors / FAISS speed: {faiss_s / ours_s:.1f}x")

    # scikit-learn on a subset, against HammingNeighbors on the same subset. sklearn's
    # hamming metric wants one column per bit; it gets 0/1 float64 (its fastest path).
    sub = db[:sklearn_db]
    bits_db = np.unpackbits(sub, axis=1).astype(np.float64)
    bits_q = np.unpackbits(queries, axis=1).astype(np.float64)
    small = HammingNeighbors(n_neighbors=k, packed=True, n_jobs=n_jobs, algorithm="brute")
    small.fit(sub)
    small_s = best_time(lambda: small.kneighbors(queries))
    nn = NearestNeighbors(n_neighbors=k, metric="hamming", algorithm="brute", n_jobs=n_jobs)
    nn.fit(bits_db)
    start = time.perf_counter()
    sk_d = nn.kneighbors(bits_q)[0]
    sk_s = time.perf_counter() - start  # one run: it takes seconds
    same = np.array_equal(np.rint(sk_d * n_bits).astype(np.int32), small.kneighbors(queries)[0])
    print(row("skhash HammingNeighbors (subset)", sklearn_db, n_queries, small_s))
    print(row("sklearn NearestNeighbors hamming", sklearn_db, n_queries, sk_s)
          + f"   distances equal: {same}")  # fmt: skip
    print(f"  -> HammingNeighbors / sklearn speed: {sk_s / small_s:.0f}x")
    out.update(ours_subset=small_s, sklearn=sk_s)
    if not same:
        out["mismatches"].append(f"{n_bits} bits: scikit-learn")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-db", type=int, default=1_000_000)
    parser.add_argument("--n-queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--sklearn-db", type=int, default=100_000)
    parser.add_argument("--bits", type=int, nargs="+", default=[64, 256])
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs")
    rng = np.random.default_rng(0)
    mismatches = []
    for n_bits in args.bits:
        out = bench(n_bits, args.n_db, args.n_queries, args.k, args.n_jobs,
                    min(args.sklearn_db, args.n_db), rng)  # fmt: skip
        mismatches += out["mismatches"]
    print(f"\nload average {os.getloadavg()[0]:.2f} (1 min)")
    if mismatches:
        sys.exit("distances differ from HammingNeighbors': " + "; ".join(mismatches))


if __name__ == "__main__":
    main()
