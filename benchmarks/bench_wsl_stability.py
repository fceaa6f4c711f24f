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

Measured
--------
``python benchmarks/bench_wsl_stability.py`` (about 2 minutes)::

    # bench_wsl_stability 2026-12-03 09:50
    # Intel(R) Xeon(R) Processor (AVX-512), 2 CPUs; load average 3.92, 4.84, 3.85
    # python 3.11.7, numpy 2.4.6, scipy 1.17.1, skhash 0.1.0.dev0; environment OPENBLAS_CORETYPE=''
    # digits, compare protocol; WSLHasher(n_bits, random_state=0, **{}); jitter 1e-06 x ...
    OPENBLAS_CORETYPE  threads ran        bits  mAP (no jitter; jitter draws)
    -------------------------------------------------------------------------
    (default)                1 SkylakeX     16  0.6454; 0.6591 0.6504 0.6484 0.6505
    (default)                1 SkylakeX     32  0.6850; 0.6766 0.6771 0.6716 0.6820
    SkylakeX                 1 SkylakeX     16  0.6454; 0.6591 0.6504 0.6484 0.6505
    SkylakeX                 1 SkylakeX     32  0.6850; 0.6766 0.6771 0.6716 0.6820
    Haswell                  1 Haswell      16  0.6454; 0.6591 0.6504 0.6484 0.6505
    Haswell                  1 Haswell      32  0.6850; 0.6766 0.6771 0.6716 0.6820
    Zen                      1 Haswell      16  0.6454; 0.6591 0.6504 0.6484 0.6505
    Zen                      1 Haswell      32  0.6850; 0.6766 0.6771 0.6716 0.6820
    Prescott                 1 Katmai       16  0.6454; 0.6591 0.6504 0.6484 0.6505
    Prescott                 1 Katmai       32  0.6850; 0.6766 0.6771 0.6716 0.6820
    (default)                2 SkylakeX     16  0.6454; 0.6591 0.6504 0.6484 0.6505
    (default)                2 SkylakeX     32  0.6850; 0.6766 0.6771 0.6716 0.6820

    16 bits: mAP 0.6508 mean, 0.6454-0.6591, spread 0.0138 over 30 fits
    32 bits: mAP 0.6784 mean, 0.6716-0.6850, spread 0.0134 over 30 fits
    # load average 3.10, 4.49, 3.77

The same script on the code before the change (same machine, 09:52): no-jitter rows
0.6240 (SkylakeX), 0.6652 (Haswell, Zen), 0.6544 (Katmai) at 16 bits and 0.6338,
0.6426, 0.6346 at 32 bits; spread with the jitter draws 0.0412 and 0.0234. The target
of 0.01 is met across kernels and threads, not under 1e-6 jitter (see the WSL user
guide for why).
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
