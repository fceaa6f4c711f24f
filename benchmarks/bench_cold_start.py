"""Cold start: import time and first calls in fresh processes, with an empty numba cache.

Run from the repository root::

    python benchmarks/bench_cold_start.py               # 3 runs of each step
    python benchmarks/bench_cold_start.py --repeat 1 --n-jobs 2
    python benchmarks/bench_cold_start.py --path /some/other/checkout   # compare a tree

Protocol: every step runs in its own fresh Python process, so that nothing compiled
or imported by one step helps another. "cold" processes get a new, empty
``NUMBA_CACHE_DIR`` (numba compiles every kernel the step uses); "warm" processes reuse
the cache the cold run just wrote (numba loads the kernels from disk). Steps:

- ``import skhash``, and whether it imported torch and numba;
- the first ``HammingNeighbors.kneighbors`` (k = 10, 100 queries, 20,000 random
  64-bit codes, ``algorithm="brute"``, then ``"mih"``), timed from the fit to the
  answer, after the import;
- the first ``skhash.metrics.mean_average_precision`` (100 queries, 20,000 codes);
- ``ITQHasher(n_bits=64)`` fit and encode on 5,000 x 64 random features, with
  OpenBLAS's default threads and with one BLAS thread (ITQ compiles nothing: its time
  is BLAS work, which on a loaded machine suffers from BLAS threads waiting for cores).

Each step is run ``--repeat`` times and the median is printed, as wall-clock time and as
the process's CPU time (compiling is CPU-bound: on a shared machine the CPU time is what
an idle one would take, the wall-clock time what this one took); the import row times
``import skhash`` alone, the others the step after the import. ``--n-jobs`` sets the
queries' and metric's ``n_jobs`` (None, the default, is one thread: the serial kernels).
The machine, the date and the load average are printed because the machine may be
shared.

The recorded output, with machine and date, is in ``docs/results/bench_cold_start.txt``
(summarised in ``docs/deployment.rst``).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

_STEP = {
    "import": "",
    "kneighbors brute": """
        X = (rng.random((20_000, 64)) < 0.5).astype(np.uint8)
        t = time.perf_counter()
        c = time.process_time()
        nn = HammingNeighbors(n_neighbors=10, algorithm="brute", n_jobs=N_JOBS)
        nn.fit(X).kneighbors(X[:100])
    """,
    "kneighbors mih": """
        X = (rng.random((20_000, 64)) < 0.5).astype(np.uint8)
        t = time.perf_counter()
        c = time.process_time()
        nn = HammingNeighbors(n_neighbors=10, algorithm="mih", n_jobs=N_JOBS)
        nn.fit(X).kneighbors(X[:100])
    """,
    "mean_average_precision": """
        from skhash.metrics import mean_average_precision
        X = (rng.random((20_000, 64)) < 0.5).astype(np.uint8)
        y = rng.integers(0, 10, 20_000)
        t = time.perf_counter()
        c = time.process_time()
        mean_average_precision(X[:100], y[:100], X, y, n_jobs=N_JOBS)
    """,
    "ITQ fit+encode 5,000x64": """
        from skhash import ITQHasher
        F = rng.standard_normal((5_000, 64))
        t = time.perf_counter()
        c = time.process_time()
        ITQHasher(n_bits=64, random_state=0).fit(F).encode(F)
    """,
    "ITQ, 1 BLAS thread": """
        from threadpoolctl import threadpool_limits
        from skhash import ITQHasher
        F = rng.standard_normal((5_000, 64))
        t = time.perf_counter()
        c = time.process_time()
        with threadpool_limits(1, user_api="blas"):
            ITQHasher(n_bits=64, random_state=0).fit(F).encode(F)
    """,
}  # fmt: skip

_SCRIPT = """
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
import skhash
t_import, c_import = time.perf_counter() - t0, time.process_time() - c0
import numpy as np
from skhash import HammingNeighbors
rng = np.random.default_rng(0)
N_JOBS = {n_jobs}
t = time.perf_counter()
c = time.process_time()
{body}
print(json.dumps({{
    "import": t_import,
    "import_cpu": c_import,
    "step": time.perf_counter() - t,
    "step_cpu": time.process_time() - c,
    "torch": "torch" in sys.modules,
    "numba": "numba" in sys.modules,
    "file": skhash.__file__,
}}))
"""


def run_step(name, cache_dir, path, n_jobs):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CACHE")}
    env["NUMBA_CACHE_DIR"] = cache_dir
    if path:
        env["PYTHONPATH"] = path
    code = _SCRIPT.format(n_jobs=n_jobs, body=textwrap.dedent(_STEP[name]).strip())
    # Run from the cache directory: ``python -c`` puts the working directory first on
    # sys.path, which must not hold a checkout that shadows ``--path``.
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=cache_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        sys.exit(f"step {name!r} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--path", default=None, help="import skhash from this directory")
    args = parser.parse_args()

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    print(f"{time.strftime('%Y-%m-%d %H:%M')}  {cpu}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"n_jobs={args.n_jobs}, median of {args.repeat} fresh processes per cell")
    print(f"{'':26s} {'cold':>15s} {'warm':>15s}")
    print(f"{'step':26s} {'wall':>7s} {'CPU':>7s} {'wall':>7s} {'CPU':>7s}   torch imported")
    files = set()
    for name in _STEP:
        cold, warm = [], []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as cache:
                cold.append(run_step(name, cache, args.path, args.n_jobs))
                warm.append(run_step(name, cache, args.path, args.n_jobs))
        files |= {r["file"] for r in cold + warm}

        def med(runs, key):
            return statistics.median(r[key] for r in runs)

        key = "import" if name == "import" else "step"
        torch = "yes" if any(r["torch"] for r in cold + warm) else "no"
        print(f"{name:26s} {med(cold, key):7.2f} {med(cold, key + '_cpu'):7.2f} "
              f"{med(warm, key):7.2f} {med(warm, key + '_cpu'):7.2f}   {torch}")  # fmt: skip
    print(f"load average at the end {os.getloadavg()[0]:.2f}; skhash from {', '.join(files)}")


if __name__ == "__main__":
    main()
