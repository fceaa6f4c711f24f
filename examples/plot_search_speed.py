"""
==============================================
Search speed: HammingNeighbors, FAISS, sklearn
==============================================

:class:`~skhash.HammingNeighbors` answers the same k-nearest-neighbour queries as
``sklearn.neighbors.NearestNeighbors(metric="hamming")`` on binary codes, with the same
distances, but on bit-packed codes with an XOR + popcount kernel. This example times
both, and FAISS's exhaustive binary index ``IndexBinaryFlat`` when ``faiss-cpu`` is
installed, on random 64-bit codes of growing database sizes, with the same number of
threads for all. The full benchmark (a million codes, 64 and 256 bits) is
``benchmarks/bench_search.py``; numbers from one run are in the user guide
(:doc:`/user_guide/search`).

Timings depend on the machine and on whatever else runs on it; the ratios between
methods measured in the same run are what to look at.
"""

# %%
# Same codes, same answers
# ------------------------
# scikit-learn's ``hamming`` metric wants one column per bit and returns the fraction
# of differing bits; ``HammingNeighbors(metric="hamming")`` returns the same fractions.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.neighbors import NearestNeighbors

from skhash import HammingNeighbors

n_bits, k, n_jobs = 64, 10, 2
rng = np.random.default_rng(0)
bits_db = rng.random((20_000, n_bits)) < 0.5
bits_q = rng.random((100, n_bits)) < 0.5

ours = HammingNeighbors(n_neighbors=k, metric="hamming", n_jobs=n_jobs).fit(bits_db)
theirs = NearestNeighbors(n_neighbors=k, metric="hamming", n_jobs=n_jobs).fit(bits_db)
d_ours, _ = ours.kneighbors(bits_q)
d_theirs, _ = theirs.kneighbors(bits_q)
print("identical distances:", np.array_equal(d_ours, d_theirs))

# %%
# Timing over database sizes
# --------------------------
# Each method gets the codes in its own preferred format: packed bytes for
# HammingNeighbors and FAISS, 0/1 floats for scikit-learn. scikit-learn is only timed
# on the smaller databases. HammingNeighbors is pinned to its exhaustive kernel
# (``algorithm="brute"``) to compare like with like: from 100,000 codes its default
# ``algorithm="auto"`` may switch to multi-index hashing, which is sub-linear.


def best_time(fn, *args, repeat=3):
    fn(*args)  # warm-up (numba compiles the kernel on first use)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


try:
    import faiss

    faiss.omp_set_num_threads(n_jobs)
except ImportError:
    faiss = None

n_queries = 200
sizes = [10_000, 30_000, 100_000, 300_000]
packed_db = rng.integers(0, 256, size=(max(sizes), n_bits // 8), dtype=np.uint8)
packed_q = rng.integers(0, 256, size=(n_queries, n_bits // 8), dtype=np.uint8)
qps = {"skhash HammingNeighbors": [], "FAISS IndexBinaryFlat": [], "sklearn hamming": []}
for n in sizes:
    db = packed_db[:n]
    index = HammingNeighbors(n_neighbors=k, packed=True, n_jobs=n_jobs, algorithm="brute")
    index.fit(db)
    qps["skhash HammingNeighbors"].append(n_queries / best_time(index.kneighbors, packed_q))
    if faiss is not None:
        flat = faiss.IndexBinaryFlat(n_bits)
        flat.add(db)
        qps["FAISS IndexBinaryFlat"].append(n_queries / best_time(flat.search, packed_q, k))
    if n <= 30_000:
        nn = NearestNeighbors(n_neighbors=k, metric="hamming", n_jobs=n_jobs)
        nn.fit(np.unpackbits(db, axis=1).astype(np.float64))
        q01 = np.unpackbits(packed_q, axis=1).astype(np.float64)
        qps["sklearn hamming"].append(n_queries / best_time(nn.kneighbors, q01, repeat=1))

for name, values in qps.items():
    if values:
        print(f"{name:<25}", "  ".join(f"{v:>10,.0f}" for v in values), "queries/s")
ours = qps["skhash HammingNeighbors"]
if qps["FAISS IndexBinaryFlat"]:
    ratios = np.array(ours) / np.array(qps["FAISS IndexBinaryFlat"])
    print("HammingNeighbors / FAISS:  ", "  ".join(f"{r:.1f}x" for r in ratios))
sk = qps["sklearn hamming"]
print(
    "HammingNeighbors / sklearn:",
    "  ".join(f"{o / s:.0f}x" for o, s in zip(ours, sk, strict=False)),
)

# %%
# Plot
# ----
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
for name, values in qps.items():
    if values:
        ax.loglog(sizes[: len(values)], values, "o-", label=name)
ax.set(
    xlabel="database codes (64 bits)",
    ylabel="queries per second (k=10)",
    title=f"Exhaustive k-NN search, {n_jobs} threads",
)
ax.legend()
plt.show()
