"""
=====================================
W-shape loss against ITQ on a toy set
=====================================

The toy experiment of Zheng and Huang (AAAI 2018, Table 1 and Fig. 2): points drawn
uniformly in the rectangle [0, 1] x [0, 0.5], hashed to 2 bits. ITQ rotates the PCA
projections so that they fit the corners of the square {-1, 1}²; :class:`~skhash.WSLHasher`
learns each linear hash function with the W-shape loss ``ln((f² − 1)² + ε)``, whose
two minima at ±1 pull every projection towards a code value without choosing which
one in advance. We compare the real-valued outputs before binarization, the four
quantization losses of the paper's Table 1, the hash boundaries in the input space, and
finally watch WSL's objective converge on a real data set.
"""

# %%
# The W-shape loss
# ----------------
# Two equal minima at f = ±1 and a bump at 0: a value is penalised by its distance to
# the *nearer* code, so the loss never needs pseudo-labels. ε keeps the wells finite;
# the quartic ``(f² − 1)²`` has the same minima, and its gradient is the paper's
# surrogate.
import matplotlib.pyplot as plt
import numpy as np

from skhash import ITQHasher, WSLHasher

f = np.linspace(-2, 2, 801)
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
for eps in (1e-6, 0.1):
    ax.plot(f, np.log((f**2 - 1) ** 2 + eps), label=f"ln((f² − 1)² + {eps:g})")
ax.plot(f, (f**2 - 1) ** 2, "--", label="(f² − 1)²")
ax.set(xlabel="f(x)", ylabel="loss", ylim=(-15, 5), title="W-shape losses")
ax.legend()

# %%
# Fit both hashers on the toy set
# -------------------------------
rng = np.random.default_rng(0)
X = rng.uniform(size=(500, 2)) * [1.0, 0.5]

itq = ITQHasher(n_bits=2, random_state=0).fit(X)
wsl = WSLHasher(n_bits=2, random_state=0).fit(X)
F = {"ITQ": itq.decision_function(X), "WSL": wsl.decision_function(X)}

# %%
# Quantization losses (the paper's Table 1)
# -----------------------------------------
# Means over points and bits of four ways to measure the gap between the real-valued
# output f and its code b = sgn f. The paper reports WSL at about half of ITQ on all
# four.


def quantization_losses(F):
    B = np.where(F >= 0, 1.0, -1.0)
    return {
        "|f − b|": np.mean(np.abs(F - B)),
        "(f − b)²": np.mean((F - B) ** 2),
        "hinge": np.mean(np.maximum(1 - B * F, 0)),
        "(f² − 1)²": np.mean((F**2 - 1) ** 2),
    }


losses = {name: quantization_losses(values) for name, values in F.items()}
print(f"{'loss':>10s} {'ITQ':>7s} {'WSL':>7s} {'WSL/ITQ':>8s}")
for key in losses["ITQ"]:
    a, b = losses["ITQ"][key], losses["WSL"][key]
    print(f"{key:>10s} {a:7.3f} {b:7.3f} {b / a:8.2f}")

# %%
# Real-valued outputs before binarization (the paper's Fig. 2)
# ------------------------------------------------------------
# ITQ keeps the PCA variances, so the short side of the rectangle is squeezed near 0,
# far from any code. WSL scales and orients each function so that the points gather
# around the four corners (±1, ±1).
fig, axes = plt.subplots(1, 2, figsize=(9, 4.3), layout="constrained", sharex=True,
                         sharey=True)
for ax, (name, values) in zip(axes, F.items(), strict=True):
    codes = np.where(values >= 0, 1, -1)
    ax.scatter(values[:, 0], values[:, 1], c=codes[:, 0] * 2 + codes[:, 1], s=8,
               cmap="tab10", vmin=-3, vmax=6)
    ax.scatter([-1, -1, 1, 1], [-1, 1, -1, 1], marker="x", c="k", s=80, label="codes")
    ax.axhline(0, c="grey", lw=0.5)
    ax.axvline(0, c="grey", lw=0.5)
    ax.set(title=f"{name}: mean |f − sgn f| = {losses[name]['|f − b|']:.2f}",
           xlabel="f₁(x)", ylabel="f₂(x)", aspect="equal")
axes[0].legend(loc="upper left")

# %%
# Hash boundaries in the input space
# ----------------------------------
# Each bit is a line through the data; the four regions are the four codes. Both
# methods cut the rectangle into balanced quarters; they differ in how far from the
# lines the projections put the points, which is what the losses above measure.
grid = np.stack(np.meshgrid(np.linspace(0, 1, 300), np.linspace(0, 0.5, 150)), axis=-1)
Fgrid = {
    name: model.decision_function(grid.reshape(-1, 2)).reshape(*grid.shape[:2], 2)
    for name, model in {"ITQ": itq, "WSL": wsl}.items()
}
# One colour scale for both panels, so that the colours compare across methods.
top = max(np.abs(Fg).min(axis=-1).max() for Fg in Fgrid.values())
upper = np.ceil(top * 10) / 10
levels = np.linspace(0, upper, int(round(upper / 0.05)) + 1)  # steps of 0.05
fig, axes = plt.subplots(1, 2, figsize=(9, 2.8), layout="constrained", sharey=True)
for ax, (name, Fg) in zip(axes, Fgrid.items(), strict=True):
    filled = ax.contourf(grid[..., 0], grid[..., 1], np.abs(Fg).min(axis=-1),
                         levels=levels, cmap="viridis")
    for k in range(2):
        ax.contour(grid[..., 0], grid[..., 1], Fg[..., k], levels=[0], colors="w")
    ax.scatter(X[:, 0], X[:, 1], s=3, c="k")
    ax.set(title=f"{name}: hash lines; colour = min_k |f_k|", xlabel="x₁",
           aspect="equal")
axes[0].set_ylabel("x₂")
fig.colorbar(filled, ax=axes, label="min_k |f_k(x)|", shrink=0.75,
             ticks=np.arange(0, upper + 1e-9, 0.2))

# %%
# Convergence on real data
# ------------------------
# ``history_`` records the three terms of the objective after the initialisation and
# after each round over the bits. The acceptance test of the paper (Eq. 12) keeps a
# bit's new function only if it lowers that bit's Lagrangian by more than it raises
# the orthogonality term, so the total Lagrangian never increases.
from skhash.datasets import load_retrieval_dataset

data = load_retrieval_dataset("digits")
model = WSLHasher(n_bits=32, max_rounds=10, random_state=0).fit(data.X_db)
rounds = np.arange(len(model.history_))
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
for key in ("loss", "consistency", "orthogonality", "lagrangian"):
    ax.plot(rounds, [h[key] for h in model.history_], "o-", label=key)
ax.set(xlabel="round (0 = initialisation)", ylabel="mean over bits",
       title="WSLHasher on digits, 32 bits")
fig.legend(loc="outside right upper")  # beside the axes: inside, it hid a line
print("bits accepted per round:", [h["n_accepted"] for h in model.history_[1:]])
plt.show()
