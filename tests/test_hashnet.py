"""HashNetHasher: the weighted pairwise loss, continuation, supervision kinds, retrieval."""

import pickle
from unittest import mock

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import make_multilabel_classification
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from skhash import HashNetHasher, ITQHasher
from skhash.datasets import load_retrieval_dataset
from skhash.deep._losses import hashnet_pair_loss
from skhash.metrics import mean_average_precision


@pytest.fixture(scope="module", autouse=True)
def _one_blas_thread():
    # The machine's cores are shared; multi-threaded BLAS (ITQ) slows down tenfold.
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def digits():
    return load_retrieval_dataset("digits")


def _fast(**params):
    defaults = dict(n_bits=16, hidden_layer_sizes=(64,), lr=3e-3, max_epochs=15, random_state=0)
    return HashNetHasher(**{**defaults, **params})


def _query_map(hasher, data):
    return mean_average_precision(
        hasher.transform(data.X_query), data.y_query, hasher.transform(data.X_db), data.y_db
    )


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


def test_supervised_codes_beat_itq_on_digits(digits):
    """32-bit HashNet codes from labels retrieve far better than unsupervised ITQ."""
    hashnet = _fast(n_bits=32).fit(digits.X_db, digits.y_db)
    itq = ITQHasher(n_bits=32, random_state=0).fit(digits.X_db)
    assert _query_map(hashnet, digits) > _query_map(itq, digits) + 0.2
    assert hashnet.score(digits.X_query, digits.y_query) > 0.85


def test_balanced_weights_prevent_the_collapse_of_unweighted_pairs(digits):
    """With 10 classes (1 similar pair in 10) unweighted pairs collapse; Eq. 2 weights don't."""
    balanced = _query_map(_fast().fit(digits.X_db, digits.y_db), digits)
    unweighted = _query_map(_fast(weighting="none").fit(digits.X_db, digits.y_db), digits)
    assert balanced > unweighted + 0.3


def test_beta_is_the_one_the_last_training_step_used(digits):
    """Each step's loss uses the stepped β schedule; beta_ is the last step's β, not the next."""
    X, y = digits.X_db[:60], digits.y_db[:60]
    # One batch per epoch and a zero learning rate: the network stays as initialised,
    # so each epoch's loss is a function of that step's β alone.
    params = dict(batch_size=64, max_epochs=4, beta_step=2, beta_gamma=1.0, beta_power=0.5)
    h = _fast(lr_schedule=lambda epoch: 0.0, **params).fit(X, y)
    Z = torch.from_numpy(h.decision_function(X))
    S = torch.from_numpy((y[:, None] == y[None, :]).astype(np.float32))
    mask = ~torch.eye(len(y), dtype=torch.bool)

    def loss_at(beta):
        H = torch.tanh(beta * Z)
        return float(hashnet_pair_loss(H, H, S, alpha=h.alpha_, mask=mask))

    # Steps 0-3 see t = 0, 0, 2, 2 (rounded down to multiples of beta_step = 2).
    expected = [loss_at(b) for b in (1.0, 1.0, 3**0.5, 3**0.5)]
    np.testing.assert_allclose(h.loss_curve_, expected, rtol=1e-5)
    assert h.n_steps_ == 4 and h.beta_ == pytest.approx(3**0.5)
    assert loss_at(h.beta_) == pytest.approx(h.loss_curve_[-1], rel=1e-5)
    fixed = _fast(max_epochs=2, continuation=False, beta_init=2.0).fit(X, y)
    assert fixed.beta_ == 2.0


def test_continuation_changes_training_but_not_the_sign_rule(digits):
    """Codes are sgn(z) whatever β; continuation and a fixed tanh train differently."""
    h = _fast(beta_step=10).fit(digits.X_db, digits.y_db)
    fixed = _fast(continuation=False).fit(digits.X_db, digits.y_db)
    z = h.decision_function(digits.X_db)
    np.testing.assert_array_equal(h.transform(digits.X_db), np.where(z >= 0, 1, -1))
    assert h.beta_ > 1.5 and fixed.beta_ == 1.0
    assert not np.array_equal(h.transform(digits.X_db), fixed.transform(digits.X_db))


def test_alpha_defaults_to_ten_over_n_bits(digits):
    """α = 10/K unless given."""
    assert _fast(max_epochs=1).fit(digits.X_db, digits.y_db).alpha_ == 10 / 16
    assert _fast(max_epochs=1, alpha=0.2).fit(digits.X_db, digits.y_db).alpha_ == 0.2


def test_multilabel_jaccard_similarity_hashnet_c(digits):
    """Multi-label y with similarity='jaccard' (HashNet+C) trains, retrieves, and differs."""

    # Two label sets per digit: its class, and "large digit" (>= 5).
    def multilabel(y):
        return np.column_stack([y[:, None] == np.arange(10), y >= 5]).astype(int)

    Y_db, Y_q = multilabel(digits.y_db), multilabel(digits.y_query)
    binary = _fast().fit(digits.X_db, Y_db)
    jaccard = _fast(similarity="jaccard").fit(digits.X_db, Y_db)
    for h in (binary, jaccard):
        assert (
            mean_average_precision(h.transform(digits.X_query), Y_q, h.transform(digits.X_db), Y_db)
            > 0.8
        )
    assert not np.array_equal(jaccard.transform(digits.X_db), binary.transform(digits.X_db))


def test_hashnet_c_keeps_up_with_binary_hashnet_on_multilabel_data():
    """HashNet+C (Jaccard) retrieves about as well as binary HashNet; outputs don't shrink."""
    X, Y = make_multilabel_classification(
        n_samples=1000,
        n_features=30,
        n_classes=10,
        n_labels=2,
        allow_unlabeled=False,
        random_state=0,
    )
    X = np.log1p(X)
    fitted, mAP = {}, {}
    for similarity in ("binary", "jaccard"):
        h = _fast(max_epochs=10, similarity=similarity).fit(X[:800], Y[:800])
        fitted[similarity] = h
        mAP[similarity] = mean_average_precision(
            h.transform(X[800:]), Y[800:], h.transform(X[:800]), Y[:800]
        )
    chance = mean_average_precision(np.ones((200, 1)), Y[800:], np.ones((800, 1)), Y[:800])
    assert mAP["jaccard"] > mAP["binary"] - 0.02 and mAP["jaccard"] > chance + 0.15
    size = {k: np.abs(np.tanh(h.beta_ * h.decision_function(X))).mean() for k, h in fitted.items()}
    assert size["jaccard"] > 0.8 * size["binary"]


def test_pairwise_supervision_only(digits):
    """Pairs (i, j, s) without labels: 30 random partners per sample suffice."""
    rng = np.random.default_rng(0)
    y = digits.y_db
    i = np.repeat(np.arange(len(y)), 30)
    j = rng.integers(0, len(y), size=len(i))
    pairs = np.column_stack([i, j, (y[i] == y[j]).astype(float)])
    h = _fast().fit(digits.X_db, pairs=pairs)
    assert _query_map(h, digits) > 0.8


def test_invalid_parameters_are_refused(digits):
    """Unknown option values raise scikit-learn's InvalidParameterError."""
    for params in ({"weighting": "inverse"}, {"similarity": "cosine"}, {"beta_step": 0}):
        with pytest.raises(InvalidParameterError):
            _fast(**params).fit(digits.X_db, digits.y_db)


def test_cuda_request_without_cuda_fails_clearly_and_auto_uses_cpu(digits):
    """device='cuda' on a machine without CUDA raises; 'auto' trains on the CPU."""
    with mock.patch("torch.cuda.is_available", return_value=False):
        with pytest.raises(ValueError, match="CUDA is not available"):
            _fast(device="cuda", max_epochs=1).fit(digits.X_db, digits.y_db)
        h = _fast(device="auto", max_epochs=1).fit(digits.X_db, digits.y_db)
    assert h.device_.type == "cpu"


def test_pickled_model_gives_the_same_codes(digits):
    """A pickled HashNet restores its network and codes."""
    h = _fast(max_epochs=2).fit(digits.X_db, digits.y_db)
    restored = pickle.loads(pickle.dumps(h))
    np.testing.assert_array_equal(restored.transform(digits.X_query), h.transform(digits.X_query))
    assert restored.beta_ == h.beta_ and restored.alpha_ == h.alpha_


def test_grid_search_needs_no_scorer(digits):
    """GridSearchCV ranks settings by the hasher's own mAP score."""
    grid = GridSearchCV(_fast(max_epochs=3), {"weighting": ["balanced", "none"]}, cv=2)
    grid.fit(digits.X_db, digits.y_db)
    assert grid.best_params_ == {"weighting": "balanced"}


def test_grid_search_in_threads_scores_like_a_serial_one(digits):
    """GridSearchCV on two threads with dropout: the serial search's scores, RNG untouched."""
    X, y = digits.X_db[:300], digits.y_db[:300]
    est = _fast(dropout=0.3, hidden_layer_sizes=(32, 32), max_epochs=3, n_jobs=1)
    grid = {"n_bits": [8, 16], "lr": [3e-3, 1e-2]}
    serial = GridSearchCV(est, grid, cv=2).fit(X, y)
    before = torch.get_rng_state()
    with joblib.parallel_backend("threading"):
        threaded = GridSearchCV(est, grid, cv=2, n_jobs=2).fit(X, y)
    assert torch.equal(torch.get_rng_state(), before)
    for split in ("split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(threaded.cv_results_[split], serial.cv_results_[split])
    np.testing.assert_array_equal(
        threaded.best_estimator_.transform(X), serial.best_estimator_.transform(X)
    )
