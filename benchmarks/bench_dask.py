"""What one machine handles, and what sharding over Dask costs.

Run from the repository root (``pip install -e .[dask]``)::

    python benchmarks/bench_dask.py                                  # 1M and 10M codes
    python benchmarks/bench_dask.py --sizes 200000 --n-queries 100   # quick

Three parts, all on 64-bit codes (``--bits``) and k = 10 (``--k``):

1. **Memory per code** of ``HammingNeighbors``, for the exhaustive kernel
   (``algorithm="brute"``) and for multi-index hashing (``algorithm="mih"``, whose
   substring tables come on top of the codes): the bytes of the codes' and the tables'
   arrays per code (as ``bench_mih.py`` prints them), and as a check everything
   retained by ``fit`` (traced with :mod:`tracemalloc`, which sees NumPy's buffers;
   it adds a few hundred bytes of Python objects).
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

Timings are the best of ``--repeat`` runs after a warm-up (numba compiles on first use);
part 3 goes round all its setups in each repeat, so load changes hit them alike. One
thread's rate is also given from CPU time (``q/s/core``), which waiting for a busy core
does not inflate. The load average is printed: on a shared machine wall-clock figures
are lower bounds.

Results: the printed output of recorded runs, each with its machine, date and
command, is in ``docs/results/bench_dask.txt``;
docs/scaling.rst summarises it.
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
    return best_times(fn, repeat)[0]


def best_times(fn, repeat):
    """Best wall-clock and best process CPU time of ``fn()`` over ``repeat`` runs.

    CPU time counts every thread of this process but not the time spent waiting for a
    core, so for one thread it measures the work even on a busy machine.
    """
    fn()
    wall, cpu = np.inf, np.inf
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu


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
        f"{'codes':>11} {'data':>9} {'algorithm':>9} {'B codes':>7} {'B tables':>8} "
        f"{'B traced':>8} {'fit s':>6} {'q/s/core':>9} {'q/s 1 thr':>10} "
        f"{f'q/s {args.threads} thr':>10} {'G cmp/s/core':>13}"
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
                code_bytes = index._db_words.nbytes / n
                policy = index._policy
                table_bytes = (
                    0.0 if policy is None or policy.tables is None else policy.tables.nbytes / n
                )
                qps = {}
                for n_jobs in (1, args.threads):
                    index.set_params(n_jobs=n_jobs)
                    wall, cpu = best_times(lambda i=index, q=queries: i.kneighbors(q), args.repeat)
                    qps[n_jobs] = len(queries) / wall
                    if n_jobs == 1:
                        qps["cpu"] = len(queries) / cpu
                result = index.kneighbors(queries)
                if reference is None:
                    reference = result
                else:
                    assert all(np.array_equal(a, b) for a, b in zip(result, reference, strict=True))
                rates[n, kind, algorithm] = qps
                print(
                    f"{n:>11,d} {kind:>9} {algorithm:>9} {code_bytes:>7.1f} {table_bytes:>8.1f} "
                    f"{nbytes / n:>8.1f} {fit_s:>6.2f} "
                    f"{qps['cpu']:>9,.0f} {qps[1]:>10,.0f} {qps[args.threads]:>10,.0f} "
                    f"{qps['cpu'] * n / 1e9:>13.2f}"
                )
                del index
    largest = max(args.sizes)
    print("\nExtrapolated to 100,000,000 codes (exhaustive kernel, linear in the codes):")
    print(f"  memory {100e6 * 8 * ((args.bits + 63) // 64) / 1e9:.1f} GB of codes")
    for kind in ("uniform", "clustered"):
        qps = rates[largest, kind, "brute"]
        scale = largest / 100e6
        print(
            f"  {kind:>9}: {qps['cpu'] * scale:,.1f} q/s per core (CPU time), "
            f"{qps[1] * scale:,.1f} q/s on 1 thread, {qps[args.threads] * scale:,.1f} on "
            f"{args.threads} (wall clock)"
        )
    return rates


def dask_overhead(args, rng):
    """Part 3: DaskHammingNeighbors (threaded scheduler, LocalCluster) against one machine.

    Every setup is built first, then the repeats go round all of them in turn, so that a
    change of load on a shared machine hits every setup alike; each keeps its best time.
    """
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

    def scheduler(setup):
        # dask.config.set applies on construction: build it only when it is used.
        if setup == "threads":
            return dask.config.set(scheduler="threads")
        return contextlib.nullcontext()

    try:
        for n in args.sizes:
            db = uniform_codes(n, n_bytes, rng)
            queries = uniform_codes(args.n_queries, n_bytes, rng)
            params = {"n_neighbors": args.k, "packed": True, "algorithm": "brute"}
            setups = []  # (label, setup, shards, fit seconds, index)
            for n_jobs in sorted({1, args.threads}):
                start = time.perf_counter()
                index = HammingNeighbors(n_jobs=n_jobs, **params).fit(db)
                label = f"HammingNeighbors n_jobs={n_jobs}"
                setups.append((label, "single", 1, time.perf_counter() - start, index))
            for setup in ("threads", "cluster"):
                for n_shards in args.shards:
                    chunks = (-(-n // n_shards), n_bytes)
                    with scheduler(setup):
                        start = time.perf_counter()
                        index = DaskHammingNeighbors(**params).fit(da.from_array(db, chunks))
                        fit_s = time.perf_counter() - start
                    if setup == "cluster":
                        assert client.has_what()  # the shards live on the workers
                        label = f"LocalCluster {args.threads}x1 proc"
                    else:
                        label = f"dask threads ({args.threads})"
                    setups.append((label, setup, n_shards, fit_s, index))
            expected = setups[0][4].kneighbors(queries)
            batch = dict.fromkeys(range(len(setups)), np.inf)
            one = dict.fromkeys(range(len(setups)), np.inf)
            for _ in range(args.repeat + 1):  # the first round is the warm-up
                for j, (_, setup, _, _, index) in enumerate(setups):
                    with scheduler(setup):
                        start = time.perf_counter()
                        got = index.kneighbors(queries)
                        batch[j] = min(batch[j], time.perf_counter() - start)
                        start = time.perf_counter()
                        index.kneighbors(queries[:1])
                        one[j] = min(one[j], time.perf_counter() - start)
                    assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))
            ref_batch = min(batch[j] for j, s in enumerate(setups) if s[1] == "single")
            ref_one = min(one[j] for j, s in enumerate(setups) if s[1] == "single")
            for j, (label, setup, n_shards, fit_s, _) in enumerate(setups):
                ratios = ""
                if setup != "single":
                    ratios = f" {batch[j] / ref_batch:>8.2f} {one[j] / ref_one:>7.1f}"
                print(
                    f"{n:>11,d} {label:>26} {n_shards:>6} {fit_s:>7.2f} {batch[j]:>8.2f} "
                    f"{one[j] * 1e3:>8.1f}{ratios}"
                )
            del setups, expected
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
