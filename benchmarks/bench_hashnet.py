"""HashNetHasher on MNIST-5k: mAP and fit time at 16/32/64 bits, and the paper's ablations.

Run with skhash installed (``pip install -e .``) from the repository root::

    python benchmarks/bench_hashnet.py            # everything (about 10 minutes on 2 cores)
    python benchmarks/bench_hashnet.py --quick    # 32 bits, one seed, no ablation

Protocol (skhash.datasets): MNIST-5k, pixels in [0, 1], 100 queries per class; HashNet
is fitted on the other 4,000 images (database = training set) with its defaults on the
CPU; mAP@all with Hamming ranking, ties by database index. ITQ (unsupervised) is fitted in
the same run as a reference, and timings are given as wall-clock and CPU seconds with
the load average, since the machine may be shared.

Ablations (paper, Table 3), 32 bits:

- weighting: balanced weights (Eq. 2) against none ("HashNet-W") on the 10 digit
  classes (1 similar pair in 10) and on a 100-class label set (1 in 100, like ImageNet
  in the paper): each digit split into 10 sub-classes by k-means on its pixels.
- continuation: tanh(βz) with the authors' β schedule, a ten times steeper one, and a
  fixed β = 1 ("HashNet-sgn": train with tanh, take the sign after). Besides mAP, the
  training-set loss of the relaxed outputs J(tanh(βz)) against that of the codes
  L(sgn z), the gap of the paper's Fig. 7, and the mean |tanh(βz)|.

Results: the printed output of recorded runs, each with its machine, date and
command, is in ``docs/results/bench_hashnet.txt``;
docs/user_guide/hashnet.rst summarises it.
"""

import argparse
import os
import time

import numpy as np
import torch
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from skhash import HashNetHasher, ITQHasher
from skhash._supervision import check_supervision
from skhash.datasets import load_retrieval_dataset
from skhash.deep._base import PairSupervision
from skhash.deep._losses import hashnet_pair_loss
from skhash.metrics import mean_average_precision


def _load():
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}"


def _fit_score(hasher, X_db, y_db, X_q, y_q, supervised=True):
    """Query mAP@all after fitting on the database, and the fit's wall and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    hasher.fit(X_db, y_db if supervised else None)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    score = mean_average_precision(hasher.transform(X_q), y_q, hasher.transform(X_db), y_db)
    return float(score), wall, cpu


def bits_table(data, bit_lengths, seeds):
    print(f"\n## MNIST-5k: HashNet defaults vs ITQ, query mAP@all ({_load()})")
    print("| bits | seed | HashNet mAP | fit wall s | fit CPU s | ITQ mAP | ITQ fit s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    split = (data.X_db, data.y_db, data.X_query, data.y_query)
    for K in bit_lengths:
        for seed in seeds if K == 32 else seeds[:1]:
            h = _fit_score(HashNetHasher(K, random_state=seed), *split)
            itq = _fit_score(ITQHasher(K, random_state=seed), *split, supervised=False)
            print(
                f"| {K} | {seed} | {h[0]:.4f} | {h[1]:.1f} | {h[2]:.1f} | {itq[0]:.4f} "
                f"| {itq[1]:.2f} |",
                flush=True,
            )
    print(f"({_load()} at the end)")


def fine_labels(data, n_sub=10, seed=0):
    """100 classes: each digit's images (queries and database) split by k-means."""
    X = np.vstack([data.X_query, data.X_db])
    y = np.concatenate([data.y_query, data.y_db])
    fine = np.empty_like(y)
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        km = KMeans(n_sub, n_init=3, random_state=seed).fit(X[members])
        fine[members] = c * n_sub + km.labels_
    return fine[: len(data.y_query)], fine[len(data.y_query) :]


def weighting_table(data, K=32, seed=0):
    fine_q, fine_db = fine_labels(data)
    print(f"\n## Ablation: imbalance weights, {K} bits, seed {seed} ({_load()})")
    for name, y_q, y_db in [
        ("10 digits", data.y_query, data.y_db),
        ("100 sub-classes", fine_q, fine_db),
    ]:
        sizes = np.bincount(y_db)
        sim = (sizes * (sizes - 1)).sum() / (len(y_db) * (len(y_db) - 1))
        print(f"\n{name}: similar pairs are {sim:.3f} of all training pairs")
        print("| weighting | mAP@all | fit wall s |")
        print("|---|---:|---:|")
        for weighting in ("balanced", "none"):
            h = HashNetHasher(K, weighting=weighting, random_state=seed)
            score, wall, _ = _fit_score(h, data.X_db, y_db, data.X_query, y_q)
            print(f"| {weighting} | {score:.4f} | {wall:.1f} |", flush=True)


def _train_losses(h, data):
    """Training-set loss of relaxed outputs tanh(β z) and of the codes sgn(z)."""
    Z = torch.from_numpy(h.decision_function(data.X_db))
    sup = PairSupervision(
        check_supervision(data.y_db, n_samples=len(data.y_db)), torch.device("cpu")
    )
    idx = torch.arange(len(Z))
    S, mask = sup.block(idx)
    kw = dict(alpha=h.alpha_, weighting=h.weighting, mask=mask)
    G = torch.tanh(h.beta_ * Z)
    J = float(hashnet_pair_loss(G, G, S, **kw))
    L = float(hashnet_pair_loss(torch.sign(Z), torch.sign(Z), S, **kw))
    return J, L, float(G.abs().mean())


def continuation_table(data, bit_lengths=(16, 32), seeds=(0, 1)):
    variants = {
        "fixed tanh, beta = 1 (HashNet-sgn)": dict(continuation=False),
        "authors' schedule (default)": {},
        "10x steeper schedule": dict(beta_gamma=0.05),
    }
    print(f"\n## Ablation: continuation ({_load()})")
    print("| bits | variant | mAP@all per seed | final beta | J(tanh) | L(sgn) | mean abs tanh |")
    print("|---:|---|---|---:|---:|---:|---:|")
    for K in bit_lengths:
        for name, params in variants.items():
            scores, last = [], None
            for seed in seeds:
                last = HashNetHasher(K, random_state=seed, **params)
                scores.append(_fit_score(last, data.X_db, data.y_db, data.X_query, data.y_query)[0])
            J, L, mean_abs = _train_losses(last, data)
            print(
                f"| {K} | {name} | {' '.join(f'{s:.4f}' for s in scores)} | {last.beta_:.2f} "
                f"| {J:.4f} | {L:.4f} | {mean_abs:.3f} |",
                flush=True,
            )
    print("(J, L and mean |tanh| of the last seed, on the training set)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="32 bits, one seed, no ablation")
    args = parser.parse_args()
    data = load_retrieval_dataset("mnist5k")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} torch threads available; fits use 1"
    )
    # One BLAS thread for ITQ and k-means: the CPU is shared, and torch uses 1 anyway.
    with threadpool_limits(1):
        if args.quick:
            bits_table(data, [32], [0])
            return
        bits_table(data, [16, 32, 64], [0, 1, 2])
        weighting_table(data)
        continuation_table(data)


if __name__ == "__main__":
    main()
