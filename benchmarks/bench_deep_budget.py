"""CPU budget of the deep hashers: seconds per epoch per 100,000 training samples.

HashNetHasher, FisherHasher and DHAHasher with their defaults (64 bits), on the
embedding-like data of ``_scaling_data.make_embeddings`` (100 classes on the unit
sphere, 256 dimensions, float32), at 10,000 and 100,000 samples, with torch on one
thread (``n_jobs=None``) and on every core (``n_jobs=-1``). Each configuration runs in
a fresh process (for its peak RSS) with ``max_epochs=2`` and ``early_stopping=False``,
so the time is two epochs plus the forward pass that fills the memory bank; the table
gives wall and CPU seconds per epoch, scaled to 100,000 samples, and the process's
peak RSS. A last block runs the same fits with ``early_stopping=True`` on one thread:
the difference is the cost of scoring the held-out part after each epoch (on 90% of
the samples: the held-out tenth is not trained on).

Run ``python benchmarks/bench_deep_budget.py`` (``--epochs 1`` halves it; ``--sizes
10000`` for a quick look; ``--one-thread-first`` runs every ``n_jobs=None`` fit
first). The printed output of recorded runs is in
``docs/results/bench_deep_budget.txt``; docs/user_guide/deep_training.rst summarises it.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

METHODS = ("HashNetHasher", "FisherHasher", "DHAHasher")

_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {bench_dir!r})
import skhash
from _scaling_data import make_embeddings
X, y, _, _ = make_embeddings({n})
cls = getattr(skhash, {method!r})
h = cls(n_bits=64, max_epochs={epochs}, early_stopping={es}, n_jobs={n_jobs}, device="cpu",
        random_state=0)
c, w = time.process_time(), time.perf_counter()
h.fit(X, y)
cpu, wall = time.process_time() - c, time.perf_counter() - w
print(json.dumps({{"wall": wall, "cpu": cpu, "epochs": h.n_iter_,
                  "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""


def _run(method, n, n_jobs, early_stopping, epochs, timeout):
    code = _CHILD.format(
        bench_dir=os.path.dirname(os.path.abspath(__file__)),
        n=n,
        method=method,
        es=early_stopping,
        n_jobs=n_jobs,
        epochs=epochs,
    )
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return None
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--epochs", type=int, default=2, help="max_epochs of each fit")
    parser.add_argument(
        "--one-thread-first", action="store_true", help="every n_jobs=None fit before the others"
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per fit")
    args = parser.parse_args()

    print(
        f"# bench_deep_budget: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    print(f"# python {platform.python_version()}; load average {os.getloadavg()}")
    print(
        f"# 64 bits, defaults, max_epochs={args.epochs}, early_stopping=False unless said; "
        f"per epoch = fit time / epochs run (the bank's initial forward pass included); "
        "per 100k = x 100000/n"
    )
    header = (
        f"{'method':<14} {'n':>8} {'n_jobs':>6} {'wall s/epoch':>12} {'cpu s/epoch':>11} "
        f"{'wall s/epoch/100k':>17} {'peak RSS MiB':>12} {'load':>5}"
    )
    print(header)
    runs = [(m, n, j, False) for n in args.sizes for m in args.methods for j in (None, -1)]
    runs += [(m, n, None, True) for n in args.sizes for m in args.methods]
    if args.one_thread_first:
        runs.sort(key=lambda r: r[2] is not None)
    for method, n, n_jobs, es in runs:
        r = _run(method, n, n_jobs, es, args.epochs, args.timeout)
        load = os.getloadavg()[0]
        name = method + (" +ES" if es else "")
        if r is None:
            print(f"{name:<14} {n:>8} {str(n_jobs):>6} timed out after {args.timeout:.0f} s")
            continue
        per = r["wall"] / r["epochs"]
        print(
            f"{name:<14} {n:>8} {str(n_jobs):>6} {per:>12.2f} {r['cpu'] / r['epochs']:>11.2f} "
            f"{per * 100_000 / n:>17.1f} {r['rss_kib'] / 1024:>12.0f} {load:>5.1f}",
            flush=True,
        )
    print(f"# load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
