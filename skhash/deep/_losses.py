"""Pure loss functions of the deep hashers (tensors in, scalar tensor out)."""

import torch
import torch.nn.functional as F

__all__ = ["hashnet_pair_loss"]


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
    weight = torch.where(similar, weight_similar, w_dissimilar) * maskf
    return (weight * loss).sum() / n_pairs.clamp_min(1.0)
