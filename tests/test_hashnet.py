"""HashNetHasher: continuation, supervision kinds, retrieval (the loss: test_losses)."""

import pickle
from unittest import mock

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import make_multilabel_classification
from sklearn.model_selection import GridSearchCV
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


def test_supervised_codes_beat_itq_on_digits(digits):
    """32-bit HashNet codes from labels retrieve far better than unsupervised ITQ."""
    hashnet = _fast(n_bits=32).fit(digits.X_db, digits.y_db)
    itq = ITQHasher(n_bits=32, random_state=0).fit(digits.X_db)
    assert _query_map(hashnet, digits) > _query_map(itq, digits) + 0.2
    assert hashnet.score(digits.X_query, digits.y_query) > 0.85


def test_balanced_weights_prevent_the_collapse_of_unweighted_pairs(digits):
    """With 10 classes (1 similar pair in 10) unweighted pairs collapse; Eq. 2 weights don't.

    On a plain MLP (the default one's output normalisation also prevents that collapse).
    """
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 16))
    balanced = _query_map(_fast(module=net).fit(digits.X_db, digits.y_db), digits)
    unweighted = _query_map(
        _fast(module=net, weighting="none").fit(digits.X_db, digits.y_db), digits
    )
    assert balanced > unweighted + 0.3


def test_beta_is_the_one_the_last_training_step_used(digits):
    """Each step's loss uses the stepped β schedule; beta_ is the last step's β, not the next."""
    X, y = digits.X_db[:60], digits.y_db[:60]
    # One batch per epoch and a zero learning rate: the network stays as initialised,
    # so each epoch's loss is a function of that step's β alone.
    params = dict(batch_size=64, max_epochs=4, beta_step=2, beta_gamma=1.0, beta_power=0.5)
    # A plain MLP: batch statistics would make training outputs differ from z.
    net = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 16))
    h = _fast(module=net, lr_schedule=lambda epoch: 0.0, **params).fit(X, y)
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
    """Unknown option values raise a ValueError (scikit-learn's parameter check)."""
    for params in ({"weighting": "inverse"}, {"similarity": "cosine"}, {"beta_step": 0}):
        with pytest.raises(ValueError, match=f"'{next(iter(params))}' parameter"):
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


def _sphere_classes(n_samples, n_classes=100, n_features=128, sigma=0.1, seed=0):
    """Unit-length noisy copies of random unit centres, labels balanced (train + queries)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, n_features))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    y = np.arange(n_samples) % n_classes
    X = centres[y] + sigma * rng.standard_normal((n_samples, n_features))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X.astype(np.float32), y


def test_many_classes_same_quality_on_unit_length_and_raw_scale_features():
    """100 classes, defaults: features times 100 code as well as unit-length ones, above ITQ."""
    X, y = _sphere_classes(2200)
    X_db, y_db, X_q, y_q = X[:2000], y[:2000], X[2000:], y[2000:]
    scores = {}
    for scale in (1.0, 100.0):
        h = HashNetHasher(64, max_epochs=15, random_state=0).fit(X_db * scale, y_db)
        scores[scale] = mean_average_precision(
            h.transform(X_q * scale), y_q, h.transform(X_db * scale), y_db, k=100
        )
    itq = ITQHasher(64, random_state=0).fit(X_db)
    itq_map = mean_average_precision(itq.transform(X_q), y_q, itq.transform(X_db), y_db, k=100)
    assert abs(scores[100.0] - scores[1.0]) < 0.02, scores
    assert min(scores.values()) >= itq_map, (scores, itq_map)
