"""WSLHasher's mAP across input jitter, BLAS kernels and thread counts: its spread.

Run with skhash installed (``pip install -e .``) from the repository root::

    python benchmarks/bench_wsl_stability.py              # digits, 16 and 32 bits
    python benchmarks/bench_wsl_stability.py --seeds 8    # more jitter draws
    python benchmarks/bench_wsl_stability.py --params '{"max_eval": 50}'

Protocol: ``python -m skhash compare``'s (``skhash._cli.evaluate_hasher``): digits, 1,597
database samples (also the training set) and 200 queries, ``WSLHasher(n_bits,
random_state=0)`` with its defaults, mAP@all with Hamming ranking. Each row is a fresh
Python process with one OpenBLAS core type (``OPENBLAS_CORETYPE``, which picks the BLAS
kernels; threadpoolctl reports which one runs) and one BLAS thread limit; in it the
unperturbed data and ``--seeds`` copies with Gaussian jitter of ``--jitter`` (1e-6) added
to every feature of the database and the queries. The spread is max - min of mAP over
every row and jitter draw, per code length. Setting the core type is for benchmarks
only; a core type the library does not know falls back to another (the printed
architecture says which ran).

Results: the printed output of recorded runs, each with its machine, date and
command, is in ``docs/results/bench_wsl_stability.txt``;
docs/user_guide/wsl.rst summarises it.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

import numpy as np

CORETYPES = ("", "SkylakeX", "Haswell", "Zen", "Prescott")


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return platform.processor() or "unknown CPU"
    model = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "")
    flags = next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), [])
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{model or platform.processor()} ({simd}), {os.cpu_count()} CPUs"


def worker(bits, n_seeds, jitter, params, threads):
    """Print one JSON line per (bits, jitter draw) in this process's BLAS setting."""
    from sklearn.utils import Bunch
    from threadpoolctl import threadpool_info, threadpool_limits

    from skhash import WSLHasher
    from skhash._cli import evaluate_hasher
    from skhash.datasets import load_retrieval_dataset

    base = load_retrieval_dataset("digits", random_state=0)
    arch = sorted(
        {i.get("architecture", "?") for i in threadpool_info() if i["user_api"] == "blas"}
    )
    for n_bits in bits:
        for seed in range(-1, n_seeds):
            data = Bunch(**base)
            if seed >= 0:
                rng = np.random.default_rng(seed)
                data.X_db = base.X_db + jitter * rng.standard_normal(base.X_db.shape)
                data.X_query = base.X_query + jitter * rng.standard_normal(base.X_query.shape)
            hasher = WSLHasher(n_bits=n_bits, random_state=0, **params)
            with threadpool_limits(limits=threads):
                row = evaluate_hasher(hasher, data, use_labels=False, n_jobs=threads)
            print(
                json.dumps(
                    {
                        "arch": "+".join(arch),
                        "bits": n_bits,
                        "seed": seed,
                        "map": row["map"],
                        "fit_s": row["fit_s"],
                        "rounds": hasher.n_iter_,
                    }
                ),
                flush=True,
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--seeds", type=int, default=4, help="jitter draws per row")
    parser.add_argument("--jitter", type=float, default=1e-6)
    parser.add_argument("--params", default="{}", help="WSLHasher parameters as JSON")
    parser.add_argument("--coretypes", nargs="+", default=list(CORETYPES))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    params = json.loads(args.params)
    if args.worker:
        worker(args.bits, args.seeds, args.jitter, params, args.threads)
        return

    import numpy
    import scipy

    import skhash

    print(f"# bench_wsl_stability {datetime.datetime.now():%Y-%m-%d %H:%M}")
    print(f"# {_cpu_model()}; load average {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(
        f"# python {platform.python_version()}, numpy {numpy.__version__}, scipy "
        f"{scipy.__version__}, skhash {skhash.__version__}; environment "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '')!r}"
    )
    print(
        f"# digits, compare protocol; WSLHasher(n_bits, random_state=0, **{params}); "
        f"jitter {args.jitter:g} x N(0, 1), {args.seeds} draws per row plus none"
    )
    variants = [(c, 1) for c in args.coretypes] + [(args.coretypes[0], 2)]
    results = {b: [] for b in args.bits}
    header = (
        f"{'OPENBLAS_CORETYPE':<18} {'threads':>7} {'ran':<10} {'bits':>4}  "
        "mAP (no jitter; jitter draws)"
    )
    print(header)
    print("-" * len(header))
    for coretype, threads in variants:
        env = dict(os.environ)
        env.pop("OPENBLAS_CORETYPE", None)
        if coretype:
            env["OPENBLAS_CORETYPE"] = coretype
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            "--bits",
            *map(str, args.bits),
            "--seeds",
            str(args.seeds),
            "--jitter",
            str(args.jitter),
            "--params",
            args.params,
            "--threads",
            str(threads),
        ]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"worker failed ({coretype or 'default'}, {threads} threads):\n{proc.stderr}")
        out = proc.stdout
        rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        for n_bits in args.bits:
            maps = [r["map"] for r in rows if r["bits"] == n_bits]
            results[n_bits].extend(maps)
            arch = rows[0]["arch"] if rows else "?"
            cells = f"{maps[0]:.4f}; " + " ".join(f"{m:.4f}" for m in maps[1:])
            print(f"{coretype or '(default)':<18} {threads:>7} {arch:<10} {n_bits:>4}  {cells}")
    print()
    for n_bits, maps in results.items():
        maps = np.asarray(maps)
        print(
            f"{n_bits} bits: mAP {maps.mean():.4f} mean, {maps.min():.4f}-{maps.max():.4f}, "
            f"spread {maps.max() - maps.min():.4f} over {len(maps)} fits"
        )
    print(f"# load average {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
