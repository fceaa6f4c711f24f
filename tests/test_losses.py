"""The deep hashers' loss functions and helpers, each on its own (skhash.deep._losses)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from skhash.deep._losses import (
    dha_pair_loss,
    dha_quantization_loss,
    dha_theta,
    fisher_inter_loss,
    fisher_intra_loss,
    fisher_pair_loss,
    hashnet_pair_loss,
    masked_mean,
    sign,
)


def _toy(n=40, K=6, M=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, M, (n,), generator=g)
    Y = F.one_hot(y, M).double()
    U = torch.randn(n, K, generator=g, dtype=torch.float64)
    return U, Y


def _codes(n=30, K=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.tanh(torch.randn(n, K, generator=g, dtype=torch.float64))


# ---------------------------------------------------------------- shared helpers


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sign_maps_zero_to_plus_one_and_keeps_the_dtype(dtype):
    """sign gives ±1 in the input's dtype, +1 for 0 and -0 (torch.sign gives 0)."""
    x = torch.tensor([[-2.5, -0.0, 0.0, 1e-30, -1e-30, 7.0]], dtype=dtype)
    got = sign(x)
    assert got.dtype == dtype
    torch.testing.assert_close(got, torch.tensor([[-1.0, 1, 1, 1, -1, 1]], dtype=dtype))


def test_masked_mean_averages_the_counted_entries_only():
    """masked_mean is the mean over True entries, the plain mean without a mask, 0 if none."""
    loss = torch.tensor([[1.0, 2.0, 3.0], [4.0, 100.0, 6.0]])
    mask = torch.tensor([[True, True, False], [True, False, True]])
    assert masked_mean(loss, mask).item() == pytest.approx((1 + 2 + 4 + 6) / 4)
    assert masked_mean(loss).item() == pytest.approx(loss.mean().item())
    assert masked_mean(loss, torch.zeros_like(mask)).item() == 0


def test_masked_mean_ignores_entries_outside_the_mask_whatever_their_value():
    """An entry outside the mask never changes the mean, whatever its finite value."""
    loss = torch.tensor([1.0, 3.0, -5.0])
    mask = torch.tensor([True, True, False])
    for value in (-1e30, 0.0, 1e30):
        loss[2] = value
        assert masked_mean(loss, mask).item() == pytest.approx(2.0)


# ---------------------------------------------------------------- HashNet


def _naive_loss(H, H2, S, alpha, w_sim, w_dis, C=None):
    """Eq. 4 written as in the paper, in float64, summed over all pairs / |S|."""
    a = alpha * (H @ H2.T)
    loss = np.log1p(np.exp(a)) - alpha * (S > 0) * (H @ H2.T)
    # HashNet+C: c rescaled so that it sums to the number of similar pairs.
    c = np.ones_like(S) if C is None else C * (S > 0).sum() / C[S > 0].sum()
    w = np.where(S > 0, w_sim * c, w_dis)
    return (w * loss).sum() / S.size


def test_loss_matches_the_paper_formula_and_balanced_weights():
    """softplus form equals Eq. 4; balanced = |S|/|S1| and |S|/|S0|; C reweights similar pairs."""
    rng = np.random.default_rng(0)
    H, H2 = np.tanh(rng.normal(size=(5, 6))), np.tanh(rng.normal(size=(9, 6)))
    S = (rng.random((5, 9)) < 0.25).astype(float)
    C = S * rng.random((5, 9))
    t = torch.from_numpy
    n, n1 = S.size, S.sum()
    for weighting, w_sim, w_dis in [("balanced", n / n1, n / (n - n1)), ("none", 1.0, 1.0)]:
        got = hashnet_pair_loss(t(H), t(H2), t(S), alpha=0.7, weighting=weighting)
        np.testing.assert_allclose(float(got), _naive_loss(H, H2, S, 0.7, w_sim, w_dis))
        got_c = hashnet_pair_loss(t(H), t(H2), t(S), alpha=0.7, weighting=weighting, C=t(C))
        np.testing.assert_allclose(float(got_c), _naive_loss(H, H2, S, 0.7, w_sim, w_dis, C))


def test_continuous_similarity_keeps_the_similar_pairs_share():
    """c_ij moves weight between similar pairs only: a constant c is the binary loss."""
    rng = np.random.default_rng(1)
    H, H2 = (torch.tanh(torch.from_numpy(rng.normal(size=(n, 8)))) for n in (6, 20))
    S = torch.from_numpy((rng.random((6, 20)) < 0.2).astype(float))
    mask = torch.from_numpy(rng.random((6, 20)) < 0.8)
    for weighting in ("none", "balanced"):
        binary = hashnet_pair_loss(H, H2, S, alpha=0.5, weighting=weighting, mask=mask)
        for c in (0.05, 0.3, 1.0):
            scaled = hashnet_pair_loss(H, H2, S, alpha=0.5, weighting=weighting, C=c * S, mask=mask)
            torch.testing.assert_close(scaled, binary)
    # A non-constant c does change the (balanced) loss: the pairs it favours count more.
    C = S * torch.from_numpy(rng.random((6, 20)))
    assert not torch.isclose(hashnet_pair_loss(H, H2, S, alpha=0.5, C=C, mask=mask), binary)


def test_loss_gradient_is_the_papers_eq7():
    """dJ/d<h_i,h_j> = w_ij α (σ(α<h_i,h_j>) − s_ij), per pair (supplement Eq. 7)."""
    ip = torch.tensor([[-3.0, 0.5], [2.0, 40.0]], dtype=torch.float64, requires_grad=True)
    S = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    # Inner products as H @ I: rows of ip are h_i, the identity's rows are h_j.
    loss = hashnet_pair_loss(ip, torch.eye(2, dtype=torch.float64), S, alpha=0.5)
    loss.backward()
    w = 2.0  # |S| / |S1| = |S| / |S0| = 4 / 2; the loss is divided by |S| = 4
    expected = w * 0.5 * (torch.sigmoid(0.5 * ip.detach()) - S) / 4
    torch.testing.assert_close(ip.grad, expected)


def test_loss_is_finite_where_the_naive_form_overflows():
    """Inner products far beyond exp's float32 range give a finite loss and gradient."""
    H = torch.full((2, 64), 1.0, requires_grad=True)
    S = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    loss = hashnet_pair_loss(H, H, S, alpha=10.0)  # α<h,h> = 640: exp overflows
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(H.grad).all()
    # Similar pairs cost 640 - 640 = 0; the 2 dissimilar ones 640 each, weight 4/2, / 4.
    np.testing.assert_allclose(float(loss.detach()), 640.0, rtol=1e-6)


# ---------------------------------------------------------------- Fisher


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


# ---------------------------------------------------------------- DHA


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
