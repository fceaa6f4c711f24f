"""
=================================
Retrieval results shown as images
=================================

Digits queries and their nearest neighbours in Hamming space, for an unsupervised
hasher (:class:`~skhash.ITQHasher`) and a supervised one
(:class:`~skhash.HashNetHasher`, trained with the labels of the database). Each row is
a query (left) and its 8 nearest database images by Hamming distance, ties in database
order; ``d`` is the distance in bits, and a red frame marks a neighbour showing another
digit.
"""

import matplotlib.pyplot as plt
import numpy as np

from skhash import HammingNeighbors, HashNetHasher, ITQHasher
from skhash.datasets import load_retrieval_dataset

data = load_retrieval_dataset("digits")
n_bits, n_show = 16, 8
# The first query of each of these digits.
queries = [int(np.flatnonzero(data.y_query == digit)[0]) for digit in (1, 3, 4, 5, 8, 9)]

# %%
# Fit both hashers on the database
# --------------------------------
hashers = {
    "ITQ, unsupervised": ITQHasher(n_bits=n_bits, random_state=0).fit(data.X_db),
    "HashNet, supervised": HashNetHasher(n_bits=n_bits, random_state=0).fit(data.X_db, data.y_db),
}

# %%
# Nearest neighbours in Hamming space
# -----------------------------------
# The database codes are packed (``encode``) and indexed once per hasher; the queries
# are encoded the same way and searched.
fig = plt.figure(figsize=(8, 6.2 * len(hashers)), layout="constrained")
for subfig, (title, hasher) in zip(fig.subfigures(len(hashers), 1), hashers.items(), strict=True):
    index = HammingNeighbors(n_neighbors=n_show, packed=True).fit(hasher.encode(data.X_db))
    dist, ind = index.kneighbors(hasher.encode(data.X_query[queries]))
    correct = np.mean(data.y_db[ind] == data.y_query[queries, None])
    subfig.suptitle(f"{title}, {n_bits} bits: {correct:.0%} of these neighbours correct")
    axes = subfig.subplots(len(queries), n_show + 1)
    for r, q in enumerate(queries):
        row = axes[r]
        row[0].imshow(data.X_query[q].reshape(8, 8), cmap="gray_r")
        row[0].set_title("query", fontsize=9)
        for ax, d, i in zip(row[1:], dist[r], ind[r], strict=True):
            ax.imshow(data.X_db[i].reshape(8, 8), cmap="gray_r")
            ax.set_title(f"d={d}", fontsize=9)
            if data.y_db[i] != data.y_query[q]:
                for side in ax.spines.values():
                    side.set(color="red", linewidth=3)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
plt.show()

# %%
# ITQ's neighbours look alike pixel by pixel, which is what an unsupervised code can
# preserve; a "9" written like a "5" draws some 5s. HashNet, trained on the labels, maps
# almost every image of a class to one code: the neighbours are all at distance 0, so
# their order is the database order (a tie), and a query that the network misreads
# would draw a whole class of wrong neighbours at once.
