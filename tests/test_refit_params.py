"""Parameters changed after fit: every query follows the fitted model, never the new value."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from skhash import (
    DHAHasher,
    FisherHasher,
    HashNetHasher,
    ITQHasher,
    LSHHasher,
    PCAHasher,
    SCHHasher,
    WSLHasher,
)

_DEEP = {"hidden_layer_sizes": (16,), "max_epochs": 2, "batch_size": 64}

# Each hasher fitted with 8 bits, then given new values of n_bits and of every other
# parameter a query could plausibly read.
CASES = [
    (SCHHasher, {"n_pairs_per_sample": 20}, {"gamma": 10.0, "C": 0.1, "n_jobs": 2}),
    (LSHHasher, {}, {}),
    (PCAHasher, {}, {}),
    (ITQHasher, {"n_iter": 5}, {"n_iter": 0}),
    (WSLHasher, {"max_rounds": 1}, {"init": "random", "max_rounds": 3}),
    (FisherHasher, _DEEP, {"hidden_layer_sizes": (4, 4), "batch_size": 7}),
    (HashNetHasher, _DEEP, {"hidden_layer_sizes": (4, 4), "batch_size": 7}),
    (DHAHasher, _DEEP, {"hidden_layer_sizes": (4, 4), "batch_size": 7}),
]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:240] / 16, y[:240]


def _queries(model, X, y):
    return {
        "decision_function": model.decision_function(X),
        "transform": model.transform(X),
        "encode": model.encode(X),
        "score": model.score(X, y),
        "feature_names": model.get_feature_names_out(),
    }


@pytest.mark.parametrize("new_n_bits", [4, 16])
@pytest.mark.parametrize(
    "Hasher, fit_params, other_params", CASES, ids=[c[0].__name__ for c in CASES]
)
def test_queries_follow_the_fitted_model_after_set_params(
    Hasher, fit_params, other_params, new_n_bits, digits
):
    """set_params after fit changes no transform/encode/score/feature names until refit."""
    X, y = digits
    model = Hasher(n_bits=8, random_state=0, **fit_params).fit(X, y)
    before = _queries(model, X[:50], y[:50])
    model.set_params(n_bits=new_n_bits, **other_params)
    after = _queries(model, X[:50], y[:50])
    assert after["transform"].shape == (50, 8)
    # batch_size and n_jobs only change how the work is split: a BLAS may round the
    # real-valued outputs differently per batch shape, never the codes.
    np.testing.assert_allclose(
        after.pop("decision_function"), before.pop("decision_function"), rtol=1e-5, atol=1e-6
    )
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)
