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

from skhash import (
    DHAHasher,
    FisherHasher,
    HashNetHasher,
    ITQHasher,
    LSHHasher,
    PCAHasher,
    SCHHasher,
    WSLHasher,
)
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
    "Deep Fisher (supervised)": (FisherHasher(n_bits=n_bits, random_state=0), data.y_db),
    "DHA (supervised)": (DHAHasher(n_bits=n_bits, random_state=0), data.y_db),
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
# Left: precision against recall, one point per radius. Middle: the same curves for
# recall above 0.6, where the supervised methods live. Right: precision against the
# radius, which shows how fast each method's Hamming balls fill up; a curve that starts
# at 0 has empty balls at small radii (the precision of an empty ball counts as 0).
fig, (ax_pr, ax_zoom, ax_r) = plt.subplots(1, 3, figsize=(15, 4.5), layout="constrained")
for i, (name, (precision, recall, radii)) in enumerate(curves.items()):
    style = {"color": f"C{i}", "label": name}
    for ax in (ax_pr, ax_zoom):
        ax.plot(recall, precision, "-", **style)
        ax.plot(recall[2], precision[2], "o", color=f"C{i}")
    ax_r.plot(radii, precision, ".-", **style)
chance = np.mean(data.y_query[:, None] == data.y_db[None])
for ax in (ax_pr, ax_r):
    ax.axhline(chance, color="grey", lw=0.8, ls="--")
ax_pr.set(
    xlabel="recall",
    ylabel="precision",
    xlim=(0, 1.02),
    ylim=(0, 1.02),
    title=f"Precision-recall, {n_bits} bits (o: radius 2)",
)
ax_zoom.set(xlabel="recall", xlim=(0.6, 1.005), ylim=(0.85, 1.0), title="Zoom on recall > 0.6")
ax_r.set(
    xlabel="Hamming radius (bits)",
    ylabel="precision",
    xlim=(0, n_bits // 2),
    ylim=(0, 1.02),
    title="Precision within each radius (dashed: chance)",
)
fig.legend(*ax_r.get_legend_handles_labels(), loc="outside right center")
plt.show()

# %%
# Reading the curves
# ------------------
# The unsupervised codes (LSH, PCAH, ITQ, WSL) trade precision for recall smoothly as
# the radius grows: images of one digit are spread over many nearby codes. The
# supervised codes put most images of a class on one code or very close to it, so radius
# 0 already recalls most of the class with a precision near 1, and their curves are
# short segments at the top right. Their right-hand curves then show how far apart the
# classes are: precision stays high until the radius reaches the distance between two
# classes' codes, then falls as whole classes enter the ball at once.
