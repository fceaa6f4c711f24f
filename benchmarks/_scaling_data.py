"""Embedding-like data for the scaling benchmarks: Gaussian classes on the unit sphere.

``make_embeddings(n_samples)`` returns ``X, y, X_query, y_query``, float32 features and
int64 labels. Recipe (issue 14): ``n_classes`` class centres, standard normal vectors in
``n_features`` dimensions normalised to unit length; each sample is its centre plus
isotropic N(0, sigma^2) noise per coordinate, then L2-normalised; labels are balanced
(``i % n_classes``, shuffled). The queries are ``n_queries`` more samples of the same
classes.

The centres and the queries depend only on ``seed``, never on ``n_samples``: the 10k, 100k
and 1M sets share their classes and their queries, so mAP is comparable across sizes.
Three independent streams are drawn from ``np.random.SeedSequence(seed)``: one for the
centres, one for the queries, one for the training set. Samples are generated in float32
blocks, so 1M x 256 takes about 1 GB (the output) and little more.

sigma: the recipe's first value, 0.09 per coordinate, gives LSH with 64 bits (10k samples,
random_state=0) a query mAP@1000 of only 0.20, far from issue 14's table (0.66). Tuned once
on that one figure: 0.04 -> 0.93, 0.05 -> 0.78, 0.055 -> 0.69, 0.056 -> 0.67,
0.057 -> 0.65, 0.06 -> 0.59, with ITQ at 1.00 for all of them. The default is 0.056
(noise norm about 0.9 against unit centres).

Use from a script in ``benchmarks/``::

    import sys, pathlib
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    from _scaling_data import make_embeddings

    X, y, X_query, y_query = make_embeddings(100_000)
"""

import numpy as np

_BLOCK = 65_536


def _samples(rng, centres, labels, sigma):
    """Samples of the given labels: centre + N(0, sigma^2 I), then unit length, float32."""
    out = np.empty((labels.shape[0], centres.shape[1]), dtype=np.float32)
    for start in range(0, labels.shape[0], _BLOCK):
        stop = min(start + _BLOCK, labels.shape[0])
        block = rng.standard_normal((stop - start, centres.shape[1]), dtype=np.float32)
        block *= np.float32(sigma)
        block += centres[labels[start:stop]]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:stop] = block
    return out


def _labels(rng, n, n_classes):
    labels = np.arange(n, dtype=np.int64) % n_classes
    rng.shuffle(labels)
    return labels


def make_embeddings(n_samples, n_queries=1000, n_features=256, n_classes=100, sigma=0.056, seed=0):
    """Training set and queries of ``n_classes`` noisy unit-sphere classes.

    Parameters
    ----------
    n_samples : int
        Number of training (database) samples.
    n_queries : int, default=1000
        Number of query samples; the same for every ``n_samples``.
    n_features : int, default=256
        Dimension.
    n_classes : int, default=100
        Number of classes, balanced.
    sigma : float, default=0.056
        Standard deviation of the noise per coordinate, before normalisation.
    seed : int, default=0
        Seeds the centres, the queries and the training set (independent streams).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float32
    y : ndarray of shape (n_samples,), int64
    X_query : ndarray of shape (n_queries, n_features), float32
    y_query : ndarray of shape (n_queries,), int64
    """
    centre_seq, query_seq, train_seq = np.random.SeedSequence(seed).spawn(3)
    centres = np.random.default_rng(centre_seq).standard_normal((n_classes, n_features))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    centres = centres.astype(np.float32)

    rng = np.random.default_rng(query_seq)
    y_query = _labels(rng, n_queries, n_classes)
    X_query = _samples(rng, centres, y_query, sigma)

    rng = np.random.default_rng(train_seq)
    y = _labels(rng, n_samples, n_classes)
    X = _samples(rng, centres, y, sigma)
    return X, y, X_query, y_query
