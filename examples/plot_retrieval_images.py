"""
======================================
Retrieval results shown as images
======================================

Digits queries and their nearest neighbours in Hamming space, for an unsupervised
hasher (:class:`~skhash.ITQHasher`) and a supervised one. Each row is a query (left)
and its 8 nearest database images by Hamming distance, ties in database order; a red
frame marks a neighbour showing another digit.
"""

import matplotlib.pyplot as plt
import numpy as np

import skhash
from skhash import HammingNeighbors, ITQHasher
from skhash.datasets import load_retrieval_dataset

data = load_retrieval_dataset("digits")
n_bits, n_show = 16, 8
# One query of each of these digits.
rows = [int(np.flatnonzero(data.y_query == digit)[0]) for digit in (1, 3, 4, 5, 8, 9)]

# %%
# Fit two hashers on the database
# -------------------------------
# The supervised one is the first available of SCH and HashNet, fitted with the labels.
hashers = {"ITQ (unsupervised)": ITQHasher(n_bits=n_bits, random_state=0).fit(data.X_db)}
for name in ("SCHHasher", "HashNetHasher"):
    if hasattr(skhash, name):
        supervised = getattr(skhash, name)(n_bits=n_bits, random_state=0)
        hashers[f"{name[:-6]} (supervised)"] = supervised.fit(data.X_db, data.y_db)
        break

# %%
# Nearest neighbours
# ------------------
fig, axes = plt.subplots(
    len(rows), len(hashers) * (n_show + 1), figsize=(2 + 1.1 * len(hashers) * (n_show + 1), 7.5)
)
for h, (title, hasher) in enumerate(hashers.items()):
    index = HammingNeighbors(n_neighbors=n_show, packed=True).fit(hasher.encode(data.X_db))
    dist, ind = index.kneighbors(hasher.encode(data.X_query[rows]))
    correct = (data.y_db[ind] == data.y_query[rows, None]).mean()
    for r, q in enumerate(rows):
        col0 = h * (n_show + 1)
        axes[r, col0].imshow(data.X_query[q].reshape(8, 8), cmap="gray_r")
        axes[r, col0].set_title("query", fontsize=8)
        for c in range(n_show):
            ax = axes[r, col0 + 1 + c]
            ax.imshow(data.X_db[ind[r, c]].reshape(8, 8), cmap="gray_r")
            ax.set_title(f"d={dist[r, c]}", fontsize=8)
            if data.y_db[ind[r, c]] != data.y_query[q]:
                for side in ax.spines.values():
                    side.set(color="red", linewidth=3)
    axes[0, h * (n_show + 1) + n_show // 2].annotate(
        f"{title}: {correct:.0%} of neighbours correct",
        (0.5, 1.45),
        xycoords="axes fraction",
        ha="center",
        fontsize=11,
    )
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle(f"Hamming nearest neighbours on digits, {n_bits} bits", y=0.99)
plt.show()
