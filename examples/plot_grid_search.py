"""
===========================================
Choosing a hasher and n_bits by grid search
===========================================

Every hasher's ``score(X, y)`` is the leave-one-out retrieval mAP of its codes, so a
hasher at the end of a :class:`~sklearn.pipeline.Pipeline` can be tuned with
:class:`~sklearn.model_selection.GridSearchCV` and no ``scoring`` argument: each
validation fold is encoded, every sample queries the rest of the fold, and the fold's
mAP is the score.

Here the pipeline is ``StandardScaler -> PCA -> hasher``; the grid covers the code
length, which hasher to use, and one of its own parameters: ITQ's ``n_iter``, where 0
keeps the random rotation of the PCA projections it starts from and 50 learns the
rotation.
"""

# %%
# The pipeline and the grid
# -------------------------
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skhash import ITQHasher, LSHHasher
from skhash.datasets import load_retrieval_dataset
from skhash.metrics import mean_average_precision

data = load_retrieval_dataset("digits")
pipe = Pipeline(
    [
        ("scale", StandardScaler()),
        ("pca", PCA(n_components=32, random_state=0)),
        ("hasher", ITQHasher(random_state=0)),
    ]
)
n_bits = [8, 16, 32]
param_grid = [
    {"hasher": [LSHHasher(random_state=0)], "hasher__n_bits": n_bits},
    {
        "hasher": [ITQHasher(random_state=0)],
        "hasher__n_bits": n_bits,
        "hasher__n_iter": [0, 50],
    },
]
search = GridSearchCV(pipe, param_grid, cv=StratifiedKFold(3, shuffle=True, random_state=0))
search.fit(data.X_db, data.y_db)
print("best:", search.best_params_, f"validation mAP {search.best_score_:.3f}")

# %%
# Validation mAP of every candidate
# ---------------------------------
results = pd.DataFrame(search.cv_results_)
results["method"] = [
    type(p["hasher"]).__name__
    + ("" if "hasher__n_iter" not in p else f" (n_iter={p['hasher__n_iter']})")
    for p in results["params"]
]
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
for method, group in results.groupby("method", sort=False):
    ax.errorbar(
        group["param_hasher__n_bits"].astype(int),
        group["mean_test_score"],
        yerr=group["std_test_score"],
        marker="o",
        capsize=3,
        label=method,
    )
ax.set_xscale("log", base=2)
ax.minorticks_off()
ax.set(
    xlabel="n_bits",
    ylabel="leave-one-out mAP (3-fold mean)",
    title="GridSearchCV over the hasher and n_bits, digits",
)
ax.set_xticks(n_bits, [str(b) for b in n_bits])
ax.legend()
plt.show()

# %%
# The chosen pipeline on the held-out queries
# -------------------------------------------
# The grid search saw only the database; the queries measure the refitted best pipeline.
best = search.best_estimator_
score = mean_average_precision(
    best.transform(data.X_query), data.y_query, best.transform(data.X_db), data.y_db
)
print(f"query mAP@all of the best pipeline: {score:.3f}")
print(f"chance level: {np.mean(data.y_query[:, None] == data.y_db[None]):.3f}")
