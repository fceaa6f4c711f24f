"""DHAHasher: the adaptive pair loss, the quantization loss, and the estimator on digits."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from skhash.deep._dha import (
    balance_from_ratio,
    dha_pair_loss,
    dha_quantization_loss,
    dha_theta,
)


def _codes(n=30, K=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.tanh(torch.randn(n, K, generator=g, dtype=torch.float64))


# ---------------------------------------------------------------- loss terms


@pytest.mark.parametrize(("r", "beta"), [(10, 11 / 12), (5, 6 / 7), (1, 2 / 3), (0, 0.5)])
def test_balance_from_ratio_reproduces_the_papers_values(r, beta):
    """β = (r + 1)/(r + 2) gives the paper's 11/12, 6/7 and 2/3."""
    assert balance_from_ratio(r) == pytest.approx(beta)


def test_plain_settings_reduce_to_half_the_cross_entropy():
    """γ = 0, β = 1/2, θ = 0 is half the logistic loss on α h_i·h_j."""
    H = _codes()
    S = (torch.rand(30, 30, generator=torch.Generator().manual_seed(1)) > 0.7).double()
    alpha = 10 / 8
    expected = 0.5 * F.binary_cross_entropy_with_logits(alpha * H @ H.T, S)
    got = dha_pair_loss(H, H, S, alpha=alpha, theta_similar=0.0, gamma=0.0, beta=0.5)
    torch.testing.assert_close(got, expected)


def test_focal_modulation_matches_the_formula():
    """Similar pairs cost -β(1-σ)^γ log σ and dissimilar -(1-β)σ^γ log(1-σ) (Eq. 8)."""
    H = _codes()
    S = (torch.rand(30, 30, generator=torch.Generator().manual_seed(2)) > 0.7).double()
    alpha, th_s, th_d, gamma, beta = 0.9, 2.0, -1.0, 2.0, 0.8
    z = H @ H.T
    sig = torch.sigmoid(alpha * (z - torch.where(S > 0, th_s, th_d)))
    expected = torch.where(
        S > 0,
        -beta * (1 - sig) ** gamma * torch.log(sig),
        -(1 - beta) * sig**gamma * torch.log(1 - sig),
    ).mean()
    got = dha_pair_loss(
        H, H, S, alpha=alpha, theta_similar=th_s, theta_dissimilar=th_d, gamma=gamma, beta=beta
    )
    torch.testing.assert_close(got, expected)


def test_pair_loss_is_finite_far_in_the_tails():
    """Huge inner products of either sign give finite loss and gradients (softplus form)."""
    H = (1e4 * _codes()).requires_grad_()
    S = torch.eye(30, dtype=torch.float64)
    loss = dha_pair_loss(H, H.detach(), S, alpha=10.0, theta_similar=1.0, gamma=2.0, beta=0.9)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(H.grad).all()


def test_shift_puts_similar_pairs_at_half_probability_at_theta():
    """A similar pair with h_i·h_j = θ has σ = 1/2: its loss is β (1/2)^γ log 2."""
    h = torch.tensor([[1.0, 1.0, 1.0, -1.0]])
    S = torch.ones(1, 1)
    loss = dha_pair_loss(h, h, S, alpha=2.5, theta_similar=4.0, gamma=2.0, beta=0.75)
    assert loss.item() == pytest.approx(0.75 * 0.25 * np.log(2))


def test_focal_loss_downweights_easy_pairs():
    """With γ = 2 a well-separated pair costs far less, relative to a hard one, than with γ = 0."""
    h = torch.tensor([[1.0] * 8, [1.0] * 8, [-1.0] * 8])
    S = torch.tensor([[1.0, 1.0, 0.0]])
    mask_easy = torch.tensor([[False, True, False]])
    mask_hard = torch.tensor([[False, False, True]])
    ratio = {}
    for gamma in (0.0, 2.0):
        kw = dict(alpha=10 / 8, theta_similar=0.0, gamma=gamma, beta=0.5)
        easy = dha_pair_loss(h[:1], h, S, mask=mask_easy, **kw)
        S_hard = torch.tensor([[1.0, 1.0, 1.0]])  # call the opposite code similar: hard
        hard = dha_pair_loss(h[:1], h, S_hard, mask=mask_hard, **kw)
        ratio[gamma] = (easy / hard).item()
    assert ratio[2.0] < ratio[0.0] / 100


def test_theta_grows_with_continuous_similarity():
    """DHA-t: θ increases with t for t > 0 and drops to theta_dissimilar at t = 0."""
    T = torch.tensor([0.0, 0.2, 0.5, 1.0])
    theta = dha_theta(T, 8.0, -4.0)
    torch.testing.assert_close(theta, torch.tensor([-4.0, 1.6, 4.0, 8.0]))


def test_quantization_loss_is_zero_on_the_cube_corners():
    """Q is 0 when every |h| = 1 and 1 - 1/e when every h = 0."""
    assert dha_quantization_loss(torch.tensor([[1.0, -1.0]])) == 0
    assert dha_quantization_loss(torch.zeros(3, 4)).item() == pytest.approx(1 - np.exp(-1))
