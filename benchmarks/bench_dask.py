"""What one machine handles, and what sharding over Dask costs.

Run from the repository root (``pip install -e .[dask]``)::

    python benchmarks/bench_dask.py                                  # 1M and 10M codes
    python benchmarks/bench_dask.py --sizes 200000 --n-queries 100   # quick

Three parts, all on 64-bit codes (``--bits``) and k = 10 (``--k``):

1. **Memory per code** of ``HammingNeighbors``: bytes retained by ``fit`` (traced with
   :mod:`tracemalloc`, which sees NumPy's buffers), divided by the number of codes, for
   the exhaustive kernel (``algorithm="brute"``) and for multi-index hashing
   (``algorithm="mih"``, whose substring tables come on top of the codes).
2. **Queries per second** of ``HammingNeighbors`` at each size, on one thread and on
   ``--threads`` threads, for two kinds of codes: ``uniform`` (independent random bits,
   the worst case: at 1M codes the 10th neighbour is ~13 bits away) and ``clustered``
   (``--n-centers`` random centres, every code a centre with ``--flips`` random bits
   flipped, queries drawn the same way: neighbours are close, as with learned codes).
   The exhaustive kernel's cost is linear in the database size, so its rate at 100M
   codes is extrapolated from the largest size measured.
3. **Dask overhead**: ``skhash.dask.DaskHammingNeighbors`` on the same uniform codes,
   against ``HammingNeighbors`` with the same number of threads, on Dask's local
   threaded scheduler and on a ``distributed.LocalCluster`` of ``--threads`` worker
   processes with one thread each. Reported: fit time (for the cluster: shipping the
   codes to the workers and indexing them), the time of a batch of ``--n-queries``
   queries and of a single query (the fixed cost of a round trip through the
   scheduler), and their ratios to the best single-machine time (``HammingNeighbors``
   with 1 or ``--threads`` threads). Results are checked identical.

Timings are the best of ``--repeat`` runs after a warm-up (numba compiles on first use).
The load average is printed: on a shared machine every number is a lower bound.
"""

import argparse
import gc
import logging
import os
import time
import tracemalloc

import numpy as np

from skhash import HammingNeighbors


def best_time(fn, repeat):
    """Best wall-clock time of ``fn()`` over ``repeat`` runs, after one warm-up run."""
    fn()
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def uniform_codes(n, n_bytes, rng):
    return rng.integers(0, 256, size=(n, n_bytes), dtype=np.uint8)


def clustered_codes(n, n_bits, centers, flips, rng):
    """Codes drawn around ``centers`` (packed), each with ``flips`` random bits flipped."""
    codes = centers[rng.integers(0, len(centers), size=n)]
    rows = np.arange(n)
    for _ in range(flips):
        pos = rng.integers(0, n_bits, size=n)
        codes[rows, pos // 8] ^= (128 >> (pos % 8)).astype(np.uint8)
    return codes


def retained_bytes(make):
    """Bytes still allocated (by Python and NumPy) once ``make()`` returns its object."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        obj = make()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return obj, after - before


def single_machine(args, rng):
    """Parts 1 and 2: memory per code and queries per second of HammingNeighbors."""
    n_bytes = args.bits // 8
    centers = uniform_codes(args.n_centers, n_bytes, rng)
    rates = {}
    print(f"\n== HammingNeighbors: {args.bits}-bit codes, k={args.k} ==")
    print(
        f"{'codes':>11} {'data':>9} {'algorithm':>9} {'B/code':>7} {'fit s':>6} "
        f"{'q/s 1 thr':>10} {f'q/s {args.threads} thr':>10} {'G cmp/s':>8}"
    )
    for n in args.sizes:
        for kind in ("uniform", "clustered"):
            if kind == "uniform":
                db = uniform_codes(n, n_bytes, rng)
                queries = uniform_codes(args.n_queries, n_bytes, rng)
            else:
                db = clustered_codes(n, args.bits, centers, args.flips, rng)
                queries = clustered_codes(args.n_queries, args.bits, centers, args.flips, rng)
            reference = None
            for algorithm in ("brute", "mih"):
                params = {"n_neighbors": args.k, "packed": True, "algorithm": algorithm}
                _, nbytes = retained_bytes(lambda p=params, d=db: HammingNeighbors(**p).fit(d))
                gc.collect()
                start = time.perf_counter()
                index = HammingNeighbors(**params).fit(db)
                fit_s = time.perf_counter() - start
                qps = {}
                for n_jobs in (1, args.threads):
                    index.set_params(n_jobs=n_jobs)
                    seconds = best_time(lambda i=index, q=queries: i.kneighbors(q), args.repeat)
                    qps[n_jobs] = len(queries) / seconds
                result = index.kneighbors(queries)
                if reference is None:
                    reference = result
                else:
                    assert all(np.array_equal(a, b) for a, b in zip(result, reference, strict=True))
                rates[n, kind, algorithm] = qps
                cmp = max(qps.values()) * n / 1e9
                print(
                    f"{n:>11,d} {kind:>9} {algorithm:>9} {nbytes / n:>7.1f} {fit_s:>6.2f} "
                    f"{qps[1]:>10,.0f} {qps[args.threads]:>10,.0f} {cmp:>8.2f}"
                )
                del index
    largest = max(args.sizes)
    print("\nExtrapolated to 100,000,000 codes (exhaustive kernel, linear in the codes):")
    print(f"  memory {100e6 * 8 * ((args.bits + 63) // 64) / 1e9:.1f} GB of codes")
    for kind in ("uniform", "clustered"):
        qps = rates[largest, kind, "brute"]
        scale = largest / 100e6
        print(
            f"  {kind:>9}: {qps[1] * scale:,.1f} q/s on 1 thread, "
            f"{qps[args.threads] * scale:,.1f} q/s on {args.threads}"
        )
    return rates


def dask_overhead(args, rng):
    """Part 3: DaskHammingNeighbors (threaded scheduler, LocalCluster) against one machine."""
    import contextlib

    import dask
    import dask.array as da
    import distributed

    from skhash.dask import DaskHammingNeighbors

    n_bytes = args.bits // 8
    print(f"\n== Dask overhead: uniform {args.bits}-bit codes, k={args.k}, {args.threads} cores ==")
    print(
        f"{'codes':>11} {'setup':>26} {'shards':>6} {'fit s':>7} "
        f"{f'{args.n_queries} q s':>8} {'1 q ms':>8} {'x batch':>8} {'x 1 q':>7}"
    )
    cluster = distributed.LocalCluster(
        n_workers=args.threads,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.CRITICAL,
    )
    client = distributed.Client(cluster)
    try:
        for n in args.sizes:
            db = uniform_codes(n, n_bytes, rng)
            queries = uniform_codes(args.n_queries, n_bytes, rng)
            params = {"n_neighbors": args.k, "packed": True, "algorithm": "brute"}
            expected = None
            batch, one = np.inf, np.inf  # the best single-machine times, the reference
            for n_jobs in sorted({1, args.threads}):
                start = time.perf_counter()
                single = HammingNeighbors(n_jobs=n_jobs, **params).fit(db)
                fit_s = time.perf_counter() - start
                t_batch = best_time(lambda s=single, q=queries: s.kneighbors(q), args.repeat)
                t_one = best_time(lambda s=single, q=queries[:1]: s.kneighbors(q), args.repeat)
                batch, one = min(batch, t_batch), min(one, t_one)
                expected = single.kneighbors(queries)
                label = f"HammingNeighbors n_jobs={n_jobs}"
                print(
                    f"{n:>11,d} {label:>26} {1:>6} {fit_s:>7.2f} {t_batch:>8.2f} "
                    f"{t_one * 1e3:>8.1f}"
                )
                del single
            for setup in ("threads", "cluster"):
                for n_shards in args.shards:
                    chunks = (-(-n // n_shards), n_bytes)
                    # dask.config.set applies on construction: build it only when used.
                    scheduler = (
                        dask.config.set(scheduler="threads")
                        if setup == "threads"
                        else contextlib.nullcontext()
                    )
                    with scheduler:
                        start = time.perf_counter()
                        index = DaskHammingNeighbors(**params).fit(da.from_array(db, chunks))
                        fit_s = time.perf_counter() - start
                        t_batch = best_time(lambda i=index, q=queries: i.kneighbors(q), args.repeat)
                        t_one = best_time(
                            lambda i=index, q=queries[:1]: i.kneighbors(q), args.repeat
                        )
                        got = index.kneighbors(queries)
                        on_cluster = bool(client.has_what()) if setup == "cluster" else False
                    assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))
                    assert on_cluster or setup != "cluster"  # the shards live on the workers
                    name = (
                        f"LocalCluster {args.threads}x1 proc"
                        if setup == "cluster"
                        else f"dask threads ({args.threads})"
                    )
                    print(
                        f"{n:>11,d} {name:>26} {n_shards:>6} {fit_s:>7.2f} {t_batch:>8.2f} "
                        f"{t_one * 1e3:>8.1f} {t_batch / batch:>8.2f} {t_one / one:>7.1f}"
                    )
                    del index
                    gc.collect()
    finally:
        client.close(timeout=30)
        cluster.close(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--n-queries", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--shards", type=int, nargs="+", default=[2, 8])
    parser.add_argument("--n-centers", type=int, default=10_000)
    parser.add_argument("--flips", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--skip-single", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    rng = np.random.default_rng(args.seed)
    if not args.skip_single:
        single_machine(args, rng)
    if not args.skip_dask:
        dask_overhead(args, rng)
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
