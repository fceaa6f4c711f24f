"""WSLHasher: linear hash functions learned with the W-shape loss and NLopt's MMA."""

from numbers import Integral, Real

import nlopt
import numpy as np
import scipy.sparse as sp
from scipy import linalg
from sklearn.base import _fit_context
from sklearn.neighbors import kneighbors_graph
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseHasher, rollback_on_error
from ._baselines import _LinearHasher, _validate_fit_data
from ._similarity import check_supervision

__all__ = ["WSLHasher"]

# Rows of a dense similarity block built at a time when labels give no low-rank form:
# bounds the working memory to about 32 MB whatever the number of samples.
_BLOCK_ENTRIES = 1 << 22


def _knn_affinity(Xc, n_neighbors):
    """Symmetric sparse k-NN affinity with Gaussian weights exp(-d² / σ²).

    σ is the mean distance from a sample to its k nearest neighbours; the graph is
    symmetrised with the element-wise maximum (an edge exists when either end lists
    the other among its neighbours).
    """
    n_neighbors = min(n_neighbors, Xc.shape[0] - 1)
    A = kneighbors_graph(Xc, n_neighbors, mode="distance", include_self=False)
    sigma = A.data.mean() if A.nnz else 0.0
    if sigma > 0:
        A.data = np.exp(-((A.data / sigma) ** 2))
    else:
        A.data = np.ones_like(A.data)
    return A.maximum(A.T).tocsr()


def _laplacian_form_sparse(Xc, S):
    """``Xcᵀ (D − S) Xc`` and ``Σ_{i≠j} S_ij`` for a sparse symmetric affinity S."""
    S = sp.csr_matrix(S)
    deg = np.asarray(S.sum(axis=1)).ravel()
    form = (Xc.T * deg) @ Xc - Xc.T @ np.asarray(S @ Xc)
    return form, float(deg.sum() - S.diagonal().sum())


def _laplacian_form_labels(Xc, supervision):
    """``Xcᵀ (D − S) Xc`` and ``Σ_{i≠j} S_ij`` for label similarity, never n x n.

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
        XY = np.asarray((Y.T @ Xc)).T
        deg = np.asarray(Y @ np.asarray(Y.sum(axis=0)).ravel()).ravel()
        self_sim = np.asarray(Y.multiply(Y).sum(axis=1)).ravel()
        return (Xc.T * deg) @ Xc - XY @ XY.T, float(deg.sum() - self_sim.sum())
    n, d = Xc.shape
    step = max(1, _BLOCK_ENTRIES // n)
    cross = np.zeros((d, d))
    deg = np.zeros(n)
    total = 0.0
    for start in range(0, n, step):
        rows = np.arange(start, min(start + step, n))
        S, _ = supervision.block(rows, np.arange(n))
        deg[rows] = S.sum(axis=1)
        total += deg[rows].sum() - S[np.arange(len(rows)), rows].sum()
        cross += Xc[rows].T @ (S @ Xc)
    return (Xc.T * deg) @ Xc - cross, float(total)


def _unit_rms(W, G):
    """Scale columns of W so the projections ``Xc W`` have unit root mean square."""
    rms = np.sqrt(np.maximum(np.einsum("ik,ij,jk->k", W, G, W), 0.0))
    rms[rms == 0] = 1.0
    return W / rms


class WSLHasher(_LinearHasher):
    """W-shape-loss hashing: linear hash functions learned without pseudo-labels.

    Learns ``f_k(x) = w_kᵀ(x − x̄) + b_k``, ``k = 1..K``, and hashes with
    ``sign(f_k(x))`` (Shao et al., 2018). Each bit minimises its Lagrangian

        L(f_k) + μ R(f_k) + ν O(f_k, C_k)

    - W-shape quantization loss ``L(f) = mean_i ln((f(x_i)² − 1)² + ε)``, two equal
      minima at ±1, minimised with the paper's surrogate gradient ``4f(f² − 1)``;
    - measurement consistency ``R(f) = Σ_ij S_ij (f_i − f_j)² / Σ_ij S_ij``, the
      Laplacian form ``f (D − S) fᵀ`` on an affinity S: a sparse k-NN Gaussian graph
      on X when unsupervised, label (or pair) similarity when supervised;
    - orthogonality ``O(f_k, C_k) = Σ_{l≠k} mean(f_k f_l)² + mean(f_k)²``: bit
      decorrelation and bit balance as one condition;

    one bit at a time with NLopt's MMA, in rounds, keeping a bit's new function only
    when the paper's acceptance test (Eq. 12) holds.

    Parameters
    ----------
    n_bits : int, default=32
        Code length K; at most ``n_features`` (a linear method has at most that many
        uncorrelated projections).
    mu : float, default=0.05
        Weight μ of the measurement-consistency term (paper: 0.05).
    nu : float, default=0.6
        Lagrange multiplier ν of the orthogonality term (paper: 0.6).
    supervised : "auto" or bool, default="auto"
        Whether ``y`` (or ``pairs``) builds the affinity. ``"auto"``: supervised when
        ``y`` or ``pairs`` is given. ``False``: always the unsupervised k-NN graph; a
        given ``y`` is then only length-checked, so ``GridSearchCV`` can tune an
        unsupervised WSL with labels used for scoring only. ``True``: labels or pairs
        are required.
    similarity : {"binary", "jaccard", "cosine"}, default="binary"
        Label similarity for supervised fits: share-a-label, or the continuous
        similarities of multi-label data (see :mod:`skhash._similarity`).
    n_neighbors : int, default=10
        Neighbours per sample in the unsupervised affinity graph.
    init : {"lpp", "pca", "random"}, default="lpp"
        Initial directions. ``"lpp"``: the ``n_bits`` directions minimising the
        consistency term relative to the (ridge-regularised) variance, i.e. the
        smallest generalised eigenvectors of ``Xcᵀ L Xc`` against
        ``Xcᵀ Xc + ridge``. ``"pca"``: the top ``n_bits`` principal directions mixed
        by a random rotation. ``"random"``: Gaussian directions. All are scaled to
        unit root-mean-square projections.
    init_ridge : float, default=0.1
        Ridge added to the covariance in the ``"lpp"`` initialisation, relative to
        the mean variance of the data; keeps directions of near-zero variance
        (constant pixels, rare features) from being chosen.
    epsilon : float, default=1e-6
        ε in the loss ``ln((f² − 1)² + ε)``, which keeps the loss finite at ±1.
    gradient : {"surrogate", "exact"}, default="surrogate"
        Gradient of the loss given to MMA: the paper's surrogate ``4f(f² − 1)``, or
        the exact gradient of the ε-smoothed W-shape loss.
    max_rounds : int, default=5
        Maximum number of rounds over all bits.
    max_eval : int, default=50
        NLopt's maximum number of objective evaluations per bit and round.
    ftol_rel, xtol_rel : float, default=1e-4
        NLopt's relative tolerances on the objective and on the parameters.
    random_state : int, RandomState instance or None, default=None
        Seed of the ``"pca"``/``"random"`` initialisations (and of the directions
        that complete a rank-deficient ``"lpp"`` start). The rest is deterministic.
    verbose : int, default=0
        Print one line per round (the three terms and the accepted bits).

    Attributes
    ----------
    coef_ : ndarray of shape (n_bits, n_features)
        ``w_k`` for each bit.
    intercept_ : ndarray of shape (n_bits,)
        ``b_k − w_kᵀ x̄``, so that ``f(x) = coef_ @ x + intercept_``.
    mean_ : ndarray of shape (n_features,)
        Mean of the training data (the centre of the learned functions).
    n_iter_ : int
        Number of rounds run.
    history_ : list of dict
        One record per round, index 0 being the initialisation: ``"loss"``,
        ``"consistency"`` and ``"orthogonality"`` (each the mean over bits of the
        term), ``"lagrangian"`` (mean over bits of the per-bit Lagrangian),
        ``"n_accepted"`` (bits whose new function passed the acceptance test) and
        ``"n_evals"`` (objective evaluations in the round).
    supervised_ : bool
        Whether the fit used labels or pairs.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    ITQHasher : PCA and a learned rotation, the paper's main baseline.
    LSHHasher : Random hyperplanes.

    Notes
    -----
    Follows Shao et al. (AAAI 2018), Eqs. 5-12 and Algorithm 1: per-bit Lagrangian,
    MMA (Svanberg, 2002) started from the bit's current function, the acceptance
    test ``ΔL > 0 and ΔL > ΔO`` with ``ΔL`` the decrease of the bit's Lagrangian and
    ``ΔO`` the increase of its orthogonality term, both computed against the other
    bits' current functions. The fit ends after a round that accepts no bit (the
    paper's rule) or that lowers the mean Lagrangian by less than ``ftol_rel``
    relatively (accepted changes too small to matter), or after ``max_rounds``.

    Choices made where the paper is silent:

    - Scaling: each term is a mean (loss over samples, consistency over weighted
      pairs, orthogonality as squared mean products), so μ and ν do not depend on the
      number of samples or the affinity's scale. Under this scaling the paper's μ =
      0.05 leaves the loss dominant; on pixel data (digits, MNIST) a larger μ (about
      1-10) gives better retrieval, see ``benchmarks/bench_wsl.py``.
    - Bias: the data are centred and each bit has a free bias ``b_k`` (start 0)
      optimised with ``w_k``; the balance part of O is then ``b_k²``.
    - Affinity: k-NN graph with Gaussian weights, bandwidth the mean k-NN distance,
      symmetrised by maximum. Supervised: ``S_ij = s_ij`` from labels or pairs; with
      pairs, dissimilar pairs (s = 0) add nothing to the Laplacian, as in the paper.
    - ε = 1e-6 in the loss (the paper's ln((f² − 1)²) is −∞ at ±1).
    - MMA is run without bounds; the best point it evaluated is the candidate (its
      returned point is the same unless NLopt stops on a round-off error).
    - Initialisation: the paper only says to start from directions that minimise
      the consistency term; ``"lpp"`` does that (a ridge-regularised locality
      preserving projection) and scales to unit RMS.

    Cost: ``Xcᵀ L Xc`` and ``Xcᵀ Xc`` are computed once (the affinity is sparse, or
    low-rank for labels, never n x n); an objective evaluation is then
    ``O(n_samples · n_features)``.

    References
    ----------
    .. [1] J. Shao, F. Wu, C. Ouyang and X. Zhang, "Learning hash functions without
       pseudo-labels: W-shape loss" (AAAI 2018), seed paper 000 of this project.
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
        "mu": [Interval(Real, 0, None, closed="left")],
        "nu": [Interval(Real, 0, None, closed="left")],
        "supervised": [StrOptions({"auto"}), "boolean"],
        "similarity": [StrOptions({"binary", "jaccard", "cosine"})],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"lpp", "pca", "random"})],
        "init_ridge": [Interval(Real, 0, None, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "gradient": [StrOptions({"surrogate", "exact"})],
        "max_rounds": [Interval(Integral, 1, None, closed="left")],
        "max_eval": [Interval(Integral, 1, None, closed="left")],
        "ftol_rel": [Interval(Real, 0, None, closed="left")],
        "xtol_rel": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_bits=32,
        *,
        mu=0.05,
        nu=0.6,
        supervised="auto",
        similarity="binary",
        n_neighbors=10,
        init="lpp",
        init_ridge=0.1,
        epsilon=1e-6,
        gradient="surrogate",
        max_rounds=5,
        max_eval=50,
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
        self.init = init
        self.init_ridge = init_ridge
        self.epsilon = epsilon
        self.gradient = gradient
        self.max_rounds = max_rounds
        self.max_eval = max_eval
        self.ftol_rel = ftol_rel
        self.xtol_rel = xtol_rel

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = self.supervised is True
        return tags

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
        with rollback_on_error(self):
            X = _validate_fit_data(self, X, y if self.supervised is False else None)
            n, d = X.shape
            self._check_n_bits(
                d,
                f"a linear method has at most n_features={d} uncorrelated projections",
            )
            use_labels = self._uses_supervision(y, pairs)
            rng = check_random_state(self.random_state)
            self.mean_ = X.mean(axis=0)
            Xc = X - self.mean_
            gram = Xc.T @ Xc / n
            if use_labels:
                supervision = check_supervision(
                    y if y is not None else None, pairs, n, kind=self.similarity
                )
                if supervision.from_labels:
                    form, total = _laplacian_form_labels(Xc, supervision)
                else:
                    form, total = _laplacian_form_sparse(Xc, supervision.pairs)
            else:
                form, total = _laplacian_form_sparse(Xc, _knn_affinity(Xc, self.n_neighbors))
            # R(w) = wᵀ M w is the weighted mean of (f_i − f_j)² over pairs; fLfᵀ is
            # half the weighted sum, hence the factor 2.
            M = form * (2.0 / total) if total > 0 else np.zeros_like(form)
            W0 = self._initial_directions(gram, M, rng)
            W, b, history = self._optimise(Xc, gram, M, W0)
            self.supervised_ = use_labels
            self.coef_ = W.T
            self.intercept_ = b - self.coef_ @ self.mean_
            self.history_ = history
            self.n_iter_ = len(history) - 1
            self._set_n_features_out()
        return self

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

    def _optimise(self, Xc, gram, M, W):
        """Rounds of per-bit MMA with the acceptance test; returns W, b, history."""
        n, d = Xc.shape
        K = self.n_bits
        mu, nu, eps = float(self.mu), float(self.nu), float(self.epsilon)
        exact = self.gradient == "exact"
        W = W.copy()
        b = np.zeros(K)

        def terms(w, bias, GWo, bo):
            f = Xc @ w + bias
            B = f * f - 1.0
            loss = np.mean(np.log(B * B + eps))
            consistency = w @ M @ w
            c = w @ GWo + bias * bo
            orth = c @ c + bias * bias
            return f, B, loss, consistency, orth, c

        def lagrangian(w, bias, GWo, bo):
            _, _, loss, cons, orth, _ = terms(w, bias, GWo, bo)
            return loss + mu * cons + nu * orth, loss, cons, orth

        def snapshot(n_accepted, n_evals):
            rows = []
            for k in range(K):
                others = np.arange(K) != k
                rows.append(lagrangian(W[:, k], b[k], gram @ W[:, others], b[others]))
            lag, loss, cons, orth = np.mean(rows, axis=0)
            return {
                "loss": float(loss),
                "consistency": float(cons),
                "orthogonality": float(orth),
                "lagrangian": float(lag),
                "n_accepted": int(n_accepted),
                "n_evals": int(n_evals),
            }

        history = [snapshot(0, 0)]
        for round_ in range(self.max_rounds):
            n_accepted = 0
            n_evals = 0
            for k in range(K):
                others = np.arange(K) != k
                GWo, bo = gram @ W[:, others], b[others]
                best = {"value": np.inf, "x": None}

                def objective(x, grad, GWo=GWo, bo=bo, best=best):
                    w, bias = x[:d], x[d]
                    f, B, loss, cons, orth, c = terms(w, bias, GWo, bo)
                    value = loss + mu * cons + nu * orth
                    if grad.size:
                        g = 4.0 * f * B / n
                        if exact:
                            g = g / (B * B + eps)
                        grad[:d] = Xc.T @ g + (2.0 * mu) * (M @ w) + (2.0 * nu) * (GWo @ c)
                        grad[d] = g.sum() + 2.0 * nu * (c @ bo + bias)
                    if value < best["value"]:
                        best["value"], best["x"] = value, x.copy()
                    return value

                opt = nlopt.opt(nlopt.LD_MMA, d + 1)
                opt.set_min_objective(objective)
                opt.set_maxeval(self.max_eval)
                opt.set_ftol_rel(self.ftol_rel)
                opt.set_xtol_rel(self.xtol_rel)
                x0 = np.append(W[:, k], b[k])
                try:
                    opt.optimize(x0)
                except nlopt.RoundoffLimited:
                    # NLopt gave up on round-off; the best point seen is still valid.
                    pass
                n_evals += opt.get_numevals()
                if best["x"] is None:
                    continue
                old = lagrangian(W[:, k], b[k], GWo, bo)
                new = lagrangian(best["x"][:d], best["x"][d], GWo, bo)
                decrease, orth_growth = old[0] - new[0], new[3] - old[3]
                if decrease > 0 and decrease > orth_growth:
                    W[:, k], b[k] = best["x"][:d], best["x"][d]
                    n_accepted += 1
            history.append(snapshot(n_accepted, n_evals))
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
        return W, b, history
