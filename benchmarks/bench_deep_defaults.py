"""Deep hashers with their defaults on raw, standardised and L2-normalised inputs.

For HashNetHasher, FisherHasher and DHAHasher (64 bits, ``random_state=0``, CPU, every
other parameter at its default) and ITQHasher (64 bits, unsupervised) as the reference,
on:

- ``emb5k``, ``emb10k``: the embedding-like data of ``_scaling_data.make_embeddings``
  (100 unit-sphere Gaussian classes, 256 dimensions, float32, seed 0; 1,000 queries);
- ``mnist5k``: ``skhash.datasets.load_retrieval_dataset("mnist5k")`` (4,000 database and
  training images, 1,000 queries, pixels in [0, 1]);

each in three input forms: ``l2`` as generated (the embeddings are unit length, MNIST's
pixels are in [0, 1]), ``std`` after a ``StandardScaler`` fitted on the training set, and
``raw``, the same rows times 100 (a raw-scale embedding). A cell is the query mAP@1000
(Hamming ranking of the training set, relevance = same class, ties by index) of one
fit with the defaults (early stopping included, when it is on by default), its epochs
(``n_iter_``) and fit time, wall-clock and CPU.

``--curve`` records, for the deep hashers, the query mAP@1000 after each of the epochs
given by ``--curve-epochs`` within one fit with ``early_stopping=False``: whether the
codes get worse as training goes on (the training loss alone does not say).

Run from the repository root with skhash installed::

    python benchmarks/bench_deep_defaults.py                     # every cell
    python benchmarks/bench_deep_defaults.py --data emb5k --methods HashNet ITQ
    python benchmarks/bench_deep_defaults.py --curve --data emb5k --max-epochs 30

The machine is shared: the load average is printed with every row.

Results: the printed output of recorded runs, each with its machine, date and command,
is in ``docs/results/bench_deep_defaults.txt``; docs/user_guide/hashnet.rst summarises it.
"""

import argparse
import os
import pathlib
import platform
import sys
import time

import numpy as np
import torch
from sklearn.preprocessing import StandardScaler

from skhash import DHAHasher, FisherHasher, HashNetHasher, ITQHasher
from skhash.datasets import load_retrieval_dataset
from skhash.metrics import mean_average_precision

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _scaling_data import make_embeddings  # noqa: E402

METHODS = {
    "HashNet": HashNetHasher,
    "Fisher": FisherHasher,
    "DHA": DHAHasher,
    "ITQ": ITQHasher,
}
FORMS = ("l2", "std", "raw")
N_BITS = 64
DEPTH = 1000


def _load():
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def load_data(name):
    """Training set and queries: ``X, y, X_query, y_query`` (float32)."""
    if name.startswith("emb"):
        n = int(name[3:].replace("k", "000"))
        return make_embeddings(n)
    data = load_retrieval_dataset(name)
    return (
        data.X_db.astype(np.float32),
        np.asarray(data.y_db),
        data.X_query.astype(np.float32),
        np.asarray(data.y_query),
    )


def input_form(X, X_query, form):
    """The three input forms of the same rows (the scaler is fitted on the training set)."""
    if form == "std":
        scaler = StandardScaler().fit(X)
        return (
            scaler.transform(X).astype(np.float32),
            scaler.transform(X_query).astype(np.float32),
        )
    if form == "raw":
        return X * np.float32(100), X_query * np.float32(100)
    return X, X_query


def _map(q_codes, y_q, db_codes, y_db):
    return float(mean_average_precision(q_codes, y_q, db_codes, y_db, k=DEPTH))


def _make(method, max_epochs=None, **params):
    cls = METHODS[method]
    if method != "ITQ":
        params.setdefault("device", "cpu")
        if max_epochs is not None:
            params["max_epochs"] = max_epochs
    return cls(N_BITS, random_state=0, **params)


def cell(method, X, y, X_q, y_q, max_epochs=None):
    """One fit with the defaults: mAP@1000, epochs, wall and CPU seconds."""
    est = _make(method, max_epochs)
    wall, cpu = time.perf_counter(), time.process_time()
    est.fit(X, y if method != "ITQ" else None)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    score = _map(est.transform(X_q), y_q, est.transform(X), y)
    return score, (None if method == "ITQ" else est.n_iter_), wall, cpu


def curve(method, X, y, X_q, y_q, epochs):
    """Query mAP@1000 after each epoch in ``epochs``, one fit without early stopping."""
    cls = METHODS[method]
    scores = {}

    class Watched(cls):
        # The network the fit trains, kept to encode the queries after an epoch.
        def _build_module(self, n_features, generator):
            self._watched = super()._build_module(n_features, generator)
            return self._watched

        def _end_of_epoch(self, bank):
            super()._end_of_epoch(bank)
            epoch = self._fit_state["_watched_epoch"] = self._fit_state.get("_watched_epoch", 0) + 1
            if epoch not in epochs:
                return
            net = self._watched
            was_training = net.training
            net.eval()
            with torch.no_grad():
                zq = net(torch.from_numpy(X_q)).numpy()
                zd = torch.cat(
                    [net(torch.from_numpy(X[i : i + 4096])) for i in range(0, len(X), 4096)]
                )
            net.train(was_training)
            scores[epoch] = _map(zq >= 0, y_q, zd.numpy() >= 0, y)

    Watched.__name__ = cls.__name__
    params = {"max_epochs": max(epochs), "device": "cpu"}
    if "early_stopping" in cls().get_params():
        params["early_stopping"] = False
    Watched(N_BITS, random_state=0, **params).fit(X, y)
    return [scores.get(e) for e in epochs]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["emb5k", "emb10k", "mnist5k"])
    parser.add_argument("--forms", nargs="+", choices=FORMS, default=list(FORMS))
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument(
        "--max-epochs", type=int, default=None, help="cap on the epochs (default: defaults)"
    )
    parser.add_argument("--curve", action="store_true", help="mAP per epoch instead")
    parser.add_argument("--curve-epochs", type=int, nargs="+", default=[1, 3, 10, 20, 30, 50])
    args = parser.parse_args()

    print(
        f"# bench_deep_defaults ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, torch threads {torch.get_num_threads()})"
    )
    print(f"# {' '.join(sys.argv)}")
    if args.curve:
        epochs = sorted(
            e for e in args.curve_epochs if args.max_epochs is None or e <= args.max_epochs
        )
        print("| data | form | method | " + " | ".join(f"ep {e}" for e in epochs) + " | load |")
        print("|---|---|---|" + "---:|" * len(epochs) + "---|")
    else:
        print("| data | form | method | mAP@1000 | epochs | fit wall s | fit CPU s | load |")
        print("|---|---|---|---:|---:|---:|---:|---|")
    for name in args.data:
        X0, y, Xq0, yq = load_data(name)
        for form in args.forms:
            X, X_q = input_form(X0, Xq0, form)
            for method in args.methods:
                if args.curve:
                    if method == "ITQ":
                        continue
                    scores = curve(method, X, y, X_q, yq, epochs)
                    row = " | ".join("-" if s is None else f"{s:.4f}" for s in scores)
                    print(f"| {name} | {form} | {method} | {row} | {_load()} |", flush=True)
                    continue
                score, n_iter, wall, cpu = cell(method, X, y, X_q, yq, args.max_epochs)
                print(
                    f"| {name} | {form} | {method} | {score:.4f} | {n_iter or '-'} | "
                    f"{wall:.1f} | {cpu:.1f} | {_load()} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
