"""FisherHasher: the B- and C-steps and the estimator on real digits (loss terms: test_losses)."""

import itertools
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from skhash import LSHHasher
from skhash.datasets import load_retrieval_dataset
from skhash.deep._fisher import (
    FisherHasher,
    fisher_codes,
    init_centers,
    label_proportions,
    update_centers_discrete,
    update_centers_relaxed,
)
from skhash.deep._losses import fisher_center_objective, fisher_relaxed_objective
from skhash.metrics import mean_average_precision


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


# ---------------------------------------------------------------- the B-step and label proportions


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


def test_relaxed_center_update_overflow_is_a_floating_point_error():
    """Entries whose cube overflows float32: FloatingPointError naming V, not an SVD failure."""
    U, Y = _toy()
    U, Y = (U * 1e15).float(), Y.float()
    _, V = init_centers(U, Y)
    with pytest.raises(FloatingPointError, match=r"C-step overflowed.*\|V\| = "):
        update_centers_relaxed(V, fisher_codes(U, None, Y), Y)
    C, V = update_centers_relaxed(V / 1e15, fisher_codes(U, None, Y), Y)
    assert torch.isfinite(V).all()


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


# ---------------------------------------------------------------- the estimator


@pytest.fixture(scope="module")
def digits():
    return load_retrieval_dataset("digits")


def _fast(**params):
    defaults = dict(n_bits=16, hidden_layer_sizes=(64,), max_epochs=8, random_state=0, device="cpu")
    return {**defaults, **params}


def _map(hasher, data):
    return mean_average_precision(
        hasher.transform(data.X_query), data.y_query, hasher.transform(data.X_db), data.y_db
    )


@pytest.fixture(scope="module")
def fitted(digits):
    return FisherHasher(**_fast()).fit(digits.X_db, digits.y_db)


@pytest.mark.parametrize("center_update", ["relaxed", "discrete"])
def test_learns_retrieval_on_digits_far_above_lsh(digits, fitted, center_update):
    """16-bit codes retrieve same-class digits far better than LSH, with either C-step."""
    if center_update == "relaxed":
        hasher = fitted
    else:
        hasher = FisherHasher(**_fast(center_update=center_update))
        hasher.fit(digits.X_db, digits.y_db)
    lsh = _map(LSHHasher(n_bits=16, random_state=0).fit(digits.X_db), digits)
    assert _map(hasher, digits) > lsh + 0.3


def test_training_codes_gather_at_distinct_class_centres(digits, fitted):
    """Most training codes lie within K/4 bits of their class centre; centres differ."""
    B = fitted.transform(digits.X_db).astype(int)
    C = fitted.centers_.astype(int)
    assert C.shape == (10, 16) and fitted.centers_.dtype == np.int8
    assert set(np.unique(C)) == {-1, 1}
    own = (16 - np.sum(B * C[digits.y_db], axis=1)) / 2
    assert np.mean(own <= 4) > 0.8
    between = (16 - C @ C.T) / 2
    assert between[~np.eye(10, dtype=bool)].min() >= 2


def test_class_centres_beat_the_pair_loss_alone_at_12_bits(digits):
    """The paper's ablation (Table 1): adding intra and inter terms improves on pairs only."""
    X, y = digits.X_db, digits.y_db
    pair_only = FisherHasher(**_fast(n_bits=12, mu=0.0, nu=0.0)).fit(X, y)
    full = FisherHasher(**_fast(n_bits=12)).fit(X, y)
    assert _map(full, digits) > _map(pair_only, digits) + 0.2


@pytest.mark.parametrize(
    "switch", [{"phi": 0.0}, {"mu": 0.0}, {"nu": 0.0}, {"quantization_weight": 0.0}]
)
def test_every_term_can_be_switched_off(digits, switch):
    """Each term of Eq. 9 set to 0 still trains, to other codes than the full objective."""
    X, y = digits.X_db[:300], digits.y_db[:300]
    full = FisherHasher(**_fast(max_epochs=3)).fit(X, y)
    ablated = FisherHasher(**_fast(max_epochs=3, **switch)).fit(X, y)
    assert np.all(np.isfinite(ablated.loss_curve_))
    assert not np.array_equal(ablated.transform(X), full.transform(X))


def test_multilabel_indicator_gives_one_centre_per_label(digits):
    """A label indicator matrix (digit + an 'odd' attribute) trains, one centre per column."""
    X, y = digits.X_db[:400], digits.y_db[:400]
    Y = np.column_stack([np.eye(10, dtype=int)[y], y % 2])
    hasher = FisherHasher(**_fast()).fit(X, Y)
    assert hasher.centers_.shape == (11, 16)
    mAP = mean_average_precision(hasher.transform(X), Y)
    lsh = mean_average_precision(LSHHasher(n_bits=16, random_state=0).fit(X).transform(X), Y)
    assert mAP > lsh + 0.1


def test_pairs_only_supervision_is_refused_with_the_reason(digits):
    """Centres are per class: pairs= alone raises an error that says so."""
    X, y = digits.X_db[:50], digits.y_db[:50]
    i, j = np.triu_indices(50, 1)
    pairs = np.column_stack([i, j, y[i] == y[j]])
    with pytest.raises(ValueError, match="needs class labels y.*per class"):
        FisherHasher(**_fast()).fit(X, pairs=pairs)


def test_fit_without_y_asks_for_labels_not_pairs(digits):
    """Without y the error says labels are needed (centres are per class), not pairs=."""
    with pytest.raises(ValueError, match="requires y to be passed") as info:
        FisherHasher(**_fast()).fit(digits.X_db[:50])
    message = str(info.value)
    assert "class labels y or a label indicator matrix" in message
    assert "defined per class" in message
    assert "or pairwise supervision pairs=" not in message


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"margin": -0.5}, "'margin' parameter of FisherHasher must be a float in the range"),
        ({"mu": -1.0}, "'mu' parameter"),
        ({"center_update": "exact"}, "'center_update' parameter"),
        ({"phi": 0.0, "quantization_weight": 0.0}, "no gradient"),
    ],
)
def test_bad_hyper_parameters_are_clear_errors(digits, params, match):
    """A negative margin or weight, an unknown C-step, or no U-step loss is refused by name."""
    X, y = digits.X_db[:50], digits.y_db[:50]
    with pytest.raises(ValueError, match=match):
        FisherHasher(**_fast(**params)).fit(X, y)


def test_same_seed_same_codes_and_pickle_keeps_them(digits, fitted):
    """A refit from the same seed and a pickled copy give the same codes and centres."""
    X, y = digits.X_db, digits.y_db
    again = FisherHasher(**_fast()).fit(X, y)
    np.testing.assert_array_equal(again.transform(X), fitted.transform(X))
    np.testing.assert_array_equal(again.centers_, fitted.centers_)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(X), fitted.transform(X))
    np.testing.assert_array_equal(restored.centers_, fitted.centers_)


@pytest.mark.parametrize("rows", [slice(None), slice(250, 251)], ids=["all", "one-late"])
def test_outputs_too_large_for_the_squared_terms_are_an_error_on_the_scale(digits, rows):
    """Features so large that Eq. 9's squares overflow float32: a ValueError, not lr or SVD."""
    X, y = digits.X_db[:400].copy(), digits.y_db[:400]
    X[rows] *= 1e18
    fresh = FisherHasher(**_fast(n_bits=8, hidden_layer_sizes=(32,), max_epochs=3, batch_size=50))
    with pytest.raises(ValueError, match="before any optimizer step") as info:
        fresh.fit(X, y)
    message = str(info.value)
    assert "overflows float32" in message and "Scale the features" in message
    assert "learning rate" not in message
    assert not hasattr(fresh, "module_")
