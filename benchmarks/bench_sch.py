"""SCHHasher: retrieval mAP against ITQ, the paper's ablation, fit time, and how defaults were set.

Run with skhash installed (``pip install -e .``) from the repository root::

    python benchmarks/bench_sch.py                # ablation on digits and MNIST-5k + fit time
    python benchmarks/bench_sch.py --quick        # digits only, one seed
    python benchmarks/bench_sch.py --select       # also the validation grid behind the defaults
    python benchmarks/bench_sch.py --sparse       # also the ablation with few pairs per sample
    python benchmarks/bench_sch.py --only ablation --partners 100   # another density

Protocol (the paper's, on skhash.datasets): digits with 20 queries per class, MNIST-5k
with 100 queries per class, the rest is the database. SCH is trained on 1,000 database
samples drawn per seed, each knowing its relation to 500 others; ITQ (unsupervised) is
fitted on the whole database. mAP@all over the queries, Hamming ranking, ties by database
index. ``--select`` never looks at the queries: it scores database samples outside the
training set against the rest of the database. Timings are noisy on a shared machine,
so the load average is printed and ratios measured in the same run are given.

Results: the printed output of recorded runs, each with its machine, date and
command, is in ``docs/results/bench_sch.txt``;
docs/user_guide/sch.rst summarises it.
"""

import argparse
import os
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
    args = parser.parse_args()
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
