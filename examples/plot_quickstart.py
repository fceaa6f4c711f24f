"""
==========
Quickstart
==========

Learn 32-bit codes for scikit-learn's digits with :class:`~skhash.ITQHasher`, search
them with :class:`~skhash.HammingNeighbors` and measure retrieval with
:func:`~skhash.metrics.mean_average_precision`.

The data set is split the way hashing papers do it: 20 queries per class, the other
1,597 images form the database, which is also the training set.
"""

# %%
# Fit, encode, search
# -------------------
from skhash import HammingNeighbors, ITQHasher
from skhash.datasets import load_retrieval_dataset
from skhash.metrics import mean_average_precision

data = load_retrieval_dataset("digits")
hasher = ITQHasher(n_bits=32, random_state=0).fit(data.X_db)

db_packed = hasher.encode(data.X_db)
query_packed = hasher.encode(data.X_query)
print(f"features: {data.X_db.nbytes // len(data.X_db)} bytes per image (float64)")
print(f"codes:    {db_packed.shape[1]} bytes per image")

index = HammingNeighbors(n_neighbors=10, packed=True).fit(db_packed)
distances, indices = index.kneighbors(query_packed)
print("first query, label", data.y_query[0])
print("  Hamming distances:", distances[0])
print("  neighbour labels: ", data.y_db[indices[0]])

# %%
# Retrieval quality
# -----------------
# Mean average precision ranks the whole database for each query by Hamming distance;
# a database image is relevant when it shows the query's digit. A random ranking
# scores about 0.1 (one image in ten is relevant).
db_codes, query_codes = hasher.transform(data.X_db), hasher.transform(data.X_query)
print(f"mAP@all: {mean_average_precision(query_codes, data.y_query, db_codes, data.y_db):.3f}")

# %%
# How far apart are relevant images?
# ----------------------------------
# Distances from each query to the database images of its own digit (relevant) and of
# the other digits. The two distributions are shifted apart, which is why ranking by
# Hamming distance finds relevant images first; their overlap is what keeps mAP below 1.
import matplotlib.pyplot as plt
import numpy as np

all_dist, all_ind = (
    HammingNeighbors(n_neighbors=len(db_packed), packed=True)
    .fit(db_packed)
    .kneighbors(query_packed)
)
relevant = data.y_db[all_ind] == data.y_query[:, None]
print(f"median distance, same digit:   {np.median(all_dist[relevant]):.0f} bits")
print(f"median distance, other digits: {np.median(all_dist[~relevant]):.0f} bits")

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
bins = np.arange(hasher.n_bits + 2) - 0.5
ax.hist(all_dist[relevant], bins=bins, density=True, alpha=0.6, label="same digit")
ax.hist(all_dist[~relevant], bins=bins, density=True, alpha=0.6, label="other digits")
ax.set(
    xlabel="Hamming distance to the query (bits)",
    ylabel="fraction of pairs",
    title="ITQ, 32 bits: query-database distances on digits",
)
ax.legend()
plt.show()
