"""
=========================================
Precision-recall curves of every method
=========================================

Hash lookup retrieves every database item within a Hamming radius of the query's code.
Sweeping the radius from 0 to ``n_bits`` traces a precision-recall curve: radius 0
returns only exact code matches (high precision, low recall), radius ``n_bits`` returns
the whole database (recall 1, precision = the share of relevant items). The curves
below come from :func:`skhash.metrics.precision_recall_curve` for each hasher on
scikit-learn's digits, at 32 bits; the marker on each curve is radius 2, the classic
"precision within Hamming radius 2" (P@H≤2).

Every hasher runs with its defaults except ``n_bits`` and ``random_state``; the
supervised ones are fitted with the labels of the database, the others without
(:class:`~skhash.WSLHasher` given labels would run its supervised variant).
"""

# %%
# Fit every hasher on the database
# --------------------------------
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from skhash import HashNetHasher, ITQHasher, LSHHasher, PCAHasher, SCHHasher, WSLHasher
from skhash.datasets import load_retrieval_dataset
from skhash.metrics import (
    mean_average_precision,
    precision_recall_curve,
    precision_recall_within_radius,
)

data = load_retrieval_dataset("digits")
n_bits = 32
# name: (hasher, labels to fit with)
hashers = {
    "LSH": (LSHHasher(n_bits=n_bits, random_state=0), None),
    "PCAH": (PCAHasher(n_bits=n_bits, random_state=0), None),
    "ITQ": (ITQHasher(n_bits=n_bits, random_state=0), None),
    "WSL": (WSLHasher(n_bits=n_bits, random_state=0), None),
    "SCH (supervised)": (SCHHasher(n_bits=n_bits, random_state=0), data.y_db),
    "HashNet (supervised)": (HashNetHasher(n_bits=n_bits, random_state=0), data.y_db),
}

curves, rows = {}, []
for name, (hasher, y) in hashers.items():
    start = time.perf_counter()
    hasher.fit(data.X_db, y)
    fit_s = time.perf_counter() - start
    q, db = hasher.transform(data.X_query), hasher.transform(data.X_db)
    curves[name] = precision_recall_curve(q, data.y_query, db, data.y_db)
    p2, r2 = precision_recall_within_radius(q, data.y_query, db, data.y_db, radius=2)
    rows.append(
        {
            "method": name,
            "mAP@all": mean_average_precision(q, data.y_query, db, data.y_db),
            "P@H<=2": p2,
            "R@H<=2": r2,
            "fit s": fit_s,
        }
    )
print(pd.DataFrame(rows).set_index("method").round(3))

# %%
# The curves
# ----------
# Left: precision against recall, one point per radius. Right: the same precision
# against the radius, which shows how fast each method's Hamming balls fill up; a
# curve that starts at 0 has empty balls at small radii (precision of an empty ball
# counts as 0).
fig, (ax_pr, ax_r) = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
for i, (name, (precision, recall, radii)) in enumerate(curves.items()):
    style = {"color": f"C{i}", "label": name}
    ax_pr.plot(recall, precision, "-", **style)
    ax_pr.plot(recall[2], precision[2], "o", color=f"C{i}")
    ax_r.plot(radii, precision, ".-", **style)
chance = np.mean(data.y_query[:, None] == data.y_db[None])
for ax in (ax_pr, ax_r):
    ax.axhline(chance, color="grey", lw=0.8, ls="--")
ax_pr.set(
    xlabel="recall",
    ylabel="precision",
    xlim=(0, 1.02),
    ylim=(0, 1.02),
    title=f"Precision-recall over Hamming radii, {n_bits} bits (o: radius 2)",
)
ax_r.set(
    xlabel="Hamming radius (bits)",
    ylabel="precision",
    xlim=(0, n_bits // 2),
    ylim=(0, 1.02),
    title="Precision within each radius (dashed: chance)",
)
fig.legend(*ax_r.get_legend_handles_labels(), loc="outside right center")
plt.show()
