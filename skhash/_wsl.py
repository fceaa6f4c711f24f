"""WSLHasher: linear hash functions learned with the W-shape loss and NLopt's MMA."""

import warnings
from numbers import Integral, Real

import nlopt
import numpy as np
import scipy.sparse as sp
from scipy import linalg
from sklearn.base import _fit_context
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from threadpoolctl import threadpool_limits

from ._base import BaseHasher, rollback_on_error
from ._baselines import _centred, _LinearHasher, _validate_fit_data

__all__ = ["WSLHasher"]

# Rows of a dense similarity block built at a time when labels give no low-rank form:
# bounds the working memory to about 32 MB whatever the number of samples.
_BLOCK_ENTRIES = 1 << 22

# Relative width of the band beyond a sample's k-th nearest distance over which
# further neighbours fade out of the affinity graph (see _knn_affinity).
_FADE_BAND = 1e-3

# Above this many samples a fit is "large": with graph="auto" the k-NN graph is searched
# within k-means cells instead of exhaustively, and the loss reads a float32 copy of the
# centred data.
_LARGE_N = 20_000

# Approximate k-NN graph: each sample joins the cells of its _CELL_SPREAD nearest
# centres; k-means is fitted on _CELL_FIT_SAMPLES samples per cell for _CELL_ITER
# iterations at most.
_CELL_SPREAD = 3
_CELL_FIT_SAMPLES = 64
_CELL_ITER = 10

# Rows of the float32 data read at once by a large fit's loss: 512 KB at 256 features.
_LOSS_BLOCK = 512

# A bit's Lagrangian must fall by more than this fraction of its magnitude for a new
# function to be accepted: far above the round-off of the sums, far below a real gain.
_ACCEPT_RTOL = 1e-9


def _distances(Xc, rows, cols):
    """``‖x_i − x_j‖`` for i in ``rows`` (n_rows,) and j in ``cols`` (n_rows, ...).

    From the differences, in row chunks of about ``_BLOCK_ENTRIES`` values: one
    chunk's differences are the only temporary the size of the data.
    """
    cols = np.asarray(cols)
    out = np.empty(cols.shape)
    per_row = max(1, cols[0].size) * Xc.shape[1]
    step = max(1, _BLOCK_ENTRIES // per_row)
    for start in range(0, len(rows), step):
        chunk = cols[start : start + step]
        own = Xc[rows[start : start + step]].reshape(
            chunk.shape[:1] + (1,) * (chunk.ndim - 1) + (-1,)
        )
        diff = own - Xc[chunk]
        out[start : start + step] = np.sqrt(np.einsum("...j,...j->...", diff, diff))
    return out


def _exact_candidates(Xc, n_candidates, rows=None):
    """Each sample's ``n_candidates`` nearest other samples, by an exhaustive search.

    ``rows``: only these samples' candidates (all samples are searched).
    """
    search = NearestNeighbors(n_neighbors=n_candidates, algorithm="brute").fit(Xc)
    if rows is None:
        return search.kneighbors(return_distance=False)
    # A query that is in the fitted data finds itself (or a duplicate of itself)
    # among its n_candidates + 1 nearest: drop it, or the last one if not listed.
    found = search.kneighbors(Xc[rows], n_candidates + 1, return_distance=False)
    is_self = found == np.asarray(rows)[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    return found[~is_self].reshape(len(rows), n_candidates)


def _cell_candidates(Xc, n_candidates, rng, X32=None):
    """Each sample's ``n_candidates`` nearest other samples among those of nearby cells.

    The samples are partitioned by k-means into about sqrt(n) cells (fitted on a
    sample); every sample belongs to the cells of its ``_CELL_SPREAD`` nearest
    centres, and is searched for among the members of its own (nearest) cell. A
    neighbour is missed only when the query's cell is not among its nearest centres.
    Rows with too few candidates get an exhaustive search. ``X32``: Xc in float32, if
    the caller has it.
    """
    n = Xc.shape[0]
    n_cells = max(1, int(np.sqrt(n)))
    spread = min(_CELL_SPREAD, n_cells)
    X32 = np.asarray(Xc if X32 is None else X32, dtype=np.float32)
    fit_rows = rng.choice(n, size=min(n, _CELL_FIT_SAMPLES * n_cells), replace=False)
    seed = rng.randint(np.iinfo(np.int32).max)
    kmeans = KMeans(n_cells, n_init=1, max_iter=_CELL_ITER, random_state=seed)
    # k-means in float64: scikit-learn's k-means++ start upcasts float32 slowly, chunk by
    # chunk. Fewer distinct points than cells (duplicates) only leaves cells empty.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        kmeans.fit(Xc[np.sort(fit_rows)])
    centres = kmeans.cluster_centers_.astype(np.float32)
    # The spread nearest centres of every sample, nearest first.
    centre_sq = np.einsum("ij,ij->i", centres, centres)
    nearest = np.empty((n, spread), dtype=np.intp)
    step = max(1, _BLOCK_ENTRIES // n_cells)
    for start in range(0, n, step):
        d2 = centre_sq - 2.0 * (X32[start : start + step] @ centres.T)
        part = np.argpartition(d2, spread - 1, axis=1)[:, :spread]
        order = np.argsort(np.take_along_axis(d2, part, axis=1), axis=1, kind="stable")
        nearest[start : start + step] = np.take_along_axis(part, order, axis=1)
    home = nearest[:, 0]
    by_home = np.argsort(home, kind="stable")
    home_bounds = np.searchsorted(home[by_home], np.arange(n_cells + 1))
    members = np.repeat(np.arange(n), spread)
    cell_of = nearest.ravel()
    by_cell = np.argsort(cell_of, kind="stable")
    members = members[by_cell]
    cell_bounds = np.searchsorted(cell_of[by_cell], np.arange(n_cells + 1))
    sq = np.einsum("ij,ij->i", X32, X32)
    cand = np.full((n, n_candidates), -1, dtype=np.intp)
    position = np.empty(n, dtype=np.intp)
    for c in range(n_cells):
        queries = by_home[home_bounds[c] : home_bounds[c + 1]]
        pool = members[cell_bounds[c] : cell_bounds[c + 1]]
        if len(queries) == 0 or len(pool) <= n_candidates:
            continue
        # Every query is a member of its own cell: its own column is excluded.
        position[pool] = np.arange(len(pool))
        pool_X, pool_sq = X32[pool], sq[pool]
        step = max(1, _BLOCK_ENTRIES // len(pool))
        for start in range(0, len(queries), step):
            q = queries[start : start + step]
            d2 = pool_sq - 2.0 * (X32[q] @ pool_X.T)
            d2[np.arange(len(q)), position[q]] = np.inf
            part = np.argpartition(d2, n_candidates - 1, axis=1)[:, :n_candidates]
            order = np.argsort(np.take_along_axis(d2, part, axis=1), axis=1, kind="stable")
            cand[q] = pool[np.take_along_axis(part, order, axis=1)]
    short = np.flatnonzero((cand < 0).any(axis=1))
    if len(short):
        cand[short] = _exact_candidates(Xc, n_candidates, short)
    return cand


def _knn_affinity(Xc, n_neighbors, approximate=False, rng=None, X32=None):
    """Symmetric sparse k-NN affinity with Gaussian weights exp(-d² / σ²), ties included.

    A sample is joined to its k nearest neighbours and to every sample tied with the
    k-th; samples up to ``_FADE_BAND`` (relative) beyond the k-th distance enter with
    a weight falling linearly to 0 across that band. The weights are then continuous
    functions of the data: a round-off-level change of a distance, or of which of two
    tied samples a search lists first, changes them by as little. σ is the weighted
    mean distance along the edges; the graph is symmetrised with the element-wise
    maximum (an edge exists when either end lists the other).

    ``approximate``: the candidates come from k-means cells (``_cell_candidates``)
    instead of an exhaustive search, so the graph may miss a few true neighbours;
    the rule above is applied to the candidates found (``X32``: Xc in float32, for
    their search).
    """
    n = Xc.shape[0]
    k = min(n_neighbors, n - 1)
    if k < 1:
        return sp.csr_matrix((n, n))
    # Candidates from a fast search, ranked again by distances computed from the
    # differences: the search's ‖x‖² + ‖y‖² − 2xᵀy loses digits to cancellation.
    n_candidates = min(n - 1, 2 * k)
    if approximate:
        cand = _cell_candidates(Xc, n_candidates, check_random_state(rng), X32)
    else:
        cand = _exact_candidates(Xc, n_candidates)
    dist = _distances(Xc, np.arange(n), cand)
    kth = np.sort(dist, axis=1)[:, k - 1]
    outer = kth * (1.0 + _FADE_BAND)
    rows, cols = np.nonzero(dist <= outer[:, None])
    rows, cols, dist_kept = rows, cand[rows, cols], dist[rows, cols]
    # A row whose every candidate lies within the band may have more beyond them: all
    # its distances are then computed.
    crowded = np.flatnonzero(dist.max(axis=1) <= outer) if n_candidates < n - 1 else []
    if len(crowded):
        keep = ~np.isin(rows, crowded)
        parts = [(rows[keep], cols[keep], dist_kept[keep])]
        for i in crowded:
            others = np.delete(np.arange(n), i)
            row_dist = _distances(Xc, np.full(n - 1, i), others)
            near = row_dist <= outer[i]
            parts.append((np.full(near.sum(), i), others[near], row_dist[near]))
        rows, cols, dist_kept = (np.concatenate(p) for p in zip(*parts, strict=True))
    width = _FADE_BAND * kth[rows]
    fade = np.ones_like(dist_kept)
    wide = width > 0
    fade[wide] = np.clip((outer[rows][wide] - dist_kept[wide]) / width[wide], 0.0, 1.0)
    sigma = np.average(dist_kept, weights=fade) if fade.sum() > 0 else 0.0
    gauss = np.exp(-((dist_kept / sigma) ** 2)) if sigma > 0 else np.ones_like(dist_kept)
    A = sp.csr_matrix((gauss * fade, (rows, cols)), shape=(n, n))
    A.eliminate_zeros()
    return A.maximum(A.T).tocsr()


def _row_blocks(Xc):
    """Row slices of about ``_BLOCK_ENTRIES`` values of Xc."""
    step = max(1, _BLOCK_ENTRIES // Xc.shape[1])
    return [slice(start, start + step) for start in range(0, Xc.shape[0], step)]


def _laplacian_form_sparse(Xc, S):
    """``Xcᵀ (D − S) Xc`` for a sparse symmetric affinity S."""
    S = sp.csr_matrix(S)
    deg = np.asarray(S.sum(axis=1)).ravel()
    if Xc.shape[0] <= _LARGE_N:
        return (Xc.T * deg) @ Xc - Xc.T @ np.asarray(S @ Xc)
    # Large data: by row blocks, without temporaries of the data's size.
    form = np.zeros((Xc.shape[1], Xc.shape[1]))
    for rows in _row_blocks(Xc):
        form += Xc[rows].T @ (deg[rows, None] * Xc[rows] - np.asarray(S[rows] @ Xc))
    return (form + form.T) / 2


def _laplacian_form_labels(Xc, supervision):
    """``Xcᵀ (D − S) Xc`` for label similarity, never building an n x n matrix.

    With single labels (or cosine similarity) S = Ŷ Ŷᵀ for a sparse indicator Ŷ
    (rows normalised for cosine), so ``Xcᵀ S Xc = (Xcᵀ Ŷ)(Ŷᵀ Xc)`` and the degrees are
    ``Ŷ (Ŷᵀ 1)``. Otherwise (shared-label or Jaccard similarity of multi-label data)
    S is built in row blocks of bounded size.
    """
    Y = supervision.labels
    if not supervision.multilabel or supervision.kind == "cosine":
        if supervision.kind == "cosine":
            norms = np.sqrt(np.asarray(Y.multiply(Y).sum(axis=1)).ravel())
            norms[norms == 0] = 1.0
            Y = sp.diags(1.0 / norms) @ Y
        XY = np.asarray(Y.T @ Xc).T
        deg = np.asarray(Y @ np.asarray(Y.sum(axis=0)).ravel()).ravel()
        if Xc.shape[0] <= _LARGE_N:
            return (Xc.T * deg) @ Xc - XY @ XY.T
        # Large data: the degree-weighted Gram matrix by row blocks.
        weighted = sum(Xc[rows].T @ (deg[rows, None] * Xc[rows]) for rows in _row_blocks(Xc))
        return weighted - XY @ XY.T
    n, d = Xc.shape
    step = max(1, _BLOCK_ENTRIES // n)
    cross = np.zeros((d, d))
    deg = np.zeros(n)
    for start in range(0, n, step):
        rows = np.arange(start, min(start + step, n))
        S, _ = supervision.block(rows, np.arange(n))
        deg[rows] = S.sum(axis=1)
        cross += Xc[rows].T @ (S @ Xc)
    return (Xc.T * deg) @ Xc - cross


def _unit_rms(W, G):
    """Scale columns of W so the projections ``Xc W`` have unit root mean square."""
    rms = np.sqrt(np.maximum(np.einsum("ik,ij,jk->k", W, G, W), 0.0))
    rms[rms == 0] = 1.0
    return W / rms


class WSLHasher(_LinearHasher):
    """W-shape-loss hashing: linear hash functions learned without pseudo-labels.

    Learns ``f_k(x) = w_kᵀ(x − x̄)``, ``k = 1..K``, and hashes with
    ``sign(f_k(x))`` (Zheng and Huang, 2018). Each bit minimises its Lagrangian

        L(f_k) + μ R(f_k) + ν O(f_k, C_k)

    - W-shape quantization loss ``L(f) = mean_i ln((f(x_i)² − 1)² + ε)``, two equal
      minima at ±1, so a value is pulled to the nearer code without a pseudo-label;
    - measurement consistency ``R(f) ∝ f (D − S) fᵀ = ½ Σ_ij S_ij (f_i − f_j)²``, the
      Laplacian form on an affinity S: a sparse k-NN Gaussian graph on X when
      unsupervised, label (or pair) similarity when supervised;
    - orthogonality ``O(f_k, C_k) = Σ_{l≠k} (f_k · f_l)² + (f_k · 1)²``: bit
      decorrelation and bit balance as one condition;

    one bit at a time with NLopt's MMA, in rounds, keeping a bit's new function only
    when the paper's acceptance test (Eq. 12) holds.

    Parameters
    ----------
    n_bits : int, default=32
        Code length K; at most ``n_features`` (a linear method has at most that many
        uncorrelated projections).
    mu : float or "auto", default="auto"
        Weight μ of the measurement-consistency term, on the normalised scale
        described in Notes (the paper's 0.05 weighs its unnormalised sums).
        ``"auto"``: 0.2 for an unsupervised fit, 3.0 for a supervised one (see
        Notes). The value used is ``mu_``.
    nu : float or "auto", default="auto"
        Lagrange multiplier ν of the orthogonality term. ``"auto"``: 0.6 (the
        paper's value) for an unsupervised fit, 0.2 for a supervised one. The value
        used is ``nu_``.
    supervised : "auto" or bool, default="auto"
        Whether ``y`` (or ``pairs``) builds the affinity. ``"auto"``: supervised when
        ``y`` or ``pairs`` is given. ``False``: always the unsupervised k-NN graph; a
        given ``y`` is then only length-checked, so ``GridSearchCV`` can tune an
        unsupervised WSL with labels used for scoring only. ``True``: labels or pairs
        are required.
    similarity : {"binary", "jaccard", "cosine"}, default="binary"
        Label similarity for supervised fits: share-a-label, or the continuous
        Jaccard or cosine similarity of multi-label indicator rows.
    n_neighbors : int, default=10
        Neighbours per sample in the unsupervised affinity graph.
    graph : {"auto", "exact", "approximate"}, default="auto"
        How the unsupervised graph's neighbours are searched. ``"exact"``: an
        exhaustive search, ``O(n_samples²)``. ``"approximate"``: within k-means
        cells of about ``sqrt(n_samples)`` samples, ``O(n_samples^1.5)``, which may
        miss a few true neighbours (see Notes). ``"auto"``: exact up to 20,000
        samples, approximate above.
    init : {"lpp", "pca", "random"}, default="lpp"
        Initial directions, scaled to unit root-mean-square projections.
        ``"lpp"`` (the paper's advice): the directions minimising the consistency
        term against the ridge-regularised variance, i.e. the smallest generalised
        eigenvectors of ``Xcᵀ L Xc`` against ``Xcᵀ Xc / n + ridge`` (locality
        preserving projections). ``"pca"``: the top ``n_bits`` principal directions
        mixed by a random rotation. ``"random"``: Gaussian directions.
    init_ridge : float, default=0.1
        Ridge added to the covariance in the ``"lpp"`` initialisation, relative to
        the mean variance of the data; keeps directions of tiny variance (constant
        pixels, rare features) from being chosen.
    epsilon : float, default=0.01
        ε in the loss ``ln((f² − 1)² + ε)``; the two wells have depth ``ln ε``.
    gradient : {"exact", "surrogate"}, default="exact"
        Gradient of the loss given to MMA: the exact gradient of the ε-smoothed
        W-shape loss, ``4f(f² − 1) / ((f² − 1)² + ε)``, or the paper's surrogate
        ``4f(f² − 1)`` (the gradient of ``(f² − 1)²``).
    orthogonality : {"correlation", "covariance"}, default="correlation"
        How ``f_k · f_l`` is measured in O: the correlation of the two bits'
        outputs (scale-free), or their mean product, the paper's form divided by
        ``n``. Both vanish for the same functions; see Notes.
    max_rounds : int, default=5
        Maximum number of rounds over all bits.
    max_eval : int or "auto", default="auto"
        NLopt's maximum number of objective evaluations per bit and round.
        ``"auto"``: 10 for an unsupervised fit, 50 for a supervised one (see Notes).
        The value used is ``max_eval_``.
    move_limit : float or "auto", default="auto"
        Half-width of the box in which MMA searches for a bit's new ``w``, relative
        to the largest ``|w_j|`` of its current one (MMA's move limits, see Notes).
        ``"auto"``: 0.1 for an unsupervised fit, 0.5 for a supervised one. The value
        used is ``move_limit_``.
    ftol_rel, xtol_rel : float, default=1e-4
        NLopt's relative tolerances on the objective and on the parameters;
        ``ftol_rel`` also ends the fit when a round improves the mean Lagrangian by
        less than that fraction.
    random_state : int, RandomState instance or None, default=None
        Seed of the approximate graph's k-means cells, of the ``"pca"`` rotation and
        the ``"random"`` directions, and of the directions completing a start on
        rank-deficient data. With the exact graph, the default ``"lpp"`` start and the
        optimisation are deterministic.
    verbose : int, default=0
        Print one line per round: the three terms and the accepted bits.

    Attributes
    ----------
    coef_ : ndarray of shape (n_bits, n_features)
        ``w_k`` for each bit.
    intercept_ : ndarray of shape (n_bits,)
        ``−w_kᵀ x̄``, so that ``f(x) = coef_ @ x + intercept_``.
    mean_ : ndarray of shape (n_features,)
        Mean of the training data (the centre of the learned functions).
    n_iter_ : int
        Number of rounds run.
    history_ : list of dict
        One record for the initialisation, then one per round: ``"loss"``,
        ``"consistency"`` and ``"orthogonality"`` (each the mean over bits of the
        term), ``"lagrangian"`` (mean over bits of the per-bit Lagrangian),
        ``"n_accepted"`` (bits whose new function passed the acceptance test) and
        ``"n_evals"`` (objective evaluations in the round).
    supervised_ : bool
        Whether the fit used labels or pairs.
    mu_, nu_ : float
        The consistency weight and orthogonality multiplier used (``"auto"``
        resolved).
    max_eval_ : int
        The evaluation budget per bit and round used (``"auto"`` resolved).
    move_limit_ : float
        The relative move limit used (``"auto"`` resolved).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    ITQHasher : PCA and a learned rotation, the paper's main baseline.
    PCAHasher : Sign of the top principal projections.
    LSHHasher : Random hyperplanes.

    Notes
    -----
    Follows Zheng and Huang (AAAI 2018), Eqs. 5-12 and Algorithm 1: per-bit
    Lagrangian, MMA (Svanberg, 2002) started from the bit's current function, and the
    acceptance test ``ΔL > 0 and ΔL > ΔO``, with ``ΔL`` the decrease of the bit's
    Lagrangian and ``ΔO`` the increase of its orthogonality term, both against the
    other bits' current functions; with ν ≤ 1 the total Lagrangian (``history_``)
    then never increases. Here ``ΔL`` must exceed a relative 1e-9 of the bit's
    Lagrangian, so that a decrease at the level of round-off, which another BLAS
    kernel would not see, changes nothing. The fit ends after a round that accepts no bit (the
    paper's rule), a round that lowers the mean Lagrangian by less than ``ftol_rel``
    relatively, or ``max_rounds``.

    Choices made where the paper is silent, or where it did not work as written:

    - Scale. The paper sums over samples and pairs, so μ and ν would change meaning
      with the data size and the affinity. Here the loss is a mean over samples, and
      ``R(f) = f L fᵀ · tr(Xcᵀ Xc / n) / tr(Xcᵀ L Xc)``: the similar pairs' spread
      along f relative to their spread in the input space, about 1 for a direction
      no more consistent than average, whatever the affinity's weights or density.
    - Orthogonality as correlations (default). ``(f_k · f_l)²`` grows with the scale
      of f, so as a penalty it also pulls the functions towards 0, against the loss;
      measured as squared correlations it only turns them. Both are 0 for exactly the
      same (uncorrelated) functions, so the constrained problem (the paper's Eq. 9)
      is unchanged. With the mean-product form and larger μ, bits can collapse onto
      near-duplicates (on the toy set both bits became the same line).
    - No bias, as in the paper (``f = wᵀx``), on centred data: every bit has mean 0
      over the training set, so the balance part ``(f_k · 1)²`` of O vanishes. A free
      bias was tried and rejected: the W-loss then prefers constant bits (every point
      in one well), which a soft balance penalty does not prevent.
    - Defaults μ = 0.2, ε = 0.01, ``gradient="exact"`` and ``init="lpp"``: the best
      leave-one-out mAP on the *training* part (database) of digits and MNIST-5k
      (never the queries; ``benchmarks/bench_wsl.py --select``) among settings whose
      codes stay decorrelated. The exact gradient matters most: the surrogate is the
      gradient of the quartic ``(f² − 1)²``, dominated by the points farthest from
      ±1, while the log loss's own gradient is robust to them.
    - Decorrelated real-valued bits, each with its own free scale, amount to
      whitening the projected data: a weak direction weighs as much in the Hamming
      distance as a strong one. This is why WSL stays below ITQ (ITQ keeps the PCA
      variances) on MNIST-5k and with as many bits as features, while clearly above
      LSH and PCA hashing; on digits at 16 and 32 bits it is ahead of ITQ (the user
      guide has the figures). The paper's gain over ITQ (CIFAR-10 GIST) was not
      reproduced on MNIST-5k. Relaxing decorrelation (``orthogonality="covariance",
      mu=1.5, epsilon=0.1, init="pca"``) lifts mAP, but by letting bits repeat
      strong directions: on the toy set both bits become the same line.
    - Supervised fits: with c classes a linear function has at most c − 1
      discriminative directions, and strictly decorrelated bits cannot all use them.
      A weaker decorrelation and a stronger consistency (``mu=3, nu=0.2``, chosen on
      a validation split of the digits database) lets bits share them, so
      ``mu="auto"`` and ``nu="auto"`` switch to these values when the fit is
      supervised.
    - Affinity: k-NN graph with Gaussian weights, bandwidth the mean k-NN distance,
      symmetrised by element-wise maximum. Supervised: ``S_ij = s_ij`` from labels
      or pairs; dissimilar pairs (s = 0) add nothing to the Laplacian, as in the
      paper. Ties: data with repeated values (pixels) often have several samples at
      exactly the k-th distance, and which one a search lists depends on the
      round-off of its distance computation. Every sample tied with the k-th enters,
      and samples up to a relative 1e-3 beyond it enter with a weight falling
      linearly to 0, so the graph is a continuous function of the data and the same
      on every machine, whatever the row order. Distances are computed from the
      differences of the centred samples.
    - Rounds: ``max_rounds=5``, not the paper's run until a round accepts no bit.
      The Lagrangian keeps falling slowly, but retrieval does not follow.
    - ε > 0 keeps the loss finite at ±1 (the paper's ``ln((f² − 1)²)`` is −∞ there).
    - Move limits. MMA is defined on a box, its asymptotes starting at half the box's
      width. Each bit's search is bounded to ``w ± move_limit · max_j |w_j|`` around
      its current function: without bounds NLopt places the asymptotes one unit from
      ``w`` whatever the data's scale, and its steps then jump between the loss's
      many wells, so that round-off-level differences (BLAS kernels) gave different
      codes. The best point it evaluated is the candidate (the point it returns,
      unless NLopt stops on a round-off error).
    - Unsupervised ``max_eval=10``, ``move_limit=0.1``: the best leave-one-out mAP
      on the digits database at 16 and 32 bits (the protocol of the other defaults)
      among the budgets and limits tried, and among the most stable under small
      perturbations of the data. Longer searches drive single samples into the
      narrow wells of the loss, which helps neither retrieval nor reproducibility;
      shorter ones are more stable still but stay near the starting directions.
      Supervised fits must travel far from their start towards the few
      discriminative directions, and get ``max_eval=50``, ``move_limit=0.5``.
    - Stability: the unsupervised codes do not depend on the BLAS kernel (OpenBLAS
      core type) or thread settings. A small perturbation of the data still moves
      mAP a little: each bit's nonconvex search starts from the bits learned before
      it, so small differences grow from bit to bit.

    - Approximate graph (``graph="approximate"``, or ``"auto"`` above 20,000
      samples). k-means (fitted on 64 samples per cell, 10 iterations at most) cuts
      the data into about ``sqrt(n_samples)`` cells; each sample is a member of the
      cells of its 3 nearest centres and looks for its candidates among the members
      of its nearest cell, so a true neighbour is missed only when the sample's cell
      is not among the neighbour's 3 nearest. The candidates' distances, the ties and
      the fade band are then as for the exact graph (the user guide has how many
      edges it keeps). The cells depend on ``random_state``.

    Cost: ``Xcᵀ L Xc`` and ``Xcᵀ Xc`` are computed once (the affinity is sparse, or
    low-rank for single labels, never n x n): ``O(n_samples · n_features²)``. The
    unsupervised graph costs ``O(n_samples² · n_features)`` exact and
    ``O(n_samples^1.5 · n_features)`` approximate (cells of about sqrt(n) samples,
    each searched against about 3 cells' members). An objective evaluation is
    ``O(n_samples · n_features)``: the loss passes over the data, the other two
    terms are ``O(n_features²)``; the acceptance test and ``history_`` reuse the
    losses already evaluated. Evaluations dominate large fits, so above 20,000
    samples the loss reads a float32 copy of the centred data in blocks that stay
    in cache between its two products (sums in float64); below, it is computed in
    double precision, which keeps the codes the same on every BLAS kernel. The
    number of evaluations does not grow with n_samples, so a fit grows about
    linearly with it beyond the graph. The whole fit runs on one BLAS and OpenMP
    thread, so its codes do not depend on the machine's thread settings.

    Read more in the User Guide, :doc:`/user_guide/wsl`, which has the figures behind
    these choices.

    References
    ----------
    .. [1] F. Zheng and H. Huang, "Direct hashing without pseudo-labels", AAAI 2018.
    .. [2] K. Svanberg, "A class of globally convergent optimization methods based
       on conservative convex separable approximations", SIAM J. Optim. 12(2), 2002.
    .. [3] X. He and P. Niyogi, "Locality preserving projections", NIPS 2003.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import WSLHasher
    >>> X, y = load_digits(return_X_y=True)
    >>> wsl = WSLHasher(n_bits=8, max_rounds=2, random_state=0).fit(X[:300])
    >>> wsl.transform(X[:3]).shape
    (3, 8)
    >>> sorted(wsl.history_[0])
    ['consistency', 'lagrangian', 'loss', 'n_accepted', 'n_evals', 'orthogonality']
    """

    _parameter_constraints: dict = {
        **BaseHasher._parameter_constraints,
        "mu": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "nu": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "supervised": [StrOptions({"auto"}), "boolean"],
        "similarity": [StrOptions({"binary", "jaccard", "cosine"})],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "graph": [StrOptions({"auto", "exact", "approximate"})],
        "init": [StrOptions({"lpp", "pca", "random"})],
        "init_ridge": [Interval(Real, 0, None, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "gradient": [StrOptions({"exact", "surrogate"})],
        "orthogonality": [StrOptions({"correlation", "covariance"})],
        "max_rounds": [Interval(Integral, 1, None, closed="left")],
        "max_eval": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "move_limit": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "ftol_rel": [Interval(Real, 0, None, closed="left")],
        "xtol_rel": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_bits=32,
        *,
        mu="auto",
        nu="auto",
        supervised="auto",
        similarity="binary",
        n_neighbors=10,
        graph="auto",
        init="lpp",
        init_ridge=0.1,
        epsilon=0.01,
        gradient="exact",
        orthogonality="correlation",
        max_rounds=5,
        max_eval="auto",
        move_limit="auto",
        ftol_rel=1e-4,
        xtol_rel=1e-4,
        random_state=None,
        verbose=0,
    ):
        super().__init__(n_bits=n_bits, random_state=random_state, verbose=verbose)
        self.mu = mu
        self.nu = nu
        self.supervised = supervised
        self.similarity = similarity
        self.n_neighbors = n_neighbors
        self.graph = graph
        self.init = init
        self.init_ridge = init_ridge
        self.epsilon = epsilon
        self.gradient = gradient
        self.orthogonality = orthogonality
        self.max_rounds = max_rounds
        self.max_eval = max_eval
        self.move_limit = move_limit
        self.ftol_rel = ftol_rel
        self.xtol_rel = xtol_rel

    def _requires_supervision(self):
        return self.supervised is True

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, pairs=None):
        """Learn the hash functions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_labels), default=None
            Class labels or a multi-label indicator matrix. Used to build the affinity
            when ``supervised`` is True, or "auto" (the default); otherwise only its
            length is checked.
        pairs : array-like of shape (n_pairs, 3) or sparse matrix of shape \
(n_samples, n_samples), default=None
            Pairwise supervision instead of labels: rows ``(i, j, s)``, s in [0, 1],
            or a sparse similarity matrix whose stored entries are the known pairs.

        Returns
        -------
        self : WSLHasher
            The fitted estimator.
        """
        # One thread for every BLAS and OpenMP call of the fit. The objective's products
        # are small and memory-bound, so threads only contend. And the per-bit searches
        # carry round-off differences from bit to bit: one thread sums the Gram and
        # Laplacian forms in one order whatever the machine's thread settings.
        with rollback_on_error(self), threadpool_limits(limits=1):
            X = _validate_fit_data(self, X, y if self.supervised is False else None)
            n, d = X.shape
            self._check_n_bits(
                d,
                f"a linear method has at most n_features={d} uncorrelated projections",
            )
            use_labels = self._uses_supervision(y, pairs)
            self.mu_ = (3.0 if use_labels else 0.2) if self.mu == "auto" else float(self.mu)
            self.nu_ = (0.2 if use_labels else 0.6) if self.nu == "auto" else float(self.nu)
            auto_eval, auto_limit = (50, 0.5) if use_labels else (10, 0.1)
            self.max_eval_ = auto_eval if self.max_eval == "auto" else int(self.max_eval)
            self.move_limit_ = auto_limit if self.move_limit == "auto" else float(self.move_limit)
            rng = check_random_state(self.random_state)
            self.mean_, Xc = _centred(self, X)
            with np.errstate(over="ignore", invalid="ignore"):
                gram = Xc.T @ Xc / n
                scale = np.trace(gram)
            self._check_no_overflow(X, "the Gram matrix Xᵀ X / n and its trace", gram, scale)
            if use_labels:
                supervision = self._check_supervision(y, pairs, n, kind=self.similarity)
            # Large fits: one float32 copy of the centred data, for the graph's search
            # and the loss (see _BitProblem).
            X32 = Xc.astype(np.float32) if n > _LARGE_N else None
            with np.errstate(over="ignore", invalid="ignore"):
                if not use_labels:
                    approximate = self.graph == "approximate" or (
                        self.graph == "auto" and n > _LARGE_N
                    )
                    affinity = _knn_affinity(Xc, self.n_neighbors, approximate, rng, X32)
                    form = _laplacian_form_sparse(Xc, affinity)
                elif supervision.from_labels:
                    form = _laplacian_form_labels(Xc, supervision)
                else:
                    form = _laplacian_form_sparse(Xc, supervision.pairs)
                M = self._consistency_matrix(form, gram)
            self._check_no_overflow(X, "the consistency term Xᵀ L X", form, M)
            W0 = self._initial_directions(gram, M, rng)
            W, history = self._optimise(Xc, X32, gram, M, W0)
            self.supervised_ = use_labels
            self.coef_ = W.T
            self.intercept_ = -self.coef_ @ self.mean_
            self.history_ = history
            self.n_iter_ = len(history) - 1
            self._set_n_features_out()
        return self

    @staticmethod
    def _consistency_matrix(form, gram):
        """M such that R(w) = wᵀ M w = f L fᵀ · tr(G) / tr(Xcᵀ L Xc).

        ``form = Xcᵀ L Xc`` gives the paper's ``f L fᵀ = ½ Σ S_ij (f_i − f_j)²``. The
        factor makes R a ratio: the similar pairs' squared differences along f
        (unit RMS) over their mean squared distance in the input space (per unit of
        variance). R ≈ 1 for a direction no more consistent than average, whatever the
        affinity's weights, size or density.
        """
        if np.trace(form) <= 0:
            return np.zeros_like(form)
        return form * (np.trace(gram) / np.trace(form))

    def _uses_supervision(self, y, pairs):
        if self.supervised is False:
            if pairs is not None:
                raise ValueError(
                    "pairs were given but supervised=False; pass supervised='auto' or "
                    "True to learn from pairs."
                )
            return False
        if self.supervised is True:
            return True
        return y is not None or pairs is not None

    def _initial_directions(self, gram, M, rng):
        """Initial w_k as columns of a (n_features, n_bits) matrix, unit RMS."""
        d, K = gram.shape[0], self.n_bits
        evals, evecs = linalg.eigh(gram)
        keep = evals > max(evals.max(), 0.0) * 1e-10
        rank = int(keep.sum())
        if self.init == "random" or rank == 0:
            W = rng.standard_normal((d, K))
        elif self.init == "pca":
            top = evecs[:, ::-1][:, : min(K, rank)]
            Q, _ = linalg.qr(rng.standard_normal((top.shape[1], top.shape[1])))
            W = top @ Q
        else:
            # Smallest generalised eigenvectors of the consistency form against the
            # covariance, within the data's range (null-variance directions have zero
            # consistency and would win trivially).
            P = evecs[:, keep]
            ridge = self.init_ridge * evals[keep].mean()
            _, U = linalg.eigh(P.T @ M @ P, np.diag(evals[keep] + ridge))
            W = P @ U[:, : min(K, rank)]
        if W.shape[1] < K:
            # Fewer independent directions than bits (rank-deficient data): complete
            # with random mixtures of the range so that no bit is constant.
            extra = evecs[:, keep] @ rng.standard_normal((rank, K - W.shape[1]))
            W = np.hstack([W, extra])
        return _unit_rms(W, gram)

    def _optimise(self, Xc, X32, gram, M, W):
        """Rounds of per-bit MMA with the acceptance test; returns W and the history."""
        K = self.n_bits
        problem = _BitProblem(
            Xc, X32, gram, M, self.mu_, self.nu_, self.epsilon, self.gradient, self.orthogonality
        )
        W = W.copy()
        history = [problem.record(W, 0, 0)]
        for round_ in range(self.max_rounds):
            n_accepted = n_evals = 0
            for k in range(K):
                accepted, evals = self._update_bit(problem, W, k)
                n_accepted += accepted
                n_evals += evals
            history.append(problem.record(W, n_accepted, n_evals))
            if self.verbose:
                h = history[-1]
                print(
                    f"[WSLHasher] round {round_ + 1}: loss={h['loss']:.4f} "
                    f"consistency={h['consistency']:.4f} "
                    f"orthogonality={h['orthogonality']:.4f} "
                    f"accepted={n_accepted}/{K}"
                )
            previous, current = history[-2]["lagrangian"], history[-1]["lagrangian"]
            if n_accepted == 0 or previous - current <= self.ftol_rel * abs(previous):
                break
        return W, history

    def _update_bit(self, problem, W, k):
        """Minimise bit k's Lagrangian from its current w; apply Eq. 12 to W in place.

        Returns whether the new function was accepted and the evaluations used.
        """
        GWo = problem.others(W, k)
        best = {"value": np.inf, "w": None}

        def objective(w, grad):
            value = problem.evaluate(w, GWo, grad)
            if value < best["value"]:
                best["value"], best["w"] = value, w.copy()
            return value

        w0 = W[:, k].copy()
        opt = nlopt.opt(nlopt.LD_MMA, W.shape[0])
        opt.set_min_objective(objective)
        # MMA is made for box-bounded variables: its asymptotes start at half the box.
        # Unbounded, NLopt starts them one unit from w whatever the scale of w, and its
        # steps jump between the loss's many wells.
        reach = self.move_limit_ * np.abs(w0).max()
        if reach > 0:
            opt.set_lower_bounds(w0 - reach)
            opt.set_upper_bounds(w0 + reach)
        opt.set_maxeval(self.max_eval_)
        opt.set_ftol_rel(self.ftol_rel)
        opt.set_xtol_rel(self.xtol_rel)
        try:
            opt.optimize(w0)
        except nlopt.RoundoffLimited:
            # NLopt gave up on round-off; the best point it evaluated is still valid.
            pass
        n_evals = opt.get_numevals()
        if best["w"] is None:
            return False, n_evals
        old = problem.lagrangian(W[:, k], GWo)
        new = problem.lagrangian(best["w"], GWo)
        decrease, orth_growth = old[0] - new[0], new[3] - old[3]
        if decrease > _ACCEPT_RTOL * abs(old[0]) and decrease > orth_growth:
            W[:, k] = best["w"]
            return True, n_evals
        return False, n_evals


class _BitProblem:
    """The per-bit Lagrangian L(f) + μ R(f) + ν O(f, C) of a linear bit and its gradient.

    ``f = Xc w`` and ``G = Xcᵀ Xc / n``; ``R(w) = wᵀ M w``; ``O = Σ_l c_l²`` with
    ``c_l = mean(f f_l) = wᵀ G w_l`` ("covariance") or that divided by the two
    bits' RMS ("correlation"); ``mean(f) = 0`` as the data are centred. Only the loss
    touches the data: one evaluation costs two products with ``Xc``.
    """

    def __init__(self, Xc, X32, gram, M, mu, nu, epsilon, gradient, orthogonality):
        # Double precision up to _LARGE_N samples (X32 None): single-precision
        # products round differently with each BLAS kernel (~1e-7 relative), and the
        # bit-by-bit optimisation carries such differences into the codes. Above, the
        # loss reads the float32 copy X32 in blocks that stay in cache between its two
        # products: a quarter of the memory traffic of one evaluation, which then
        # dominates the fit.
        self.Xc, self.X32 = Xc, X32
        self.gram, self.M = gram, M
        self.mu, self.nu, self.eps = float(mu), float(nu), float(epsilon)
        self.exact = gradient == "exact"
        self.correlation = orthogonality == "correlation"
        # The loss of every w evaluated, so that the acceptance test and the history
        # do not pass over the data again for a function already evaluated.
        self._losses = {}

    def others(self, W, k):
        """``G w_l`` for every bit l ≠ k, divided by ``RMS(f_l)`` for correlations."""
        Wo = W[:, np.arange(W.shape[1]) != k]
        GWo = self.gram @ Wo
        if self.correlation:
            GWo = GWo / np.sqrt(np.maximum(np.einsum("ij,ij->j", Wo, GWo), 1e-300))
        return GWo

    def _loss_gradient(self, f):
        """Mean loss over the outputs f and the loss's derivative at each f_i."""
        B = f * f - 1.0
        Q = B * B + self.eps
        # Surrogate: the gradient of (f² − 1)², as in the paper; exact: that of
        # ln((f² − 1)² + ε), which divides it by (f² − 1)² + ε.
        g = 4.0 * f * B / self.Xc.shape[0]
        if self.exact:
            g /= Q
        return np.log(Q), g

    def _loss(self, w, gradient=False):
        """The mean loss of ``f = Xc w``, and its gradient in w if asked (else None)."""
        grad = None
        if self.X32 is None:
            logs, g = self._loss_gradient(self.Xc @ w)
            if gradient:
                grad = self.Xc.T @ g
            loss = np.mean(logs)
        else:
            w32 = w.astype(np.float32)
            total, acc = 0.0, np.zeros(len(w))
            for start in range(0, len(self.X32), _LOSS_BLOCK):
                block = self.X32[start : start + _LOSS_BLOCK]
                logs, g = self._loss_gradient((block @ w32).astype(np.float64))
                total += logs.sum()
                if gradient:
                    acc += block.T @ g.astype(np.float32)
            loss = total / len(self.X32)
            grad = acc if gradient else None
        self._losses[w.tobytes()] = loss
        return loss, grad

    def _constraint_terms(self, w, GWo):
        """Consistency, orthogonality, the correlations c, G w and var(f) of one bit."""
        c = w @ GWo
        Gw = var = None
        if self.correlation:
            Gw = self.gram @ w
            var = max(float(w @ Gw), 1e-300)
            c = c / np.sqrt(var)
        return w @ self.M @ w, c @ c, c, Gw, var

    def lagrangian(self, w, GWo):
        """(Lagrangian, loss, consistency, orthogonality) of one bit."""
        loss = self._losses.get(np.ascontiguousarray(w).tobytes())
        if loss is None:
            loss, _ = self._loss(np.ascontiguousarray(w))
        cons, orth, _, _, _ = self._constraint_terms(w, GWo)
        return loss + self.mu * cons + self.nu * orth, loss, cons, orth

    def evaluate(self, w, GWo, grad):
        """Lagrangian value; fills ``grad`` when it is not empty."""
        cons, orth, c, Gw, var = self._constraint_terms(w, GWo)
        loss, data_grad = self._loss(w, grad.size > 0)
        if grad.size:
            if self.correlation:
                # c_l = wᵀa_l / sqrt(wᵀGw): d c_l / dw = a_l / sqrt(var) − c_l Gw / var.
                grad_orth = (2.0 / np.sqrt(var)) * (GWo @ c) - (2.0 * orth / var) * Gw
            else:
                grad_orth = 2.0 * (GWo @ c)
            grad[:] = data_grad + (2.0 * self.mu) * (self.M @ w) + self.nu * grad_orth
        return loss + self.mu * cons + self.nu * orth

    def record(self, W, n_accepted, n_evals):
        """One ``history_`` entry: the three terms and the Lagrangian, means over bits."""
        K = W.shape[1]
        rows = [self.lagrangian(W[:, k], self.others(W, k)) for k in range(K)]
        lag, loss, cons, orth = np.mean(rows, axis=0)
        return {
            "loss": float(loss),
            "consistency": float(cons),
            "orthogonality": float(orth),
            "lagrangian": float(lag),
            "n_accepted": int(n_accepted),
            "n_evals": int(n_evals),
        }
