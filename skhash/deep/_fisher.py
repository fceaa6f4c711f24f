"""FisherHasher: Deep Fisher Hashing with a pairwise margin and quantized class centres."""

import torch
import torch.nn.functional as F

__all__ = [
    "fisher_center_objective",
    "fisher_codes",
    "fisher_inter_loss",
    "fisher_intra_loss",
    "fisher_pair_loss",
    "fisher_quantization_loss",
    "init_centers",
    "label_proportions",
    "update_centers_discrete",
    "update_centers_relaxed",
]


# Pure functions of tensors: the terms of the paper's Eq. 9 and the B- and C-steps.
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
    return _masked_mean(loss, mask)


def fisher_quantization_loss(U, B):
    """Mean squared gap between outputs and their codes, ||B - U||^2 / (n K) (Eq. 8)."""
    return ((B - U) ** 2).mean()


def fisher_intra_loss(B, C, Y):
    """Mean squared distance of codes to their (label-weighted) class centre (Eq. 4).

    ||B - Y C^T||_F^2 / (n K): 0 when every code equals its centre, at most 4.
    """
    return ((B - Y @ C.T) ** 2).sum() / B.numel()


def _inter_target(n_classes, n_bits, dtype=None, device=None):
    """A = K (2 I - J): centres at Hamming distance K from each other (Eq. 6)."""
    eye = torch.eye(n_classes, dtype=dtype, device=device)
    return n_bits * (2.0 * eye - torch.ones_like(eye))


def fisher_inter_loss(C):
    """||C^T C - A||_F^2 / (M K^2), A = K (2I - J): pushes class centres apart (Eq. 7)."""
    K, M = C.shape
    A = _inter_target(M, K, dtype=C.dtype, device=C.device)
    return ((C.T @ C - A) ** 2).sum() / (M * K * K)


def fisher_center_objective(C, B, Y, mu=1.0, nu=1.0):
    """The C-step objective (Eq. 12) with this module's normalisation."""
    return mu * fisher_intra_loss(B, C, Y) + nu * fisher_inter_loss(C)


def fisher_codes(U, C, Y, mu=1.0):
    """B-step (Eq. 16): B = sgn(mu C Y + U), with sgn(0) = +1.

    Minimises mu ||b_i - C y_i||^2 + ||b_i - u_i||^2 over b_i in {-1, 1}^K exactly.
    With ``mu=0`` (or no centres) the codes are sgn(U).
    """
    F_ = U if (C is None or mu == 0) else U + mu * (Y @ C.T)
    return torch.where(F_ >= 0, 1.0, -1.0).to(U.dtype)


def label_proportions(Y):
    """Rows of a 0/1 label matrix scaled to sum to 1 (1/m on each of m labels).

    A row without any label stays zero: that sample is tied to no centre.
    """
    counts = Y.sum(dim=1, keepdim=True)
    return Y / torch.clamp(counts, min=1.0)


def init_centers(U, Y):
    """Relaxed centres V = per-class mean of the outputs (K, M); C = sgn(V).

    Parameters
    ----------
    U : Tensor of shape (n, K)
    Y : Tensor of shape (n, M)
        0/1 label indicator (a sample counts fully towards each of its classes).

    Returns
    -------
    C, V : Tensor of shape (K, M)
    """
    counts = torch.clamp(Y.sum(dim=0), min=1.0)
    V = (U.T @ Y) / counts
    return torch.where(V >= 0, 1.0, -1.0).to(U.dtype), V


def fisher_relaxed_objective(V, B, Y, mu=1.0, nu=1.0, eta=1.0):
    """Eq. 13 with C = sgn(V): the objective the relaxed C-step descends."""
    K, M = V.shape
    sgn = torch.where(V >= 0, 1.0, -1.0).to(V.dtype)
    return fisher_center_objective(V, B, Y, mu, nu) + eta * ((V - sgn) ** 2).sum() / (K * M)


def update_centers_relaxed(V, B, Y, mu=1.0, nu=1.0, eta=1.0, n_iter=50):
    """C-step through the auxiliary V (Eq. 13-14): gradient steps on V, then C = sgn(V).

    The gradient is the paper's Eq. 14 scaled by this module's normalisation,
    2a (V Y - B) Y^T + 4c V (V^T V - A) + 2e (V - sgn V) with a = mu / (n K),
    c = nu / (M K^2), e = eta / (K M). Each step has length 1/L, L an upper
    bound of the local Lipschitz constant of the smooth part, so no step size needs
    tuning whatever n, K and M are.

    Returns
    -------
    C, V : Tensor of shape (K, M)
    """
    K, M = V.shape
    n = B.shape[0]
    A = _inter_target(M, K, dtype=V.dtype, device=V.device)
    a = mu / (n * K)
    c = nu / (M * K * K)
    e = eta / (K * M)
    YtY = Y.T @ Y
    L_intra = 2.0 * a * torch.linalg.matrix_norm(YtY, ord=2)
    L_A = torch.linalg.matrix_norm(A, ord=2)
    YtB = Y.T @ B  # (M, K)
    V = V.clone()
    for _ in range(n_iter):
        G = V.T @ V
        grad = (
            2.0 * a * (V @ YtY - YtB.T)
            + 4.0 * c * (V @ (G - A))
            + 2.0 * e * (V - torch.where(V >= 0, 1.0, -1.0).to(V.dtype))
        )
        # Hessian of ||V^T V - A||^2 is bounded by 4 (3 ||V||_2^2 + ||A||_2).
        L = L_intra + 4.0 * c * (3.0 * torch.linalg.matrix_norm(V, ord=2) ** 2 + L_A) + 2.0 * e
        V = V - grad / L
    C = torch.where(V >= 0, 1.0, -1.0).to(V.dtype)
    return C, V


def update_centers_discrete(C, B, Y, mu=1.0, nu=1.0, max_sweeps=10):
    """C-step by discrete cyclic coordinate descent on the entries of C (Eq. 12).

    For binary C the objective is affine in each single entry C[k, j] (its square is
    1 and (C^T C)_jj = K does not move), so every entry in turn is set to the sign
    that minimises the objective with all others fixed; sweeps repeat until none
    changes or ``max_sweeps`` is reached. The objective never increases.

    Returns
    -------
    C : Tensor of shape (K, M), values in {-1, +1}
    """
    K, M = C.shape
    n = B.shape[0]
    a = mu / (n * K)
    c = nu / (M * K * K)
    dtype = torch.float64
    C = C.detach().to("cpu", dtype).clone()
    P = (B.T @ Y).to("cpu", dtype)  # (K, M): sum_i b_ik y_ij
    Q = (Y.T @ Y).to("cpu", dtype)  # (M, M)
    A = _inter_target(M, K, dtype=dtype)
    G = C.T @ C
    off = ~torch.eye(M, dtype=torch.bool)
    for _ in range(max_sweeps):
        changed = False
        for k in range(K):
            row = C[k]
            for j in range(M):
                others = off[j]
                # intra: sum_i y_ij (b_ik - sum_{l != j} C[k, l] y_il)
                lin_intra = P[k, j] - (row[others] * Q[others, j]).sum()
                # inter: sum_{l != j} (G_jl - C[k, j] C[k, l] - A_jl) C[k, l]
                G0 = G[j, others] - row[j] * row[others]
                lin_inter = ((G0 - A[j, others]) * row[others]).sum()
                score = a * lin_intra - 2.0 * c * lin_inter
                if score == 0:
                    continue
                new = 1.0 if score > 0 else -1.0
                if new != row[j]:
                    delta = (new - row[j]) * row
                    delta[j] = 0.0
                    G[j] += delta
                    G[:, j] += delta
                    row[j] = new
                    changed = True
        if not changed:
            break
    return C


def _masked_mean(loss, mask):
    if mask is None:
        return loss.mean()
    mask = mask.to(loss.dtype)
    return (loss * mask).sum() / torch.clamp(mask.sum(), min=1.0)
