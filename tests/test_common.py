"""scikit-learn's estimator checks over every public estimator of skhash."""

import inspect

from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

import skhash
import skhash.neighbors

# Parameters that keep the checks fast (few epochs, few rounds); everything else is
# the estimator's default. An estimator not listed here is checked with its defaults.
FAST_PARAMS = {
    # The checks' data sets have as few as 2 features; PCA-based and linear
    # decorrelated hashers allow at most n_features bits.
    "DHAHasher": {"n_bits": 4, "hidden_layer_sizes": (8,), "max_epochs": 2},
    "FisherHasher": {"n_bits": 4, "hidden_layer_sizes": (8,), "max_epochs": 2},
    "HashNetHasher": {"n_bits": 4, "hidden_layer_sizes": (8,), "max_epochs": 2},
    "ITQHasher": {"n_bits": 2},
    "PCAHasher": {"n_bits": 2},
    "SCHHasher": {"n_bits": 4, "bits_per_block": 2},
    "WSLHasher": {"n_bits": 2, "max_rounds": 2},
}


# Estimators checked a second time in another configuration: the re-ranking search with
# a learned hasher (which must allow the checks' single-feature data) and cosine.
EXTRA_INSTANCES = [
    skhash.HashingNearestNeighbors(hasher=skhash.ITQHasher(n_bits=1), metric="cosine"),
]


def _public_estimators():
    public = {name: getattr(skhash, name) for name in skhash.__all__}
    public.update((name, getattr(skhash.neighbors, name)) for name in skhash.neighbors.__all__)
    for name, obj in sorted(public.items()):
        if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
            yield obj(**FAST_PARAMS.get(name, {}))
    yield from EXTRA_INSTANCES


def _expected_failed_checks(estimator):
    """Checks an estimator declares inapplicable, each with its reason."""
    declare = getattr(estimator, "_sklearn_expected_failed_checks", None)
    return declare() if declare is not None else {}


@parametrize_with_checks(
    list(_public_estimators()), expected_failed_checks=_expected_failed_checks
)
def test_sklearn_compatible_estimator(estimator, check):
    """Every public estimator passes scikit-learn's own estimator checks."""
    check(estimator)
