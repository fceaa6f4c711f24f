"""Hamming k-NN and radius neighbour graphs as transformers (Pipeline steps)."""

from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from .._base import rollback_on_error
from ._base import HammingNeighborsBase, KNeighborsMixin, RadiusNeighborsMixin

__all__ = ["HammingKNeighborsTransformer", "HammingRadiusNeighborsTransformer"]

_CONSTRAINTS = {
    key: value
    for key, value in HammingNeighborsBase._parameter_constraints.items()
    if key not in ("normalize", "n_neighbors", "radius")
}

_SHARED_PARAMETERS = """algorithm : {"auto", "brute", "mih"}, default="auto"
        Search algorithm, as :class:`~skhash.HammingNeighbors`; all give the same
        graph.
    leaf_size : int, default=30
        Accepted for compatibility with scikit-learn; changes nothing.
    metric : {"bitcount", "hamming"}, default="bitcount"
        ``"bitcount"``: distances are numbers of differing bits. ``"hamming"``:
        scikit-learn's ``metric="hamming"``, fractions of the bits.
    p : float, default=2
        Accepted for compatibility with scikit-learn; changes nothing.
    metric_params : None
        Must be None (or empty).
    n_jobs : int, default=None
        Threads of the search kernel. None means 1 unless in a
        :func:`joblib.parallel_config` context; -1 means all processors.
    packed : bool, default=False
        If True, codes are packed uint8 bytes (a hasher's ``encode``); otherwise any
        numeric codes with bit = value > 0 (a hasher's ``transform``).
    n_bits : int, default=None
        With ``packed=True``, the code length when it is not ``8 * n_bytes``.
    n_substrings : int, default=None
        Substrings per code for multi-index hashing; None chooses from the size."""

_ATTRIBUTES = """effective_metric_ : {"bitcount", "hamming"}
        The metric of the graph's distances, fixed at fit.
    n_bits_ : int
        Number of bits per code.
    n_samples_fit_ : int
        Number of fitted codes: the graph's number of columns.
    n_features_in_ : int
        Number of columns of the fitted input."""


class _GraphTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, HammingNeighborsBase):
    """fit and fit_transform of the graph transformers."""

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Index the codes ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_bits) or (n_samples, n_bytes)
            Codes, bit = value > 0; or packed uint8 bytes when ``packed=True``.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        with rollback_on_error(self):
            self._fit_index(X)
            self._n_features_out = self.n_samples_fit_
        return self

    def fit_transform(self, X, y=None):
        """Fit on ``X`` and return the graph of ``X`` against itself.

        Each sample is its own first neighbour, at distance 0 (``X`` is queried as
        new points, not with ``X=None``), as in scikit-learn's transformers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_bits) or (n_samples, n_bytes)
            Codes.
        y : None
            Ignored.

        Returns
        -------
        Xt : sparse matrix of shape (n_samples, n_samples)
            CSR neighbour graph.
        """
        return self.fit(X).transform(X)


class HammingKNeighborsTransformer(KNeighborsMixin, _GraphTransformer):
    """The k-NN graph of binary codes: ``KNeighborsTransformer`` for Hamming codes.

    A Pipeline step that turns codes into a sparse graph of their nearest fitted codes,
    for estimators taking ``metric="precomputed"`` neighbour graphs (TSNE, Isomap,
    DBSCAN, SpectralClustering, KNeighborsClassifier, LocalOutlierFactor, ...). The
    search is :class:`~skhash.HammingNeighbors`' exact XOR + popcount kernel.

    Read more in the :doc:`User Guide </user_guide/search>`.

    Parameters
    ----------
    mode : {"distance", "connectivity"}, default="distance"
        "distance" stores the distances, "connectivity" ones.
    n_neighbors : int, default=5
        Number of neighbours per sample. With ``mode="distance"`` each row holds
        ``n_neighbors + 1`` entries, so that ``fit_transform``'s rows have
        ``n_neighbors`` neighbours besides the sample itself (what TSNE and the others
        need), as in scikit-learn.
    {shared}

    Attributes
    ----------
    {attributes}

    See Also
    --------
    sklearn.neighbors.KNeighborsTransformer : The general-metric transformer.
    HammingRadiusNeighborsTransformer : The radius graph.
    HammingNeighbors : The index, with ``kneighbors_graph``.

    Notes
    -----
    With ``metric="hamming"`` the graph equals scikit-learn's
    ``KNeighborsTransformer(metric="hamming")`` graph of the same codes (CSR, float64,
    rows by increasing distance, explicit zeros kept) wherever no two distances in a
    row tie; within ties it orders by index, where scikit-learn's order (and which
    tied neighbour makes the k-th) is unspecified.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.manifold import Isomap
    >>> from sklearn.pipeline import make_pipeline
    >>> from skhash import ITQHasher
    >>> from skhash.neighbors import HammingKNeighborsTransformer
    >>> X = load_digits().data[:300]
    >>> pipe = make_pipeline(
    ...     ITQHasher(n_bits=32, random_state=0),
    ...     HammingKNeighborsTransformer(n_neighbors=10),
    ...     Isomap(n_neighbors=10, metric="precomputed"),
    ... )
    >>> pipe.fit_transform(X).shape
    (300, 2)
    """

    _parameter_constraints: dict = {
        "mode": [StrOptions({"distance", "connectivity"})],
        "n_neighbors": HammingNeighborsBase._parameter_constraints["n_neighbors"],
        **_CONSTRAINTS,
    }

    def __init__(
        self,
        *,
        mode="distance",
        n_neighbors=5,
        algorithm="auto",
        leaf_size=30,
        metric="bitcount",
        p=2,
        metric_params=None,
        n_jobs=None,
        packed=False,
        n_bits=None,
        n_substrings=None,
    ):
        self.mode = mode
        self.n_neighbors = n_neighbors
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.metric = metric
        self.p = p
        self.metric_params = metric_params
        self.n_jobs = n_jobs
        self.packed = packed
        self.n_bits = n_bits
        self.n_substrings = n_substrings

    def transform(self, X):
        """The k-NN graph of the codes ``X`` against the fitted codes.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Codes in the fitted format.

        Returns
        -------
        Xt : sparse matrix of shape (n_queries, n_samples_fit)
            CSR; ``n_neighbors`` entries per row (``n_neighbors + 1`` with
            ``mode="distance"``), by increasing distance, ties by index.
        """
        check_is_fitted(self)
        add_one = self.mode == "distance"
        return self.kneighbors_graph(X, mode=self.mode, n_neighbors=self.n_neighbors + add_one)


class HammingRadiusNeighborsTransformer(RadiusNeighborsMixin, _GraphTransformer):
    """The radius graph of binary codes: ``RadiusNeighborsTransformer`` for Hamming codes.

    A Pipeline step that turns codes into a sparse graph of the fitted codes within
    ``radius``, for estimators taking ``metric="precomputed"`` neighbour graphs
    (DBSCAN, ...). The search is :class:`~skhash.HammingNeighbors`' exact kernel.

    Read more in the :doc:`User Guide </user_guide/search>`.

    Parameters
    ----------
    mode : {"distance", "connectivity"}, default="distance"
        "distance" stores the distances, "connectivity" ones.
    radius : float, default=1.0
        Range: a number of differing bits, or a fraction of the bits with
        ``metric="hamming"``. Codes at distance ``<= radius`` are neighbours.
    {shared}

    Attributes
    ----------
    {attributes}

    See Also
    --------
    sklearn.neighbors.RadiusNeighborsTransformer : The general-metric transformer.
    HammingKNeighborsTransformer : The k-NN graph.
    HammingNeighbors : The index, with ``radius_neighbors_graph``.

    Notes
    -----
    With ``metric="hamming"`` the graph equals scikit-learn's
    ``RadiusNeighborsTransformer(metric="hamming")`` graph of the same codes (CSR,
    float64, rows sorted by distance, explicit zeros kept), ties ordered by index.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.cluster import DBSCAN
    >>> from sklearn.pipeline import make_pipeline
    >>> from skhash.neighbors import HammingRadiusNeighborsTransformer
    >>> codes = np.array([[0, 0, 0, 0], [0, 0, 0, 1], [1, 1, 1, 1], [1, 1, 1, 0]])
    >>> pipe = make_pipeline(
    ...     HammingRadiusNeighborsTransformer(radius=1),
    ...     DBSCAN(eps=1, min_samples=2, metric="precomputed"),
    ... )
    >>> pipe.fit_predict(codes)
    array([0, 0, 1, 1])
    """

    _parameter_constraints: dict = {
        "mode": [StrOptions({"distance", "connectivity"})],
        "radius": HammingNeighborsBase._parameter_constraints["radius"],
        **_CONSTRAINTS,
    }

    def __init__(
        self,
        *,
        mode="distance",
        radius=1.0,
        algorithm="auto",
        leaf_size=30,
        metric="bitcount",
        p=2,
        metric_params=None,
        n_jobs=None,
        packed=False,
        n_bits=None,
        n_substrings=None,
    ):
        self.mode = mode
        self.radius = radius
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.metric = metric
        self.p = p
        self.metric_params = metric_params
        self.n_jobs = n_jobs
        self.packed = packed
        self.n_bits = n_bits
        self.n_substrings = n_substrings

    def transform(self, X):
        """The radius graph of the codes ``X`` against the fitted codes.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Codes in the fitted format.

        Returns
        -------
        Xt : sparse matrix of shape (n_queries, n_samples_fit)
            CSR; the fitted codes within ``radius``, by increasing distance, ties by
            index.
        """
        check_is_fitted(self)
        return self.radius_neighbors_graph(X, mode=self.mode, sort_results=True)


for _cls in (HammingKNeighborsTransformer, HammingRadiusNeighborsTransformer):
    _cls.__doc__ = _cls.__doc__.replace("{shared}", _SHARED_PARAMETERS).replace(
        "{attributes}", _ATTRIBUTES
    )
del _cls
