"""Every hasher from 10k to 1M samples: fit time, peak memory, encode speed and mAP, old vs new.

For each hasher (LSH, PCA, ITQ, WSL, SCH, HashNet, Fisher, DHA; 64 bits, ``random_state=0``,
deep hashers on ``device="cpu"``, every other parameter at its default; fitted with the
labels, which the unsupervised ones ignore) and each data set:

- ``10k``, ``100k``, ``1M``: the embedding-like data of ``_scaling_data.make_embeddings``
  (100 unit-sphere Gaussian classes, 256 dimensions, float32, seed 0; 1,000 queries shared
  by all sizes), the training set is the database;
- ``mnist5k``: ``skhash.datasets.load_retrieval_dataset("mnist5k")`` (4,000 database and
  training images, 1,000 queries, float64 pixels in [0, 1]);

one cell records: fit time, wall-clock and CPU (all threads of the process); the peak RSS
of the process after imports and data (``base``), after the fit (``fit``) and at the end;
encode throughput (``encode`` of the whole training set, samples/s); query mAP@1000
(Hamming ranking of the training set by the 1,000 queries, relevance = same class, ties
by index); for the deep hashers the number of epochs (``n_iter_``) and the seconds per
epoch per 100k training samples (fit time / ``n_iter_`` scaled by 100k / n_samples; a fit
with a validation split spends part of that time scoring it).

Each cell runs in a fresh subprocess (peak RSS is the child's ``ru_maxrss``), with a time
limit (``--time-limit``, default 600 s; ``--cell-limit SCH=420`` for one method) on
wall-clock, or with ``--limit-on cpu`` on the child's CPU time (all its threads; waiting
for a core on a shared machine does not count), capped at 5x the limit in wall-clock: the
parent polls the child's RSS and CPU time (psutil) and kills its process group when the
limit passes; the cell is reported as ``> limit`` with the RSS it had reached and whatever
phases (fit, encode) it finished. A child that fails reports its error's last line.

Versions (``--versions old new``): ``new`` is the working tree of this checkout; ``old``
is the commit before issue 14's work, ``e68be79`` (``--old-commit``), checked out as a git
worktree in ``/tmp/skhash_old`` (``--old-path``; created if missing). The child runs with
its cwd outside the repository and ``PYTHONPATH`` pointing at the version's root, and
checks that ``skhash.__file__`` is under it. The data generator is always this
checkout's ``_scaling_data``, so both versions see the same arrays.

Cells are cached in a JSON file (``--cache``, default ``/tmp/skhash_bench_scaling.json``)
keyed by version, method and data set, with a fingerprint of the version's ``skhash``
sources (commit tree + uncommitted diff): a run resumes where it stopped, and a cell of
``new`` is measured again once ``skhash/`` changed. ``--rerun`` measures the selected
cells anyway; ``--print-only`` prints the cached cells without running anything.

Usage, from the repository root::

    # the issue's table, old and new side by side (long: an hour or more on 2 cores)
    nice python benchmarks/bench_scaling.py --versions old new --table --cell-limit SCH=420 \
        --limit-on cpu
    # chosen cells, new version only
    python benchmarks/bench_scaling.py --methods LSH ITQ --sizes 10k 100k 1M
    # print what is cached, with the cost-vs-samples plot of the new version
    python benchmarks/bench_scaling.py --versions old new --print-only --plot docs/scaling_cost.svg

``--table`` selects the cells of issue 14's table: LSH and ITQ at 10k and 1M, WSL at 10k
and 100k, the others at 10k, every method on MNIST-5k, and for ``new`` SCH at 100k and 1M
too (the issue's targets); ``--methods`` and ``--sizes``
choose a grid instead. The output starts and ends with the machine (CPU model, cores,
numpy/numba/torch/scikit-learn versions, BLAS from threadpoolctl), the date and the load
average; each cell also records the load average at its start. Timings are wall-clock on
a shared machine: compare CPU times, and old with new measured at similar loads. The
numba kernels compile on a version's first run and are cached on disk afterwards.

Results: the printed output of recorded runs is in ``docs/results/bench_scaling.txt``,
included with the plot in docs/scaling.rst.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

METHODS = ("LSH", "PCA", "ITQ", "WSL", "SCH", "HashNet", "Fisher", "DHA")
CLASSES = {
    "LSH": "LSHHasher",
    "PCA": "PCAHasher",
    "ITQ": "ITQHasher",
    "WSL": "WSLHasher",
    "SCH": "SCHHasher",
    "HashNet": "HashNetHasher",
    "Fisher": "FisherHasher",
    "DHA": "DHAHasher",
}
DEEP = ("HashNet", "Fisher", "DHA")
SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}
DATASETS = (*SIZES, "mnist5k")
# Issue 14's table: the sizes it measured for each method, plus MNIST-5k for all.
TABLE = {
    "LSH": ("10k", "1M"),
    "ITQ": ("10k", "1M"),
    "WSL": ("10k", "100k"),
    "SCH": ("10k",),
    "HashNet": ("10k",),
    "Fisher": ("10k",),
    "DHA": ("10k",),
}
# The new version also gets the sizes of the targets: SCH at 100k samples, and
# its encoding at 1M (the old SCH does not finish at 10k).
TABLE_NEW = {"SCH": ("10k", "100k", "1M")}
N_BITS = 64
K = 1000
POLL = 0.5
WALL_CAP = 5


# ---------------------------------------------------------------------------------------
# The child: one configuration, in its own process.


def _maxrss_kib():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _child(spec, out_path):
    """Measure one cell; write the results so far to ``out_path`` after every phase."""
    result = {"load_start": os.getloadavg()[0]}

    def save(phase):
        result["phase"] = phase
        tmp = out_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(result, f)
        os.replace(tmp, out_path)

    save("imports")
    import skhash
    from skhash.metrics import mean_average_precision

    result["skhash_file"] = skhash.__file__
    if not str(Path(skhash.__file__).resolve()).startswith(spec["root"]):
        raise RuntimeError(f"skhash imported from {skhash.__file__}, not {spec['root']}")
    cls = getattr(skhash, CLASSES[spec["method"]])  # imports torch for the deep hashers
    result["rss_import_kib"] = _maxrss_kib()
    save("data")

    if spec["data"] == "mnist5k":
        from skhash.datasets import load_retrieval_dataset

        data = load_retrieval_dataset("mnist5k")
        X, y, X_query, y_query = data.X_db, data.y_db, data.X_query, data.y_query
    else:
        sys.path.insert(0, str(HERE))
        from _scaling_data import make_embeddings

        X, y, X_query, y_query = make_embeddings(SIZES[spec["data"]])
    result.update(n_train=X.shape[0], dtype=str(X.dtype), rss_base_kib=_maxrss_kib())
    save("fit")

    params = dict(n_bits=N_BITS, random_state=0)
    if spec["method"] in DEEP:
        params["device"] = "cpu"
    hasher = cls(**params)
    wall, cpu = time.perf_counter(), time.process_time()
    hasher.fit(X, y)
    result.update(
        fit_wall=time.perf_counter() - wall,
        fit_cpu=time.process_time() - cpu,
        rss_fit_kib=_maxrss_kib(),
        n_iter=getattr(hasher, "n_iter_", None),
    )
    save("encode")

    wall = time.perf_counter()
    db_codes = hasher.encode(X)
    result.update(encode_s=time.perf_counter() - wall, encode_rows=X.shape[0])
    save("mAP")

    query_codes = hasher.encode(X_query)
    result["map"] = float(
        mean_average_precision(query_codes, y_query, db_codes, y, k=K, packed=True)
    )
    result.update(rss_end_kib=_maxrss_kib(), load_end=os.getloadavg()[0])
    save("done")


# ---------------------------------------------------------------------------------------
# The parent: versions, cache, subprocesses with a time limit, tables, plot.


def _git(*args, cwd=REPO):
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def _old_root(path, commit):
    path = Path(path)
    if not (path / "skhash" / "__init__.py").exists():
        _git("worktree", "add", "--detach", str(path), commit)
    head = _git("rev-parse", "HEAD", cwd=path).strip()
    want = _git("rev-parse", commit).strip()
    if head != want:
        raise SystemExit(f"{path} is at {head[:10]}, not {commit}; remove it or use --old-path")
    return path.resolve()


def _fingerprint(root):
    """The version's skhash sources: committed tree, uncommitted diff, untracked files."""
    digest = hashlib.sha1()
    digest.update(_git("rev-parse", "HEAD:skhash", cwd=root).encode())
    digest.update(_git("diff", "HEAD", "--", "skhash", cwd=root).encode())
    for name in sorted(
        _git("ls-files", "--others", "--exclude-standard", "skhash", cwd=root).split()
    ):
        digest.update(name.encode())
        digest.update((Path(root) / name).read_bytes())
    return digest.hexdigest()[:12]


def _run_cell(version, root, method, data, limit, clock):
    """Run one cell in a subprocess; kill it at ``limit`` seconds of ``clock`` time.

    ``clock="cpu"`` counts the child's CPU time (all threads), which waiting for a busy
    core does not inflate, with a wall-clock cap of ``WALL_CAP`` times the limit.
    """
    import psutil

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cell.json")
        log = os.path.join(tmp, "stderr.txt")
        spec = json.dumps({"method": method, "data": data, "root": str(root)})
        env = dict(os.environ, PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1")
        load = os.getloadavg()[0]
        start = time.perf_counter()
        with open(log, "w") as err:
            child = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--child", spec, out],
                cwd=tempfile.gettempdir(),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
            proc = psutil.Process(child.pid)
            rss = cpu = 0
            timed_out = False
            while child.poll() is None:
                try:
                    rss = max(rss, proc.memory_info().rss)
                    times = proc.cpu_times()
                    cpu = times.user + times.system
                except psutil.Error:
                    pass
                wall = time.perf_counter() - start
                used = cpu if clock == "cpu" else wall
                if used > limit or wall > WALL_CAP * limit:
                    timed_out = "wall cap" if used <= limit else clock
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait()
                    break
                time.sleep(POLL)
        result = {}
        if os.path.exists(out):
            with open(out) as f:
                result = json.load(f)
        result.update(
            version=version,
            method=method,
            data=data,
            wall_total=time.perf_counter() - start,
            load_parent=load,
            date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
            rss_polled_kib=rss // 1024,
            cpu_polled=cpu,
        )
        if timed_out:
            result.update(timeout=limit, limit_clock=timed_out)
        elif child.returncode != 0:
            with open(log) as f:
                lines = [line for line in f.read().splitlines() if line.strip()]
            result["error"] = lines[-1] if lines else f"exit code {child.returncode}"
        return result


def _machine():
    from importlib.metadata import PackageNotFoundError, version

    import numpy  # noqa: F401  (loads the BLAS threadpoolctl reports)
    from threadpoolctl import threadpool_info

    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    versions = []
    for name in ("numpy", "scipy", "scikit-learn", "numba", "torch"):
        try:
            versions.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            versions.append(f"{name} absent")
    blas = ", ".join(
        f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, "
        f"{i.get('num_threads')} threads)"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    )
    cores = f"{os.cpu_count()} logical cores, {len(os.sched_getaffinity(0))} usable"
    return [
        f"machine: {model}, {cores}",
        f"python {platform.python_version()}; {', '.join(versions)}",
        f"BLAS: {blas or 'none found'}",
    ]


def _stamp(what):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"{what}: {now}, load average {load}"


def _mib(kib):
    return "-" if kib is None else f"{kib / 1024:,.0f}"


def _secs(s):
    if s is None:
        return "-"
    return f"{s:.2f}" if s < 10 else f"{s:,.0f}"


def _fit_cell(cell):
    """Fit time as printed: seconds, or '> limit' when the fit did not end."""
    if cell is None:
        return "not run"
    if cell.get("fit_wall") is not None:
        return f"{_secs(cell['fit_wall'])} s"
    if "timeout" in cell:
        if cell.get("limit_clock") == "wall cap":
            return f"> {cell['wall_total']:.0f} s (cap)"
        unit = "CPU-s" if cell.get("limit_clock") == "cpu" else "s"
        return f"> {cell['timeout']:.0f} {unit}"
    return "failed"


def _peak(cell):
    """Peak RSS of the fit (MiB): the child's own, or the polled one on timeout."""
    if cell is None:
        return None
    if cell.get("rss_fit_kib") is not None:
        return cell["rss_fit_kib"]
    return cell.get("rss_polled_kib")


def _per_epoch(cell):
    """Seconds per epoch per 100k training samples, wall-clock (CPU), or None."""
    if cell.get("n_iter") and cell.get("fit_wall") and cell["method"] in DEEP:
        scale = 100_000 / cell["n_train"] / cell["n_iter"]
        return f"{cell['fit_wall'] * scale:.1f} ({cell['fit_cpu'] * scale:.1f})"
    return None


def _detail(cells):
    head = (
        f"{'version':8}{'method':9}{'data':9}{'fit wall':>10}{'fit CPU':>10}"
        f"{'base MiB':>10}{'fit MiB':>10}{'end MiB':>10}{'encode/s':>11}{'mAP@1k':>8}"
        f"{'n_iter':>7}{'s/ep/100k':>14}{'load':>6}  note"
    )
    lines = [head, "-" * len(head)]
    for c in cells:
        note = ""
        if "timeout" in c:
            note = (
                f"killed in {c.get('phase', '?')} after {c['wall_total']:.0f} s "
                f"({c['cpu_polled']:.0f} CPU-s), "
                f"RSS reached {_mib(c['rss_polled_kib'])} MiB"
            )
        elif "error" in c:
            note = c["error"][:90]
        enc = c.get("encode_s")
        rate = f"{c['encode_rows'] / enc:,.0f}" if enc else "-"
        mean_ap = c.get("map")
        epoch = _per_epoch(c)
        lines.append(
            f"{c['version']:8}{c['method']:9}{c['data']:9}"
            f"{_fit_cell(c):>10}{_secs(c.get('fit_cpu')):>10}"
            f"{_mib(c.get('rss_base_kib')):>10}{_mib(_peak(c)):>10}"
            f"{_mib(c.get('rss_end_kib')):>10}{rate:>11}"
            f"{'-' if mean_ap is None else f'{mean_ap:.3f}':>8}"
            f"{c.get('n_iter') or '-':>7}{epoch or '-':>14}"
            f"{c.get('load_start', c['load_parent']):>6.1f}  {note}"
        )
    return lines


def _side_by_side(cache, methods, versions):
    """Issue 14's layout: per method and data set, each version's figures side by side."""
    shown = list(dict.fromkeys(versions))

    def fit(cell):
        if cell is None:
            return "not run"
        if cell.get("fit_wall") is not None:
            return f"{_secs(cell['fit_wall'])} ({_secs(cell['fit_cpu'])})"
        return _fit_cell(cell)

    def peak(cell):
        kib = _peak(cell)
        return "-" if kib is None else f"{kib / 1024**2:.2f}"

    def mean_ap(cell):
        return "-" if cell is None or cell.get("map") is None else f"{cell['map']:.2f}"

    lines = [
        f"{' | '.join(shown)}: fit = fit time in s, wall-clock (CPU); peak RSS = the process's "
        f"peak after the fit, GB; mAP = query mAP@{K}",
    ]
    head = (
        f"{'method':9}{'data':9}{'fit, s':>34}{'peak RSS, GB':>20}{'mAP@1000':>16}"
        f"{'s/epoch/100k, wall (CPU)':>30}"
    )
    lines += [head, "-" * len(head)]
    for method in methods:
        for data in DATASETS:
            cells = [cache.get(_key(v, method, data)) for v in shown]
            if not any(cells):
                continue
            epochs = []
            for cell in cells:
                value = None if cell is None else _per_epoch(cell)
                epochs.append(value or "-")
            lines.append(
                f"{method:9}{data:9}"
                f"{' | '.join(fit(c) for c in cells):>34}"
                f"{' | '.join(peak(c) for c in cells):>20}"
                f"{' | '.join(mean_ap(c) for c in cells):>16}"
                f"{' | '.join(epochs) if method in DEEP else '':>30}"
            )
    return lines


def _plot(cache, methods, version, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_time, ax_rss) = plt.subplots(1, 2, figsize=(10, 4.2))
    for i, method in enumerate(methods):
        color = f"C{i % 10}"
        done, killed = [], []
        for data, n in SIZES.items():
            cell = cache.get(_key(version, method, data))
            if cell is None:
                continue
            if cell.get("fit_wall") is not None:
                done.append((n, cell["fit_wall"], _peak(cell) / 1024**2))
            elif "timeout" in cell:
                killed.append((n, cell["timeout"], cell["rss_polled_kib"] / 1024**2))
        if done:
            n, t, rss = zip(*done, strict=True)
            ax_time.plot(n, t, "o-", color=color, label=method)
            ax_rss.plot(n, rss, "o-", color=color)
        if killed:
            n, t, rss = zip(*killed, strict=True)
            ax_time.plot(n, t, "^", color=color, label=None if done else method)
            ax_rss.plot(n, rss, "^", color=color)
    sizes = list(SIZES.values())
    input_gb = [n * 256 * 4 / 1024**3 for n in sizes]
    ax_rss.plot(sizes, input_gb, "k:", label="the input (float32)")
    ax_rss.plot(sizes, [3 * g for g in input_gb], "k--", label="3 x the input")
    ax_rss.legend(fontsize=8)
    for ax, ylabel in ((ax_time, "fit time (s, wall-clock)"), (ax_rss, "peak RSS (GB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training samples (256-d float32)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    ax_time.legend(fontsize=8, ncol=2)
    fig.suptitle(
        f"skhash ({version}), {N_BITS} bits: cost of fit vs n_samples "
        "(triangles: killed at the time limit)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path)
    print(f"plot written to {path}", file=sys.stderr)


def _key(version, method, data):
    return f"{version}|{method}|{data}"


def _selected(args, version):
    if args.table:
        table = {**TABLE, **TABLE_NEW} if version == "new" else TABLE
        cells = [(m, d) for m in args.methods for d in table.get(m, ("10k",))]
        return cells + [(m, "mnist5k") for m in args.methods]
    return [(m, d) for m in args.methods for d in args.sizes]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", nargs="+", choices=("old", "new"), default=["new"])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--sizes", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--table", action="store_true", help="issue 14's cells only")
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument(
        "--limit-on",
        choices=("wall", "cpu"),
        default="wall",
        help=f"what the limit counts; cpu: the child's CPU time, with a wall cap of "
        f"{WALL_CAP}x the limit",
    )
    parser.add_argument(
        "--cell-limit",
        nargs="*",
        default=[],
        metavar="METHOD=SECONDS",
        help="time limit for one method's cells, e.g. SCH=420",
    )
    parser.add_argument(
        "--cache", default=os.path.join(tempfile.gettempdir(), "skhash_bench_scaling.json")
    )
    parser.add_argument("--rerun", action="store_true", help="ignore cached cells")
    parser.add_argument("--print-only", action="store_true")
    parser.add_argument("--plot", metavar="OUT.svg")
    parser.add_argument(
        "--plot-version", choices=("old", "new"), help="default: the last of --versions"
    )
    parser.add_argument("--old-commit", default="e68be79")
    parser.add_argument("--old-path", default=os.path.join(tempfile.gettempdir(), "skhash_old"))
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(json.loads(args.child[0]), args.child[1])
        return

    limits = {}
    for item in args.cell_limit:
        method, _, seconds = item.partition("=")
        if method not in METHODS:
            parser.error(f"--cell-limit: unknown method {method!r}; expected one of {METHODS}")
        limits[method] = float(seconds)

    cache = {}
    if os.path.exists(args.cache):
        with open(args.cache) as f:
            cache = json.load(f)

    print(_stamp("start"))
    print("command: python benchmarks/bench_scaling.py " + " ".join(sys.argv[1:]))
    print(*_machine(), sep="\n")
    roots = {"new": REPO}
    if "old" in args.versions:
        roots["old"] = _old_root(args.old_path, args.old_commit)
    for version in args.versions:
        root = roots[version]
        fingerprint = _fingerprint(root)
        head = _git("rev-parse", "--short", "HEAD", cwd=root).strip()
        print(f"{version}: {root} at {head}, skhash sources {fingerprint}")
        for method, data in _selected(args, version):
            key = _key(version, method, data)
            cached = cache.get(key)
            fresh = cached is not None and cached.get("fingerprint") == fingerprint
            if args.print_only or (fresh and not args.rerun):
                continue
            limit = limits.get(method, args.time_limit)
            print(f"  running {key} (limit {limit:.0f} s) ...", end=" ", flush=True)
            cell = _run_cell(version, root, method, data, limit, args.limit_on)
            cell.update(fingerprint=fingerprint, commit=head)
            cache[key] = cell
            tmp = args.cache + ".tmp"
            with open(tmp, "w") as f:
                json.dump(cache, f, indent=1, sort_keys=True)
            os.replace(tmp, args.cache)
            print(f"{cell['wall_total']:.0f} s, fit {_fit_cell(cell)}")

    print()
    shown = [
        cache[_key(v, m, d)]
        for v in args.versions
        for m, d in _selected(args, v)
        if _key(v, m, d) in cache
    ]
    print(
        f"All cells ({N_BITS} bits; MiB = peak RSS of the process so far; "
        "load = 1-min load average at the cell's start):"
    )
    print(*(line.rstrip() for line in _detail(shown)), sep="\n")
    print()
    print("Side by side (issue 14's layout):")
    print(*(line.rstrip() for line in _side_by_side(cache, args.methods, args.versions)), sep="\n")
    dates = sorted({c["date"] for c in shown})
    if dates:
        print(
            f"cells measured {dates[0]} to {dates[-1]} UTC; sources: "
            + ", ".join(
                sorted(
                    {f"{c['version']} {c.get('commit')} ({c.get('fingerprint')})" for c in shown}
                )
            )
        )
    print(_stamp("end"))
    if args.plot:
        _plot(cache, args.methods, args.plot_version or args.versions[-1], args.plot)


if __name__ == "__main__":
    main()
