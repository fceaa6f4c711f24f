"""DHAHasher: deep hashing with the adaptive (shifted, focal, balanced) pair loss."""

from numbers import Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseDeepHasher
from ._losses import dha_pair_loss, dha_quantization_loss

__all__ = ["DHAHasher", "balance_from_ratio", "similar_pair_ratio"]


def balance_from_ratio(r):
    """β = (r + 1) / (r + 2) for r dissimilar pairs per similar pair.

    Reproduces the paper's choices: r = 10 → 11/12, r = 5 → 6/7, r = 1 → 2/3.
    With these weights the similar pairs carry (r + 1) / (2r + 1) of the total
    weight, close to one half whatever r is.
    """
    r = float(r)
    if not r >= 0:
        raise ValueError(f"the dissimilar/similar ratio must be >= 0; got {r}.")
    return (r + 1.0) / (r + 2.0)


def similar_pair_ratio(sup, working_memory=2**24):
    """Dissimilar pairs per similar pair, r, over the labelled pairs of a Supervision.

    Exact: from labels, every pair i != j counts, computed a block of rows at a time
    so that no block holds more than ``working_memory`` entries; from pairs, the given
    pairs count. A pair is similar when s > 0.
    """
    if sup.labels is None:
        s = sup.pairs.data
        n_sim, n_all = float((s > 0).sum()), float(len(s))
    else:
        Y = sup.labels
        n = Y.shape[0]
        chunk = max(1, working_memory // max(n, 1))
        n_sim = 0.0
        for start in range(0, n, chunk):
            rows = Y[start : start + chunk]
            n_sim += float(((rows @ Y.T) > 0).sum())
            # minus the sample itself, similar to itself when it has a label
            n_sim -= float(np.count_nonzero(rows.getnnz(axis=1)))
        n_all = float(n) * (n - 1)
    if n_sim == 0:
        raise ValueError("the supervision has no similar pair; β cannot be set from it.")
    return (n_all - n_sim) / n_sim


class DHAHasher(BaseDeepHasher):
    """DHA: deep hashing with an adaptive pair loss (shifted, focal, balanced).

    The network's outputs ``z`` (an MLP over features by default, or your own
    module) are squashed to ``h = tanh(z)`` and trained on the loss of Xu et al.
    (2019), Eqs. 5-9: for a pair with inner product ⟨h_i, h_j⟩ and the shifted sigmoid
    σ = 1 / (1 + exp(−α(⟨h_i, h_j⟩ − θ))),

        similar:     −β (1 − σ)^γ log σ           (θ > 0),
        dissimilar:  −(1 − β) σ^γ log(1 − σ)      (θ = 0),

    plus λ times the quantization loss ``(1/K) Σ_k (1 − exp(|h_k| − 1))``. With
    ``similarity="cosine"`` ("DHA-t"), the label-set cosine t ∈ [0, 1] replaces the
    binary similarity and θ grows with t. Codes are ``sgn(z)``, and
    ``decision_function`` returns ``z``.

    Parameters
    ----------
    n_bits : int, default=32
        Code length K.
    alpha : float, default=None
        Bandwidth α of the sigmoid. None uses 10 / n_bits, as in the paper.
    theta : float, default=0.05
        Shift θ for similar pairs, **as a fraction of n_bits**: θ = theta · K in
        inner-product units, so a similar pair reaches σ = 1/2 at ⟨h_i, h_j⟩ = θ,
        i.e. at a Hamming distance of (1 − theta) K / 2 (0.475 K by default). ``0``
        switches the shift off (the plain sigmoid of HashNet). With
        ``similarity="cosine"``, θ = t · theta · K.
    theta_dissimilar : float, default=None
        Shift for dissimilar pairs (t = 0), as a fraction of n_bits. None: 0 with
        ``similarity="binary"`` (the paper), ``-theta / 2`` with ``"cosine"`` (the
        paper's "much smaller θ" for t = 0, value chosen here).
    gamma : float, default=2.0
        Focal exponent γ; 0 switches the focal modulation off (cross-entropy).
    beta : float in (0.5, 1), "auto" or None, default="auto"
        Weight β of similar pairs (dissimilar pairs get 1 − β). ``"auto"``: β = (r +
        1)/(r + 2) with r the number of dissimilar pairs per similar pair of the
        training supervision, which gives the paper's 11/12, 6/7 and 2/3 for r = 10,
        5 and 1. None switches the balance weight off (β = 1/2 for every pair, the
        paper's DHA-W).
    quantization_weight : float, default=0.001
        Weight λ of the quantization loss (a mean over samples, against the pair
        loss's mean over pairs: see Notes); 0 switches it off (the paper's DHA-Q).
    similarity : {"binary", "cosine"}, default="binary"
        ``"binary"``: s = 1 when two samples share a label. ``"cosine"``: the
        continuous t = cos(y_i, y_j) of the label vectors (the paper's DHA-t, for
        multi-label data). With pair supervision, a pair's given ``s`` is t.
    hidden_layer_sizes : tuple of int, default=(512,)
        Hidden layers of the default ReLU MLP over the features; ``()`` is the
        paper's single hash layer (fch) on top of fixed features.
    dropout : float, default=0.0
        Dropout after each hidden layer.
    module : torch.nn.Module, default=None
        Your own network mapping a float32 batch (b, n_features) to (b, n_bits),
        trained end-to-end (a deep copy; yours is not modified). See
        :class:`~skhash.deep.BaseDeepHasher`.
    optimizer : {"adam", "adamw", "sgd"}, default="adam"
    lr : float, default=1e-3
    weight_decay : float, default=0.0
    momentum : float, default=0.9
        Momentum of ``"sgd"``.
    lr_schedule : {"constant", "cosine"} or callable, default="constant"
        Learning-rate multiplier per epoch (callable: ``epoch -> factor``).
    max_epochs : int, default=50
        Passes over the training set (at most, with early stopping).
    early_stopping : bool or "auto", default="auto"
        Hold out ``validation_fraction`` of the samples (stratified), score the
        retrieval mAP@1000 of their codes against the training codes after each
        epoch, stop after ``n_iter_no_change`` epochs without an improvement of more
        than ``tol``, and keep the best epoch's network. ``"auto"``: on with labels
        when at least 200 samples would be held out. See
        :class:`~skhash.deep.BaseDeepHasher`.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    tol : float, default=1e-4
    n_bank_samples : int or None, default=10_000
        Training samples each minibatch is paired with (all of them up to this
        many); an epoch costs O(n_samples * n_bank_samples).
    batch_size : int, default=64
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        ``"auto"``: CUDA when available, else the CPU. ``"cuda"`` without CUDA
        raises a ``ValueError``.
    n_jobs : int, default=None
        Torch CPU threads during fit and transform (None: 1, -1: all cores).
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, batch order and dropout; same value, same codes on
        the CPU. Global random states are not touched.
    verbose : int, default=0
        A progress bar with the epoch and loss when > 0.

    Attributes
    ----------
    alpha_ : float
        α used.
    beta_ : float
        β used (0.5 when ``beta=None``).
    pair_ratio_ : float
        Dissimilar pairs per similar pair in the training supervision (the r of
        ``beta="auto"``).
    theta_ : tuple of float
        (θ for t = 1, θ for t = 0) in inner-product units.
    module_ : torch.nn.Module
        The trained network, in eval mode, on ``device_``.
    device_ : torch.device
        Where the network lives (the CPU after unpickling on a machine without the
        fitting device).
    loss_curve_ : list of float
        Mean training loss per epoch.
    n_iter_ : int
        Epochs run (fewer than ``max_epochs`` when early stopping stopped them).
    n_steps_ : int
        Optimizer steps taken.
    validation_scores_ : list of float or None
        Query mAP@1000 of the held-out part after each epoch (early stopping);
        None without early stopping.
    best_validation_score_ : float or None
        The best of them, whose epoch's network is kept; None without early
        stopping.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    HashNetHasher : Pairwise likelihood with continuation.
    FisherHasher : Deep Fisher hashing, pair margin and class centres.

    Notes
    -----
    Follows Xu et al. (ICCV Workshops 2019), Eqs. 1-10. Choices where the paper is
    silent or that differ from it:

    - θ: the paper gives no value. θ is set relative to K, so that one default serves
      every code length, as α = 10/K does. ``theta=0.05`` (θ = K/20; a similar pair
      is even odds at a Hamming distance of 0.475 K) was selected on a validation
      split of the training set, never the queries, for binary similarity; a larger
      ``theta`` strengthens DHA-t's graded target. For DHA-t the paper only says θ
      is larger for larger t and "much smaller" for t = 0; here θ = t · θ_similar
      for t > 0 and ``theta_dissimilar`` (default −θ_similar / 2) for t = 0.
    - λ: the paper gives no value, and weighs two sums (over pairs and over
      samples); in this module's means, its λ over a batch of b samples is λ / b
      here, so the default 0.001 is the paper's λ ≈ 0.25 at its batch size of 256.
      A much heavier λ collapses the codes (tanh saturates before the pairs are
      separated).
    - β: the paper sets β by hand from the approximate ratio of dissimilar to similar
      pairs; ``beta="auto"`` computes that ratio exactly from the training
      supervision (from labels, over all pairs; from pairs, over the given ones).
    - Normalisation: the pair loss is the mean over pairs (each minibatch against all
      training samples, through the memory bank of
      :class:`~skhash.deep.BaseDeepHasher`) and the quantization loss the mean over
      samples of Eq. 9, so λ weighs two means rather than the paper's two sums.
    - Network and optimiser: an MLP over precomputed features and Adam by default,
      the same defaults as the other deep hashers, instead of AlexNet fine-tuned by
      SGD with a 10 times larger learning rate on the hash layer.
    - The loss is computed from softplus (−log σ(x) = softplus(−x)), finite for any
      inner product.

    Read more in the User Guide, :doc:`/user_guide/dha`.

    References
    ----------
    .. [1] J. Xu, C. Guo, Q. Liu, J. Qin, Y. Wang and L. Liu, "DHA: supervised deep
       learning to hash with an adaptive loss function", ICCV Workshops 2019.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import DHAHasher
    >>> X, y = load_digits(return_X_y=True)
    >>> hasher = DHAHasher(n_bits=16, max_epochs=5, random_state=0)
    >>> hasher.fit(X[:500] / 16, y[:500]).transform(X[:2] / 16).shape
    (2, 16)
    >>> round(hasher.beta_, 2)  # about 9 dissimilar pairs per similar pair
    0.91
    """

    _parameter_constraints: dict = {
        **BaseDeepHasher._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="neither"), None],
        "theta": [Interval(Real, 0, None, closed="left")],
        "theta_dissimilar": [Interval(Real, None, None, closed="neither"), None],
        "gamma": [Interval(Real, 0, None, closed="left")],
        "beta": [Interval(Real, 0.5, 1, closed="neither"), StrOptions({"auto"}), None],
        "quantization_weight": [Interval(Real, 0, None, closed="left")],
        "similarity": [StrOptions({"binary", "cosine"})],
    }

    def __init__(
        self,
        n_bits=32,
        *,
        alpha=None,
        theta=0.05,
        theta_dissimilar=None,
        gamma=2.0,
        beta="auto",
        quantization_weight=0.001,
        similarity="binary",
        hidden_layer_sizes=(512,),
        dropout=0.0,
        module=None,
        optimizer="adam",
        lr=1e-3,
        weight_decay=0.0,
        momentum=0.9,
        lr_schedule="constant",
        max_epochs=50,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        n_bank_samples=10_000,
        batch_size=64,
        device="auto",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            n_bits=n_bits,
            hidden_layer_sizes=hidden_layer_sizes,
            dropout=dropout,
            module=module,
            optimizer=optimizer,
            lr=lr,
            weight_decay=weight_decay,
            momentum=momentum,
            lr_schedule=lr_schedule,
            max_epochs=max_epochs,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            n_bank_samples=n_bank_samples,
            batch_size=batch_size,
            device=device,
            n_jobs=n_jobs,
            random_state=random_state,
            verbose=verbose,
        )
        self.alpha = alpha
        self.theta = theta
        self.theta_dissimilar = theta_dissimilar
        self.gamma = gamma
        self.beta = beta
        self.quantization_weight = quantization_weight
        self.similarity = similarity

    def _init_loss_state(self, bank, sup):
        K = self.n_bits
        self.alpha_ = 10.0 / K if self.alpha is None else float(self.alpha)
        theta_dis = self.theta_dissimilar
        if theta_dis is None:
            theta_dis = -self.theta / 2 if self.similarity == "cosine" else 0.0
        self.theta_ = (float(self.theta) * K, float(theta_dis) * K)
        self.pair_ratio_ = similar_pair_ratio(sup.supervision)
        if self.beta == "auto":
            self.beta_ = balance_from_ratio(self.pair_ratio_)
        else:
            self.beta_ = 0.5 if self.beta is None else float(self.beta)

    def _batch_loss(self, z, idx, bank, sup):
        T, mask = sup.block(idx, self.similarity)
        if self.similarity == "binary":
            T = (T > 0).to(z.dtype)
        h = torch.tanh(z)
        loss = dha_pair_loss(
            h,
            torch.tanh(bank),
            T,
            alpha=self.alpha_,
            theta_similar=self.theta_[0],
            theta_dissimilar=self.theta_[1],
            gamma=self.gamma,
            beta=self.beta_,
            mask=mask,
        )
        if self.quantization_weight > 0:
            loss = loss + self.quantization_weight * dha_quantization_loss(h)
        return loss
