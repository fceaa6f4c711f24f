"""Pure loss functions of the deep hashers and their shared helpers (tensors in, tensors out).

Each estimator module (``_hashnet.py``, ``_fisher.py``, ``_dha.py``) keeps its estimator
and its optimisation steps; the losses they train on live here, one function per term.
"""

import torch
import torch.nn.functional as F

__all__ = [
    "dha_pair_loss",
    "dha_quantization_loss",
    "dha_theta",
    "fisher_center_objective",
    "fisher_inter_loss",
    "fisher_inter_target",
    "fisher_intra_loss",
    "fisher_pair_loss",
    "fisher_quantization_loss",
    "fisher_relaxed_objective",
    "hashnet_pair_loss",
    "masked_mean",
    "sign",
]


def sign(x):
    """Signs of ``x`` as ±1 in ``x``'s dtype, with sign(0) = +1 as the hashers' codes.

    ``torch.sign`` maps 0 to 0, which is not a binary code; every code, centre and
    sign term of the deep hashers uses this tie rule instead.
    """
    return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)


def masked_mean(loss, mask=None):
    """Mean of ``loss`` over the entries where ``mask`` is True; all entries when None.

    An all-False mask gives 0 (a block without a counted pair contributes nothing).
    """
    if mask is None:
        return loss.mean()
    mask = mask.to(loss.dtype)
    return (loss * mask).sum() / torch.clamp(mask.sum(), min=1.0)


# ---------------------------------------------------------------- HashNet


def hashnet_pair_loss(H, H_other, S, *, alpha, weighting="balanced", C=None, mask=None):
    r"""HashNet's weighted pairwise cross-entropy (Cao et al., 2017, Eq. 4), per pair.

    For a pair with inner product :math:`\langle h_i, h_j \rangle` and similarity
    :math:`s_{ij} \in \{0, 1\}`, the negative log-likelihood of the pairwise logistic
    model :math:`P(s_{ij} = 1) = \sigma(\alpha \langle h_i, h_j \rangle)` is

    .. math:: \log(1 + e^{\alpha \langle h_i, h_j \rangle})
              - \alpha s_{ij} \langle h_i, h_j \rangle,

    computed as ``softplus(a) - s a``, finite for any inner product (no overflow of
    the exponential in float32, where the plain form overflows beyond about 88).

    Parameters
    ----------
    H : Tensor of shape (b, K)
        Activated outputs of a batch.
    H_other : Tensor of shape (n, K)
        Activated outputs they are paired with (e.g. the whole training set).
    S : Tensor of shape (b, n)
        Similarity; a pair is similar when ``S > 0``.
    alpha : float
        Bandwidth α of the adaptive sigmoid.
    weighting : {"balanced", "none"}, default="balanced"
        ``"balanced"``: the paper's Eq. 2, similar pairs weigh |S| / |S₁| and
        dissimilar pairs |S| / |S₀|, with the counts taken over the counted pairs of
        this block; ``"none"``: every pair weighs 1 (the paper's HashNet-W).
    C : Tensor of shape (b, n), default=None
        Continuous similarity c_ij multiplying the weight of similar pairs (the
        paper's HashNet+C, e.g. the Jaccard similarity of label sets); None means 1.
        It is rescaled to a mean of 1 over the counted similar pairs of the block,
        so it shifts weight *between* similar pairs but leaves their total, and so
        the |S| / |S₁| : |S| / |S₀| balance, as with c = 1. Dissimilar pairs keep
        c = 1, since c_ij = 0 there would remove them from the loss.
    mask : Tensor of bool of shape (b, n), default=None
        Pairs that count; all when None.

    Returns
    -------
    loss : Tensor, scalar
        ``Σ w_ij L_ij / |S|``, the weighted sum over counted pairs divided by their
        number: with balanced weights, the mean loss of the similar pairs (weighted
        by c when given) plus the mean loss of the dissimilar pairs.

    Examples
    --------
    >>> import torch
    >>> from skhash.deep._losses import hashnet_pair_loss
    >>> H = torch.tensor([[1.0, 1.0], [1.0, -1.0]])
    >>> S = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> loss = hashnet_pair_loss(H, H, S, alpha=1.0, mask=~torch.eye(2, dtype=bool))
    >>> round(float(loss), 4)  # two dissimilar pairs at inner product 0: log 2
    0.6931
    """
    similar = S > 0
    a = alpha * (H @ H_other.T)
    loss = F.softplus(a) - similar.to(a.dtype) * a
    if mask is None:
        mask = torch.ones_like(similar)
    maskf = mask.to(a.dtype)
    n_pairs = maskf.sum()
    similarf = maskf * similar
    n_similar = similarf.sum()
    if weighting == "balanced":
        n_dissimilar = n_pairs - n_similar
        w_similar = n_pairs / n_similar.clamp_min(1.0)
        w_dissimilar = n_pairs / n_dissimilar.clamp_min(1.0)
    elif weighting == "none":
        w_similar = w_dissimilar = torch.ones((), dtype=a.dtype, device=a.device)
    else:
        raise ValueError(f"weighting must be 'balanced' or 'none'; got {weighting!r}.")
    if C is None:
        weight_similar = w_similar
    else:
        # Σ c over the similar pairs made equal to their number: c_ij < 1 alone would
        # shrink the similar pairs' share and the outputs collapse towards 0.
        C = C.to(a.dtype) * similarf
        c_sum = C.sum()
        scale = torch.where(c_sum > 0, n_similar / c_sum.clamp_min(1e-12), 1.0)
        weight_similar = w_similar * scale * C
    weight = torch.where(similar, weight_similar, w_dissimilar)
    return masked_mean(weight * loss, mask)


# ---------------------------------------------------------------- Fisher

# Layout is row-major, one sample per row: U and B are (n, K), Y is (n, M), and the
# centres C (and their relaxation V) are (K, M) as in the paper, so C y_i is ``Y @ C.T``.


def fisher_pair_loss(U, U_other, S, margin=0.0, mask=None):
    """Mean large-margin logistic pair loss (paper Eq. 1-2) between two sets of outputs.

    With the dissimilarity D = -u_i·u_j / 2, a similar pair costs log(1 + e^(D + m))
    and a dissimilar pair log(1 + e^(-D + m)); ``margin=0`` is the DPSH loss.

    Parameters
    ----------
    U : Tensor of shape (b, K)
    U_other : Tensor of shape (n, K)
    S : Tensor of shape (b, n)
        Similarity in [0, 1]; a value between 0 and 1 mixes the two branches.
    margin : float, default=0.0
    mask : Tensor of bool of shape (b, n), default=None
        Pairs that count (known pairs, no self-pairs); all when None.

    Returns
    -------
    loss : Tensor, scalar
    """
    D = -0.5 * (U @ U_other.T)
    loss = S * F.softplus(D + margin) + (1.0 - S) * F.softplus(margin - D)
    return masked_mean(loss, mask)


def fisher_quantization_loss(U, B):
    """Mean squared gap between outputs and their codes, ||B - U||^2 / (n K) (Eq. 8)."""
    return ((B - U) ** 2).mean()


def fisher_intra_loss(B, C, Y):
    """Mean squared distance of codes to their (label-weighted) class centre (Eq. 4).

    ||B - Y C^T||_F^2 / (n K): 0 when every code equals its centre, at most 4.
    """
    return ((B - Y @ C.T) ** 2).sum() / B.numel()


def fisher_inter_target(n_classes, n_bits, dtype=None, device=None):
    """A = K (2I - J), the target of CᵀC: centres K bits apart from each other (Eq. 6)."""
    eye = torch.eye(n_classes, dtype=dtype, device=device)
    return n_bits * (2.0 * eye - torch.ones_like(eye))


def fisher_inter_loss(C):
    """||C^T C - A||_F^2 / (M K^2), A = K (2I - J): pushes class centres apart (Eq. 7)."""
    K, M = C.shape
    A = fisher_inter_target(M, K, dtype=C.dtype, device=C.device)
    return ((C.T @ C - A) ** 2).sum() / (M * K * K)


def fisher_center_objective(C, B, Y, mu=1.0, nu=1.0):
    """The C-step objective (Eq. 12) with this module's normalisation."""
    return mu * fisher_intra_loss(B, C, Y) + nu * fisher_inter_loss(C)


def fisher_relaxed_objective(V, B, Y, mu=1.0, nu=1.0, eta=1.0):
    """Eq. 13 with C = sgn(V): the objective the relaxed C-step descends."""
    K, M = V.shape
    return fisher_center_objective(V, B, Y, mu, nu) + eta * ((V - sign(V)) ** 2).sum() / (K * M)


# ---------------------------------------------------------------- DHA


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
    return masked_mean(torch.where(similar, sim, dis), mask)


def dha_quantization_loss(H):
    """Q(H) of Eq. 9 averaged over samples: mean of (1 - exp(|h| - 1)) over all entries.

    0 when every entry is ±1, 1 - 1/e when all are 0.
    """
    return (1.0 - torch.exp(H.abs() - 1.0)).mean()
