"""
===========================================
Hamming neighbour graphs in a TSNE pipeline
===========================================

scikit-learn's example "Approximate nearest neighbors in TSNE" plugs a neighbour
search into :class:`~sklearn.manifold.TSNE` as a Pipeline step that returns a sparse
neighbour graph, read by TSNE with ``metric="precomputed"``. This example does the
same on binary codes: an :class:`~skhash.ITQHasher` turns the digits into 32-bit codes,
:class:`~skhash.neighbors.HammingKNeighborsTransformer` builds their k-NN graph with
the XOR + popcount kernel, and TSNE embeds it. The graph is scikit-learn's
``KNeighborsTransformer(metric="hamming")`` graph, so the time of the neighbour step is
compared with scikit-learn's on the same codes.
"""

# %%
# Codes, and the neighbour step timed
# -----------------------------------
# TSNE with perplexity 10 reads 3 * 10 + 1 = 31 neighbours per sample. Both
# transformers get the same {-1, +1} codes and ``metric="hamming"``, so their graphs
# hold the same distances (fractions of the 32 bits). scikit-learn's brute-force
# search uses every core through OpenMP; ``n_jobs=-1`` gives the Hamming kernel every
# core too.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.manifold import TSNE
from sklearn.neighbors import KNeighborsTransformer
from sklearn.pipeline import make_pipeline

from skhash import ITQHasher
from skhash.neighbors import HammingKNeighborsTransformer

X, y = load_digits(return_X_y=True)
perplexity = 10
n_neighbors = 3 * perplexity + 1
codes = ITQHasher(n_bits=32, random_state=0).fit_transform(X)


def best_time(transformer, repeat=5):
    """Smallest wall time of fit_transform over a few runs (the first one may compile
    the kernel, cached on disk afterwards), and its graph."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        graph = transformer.fit_transform(codes)
        times.append(time.perf_counter() - start)
    return min(times), graph


ours = HammingKNeighborsTransformer(n_neighbors=n_neighbors, metric="hamming", n_jobs=-1)
theirs = KNeighborsTransformer(n_neighbors=n_neighbors, metric="hamming")
t_ours, g_ours = best_time(ours)
t_theirs, g_theirs = best_time(theirs)
print(f"{len(codes)} codes of 32 bits, {n_neighbors} neighbours each")
print(f"HammingKNeighborsTransformer: {1000 * t_ours:7.1f} ms")
print(f"KNeighborsTransformer:        {1000 * t_theirs:7.1f} ms  ({t_theirs / t_ours:.1f}x)")
same = np.array_equal(g_ours.data, g_theirs.data)
print(f"same distances in every row: {same}")

# %%
# Short codes have many equal distances: the graphs hold the same distances row by
# row, and the neighbours differ only in which of several equally distant codes is
# listed (scikit-learn leaves that order unspecified; skhash orders ties by index).
#
# The whole pipeline
# ------------------
# Features go in, the hasher and the Hamming graph are intermediate steps, and TSNE
# reads the graph. To keep the example quick, TSNE runs 400 iterations; the neighbour
# step is a small part of its time.
embed = make_pipeline(
    ITQHasher(n_bits=32, random_state=0),
    HammingKNeighborsTransformer(n_neighbors=n_neighbors, n_jobs=-1),
    TSNE(
        metric="precomputed",
        perplexity=perplexity,
        init="random",
        max_iter=400,
        random_state=0,
    ),
)
X_2d = embed.fit_transform(X)

fig, ax = plt.subplots(figsize=(6, 6))
scatter = ax.scatter(X_2d[:, 0], X_2d[:, 1], c=y, cmap="tab10", s=6)
ax.legend(*scatter.legend_elements(), title="digit", loc="best", fontsize="small")
ax.set_title("TSNE of the Hamming 31-NN graph of 32-bit ITQ codes")
ax.set_xticks([])
ax.set_yticks([])
plt.show()
