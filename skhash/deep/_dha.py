"""DHAHasher: deep hashing with the adaptive (shifted, focal, balanced) pair loss."""

import torch
import torch.nn.functional as F

__all__ = [
    "balance_from_ratio",
    "dha_pair_loss",
    "dha_quantization_loss",
    "dha_theta",
]


def balance_from_ratio(r):
    """β = (r + 1) / (r + 2) for r dissimilar pairs per similar pair.

    Reproduces the paper's choices: r = 10 → 11/12, r = 5 → 6/7, r = 1 → 2/3.
    With these weights the similar pairs carry (r + 1) / (2r + 1) of the total
    weight, close to one half whatever r is.
    """
    r = float(r)
    if not r >= 0:
        raise ValueError(f"the dissimilar/similar ratio must be >= 0; got {r}.")
    return (r + 1.0) / (r + 2.0)


def dha_theta(T, theta_similar, theta_dissimilar):
    """Shift θ of the sigmoid per pair, in inner-product units.

    θ = t · theta_similar for t > 0 (grows with the similarity, equal to
    ``theta_similar`` for binary similar pairs) and ``theta_dissimilar`` for t = 0.
    """
    return torch.where(T > 0, T * theta_similar, torch.full_like(T, theta_dissimilar))


def dha_pair_loss(
    H,
    H_other,
    T,
    *,
    alpha,
    theta_similar,
    theta_dissimilar=0.0,
    gamma=2.0,
    beta=0.5,
    mask=None,
):
    """Adaptive pair loss of DHA (paper Eq. 5-8), mean over the counted pairs.

    With z = h_i·h_j and σ = 1 / (1 + exp(-α (z - θ))), a pair with t > 0 costs
    -β (1 - σ)^γ log σ and a pair with t = 0 costs -(1 - β) σ^γ log(1 - σ).
    Computed from softplus, so it is finite for any z.

    Parameters
    ----------
    H : Tensor of shape (b, K)
    H_other : Tensor of shape (n, K)
    T : Tensor of shape (b, n)
        Similarity in [0, 1] (binary s, or the cosine t of DHA-t).
    alpha : float
        Sigmoid bandwidth (10 / K in the paper).
    theta_similar, theta_dissimilar : float
        Shifts in inner-product units, see :func:`dha_theta`.
    gamma : float, default=2.0
        Focal exponent; 0 gives the (balanced) cross-entropy.
    beta : float, default=0.5
        Weight of the similar pairs; dissimilar pairs get 1 - β. 0.5 is no balancing.
    mask : Tensor of bool of shape (b, n), default=None
        Pairs that count; all when None.

    Returns
    -------
    loss : Tensor, scalar
    """
    z = H @ H_other.T
    x = alpha * (z - dha_theta(T, theta_similar, theta_dissimilar))
    similar = T > 0
    # -log σ(x) = softplus(-x), 1 - σ(x) = σ(-x); and the mirror for dissimilar pairs.
    sim = beta * F.softplus(-x)
    dis = (1.0 - beta) * F.softplus(x)
    if gamma != 0:
        sim = sim * torch.sigmoid(-x) ** gamma
        dis = dis * torch.sigmoid(x) ** gamma
    loss = torch.where(similar, sim, dis)
    if mask is None:
        return loss.mean()
    mask = mask.to(loss.dtype)
    return (loss * mask).sum() / torch.clamp(mask.sum(), min=1.0)


def dha_quantization_loss(H):
    """Q(H) of Eq. 9 averaged over samples: mean of (1 - exp(|h| - 1)) over all entries.

    0 when every entry is ±1, 1 - 1/e when all are 0.
    """
    return (1.0 - torch.exp(H.abs() - 1.0)).mean()
