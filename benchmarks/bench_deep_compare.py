"""HashNet, Deep Fisher Hashing and DHA compared on MNIST-5k, with ablations and multi-label.

Three parts, each printing a table (mean ± std over seeds of mAP@all, and fit time):

1. ``table``: MNIST-5k (100 queries per class; the other 4,000 images are database and
   training set), 12/16/32/64 bits, HashNetHasher / FisherHasher / DHAHasher with the
   same network, epochs and batch size; LSH as a floor.
2. ``ablation``: the papers' ablations on MNIST-5k at 12 and 32 bits. Fisher: pair loss
   only (mu=nu=0), + intra (nu=0), + inter (all terms, the default), margin 0 and 2
   (default 1), the discrete instead of the relaxed C-step. DHA: without the balance
   weight (beta=None, the paper's DHA-W), without the quantization loss (the paper's
   DHA-Q) and with 10x and 100x larger ones, without focal modulation (gamma=0), without the
   shift (theta=0).
3. ``multilabel``: ``make_multilabel_classification`` (20 labels, about 2.3 per sample,
   log-scaled counts as features): HashNet vs HashNet+C (Jaccard similarity), DHA vs
   DHA-t (cosine similarity), and Fisher (label proportions); mAP@all and mAP@100 with
   relevance "shares a label", and NDCG@100 with the cosine label similarity as graded
   relevance.

Run ``nice python benchmarks/bench_deep_compare.py`` (all parts, seeds 0 1 2; about 45
minutes on 2 cores at a load average of 2 to 5: 13 for the table, 4 for multi-label, 25
for the ablations; multi-label took 12 minutes of wall-clock, 4.3 of CPU, at a load
average of 3.5 to 4.8) or ``--part table --seeds 0`` for a quick look; ``--methods DHA``
(or LSH, HashNet, Fisher) runs only those methods' rows. Timings are wall-clock on a
shared machine: the load average is printed before and after each part.

Results: the printed output of recorded runs, each with its machine, date and
command, is in ``docs/results/bench_deep_compare.txt``;
docs/user_guide/dha.rst and fisher.rst summarise it.
"""

import argparse
import os
import re
import sys
import time

import numpy as np
from sklearn.datasets import make_multilabel_classification
from sklearn.metrics import ndcg_score
from sklearn.model_selection import train_test_split

from skhash import DHAHasher, FisherHasher, HashNetHasher, LSHHasher
from skhash._supervision import label_similarity
from skhash.datasets import load_retrieval_dataset
from skhash.metrics import mean_average_precision


def _load():
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def _fit_eval(make, data, seed, k=None):
    """Fit on the database, rank the database for every query; mAP and fit seconds."""
    est = make(seed)
    t0 = time.perf_counter()
    est.fit(data["X_db"], data["y_db"])
    seconds = time.perf_counter() - t0
    q, db = est.transform(data["X_query"]), est.transform(data["X_db"])
    out = {"map": mean_average_precision(q, data["y_query"], db, data["y_db"]), "s": seconds}
    if k is not None:
        out["map@k"] = mean_average_precision(q, data["y_query"], db, data["y_db"], k=k)
        out["ndcg"] = _ndcg(q, db, data["y_query"], data["y_db"], k)
    return out


def _ndcg(q, db, Yq, Ydb, k):
    """NDCG@k of Hamming ranking with cosine label similarity as graded relevance.

    Scores are minus the Hamming distance plus a tiny index term so ties are broken by
    database order, as in mean_average_precision.
    """
    K = q.shape[1]
    ham = (K - q.astype(np.int32) @ db.astype(np.int32).T) / 2
    scores = -ham - 1e-6 * np.arange(db.shape[0])[None, :] / db.shape[0]
    rel = label_similarity(Yq, Ydb, "cosine")
    return ndcg_score(rel, scores, k=k)


def _row(name, results, keys=("map",)):
    cells = []
    for key in keys:
        vals = np.array([r[key] for r in results])
        cells.append(f"{vals.mean():.4f} ± {vals.std():.4f}")
    secs = np.mean([r["s"] for r in results])
    return f"{name:<34}" + "  ".join(f"{c:>17}" for c in cells) + f"  {secs:7.1f}s"


def _deep(cls, n_bits, epochs, **params):
    def make(seed):
        return cls(n_bits=n_bits, max_epochs=epochs, random_state=seed, **params)

    return make


def part_table(data, bits, seeds, epochs, only=None):
    print(f"\n== MNIST-5k: mAP@all over {len(seeds)} seed(s), {epochs} epochs ({_load()})")
    methods = {
        "LSH": lambda K: lambda seed: LSHHasher(n_bits=K, random_state=seed),
        "HashNet": lambda K: _deep(HashNetHasher, K, epochs),
        "Fisher": lambda K: _deep(FisherHasher, K, epochs),
        "DHA": lambda K: _deep(DHAHasher, K, epochs),
    }
    if only:
        methods = {name: f for name, f in methods.items() if name in only}
    summary = {}
    for K in bits:
        print(f"-- {K} bits")
        for name, factory in methods.items():
            res = [_fit_eval(factory(K), data, s) for s in seeds]
            summary[name, K] = np.mean([r["map"] for r in res])
            print(_row(name, res))
    print(f"({_load()})")
    print("\nmean mAP           " + "".join(f"{K:>9} bits" for K in bits))
    for name in methods:
        print(f"{name:<18}" + "".join(f"{summary[name, K]:>14.4f}" for K in bits))
    for name in ("Fisher", "DHA"):
        if name not in methods or "HashNet" not in methods:
            continue
        gains = "".join(f"{summary[name, K] - summary['HashNet', K]:>+14.4f}" for K in bits)
        print(f"{name + ' - HashNet':<18}" + gains)


def part_ablation(data, bits, seeds, epochs, only=None):
    print(f"\n== Ablations on MNIST-5k, {epochs} epochs ({_load()})")
    fisher = {
        "Fisher: pair only (mu=nu=0)": {"mu": 0.0, "nu": 0.0},
        "Fisher: pair + intra (nu=0)": {"nu": 0.0},
        "Fisher: pair + intra + inter": {},
        "Fisher: margin=0 (DPSH pair loss)": {"margin": 0.0},
        "Fisher: margin=2": {"margin": 2.0},
        "Fisher: discrete C-step": {"center_update": "discrete"},
    }
    dha = {
        "DHA (defaults)": {},
        "DHA-W: no balance weight": {"beta": None},
        "DHA-Q: quantization_weight=0": {"quantization_weight": 0.0},
        "DHA: quantization_weight=0.01": {"quantization_weight": 0.01},
        "DHA: quantization_weight=0.1": {"quantization_weight": 0.1},
        "DHA: no focal term (gamma=0)": {"gamma": 0.0},
        "DHA: no shift (theta=0)": {"theta": 0.0},
    }
    if only:
        fisher = fisher if "Fisher" in only else {}
        dha = dha if "DHA" in only else {}
    for K in bits:
        print(f"-- {K} bits")
        for name, params in fisher.items():
            res = [_fit_eval(_deep(FisherHasher, K, epochs, **params), data, s) for s in seeds]
            print(_row(name, res))
        for name, params in dha.items():
            res = [_fit_eval(_deep(DHAHasher, K, epochs, **params), data, s) for s in seeds]
            print(_row(name, res))
    print(f"({_load()})")


def _multilabel_data(seed=0):
    X, Y = make_multilabel_classification(
        n_samples=3000,
        n_features=50,
        n_classes=20,
        n_labels=2,
        allow_unlabeled=False,
        random_state=seed,
    )
    Xtr, Xte, Ytr, Yte = train_test_split(np.log1p(X), Y, test_size=500, random_state=seed)
    return {"X_db": Xtr, "y_db": Ytr, "X_query": Xte, "y_query": Yte}


def part_multilabel(bits, seeds, epochs, k=100, only=None):
    data = _multilabel_data()
    Y = data["y_db"]
    sim = (Y @ Y.T > 0).mean()
    print(
        f"\n== Multi-label (make_multilabel_classification: 2,500 db/train, 500 queries, "
        f"20 labels, {Y.sum(1).mean():.2f} labels/sample, {sim:.0%} similar pairs), "
        f"{epochs} epochs ({_load()})"
    )
    methods = {
        "HashNet (binary s)": (HashNetHasher, {}),
        "HashNet+C (jaccard)": (HashNetHasher, {"similarity": "jaccard"}),
        "DHA (binary s)": (DHAHasher, {}),
        "DHA-t (cosine t)": (DHAHasher, {"similarity": "cosine"}),
        "Fisher (label proportions)": (FisherHasher, {}),
    }
    if only:
        methods = {name: m for name, m in methods.items() if re.split(r"[ +-]", name)[0] in only}
    header = f"{'':<34}{'mAP@all':>17}  {f'mAP@{k}':>17}  {f'NDCG@{k} (cos)':>17}"
    for K in bits:
        print(f"-- {K} bits\n{header}")
        for name, (cls, params) in methods.items():
            res = [_fit_eval(_deep(cls, K, epochs, **params), data, s, k=k) for s in seeds]
            print(_row(name, res, keys=("map", "map@k", "ndcg")))
    print(f"({_load()})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["table", "ablation", "multilabel", "all"], default="all")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--bits", type=int, nargs="+", default=None)
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=["LSH", "HashNet", "Fisher", "DHA"],
        default=None,
        help="run only these methods (table, multilabel; Fisher/DHA rows of the ablations)",
    )
    args = parser.parse_args()
    print("python " + " ".join(sys.argv), f"({os.cpu_count()} cores)")
    seeds = args.seeds
    if args.part in ("table", "ablation", "all"):
        data = load_retrieval_dataset("mnist5k")
    if args.part in ("table", "all"):
        part_table(data, args.bits or [12, 16, 32, 64], seeds, args.epochs, args.methods)
    if args.part in ("ablation", "all"):
        part_ablation(data, args.bits or [12, 32], seeds, args.epochs, args.methods)
    if args.part in ("multilabel", "all"):
        part_multilabel(args.bits or [16, 32], seeds, args.epochs, only=args.methods)


if __name__ == "__main__":
    main()
