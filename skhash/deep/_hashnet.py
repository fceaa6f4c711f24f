"""HashNetHasher: deep hashing by continuation, with a weighted pairwise likelihood."""

from numbers import Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from .._base import IntInterval
from ._base import BaseDeepHasher
from ._losses import hashnet_pair_loss

__all__ = ["HashNetHasher"]


class HashNetHasher(BaseDeepHasher):
    """HashNet: a network trained on pairs with a tanh(βz) activation, β growing.

    The network's outputs ``z`` (an MLP over features by default, or your own
    module) are activated by ``h = tanh(βz)`` and trained on the weighted pairwise
    likelihood of Cao et al. (2017), Eq. 4,

        Σ w_ij (log(1 + exp(α⟨h_i, h_j⟩)) − α s_ij ⟨h_i, h_j⟩),

    while β grows (continuation), so the activation tends to the sign. Codes are
    ``sgn(z)``, and ``decision_function`` returns ``z``.

    Parameters
    ----------
    n_bits : int, default=32
        Code length K.
    alpha : float, default=None
        Bandwidth α of the pairwise sigmoid σ(α⟨h_i, h_j⟩). None uses 10 / n_bits,
        as in the authors' code (inner products of K-bit codes lie in [−K, K]).
    weighting : {"balanced", "none"}, default="balanced"
        ``"balanced"``: the paper's Eq. 2, similar pairs weigh ``|S| / |S₁|`` and
        dissimilar pairs ``|S| / |S₀|``, so each class of pairs carries half the loss;
        ``"none"``: every pair weighs 1 (the paper's ablation HashNet-W).
    similarity : {"binary", "jaccard"}, default="binary"
        ``"jaccard"``: the weight of a similar pair is multiplied by the Jaccard
        similarity of the two label sets, ``|y_i ∩ y_j| / |y_i ∪ y_j|`` (the paper's
        HashNet+C, for multi-label data), rescaled so that the similar pairs keep
        their share of the loss (see Notes). With pair supervision, a pair's given
        ``s`` plays that role. ``s_ij`` in the likelihood stays binary (shares a
        label) either way.
    continuation : bool, default=True
        Grow β during training. False keeps β = ``beta_init`` (the paper's ablation
        HashNet-sgn: a fixed tanh and a separate sign).
    beta_init : float, default=1.0
        β at the start of training.
    beta_gamma, beta_power : float, default=0.005, 0.5
        The authors' schedule: ``β = beta_init · (1 + beta_gamma · t)^beta_power``
        after ``t`` optimizer steps.
    beta_step : int, default=200
        β is updated every ``beta_step`` optimizer steps (t is rounded down to a
        multiple of it), as in the authors' code.
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
    module_ : torch.nn.Module
        The trained network, in eval mode, on ``device_``.
    device_ : torch.device
        Where the network lives (the CPU after unpickling on a machine without the
        fitting device).
    alpha_ : float
        α used.
    beta_ : float
        β of the last training step (the activation ``tanh(β z)`` its loss was
        computed with).
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
    FisherHasher : Deep Fisher hashing, pair margin and class centres.
    DHAHasher : Deep hashing with an adaptive (shifted, focal) pair loss.

    Notes
    -----
    Follows Cao et al. (ICCV 2017), Eqs. 2-4 and Algorithm 1. Choices where the
    paper is silent or that differ from it:

    - Pairs: each minibatch is paired with every training sample through a memory
      bank of the latest outputs of all samples (detached), not only within the
      batch as the authors' code does; small data sets then see all pairs every
      epoch. The counts ``|S|``, ``|S₁|``, ``|S₀|`` of the balanced weights are those of the
      batch × training-set block (the authors' code counts per batch).
    - Normalisation: the weighted sum is divided by the number of pairs ``|S|``, so
      with balanced weights the loss is the mean loss of the similar pairs plus
      the mean loss of the dissimilar pairs.
    - HashNet+C: Eq. 2 reads ``w_ij = c_ij · |S| / |S₁|`` for similar pairs; here
      ``|S₁|`` is counted as the similar pairs' total continuous similarity
      ``Σ_{S₁} c_ij``, i.e. ``w_ij = c_ij · |S| / Σ_{S₁} c_ij`` (c rescaled to a mean of
      1 over the block's similar pairs). c_ij then only moves weight between similar
      pairs, as the paper intends, while the similar and dissimilar pairs keep the
      equal shares that are the point of Eq. 2. Taken literally, with c_ij < 1
      (Jaccard values average about 0.3 on multi-label data) the similar pairs lose
      most of their share, dissimilar pairs dominate and the outputs collapse
      towards 0, with codes near chance. The paper's c_ij = 0 for dissimilar
      pairs would give them no weight at all; they keep c_ij = 1.
    - Continuation: the paper's Algorithm 1 trains to convergence at each β; the
      authors' code (followed here) raises β by a fixed schedule in steps, and β
      stays finite. Codes are ``sgn(z)``, which equals ``sgn(tanh(βz))`` for any
      β > 0, so the schedule shapes the training only.
    - Network: an MLP over precomputed features by default instead of AlexNet
      fine-tuning (pass a ``module`` for end-to-end training on raw inputs), and
      Adam rather than SGD with the hash layer's learning rate 10 times the
      backbone's.
    - Output scale: the default MLP ends with a batch normalisation of its K outputs
      without a learned scale or shift, so ``z`` has zero mean and unit variance per
      bit on the training data whatever the scale of the features (raw, standardised
      or L2-normalised). Without it, ``tanh(βz)`` saturates where the features are
      large (its gradient vanishes, and the outputs kept growing while the codes got
      worse), and β's schedule meant something different for every input scale.
      A ``module`` you pass is used as it is.
    - The loss is ``softplus(α⟨h_i, h_j⟩) − α s_ij ⟨h_i, h_j⟩``, exact and finite
      for any inner product (the authors' code switches to a linear form above a
      threshold).

    Read more in the User Guide, :doc:`/user_guide/hashnet`.

    References
    ----------
    .. [1] Z. Cao, M. Long, J. Wang and P. S. Yu, "HashNet: Deep learning to hash by
       continuation", ICCV 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import HashNetHasher
    >>> X, y = load_digits(return_X_y=True)
    >>> hasher = HashNetHasher(n_bits=16, max_epochs=5, random_state=0)
    >>> hasher.fit(X[:500] / 16, y[:500]).transform(X[:2] / 16).shape
    (2, 16)
    >>> len(hasher.loss_curve_)
    5
    """

    _parameter_constraints: dict = {
        **BaseDeepHasher._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="neither"), None],
        "weighting": [StrOptions({"balanced", "none"})],
        "similarity": [StrOptions({"binary", "jaccard"})],
        "continuation": ["boolean"],
        "beta_init": [Interval(Real, 0, None, closed="neither")],
        "beta_gamma": [Interval(Real, 0, None, closed="left")],
        "beta_power": [Interval(Real, 0, None, closed="left")],
        "beta_step": [IntInterval(1, None, closed="left")],
    }

    def __init__(
        self,
        n_bits=32,
        *,
        alpha=None,
        weighting="balanced",
        similarity="binary",
        continuation=True,
        beta_init=1.0,
        beta_gamma=0.005,
        beta_power=0.5,
        beta_step=200,
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
        self.weighting = weighting
        self.similarity = similarity
        self.continuation = continuation
        self.beta_init = beta_init
        self.beta_gamma = beta_gamma
        self.beta_power = beta_power
        self.beta_step = beta_step

    def _build_module(self, n_features, generator):
        module = super()._build_module(n_features, generator)
        if self.module is None:
            # Outputs at unit scale whatever the features' scale (see Notes).
            module.append(torch.nn.BatchNorm1d(self.n_bits, affine=False))
        return module

    def _beta(self, n_steps):
        """β after ``n_steps`` optimizer steps (the authors' stepped schedule)."""
        if not self.continuation:
            return float(self.beta_init)
        t = (n_steps // self.beta_step) * self.beta_step
        return float(self.beta_init * (1.0 + self.beta_gamma * t) ** self.beta_power)

    def _init_loss_state(self, bank, sup):
        self.alpha_ = 10.0 / self.n_bits if self.alpha is None else float(self.alpha)

    def _batch_loss(self, z, idx, bank, sup):
        beta = self._beta(self.n_steps_)
        self._fit_state["beta"] = beta
        S, mask = sup.block(idx, "binary")
        C = None
        if self.similarity == "jaccard":
            C = S if sup.labels is None else sup.block(idx, "jaccard")[0]
        return hashnet_pair_loss(
            torch.tanh(beta * z),
            torch.tanh(beta * bank),
            S,
            alpha=self.alpha_,
            weighting=self.weighting,
            C=C,
            mask=mask,
        )

    def _end_of_fit(self):
        self.beta_ = self._fit_state["beta"]
