"""FisherHasher: the loss terms, the B- and C-steps, and the estimator on real digits."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from skhash.deep._fisher import (
    fisher_center_objective,
    fisher_codes,
    fisher_inter_loss,
    fisher_intra_loss,
    fisher_pair_loss,
    fisher_relaxed_objective,
    init_centers,
    label_proportions,
    update_centers_discrete,
    update_centers_relaxed,
)


def _toy(n=40, K=6, M=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, M, (n,), generator=g)
    Y = F.one_hot(y, M).double()
    U = torch.randn(n, K, generator=g, dtype=torch.float64)
    return U, Y


def _min_center_distance(C):
    K = C.shape[0]
    H = (K - C.T @ C) / 2
    H.fill_diagonal_(float("inf"))
    return H.min().item()


# ---------------------------------------------------------------- loss terms


def test_pair_loss_without_margin_is_dpsh():
    """margin=0 gives DPSH's log(1 + e^θ) - s θ with θ = u_i·u_j / 2."""
    U, _ = _toy()
    S = (torch.rand(40, 40, generator=torch.Generator().manual_seed(1)) > 0.5).double()
    theta = 0.5 * U @ U.T
    expected = (torch.log1p(torch.exp(theta)) - S * theta).mean()
    torch.testing.assert_close(fisher_pair_loss(U, U, S, margin=0.0), expected)


def test_pair_loss_margin_penalises_more_and_is_stable():
    """A larger margin costs more on every pair; huge inner products stay finite."""
    U, _ = _toy()
    S = torch.eye(40, dtype=torch.float64)
    losses = [fisher_pair_loss(U, U, S, margin=m).item() for m in (0.0, 0.5, 1.0, 2.0)]
    assert np.all(np.diff(losses) > 0)
    big = 1e4 * U
    assert torch.isfinite(fisher_pair_loss(big, big, S, margin=1.0))


def test_pair_loss_mask_ignores_pairs():
    """Masked-out pairs do not change the loss."""
    U, _ = _toy()
    S = torch.zeros(40, 40, dtype=torch.float64)
    mask = torch.zeros(40, 40, dtype=torch.bool)
    mask[:, :20] = True
    a = fisher_pair_loss(U, U, S, 1.0, mask)
    torch.testing.assert_close(a, fisher_pair_loss(U, U[:20], S[:, :20], 1.0))


def test_codes_solve_the_b_subproblem_exactly():
    """B = sgn(mu C y + u) minimises mu||b - Cy||^2 + ||b - u||^2 over all of {-1,1}^K."""
    U, Y = _toy(n=5, K=5, M=3)
    Yp = label_proportions(Y + torch.eye(5, 3, dtype=torch.float64))  # some multi-label rows
    C = torch.where(torch.randn(5, 3, generator=torch.Generator().manual_seed(3)) > 0, 1.0, -1.0)
    C = C.double()
    for mu in (0.0, 0.7, 3.0):
        B = fisher_codes(U, C, Yp, mu)
        for i in range(5):
            target = Yp[i] @ C.T

            def cost(b, i=i, target=target, mu=mu):
                return mu * ((b - target) ** 2).sum() + ((b - U[i]) ** 2).sum()

            best = min(
                cost(torch.tensor(b, dtype=torch.float64))
                for b in itertools.product((-1.0, 1.0), repeat=5)
            )
            assert cost(B[i]) <= best + 1e-12


def test_label_proportions_split_multilabel_rows():
    """A sample with m labels gets 1/m on each; a row without labels stays zero."""
    Y = torch.tensor([[1.0, 0, 0], [1, 1, 0], [1, 1, 1], [0, 0, 0]])
    P = label_proportions(Y)
    torch.testing.assert_close(P.sum(1), torch.tensor([1.0, 1, 1, 0]))
    torch.testing.assert_close(P[2], torch.full((3,), 1 / 3))


def test_inter_loss_is_zero_for_antipodal_centres():
    """Two opposite centres meet A = K(2I - J) exactly; two equal centres do not."""
    c = torch.tensor([1.0, -1, 1, 1])
    assert fisher_inter_loss(torch.stack([c, -c], 1)) == 0
    assert fisher_inter_loss(torch.stack([c, c], 1)) > 0


def test_intra_loss_is_zero_when_codes_sit_on_their_centres():
    """Codes equal to their class centre cost nothing; a flipped bit costs."""
    C = torch.tensor([[1.0, -1], [1, 1], [-1, 1]])
    Y = torch.tensor([[1.0, 0], [0, 1], [1, 0]])
    B = Y @ C.T
    assert fisher_intra_loss(B, C, Y) == 0
    B[0, 0] = -1
    assert fisher_intra_loss(B, C, Y) > 0


def test_init_centers_are_signs_of_class_means():
    """C starts as the sign of each class's mean output (paper, Sec. 4.2)."""
    U, Y = _toy()
    C, V = init_centers(U, Y)
    for j in range(Y.shape[1]):
        mean = U[Y[:, j] == 1].mean(0)
        torch.testing.assert_close(V[:, j], mean)
        torch.testing.assert_close(C[:, j], torch.where(mean >= 0, 1.0, -1.0).double())


# ---------------------------------------------------------------- C-steps


@pytest.mark.parametrize("nu", [0.0, 1.0, 5.0])
def test_discrete_center_update_reaches_a_coordinate_minimum(nu):
    """The cyclic update never increases Eq. 12 and no single flip improves the result."""
    U, Y = _toy(n=60, K=7, M=4)
    C0, _ = init_centers(U, Y)
    B = fisher_codes(U, C0, Y, 1.0)
    C = update_centers_discrete(C0, B, Y, mu=1.0, nu=nu)
    f = fisher_center_objective(C, B, Y, 1.0, nu)
    assert f <= fisher_center_objective(C0, B, Y, 1.0, nu) + 1e-12
    for k, j in itertools.product(range(7), range(4)):
        flipped = C.clone()
        flipped[k, j] *= -1
        assert fisher_center_objective(flipped, B, Y, 1.0, nu) >= f - 1e-12


def test_discrete_center_update_finds_the_optimum_of_a_small_problem():
    """On a 3-bit, 3-class problem the update lands on the brute-force optimum."""
    U, Y = _toy(n=30, K=3, M=3, seed=4)
    C0, _ = init_centers(U, Y)
    B = fisher_codes(U, C0, Y, 1.0)
    C = update_centers_discrete(C0, B, Y, mu=1.0, nu=1.0)
    best = min(
        fisher_center_objective(torch.tensor(c).reshape(3, 3).double(), B, Y).item()
        for c in itertools.product((-1.0, 1.0), repeat=9)
    )
    assert fisher_center_objective(C, B, Y).item() == pytest.approx(best)


def test_relaxed_center_update_descends_eq13():
    """Gradient steps on V (Eq. 14) lower the relaxed objective from the class-mean start."""
    U, Y = _toy(n=80, K=8, M=4)
    C0, V0 = init_centers(U, Y)
    B = fisher_codes(U, C0, Y, 1.0)
    before = fisher_relaxed_objective(V0, B, Y, 1.0, 1.0, 0.5)
    C, V = update_centers_relaxed(V0, B, Y, mu=1.0, nu=1.0, eta=0.5, n_iter=30)
    assert fisher_relaxed_objective(V, B, Y, 1.0, 1.0, 0.5) < before
    torch.testing.assert_close(C, torch.where(V >= 0, 1.0, -1.0).double())


@pytest.mark.parametrize("method", ["relaxed", "discrete"])
def test_inter_term_separates_collapsed_centres(method):
    """Centres that start almost equal move apart with nu > 0 and stay put with nu = 0."""
    g = torch.Generator().manual_seed(0)
    n, K, M = 200, 16, 4
    Y = F.one_hot(torch.arange(n) % M, M).double()
    U = 0.05 * torch.randn(n, K, generator=g, dtype=torch.float64) + 0.01
    C0, V0 = init_centers(U, Y)
    dist = {}
    for nu in (0.0, 4.0):
        C, V = C0, V0
        for _ in range(3):
            B = fisher_codes(U, C, Y, 1.0)
            if method == "relaxed":
                C, V = update_centers_relaxed(V, B, Y, mu=1.0, nu=nu, eta=0.5, n_iter=100)
            else:
                C = update_centers_discrete(C, B, Y, mu=1.0, nu=nu)
        dist[nu] = _min_center_distance(C)
    assert dist[0.0] == _min_center_distance(C0)
    assert dist[4.0] >= K / 4 > dist[0.0]
