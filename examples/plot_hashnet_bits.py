"""
=====================================
HashNet: code length and continuation
=====================================

:class:`~skhash.HashNetHasher` trains a small network on the digits' labels so that
images of the same digit get close codes. This example compares its retrieval quality
with the unsupervised :class:`~skhash.ITQHasher` at several code lengths, and shows
how the continuation makes the network's outputs binary during training.

The split is the usual one: 20 queries per digit, the other 1,597 images are the
database and the training set.
"""

# %%
# Retrieval quality against the code length
# ------------------------------------------
import matplotlib.pyplot as plt
import numpy as np

from skhash import HashNetHasher, ITQHasher
from skhash.datasets import load_retrieval_dataset
from skhash.metrics import mean_average_precision

data = load_retrieval_dataset("digits")


def query_map(hasher):
    return mean_average_precision(
        hasher.transform(data.X_query), data.y_query, hasher.transform(data.X_db), data.y_db
    )


bit_lengths = [8, 16, 32]
hashnets = {
    K: HashNetHasher(n_bits=K, max_epochs=20, random_state=0).fit(data.X_db, data.y_db)
    for K in bit_lengths
}
hashnet_map = [query_map(hashnets[K]) for K in bit_lengths]
itq_map = [query_map(ITQHasher(n_bits=K, random_state=0).fit(data.X_db)) for K in bit_lengths]
for K, a, b in zip(bit_lengths, hashnet_map, itq_map, strict=True):
    print(f"{K:2d} bits: HashNet mAP {a:.3f}, ITQ mAP {b:.3f}")

fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(bit_lengths, hashnet_map, "o-", label="HashNet (labels)")
ax.plot(bit_lengths, itq_map, "s--", label="ITQ (no labels)")
ax.set_xscale("log", base=2)
ax.set_xticks(bit_lengths, [str(K) for K in bit_lengths])
ax.set_xlabel("bits")
ax.set_ylabel("query mAP@all")
ax.set_ylim(0, 1)
ax.set_title("HashNet against ITQ on digits")
ax.legend()
fig.tight_layout()

# %%
# Continuation: outputs pushed towards ±1
# ---------------------------------------
# The network is trained through ``tanh(βz)`` with β growing (the authors' schedule),
# then codes are ``sign(z)``. With β fixed at 1 ("HashNet-sgn" in the paper) the same
# training leaves more outputs near 0, where the sign is fragile.
fixed = HashNetHasher(n_bits=32, max_epochs=20, continuation=False, random_state=0)
fixed.fit(data.X_db, data.y_db)
grown = hashnets[32]
print(f"final beta: {grown.beta_:.2f} (continuation), {fixed.beta_:.2f} (fixed)")
print(f"mAP: {query_map(grown):.3f} (continuation), {query_map(fixed):.3f} (fixed)")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
for name, h in [("continuation", grown), ("fixed beta = 1", fixed)]:
    relaxed = np.tanh(h.beta_ * h.decision_function(data.X_db))
    ax1.hist(np.abs(relaxed).ravel(), bins=50, alpha=0.6, label=name)
    ax2.plot(np.arange(1, len(h.loss_curve_) + 1), h.loss_curve_, label=name)
ax1.set_xlabel("|tanh(beta z)| on the training set")
ax1.set_ylabel("count")
ax1.legend()
ax1.set_title("Relaxed outputs after training")
ax2.set_xlabel("epoch")
ax2.set_ylabel("training loss")
ax2.set_title("Training loss")
ax2.legend()
fig.suptitle("HashNet, 32 bits: continuation against a fixed beta")
fig.tight_layout()
plt.show()
