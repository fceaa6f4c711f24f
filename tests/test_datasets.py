"""The retrieval protocols on real data: digits and MNIST-5k."""

import numpy as np
import pytest

from skhash.datasets import load_retrieval_dataset, retrieval_split


@pytest.mark.parametrize("name, n_query, n_db, n_features", [
    ("digits", 200, 1597, 64),
    ("mnist5k", 1000, 4000, 784),
])
def test_protocol_sizes_and_scaling(name, n_query, n_db, n_features):
    """Default protocol: stratified queries per class, the rest database, pixels in [0, 1]."""
    data = load_retrieval_dataset(name)
    assert data.X_query.shape == (n_query, n_features)
    assert data.X_db.shape == (n_db, n_features)
    counts = np.bincount(data.y_query)
    assert (counts == n_query // 10).all()
    assert data.X_db.min() >= 0 and data.X_db.max() <= 1 and data.X_db.max() > 0.9
    assert not np.intersect1d(data.query_index, data.db_index).size


def test_split_is_seeded():
    """The same seed draws the same queries; another seed draws others."""
    a = load_retrieval_dataset("digits", random_state=0)
    b = load_retrieval_dataset("digits", random_state=0)
    c = load_retrieval_dataset("digits", random_state=1)
    np.testing.assert_array_equal(a.query_index, b.query_index)
    assert not np.array_equal(a.query_index, c.query_index)


def test_bad_protocol_raises():
    """Unknown data sets and classes too small for the query count are refused clearly."""
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        load_retrieval_dataset("cifar")
    with pytest.raises(ValueError, match="class 1 has 2 samples"):
        retrieval_split(np.zeros((5, 2)), np.array([0, 0, 0, 1, 1]), 2)
