"""Memory and time of the linear hashers (LSH, PCA hashing, ITQ) on large inputs.

Run from the repository root::

    python benchmarks/bench_linear_memory.py                       # 100k and 1M rows
    python benchmarks/bench_linear_memory.py --sizes 100000 --methods itq
    python benchmarks/bench_linear_memory.py --path /tmp/old_checkout   # another tree
    python benchmarks/bench_linear_memory.py --blas-threads 1   # CPU cost, no BLAS threads

Protocol: the embedding-like training set of issue 14 (``_scaling_data.make_embeddings``:
100 classes on the unit sphere, 256 features, float32) is generated once per size and
saved to a temporary ``.npy`` file with its labels and 1,000 queries. Every
configuration (method, size, dtype) then runs in a fresh Python process, which reads the
file into memory (float64 rows are converted chunk by chunk while reading, so the
process never holds the float32 copy) and fits the hasher with 64 bits and
``random_state=0``. Per configuration it prints:

- the input's size in memory, and the process's peak resident set size (``ru_maxrss``
  of :func:`resource.getrusage`: everything the process held, the input included)
  before and after ``fit``, and the peak after the fit as a multiple of the input;
- the fit's wall-clock and CPU time (on a shared machine the CPU time is closer to
  what an idle one would take);
- the query mAP@1000 of the 1,000 queries against the training set's codes, relevance
  "same class" (computed after the peak is read).

The ``memmap encode`` rows fit ITQ on the first 100,000 rows, then ``encode`` the whole
float32 training set opened as a read-only :class:`numpy.memmap`: wall and CPU time,
rows per second, and the peak of the memory numpy allocated during the call
(``tracemalloc``). The peak RSS of that process also counts the mapped file's pages the
call has read (file-backed and reclaimable by the kernel), so it grows with the file.

On a shared machine, BLAS threads waiting for a busy core inflate the CPU time as well
as the wall-clock time; ``--blas-threads 1`` measures the work itself, which is what an
idle machine would take at most in wall-clock time.

Each configuration has a time limit (``--timeout``); one that exceeds it is reported
as such, not waited for. The machine, the date and the load average are printed
because the machine may be shared. The recorded output is in
``docs/results/bench_linear_memory.txt``, summarised in ``docs/user_guide/baselines.rst``.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

_FIT = """
import json, os, resource, sys, time
import numpy as np
sys.path.insert(0, {path!r})
import skhash
from skhash.metrics import mean_average_precision

data = np.load({queries!r})
n, d = np.load({train!r}, mmap_mode="r").shape
dtype = np.dtype({dtype!r})
if dtype == np.float32:
    X = np.load({train!r})
else:
    # Read chunk by chunk into the float64 array: the float32 file is never held whole.
    X = np.empty((n, d), dtype=dtype)
    with open({train!r}, "rb") as f:
        f.seek(np.load({train!r}, mmap_mode="r").offset)
        for start in range(0, n, 65536):
            rows = min(65536, n - start)
            chunk = np.fromfile(f, dtype=np.float32, count=rows * d)
            X[start : start + rows] = chunk.reshape(rows, d)
y = np.load({labels!r})
hasher = getattr(skhash, {cls!r})(n_bits=64, random_state=0)
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
load_before = os.getloadavg()[0]
t, c = time.perf_counter(), time.process_time()
hasher.fit(X)
wall, cpu = time.perf_counter() - t, time.process_time() - c
rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
mAP = mean_average_precision(
    hasher.transform(data["X_query"].astype(dtype)), data["y_query"], hasher.transform(X), y, k=1000
)
print(json.dumps(dict(
    input=X.nbytes, rss_before=rss_before * 1024, rss_after=rss_after * 1024, wall=wall,
    cpu=cpu, map=float(mAP), load=[load_before, os.getloadavg()[0]],
    skhash=skhash.__file__,
)))
"""

_ENCODE = """
import json, os, resource, sys, time, tracemalloc
import numpy as np
sys.path.insert(0, {path!r})
import skhash

X = np.load({train!r}, mmap_mode="r")
hasher = skhash.ITQHasher(n_bits=64, random_state=0).fit(np.asarray(X[:100_000]))
load_before = os.getloadavg()[0]
tracemalloc.start()
t, c = time.perf_counter(), time.process_time()
packed = hasher.encode(X)
wall, cpu = time.perf_counter() - t, time.process_time() - c
traced = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(dict(
    input=X.nbytes, output=packed.nbytes, traced=traced, rss_after=rss * 1024, wall=wall,
    cpu=cpu, load=[load_before, os.getloadavg()[0]], skhash=skhash.__file__,
)))
"""

_CLASSES = {"lsh": "LSHHasher", "pca": "PCAHasher", "itq": "ITQHasher"}


def _machine():
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _make_data(n, directory):
    """Training set, labels and queries of size n saved in directory; their paths."""
    sys.path.insert(0, str(HERE))
    import numpy as np
    from _scaling_data import make_embeddings

    X, y, X_query, y_query = make_embeddings(n)
    paths = {
        "train": str(directory / f"X_{n}.npy"),
        "labels": str(directory / f"y_{n}.npy"),
        "queries": str(directory / f"q_{n}.npz"),
    }
    np.save(paths["train"], X)
    np.save(paths["labels"], y)
    np.savez(paths["queries"], X_query=X_query, y_query=y_query)
    return paths


def _run(code, timeout, blas_threads=None):
    env = dict(os.environ)
    if blas_threads is not None:
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(blas_threads)
    try:
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return None, f"over the {timeout:.0f} s limit"
    if out.returncode != 0:
        return None, out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"
    return json.loads(out.stdout.strip().splitlines()[-1]), None


def _gb(n_bytes):
    return f"{n_bytes / 1e9:.2f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--methods", nargs="+", default=["lsh", "pca", "itq"])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--no-encode", action="store_true", help="skip the memmap encode rows")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="BLAS threads of the measured processes (default: the library's own)",
    )
    parser.add_argument(
        "--path", default=str(HERE.parent), help="the checkout whose skhash is measured"
    )
    args = parser.parse_args(argv)

    print(f"{time.strftime('%Y-%m-%d %H:%M')}  {_machine()}, load average {os.getloadavg()[0]:.2f}")
    threads = args.blas_threads or "library default"
    print(
        f"skhash from {args.path}; 64 bits, 256 features, random_state=0; BLAS threads: {threads}"
    )
    header = (
        f"{'method':<6} {'rows':>9} {'dtype':<8} {'input GB':>8} {'RSS before':>10} "
        f"{'peak RSS':>9} {'x input':>7} {'fit wall':>8} {'fit CPU':>8} {'mAP@1000':>8}  load"
    )
    imported = None
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            paths = _make_data(n, Path(tmp))
            print(header)
            for method in args.methods:
                for dtype in args.dtypes:
                    code = _FIT.format(path=args.path, dtype=dtype, cls=_CLASSES[method], **paths)
                    r, error = _run(textwrap.dedent(code), args.timeout, args.blas_threads)
                    if r is None:
                        print(f"{method:<6} {n:>9,} {dtype:<8} {error}")
                        continue
                    imported = r["skhash"]
                    print(
                        f"{method:<6} {n:>9,} {dtype:<8} {_gb(r['input']):>8} "
                        f"{_gb(r['rss_before']):>10} {_gb(r['rss_after']):>9} "
                        f"{r['rss_after'] / r['input']:>7.2f} {r['wall']:>8.1f} "
                        f"{r['cpu']:>8.1f} {r['map']:>8.4f}  "
                        f"{r['load'][0]:.1f}-{r['load'][1]:.1f}",
                        flush=True,
                    )
            if not args.no_encode:
                code = _ENCODE.format(path=args.path, **paths)
                r, error = _run(textwrap.dedent(code), args.timeout, args.blas_threads)
                if r is None:
                    print(f"memmap encode {n:,} rows: {error}")
                else:
                    print(
                        f"memmap encode, ITQ 64 bits, {n:,} x 256 float32 "
                        f"({_gb(r['input'])} GB file): {r['wall']:.2f} s wall, "
                        f"{r['cpu']:.2f} s CPU, {n / r['wall']:,.0f} rows/s; numpy "
                        f"peak {r['traced'] / 1e6:.1f} MB for {r['output'] / 1e6:.1f} MB "
                        f"of packed codes; process peak RSS {_gb(r['rss_after'])} GB "
                        f"(mapped file pages included); load "
                        f"{r['load'][0]:.1f}-{r['load'][1]:.1f}",
                        flush=True,
                    )
    print(f"load average at the end {os.getloadavg()[0]:.2f}; skhash imported from {imported}")


if __name__ == "__main__":
    main()
