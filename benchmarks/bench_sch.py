"""SCHHasher: retrieval mAP against ITQ, the paper's ablation, fit time, and how defaults were set.

Run with skhash installed (``pip install -e .``) from the repository root::

    python benchmarks/bench_sch.py                # ablation on digits and MNIST-5k + fit time
    python benchmarks/bench_sch.py --quick        # digits only, one seed
    python benchmarks/bench_sch.py --select       # also the validation grid behind the defaults
    python benchmarks/bench_sch.py --sparse       # also the ablation with few pairs per sample
    python benchmarks/bench_sch.py --only ablation --partners 100   # another density
    python benchmarks/bench_sch.py --scaling      # embedding data, 10k and 100k, encode at 1M

Protocol (the paper's, on skhash.datasets): digits with 20 queries per class, MNIST-5k
with 100 queries per class, the rest is the database. SCH is trained on 1,000 database
samples drawn per seed, each knowing its relation to 500 others; ITQ (unsupervised) is
fitted on the whole database. mAP@all over the queries, Hamming ranking, ties by database
index. ``--select`` never looks at the queries: it scores database samples outside the
training set against the rest of the database. Timings are noisy on a shared machine,
so the load average is printed and ratios measured in the same run are given.

``--scaling`` (issue 14): the embedding-like data of ``benchmarks/_scaling_data.py``
(100 classes on the unit sphere, 256 dimensions, float32), 64 bits, defaults otherwise.
Each configuration runs in a fresh subprocess with a time limit, so peak RSS is that
fit's and a configuration that blows up is reported, not waited for: SCH with its
defaults (``max_train_samples=1000``) on 10k and 100k samples, the paper's setting as a
user would reproduce it (``max_train_samples=None`` on a uniform 1,000-sample subset of
the 100k), and optionally (``--unbounded``) ``max_train_samples=None`` on all 10k.
mAP@1000 of the 1,000 queries against the codes ``transform`` gives the training set.
The 100k model then encodes 1M samples of the same generator, 100k rows at a time.

Results: the printed output of recorded runs, each with its machine, date and
command, is in ``docs/results/bench_sch.txt`` and ``docs/results/bench_sch_scaling.txt``;
docs/user_guide/sch.rst summarises it.
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import resource
import subprocess
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from skhash import ITQHasher, SCHHasher
from skhash.datasets import load_retrieval_dataset
from skhash.metrics import mean_average_precision

N_TRAIN = 1000


class _UnitWeightBlocks(SCHHasher):
    """SCH_uw read literally: 4-bit blocks, every pair weighing 1 in every block.

    Not offered by SCHHasher: each block then solves the first block's problem again
    and repeats its bits (up to sign), so a 32-bit code holds about 4 distinct bits.
    """

    def _pair_weights(self, affinity, s, target):
        return np.ones_like(s)


VARIANTS = {
    "SCH (defaults)": {},
    "SCH_uw (weighting='none')": {"weighting": "none"},
    "hard constraints (p=1)": {"p": 1.0},
    "hard, unweighted": {"p": 1.0, "weighting": "none"},
    "unit weights, 4-bit blocks": {"cls": _UnitWeightBlocks},
}


def _map(query_codes, query_labels, db_codes, db_labels):
    return float(mean_average_precision(query_codes, query_labels, db_codes, db_labels))


def _load():
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}"


def _training_subset(data, seed):
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(len(data.y_db), N_TRAIN, replace=False))


def ablation(names, bits, seeds, n_pairs=500):
    """Query mAP of the SCH variants and ITQ, mean (min-max) over seeds."""
    for name in names:
        data = load_retrieval_dataset(name)
        print(
            f"\n## {name}, {bits} bits: mAP@all of {len(data.y_query)} queries against "
            f"{len(data.y_db)} database items; SCH trained on {N_TRAIN} database samples "
            f"x {n_pairs} pairs; seeds {seeds}; {_load()}"
        )
        scores = {v: [] for v in [*VARIANTS, "ITQ (whole database)"]}
        seconds = {v: [] for v in VARIANTS}
        # Leave-one-out mAP of the learned training codes among themselves (codes_): how
        # well each variant solved its code problem, before any hash function.
        code_scores = {v: [] for v in VARIANTS}
        distinct = {v: [] for v in VARIANTS}
        for seed in seeds:
            train = _training_subset(data, seed)
            for variant, params in VARIANTS.items():
                params = dict(params)
                cls = params.pop("cls", SCHHasher)
                model = cls(bits, n_pairs_per_sample=n_pairs, random_state=seed, n_jobs=2, **params)
                start = time.perf_counter()
                model.fit(data.X_db[train], data.y_db[train])
                seconds[variant].append(time.perf_counter() - start)
                code_scores[variant].append(
                    float(mean_average_precision(model.codes_, data.y_db[train]))
                )
                distinct[variant].append(len(np.unique(model.codes_, axis=0)))
                scores[variant].append(
                    _map(
                        model.transform(data.X_query),
                        data.y_query,
                        model.transform(data.X_db),
                        data.y_db,
                    )
                )
            itq = ITQHasher(bits, random_state=seed).fit(data.X_db)
            scores["ITQ (whole database)"].append(
                _map(itq.transform(data.X_query), data.y_query, itq.transform(data.X_db), data.y_db)
            )
        print(
            f"| {'method':<28} | mAP mean | min-max      | per seed              | fit s "
            "| codes mAP | distinct codes |"
        )
        print(
            f"|{'-' * 30}|----------|--------------|-----------------------|-------"
            "|-----------|----------------|"
        )
        for variant, values in scores.items():
            per_seed = " ".join(f"{v:.3f}" for v in values)
            if variant in seconds:
                fit = f"{np.mean(seconds[variant]):5.1f}"
                codes = f"{np.mean(code_scores[variant]):.3f}    "
                n_codes = f"{np.mean(distinct[variant]):14.0f}"
            else:
                fit, codes, n_codes = "    -", "    -    ", f"{'-':>14}"
            print(
                f"| {variant:<28} | {np.mean(values):.3f}    | "
                f"{min(values):.3f}-{max(values):.3f}  | {per_seed:<21} | {fit} "
                f"| {codes} | {n_codes} |"
            )
        sch, uw, hard = (np.mean(scores[v]) for v in list(VARIANTS)[:3])
        print(
            f"paper's ordering SCH >= SCH_uw >= hard on average: "
            f"{'holds' if sch >= uw >= hard else 'does not hold'} "
            f"(SCH - SCH_uw = {sch - uw:+.3f}, SCH_uw - hard = {uw - hard:+.3f})"
        )


def fit_time(name="mnist5k", bits=32, repeats=2):
    """Fit time of 1,000 samples x 500 pairs: code learning and SVMs, 1 vs 2 jobs."""
    data = load_retrieval_dataset(name)
    train = _training_subset(data, 0)
    X, y = data.X_db[train], data.y_db[train]
    print(
        f"\n## fit time, {name}: {N_TRAIN} samples x 500 pairs, {bits} bits "
        f"(best of {repeats}); {_load()}"
    )
    parts = {}
    real_codes, real_svms = SCHHasher._learn_codes, SCHHasher._fit_hash_functions

    def timed(key, method):
        def wrapper(self, *args):
            start = time.perf_counter()
            out = method(self, *args)
            parts[key] = time.perf_counter() - start
            return out

        return wrapper

    SCHHasher._learn_codes = timed("codes", real_codes)
    SCHHasher._fit_hash_functions = timed("svms", real_svms)
    try:
        rows = {}
        for n_jobs in (1, 2):
            best = None
            for _ in range(repeats):
                model = SCHHasher(bits, random_state=0, n_jobs=n_jobs)
                start = time.perf_counter()
                model.fit(X, y)
                total = time.perf_counter() - start
                if best is None or total < best[0]:
                    best = (total, parts["codes"], parts["svms"])
            rows[n_jobs] = best
    finally:
        SCHHasher._learn_codes, SCHHasher._fit_hash_functions = real_codes, real_svms
    print("| n_jobs | fit s | codes s | SVMs s |")
    print("|--------|-------|---------|--------|")
    for n_jobs, (total, codes, svms) in rows.items():
        print(f"| {n_jobs:>6} | {total:5.1f} | {codes:7.1f} | {svms:6.1f} |")
    print(f"SVM step, 1 job / 2 jobs: {rows[1][2] / rows[2][2]:.2f}x")

    # Encoding: one kernel against the union of support vectors, against 32 SVCs.
    with threadpool_limits(limits=1, user_api="blas"):
        start = time.perf_counter()
        stacked = model.decision_function(data.X_db)
        t_stacked = time.perf_counter() - start
        start = time.perf_counter()
        separate = np.column_stack([e.decision_function(data.X_db) for e in model.estimators_])
        t_separate = time.perf_counter() - start
    print(
        f"encoding {len(data.X_db)} samples (1 BLAS thread): stacked kernel {t_stacked:.2f} s, "
        f"{bits} separate SVC.decision_function {t_separate:.2f} s "
        f"({t_separate / t_stacked:.1f}x); {len(model.support_vectors_)} distinct support "
        f"vectors; max |difference| {np.abs(stacked - separate).max():.1e}"
    )


def _validation_split(data, train, seed):
    """Database samples outside the training set as queries, the rest as database."""
    rng = np.random.default_rng(1000 + seed)
    outside = np.setdiff1d(np.arange(len(data.y_db)), train)
    val = np.sort(rng.choice(outside, min(500, len(outside)), replace=False))
    rest = np.setdiff1d(np.arange(len(data.y_db)), val)
    return val, rest


def select(names, bits=32, seed=0):
    """Validation grid over the SVMs' C and kernel width, and over the passes per block."""
    for name in names:
        data = load_retrieval_dataset(name)
        train = _training_subset(data, seed)
        val, rest = _validation_split(data, train, seed)
        X, y = data.X_db[train], data.y_db[train]
        print(
            f"\n## selection, {name}, {bits} bits: {len(val)} database samples outside the "
            f"training set as validation queries against the other {len(rest)}; "
            f"{_load()}"
        )
        model = SCHHasher(bits, random_state=seed, n_jobs=2).fit(X, y)
        scale = model.gamma_
        print("validation mAP, SVM grid on the default codes (gamma as a multiple of 'scale'):")
        print("| C    | 0.5 x scale | 1 x scale | 2 x scale | 4 x scale |")
        print("|------|-------------|-----------|-----------|-----------|")
        for C in (1.0, 3.0, 10.0, 30.0):
            row = []
            for factor in (0.5, 1.0, 2.0, 4.0):
                model.set_params(C=C, gamma=factor * scale)
                model._fit_hash_functions(X, model.codes_.astype(float))
                row.append(
                    _map(
                        model.transform(data.X_db[val]),
                        data.y_db[val],
                        model.transform(data.X_db[rest]),
                        data.y_db[rest],
                    )
                )
            print(f"| {C:<4} | " + " | ".join(f"{v:.3f}".ljust(9) for v in row) + " |")
        print("validation mAP against C, gamma='scale', with 20 and 500 partners per sample:")
        print("| partners | C=1   | C=3   | C=10  | C=30  |")
        print("|----------|-------|-------|-------|-------|")
        for n_pairs in (20, 500):
            sparse = SCHHasher(bits, n_pairs_per_sample=n_pairs, random_state=seed, n_jobs=2)
            sparse.fit(X, y)
            row = []
            for C in (1.0, 3.0, 10.0, 30.0):
                sparse.set_params(C=C)
                sparse._fit_hash_functions(X, sparse.codes_.astype(float))
                row.append(
                    _map(
                        sparse.transform(data.X_db[val]),
                        data.y_db[val],
                        sparse.transform(data.X_db[rest]),
                        data.y_db[rest],
                    )
                )
            print(f"| {n_pairs:>8} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
        print("passes per block (max_sweeps), defaults otherwise:")
        print("| max_sweeps | validation mAP | training-code loss | fit s |")
        print("|------------|----------------|--------------------|-------|")
        for sweeps in (1, 3, 10):
            start = time.perf_counter()
            m = SCHHasher(bits, max_sweeps=sweeps, random_state=seed, n_jobs=2).fit(X, y)
            fit = time.perf_counter() - start
            score = _map(
                m.transform(data.X_db[val]),
                data.y_db[val],
                m.transform(data.X_db[rest]),
                data.y_db[rest],
            )
            print(
                f"| {sweeps:>10} | {score:.3f}          | {m.history_[-1]['loss']:.4f}"
                f"             | {fit:5.1f} |"
            )


def _scaling_worker(config, n_samples):
    """One scaling configuration, run in its own process; prints one JSON line."""
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    from _scaling_data import make_embeddings

    X, y, X_query, y_query = make_embeddings(n_samples)
    if config == "subset":
        train = np.sort(np.random.default_rng(0).choice(n_samples, N_TRAIN, replace=False))
        model = SCHHasher(64, max_train_samples=None, random_state=0)
        X_fit, y_fit = X[train], y[train]
    else:
        limit = None if config == "unbounded" else 1000
        model = SCHHasher(64, max_train_samples=limit, random_state=0)
        X_fit, y_fit = X, y
    cpu, wall = time.process_time(), time.perf_counter()
    model.fit(X_fit, y_fit)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    fit_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    enc_cpu, enc_wall = time.process_time(), time.perf_counter()
    db_codes = model.transform(X)
    enc_cpu, enc_wall = time.process_time() - enc_cpu, time.perf_counter() - enc_wall
    score = mean_average_precision(model.transform(X_query), y_query, db_codes, y, k=1000)
    out = {
        "fit_wall": wall,
        "fit_cpu": cpu,
        "fit_rss_kib": fit_rss,
        "n_support": len(model.support_vectors_),
        "n_pairs": model.n_pairs_,
        "map": float(score),
        "encode_us": 1e6 * enc_wall / n_samples,
        "encode_cpu_us": 1e6 * enc_cpu / n_samples,
    }
    if config == "default" and n_samples >= 100_000:
        del X, db_codes
        X_big, _, _, _ = make_embeddings(1_000_000)
        enc_cpu, enc_wall = time.process_time(), time.perf_counter()
        for start in range(0, len(X_big), 100_000):
            model.transform(X_big[start : start + 100_000])
        out["encode_1m_us"] = 1e6 * (time.perf_counter() - enc_wall) / len(X_big)
        out["encode_1m_cpu_us"] = 1e6 * (time.process_time() - enc_cpu) / len(X_big)
        out["encode_1m_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(out))


def _machine():
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        model = platform.processor() or "?"
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            if "avx512f" in f.read():
                flags = ", AVX-512"
    except OSError:
        pass
    return f"{model}{flags}, {os.cpu_count()} cores, {platform.system()}"


def scaling(limit, unbounded=False):
    """Fit time, peak RSS, mAP@1000 and encoding cost on embedding data, each in a subprocess."""
    import numpy
    import scipy
    import sklearn

    print(
        f"## SCH scaling, embedding data (benchmarks/_scaling_data.py: 100 classes, 256 "
        f"dims, float32), 64 bits, random_state=0, defaults otherwise\n"
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; {_machine()}; "
        f"numpy {numpy.__version__}, scipy {scipy.__version__}, scikit-learn "
        f"{sklearn.__version__}; time limit {limit} s per configuration; wall times on a "
        f"machine shared with other jobs, so CPU time (all threads) is given beside them"
    )
    configs = [
        ("default", 10_000, "defaults (max_train_samples=1000), 10k"),
        ("default", 100_000, "defaults (max_train_samples=1000), 100k"),
        ("subset", 100_000, "paper's setting: None, on 1,000 of the 100k"),
    ]
    if unbounded:
        configs.append(("unbounded", 10_000, "max_train_samples=None, 10k"))
    print(
        "| configuration                                 | fit s (wall) | fit CPU s | peak "
        "RSS MiB | support vectors | mAP@1000 | encode us/sample (CPU) | load before-after |"
    )
    print(
        "|-----------------------------------------------|--------------|-----------|-------"
        "-------|-----------------|----------|------------------------|-------------------|"
    )
    big = None
    for config, n, label in configs:
        before = os.getloadavg()[0]
        try:
            proc = subprocess.run(
                [sys.executable, __file__, "--scaling-worker", config, str(n)],
                capture_output=True,
                text=True,
                timeout=limit,
                check=True,
            )
            r = json.loads(proc.stdout.strip().splitlines()[-1])
        except subprocess.TimeoutExpired:
            print(f"| {label:<45} | did not finish in {limit} s" + " |" * 6)
            continue
        except subprocess.CalledProcessError as err:
            print(f"| {label:<45} | failed: {err.stderr.strip().splitlines()[-1]}" + " |" * 6)
            continue
        after = os.getloadavg()[0]
        print(
            f"| {label:<45} | {r['fit_wall']:12.1f} | {r['fit_cpu']:9.1f} | "
            f"{r['fit_rss_kib'] / 1024:12.0f} | {r['n_support']:15d} | {r['map']:8.3f} | "
            f"{r['encode_us']:6.1f} ({r['encode_cpu_us']:5.1f})         "
            f"| {before:5.1f} - {after:5.1f}     |"
        )
        if "encode_1m_us" in r:
            big = r
    if big is not None:
        print(
            f"encoding 1,000,000 samples with the 100k model ({big['n_support']} support "
            f"vectors), 100k rows per transform call: {big['encode_1m_us']:.1f} us/sample "
            f"wall, {big['encode_1m_cpu_us']:.1f} us/sample CPU; peak RSS of the process "
            f"then {big['encode_1m_rss_kib'] / 1024:.0f} MiB (1M x 256 float32 input: 977 MiB)"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="digits only, one seed")
    parser.add_argument("--select", action="store_true", help="validation grid")
    parser.add_argument("--sparse", action="store_true", help="ablation with 20 pairs/sample")
    parser.add_argument("--bits", type=int, default=32)
    parser.add_argument(
        "--partners", type=int, default=500, help="partners per sample of the main ablation"
    )
    parser.add_argument("--only", choices=["ablation", "time", "select", "sparse"])
    parser.add_argument(
        "--scaling", action="store_true", help="embedding data at 10k and 100k, encode at 1M"
    )
    parser.add_argument(
        "--unbounded", action="store_true", help="with --scaling: max_train_samples=None on 10k"
    )
    parser.add_argument("--limit", type=float, default=420, help="seconds per configuration")
    parser.add_argument("--scaling-worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scaling_worker:
        _scaling_worker(args.scaling_worker[0], int(args.scaling_worker[1]))
        return
    if args.scaling:
        scaling(args.limit, unbounded=args.unbounded)
        return
    names = ["digits"] if args.quick else ["digits", "mnist5k"]
    seeds = [0] if args.quick else [0, 1, 2]
    if args.only in (None, "ablation"):
        ablation(names, args.bits, seeds, n_pairs=args.partners)
    if args.only in (None, "time") and not args.quick:
        fit_time(bits=args.bits)
    if args.select or args.only == "select":
        select(names, args.bits)
    if args.sparse or args.only == "sparse":
        ablation(names, args.bits, seeds, n_pairs=20)


if __name__ == "__main__":
    main()
