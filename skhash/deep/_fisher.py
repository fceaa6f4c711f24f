"""FisherHasher: Deep Fisher Hashing with a pairwise margin and quantized class centres."""

from numbers import Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseDeepHasher
from ._losses import (
    fisher_inter_target,
    fisher_pair_loss,
    fisher_quantization_loss,
    sign,
)

__all__ = [
    "FisherHasher",
    "fisher_codes",
    "init_centers",
    "label_proportions",
    "update_centers_discrete",
    "update_centers_relaxed",
]


# The B- and C-steps, pure functions of tensors (the loss terms are in ``_losses.py``).
# Layout is row-major, one sample per row: U and B are (n, K), Y is (n, M), and the
# centres C (and their relaxation V) are (K, M) as in the paper, so C y_i is ``Y @ C.T``.


def fisher_codes(U, C, Y, mu=1.0):
    """B-step (Eq. 16): B = sgn(mu C Y + U), with sgn(0) = +1.

    Minimises mu ||b_i - C y_i||^2 + ||b_i - u_i||^2 over b_i in {-1, 1}^K exactly.
    With ``mu=0`` (or no centres) the codes are sgn(U).
    """
    F_ = U if (C is None or mu == 0) else U + mu * (Y @ C.T)
    return sign(F_).to(U.dtype)


def label_proportions(Y):
    """Rows of a 0/1 label matrix scaled to sum to 1 (1/m on each of m labels).

    A row without any label stays zero: that sample is tied to no centre.
    """
    counts = Y.sum(dim=1, keepdim=True)
    return Y / torch.clamp(counts, min=1.0)


def init_centers(U, Y):
    """Relaxed centres V = per-class mean of the outputs (K, M); C = sgn(V).

    Parameters
    ----------
    U : Tensor of shape (n, K)
    Y : Tensor of shape (n, M)
        0/1 label indicator (a sample counts fully towards each of its classes).

    Returns
    -------
    C, V : Tensor of shape (K, M)
    """
    counts = torch.clamp(Y.sum(dim=0), min=1.0)
    V = (U.T @ Y) / counts
    return sign(V).to(U.dtype), V


def update_centers_relaxed(V, B, Y, mu=1.0, nu=1.0, eta=1.0, n_iter=50):
    """C-step through the auxiliary V (Eq. 13-14): gradient steps on V, then C = sgn(V).

    The gradient is the paper's Eq. 14 scaled by this module's normalisation,
    2a (V Y - B) Y^T + 4c V (V^T V - A) + 2e (V - sgn V) with a = mu / (n K),
    c = nu / (M K^2), e = eta / (K M). Each step has length 1/L, L an upper
    bound of the local Lipschitz constant of the smooth part, so no step size needs
    tuning whatever n, K and M are.

    Returns
    -------
    C, V : Tensor of shape (K, M)

    Raises
    ------
    FloatingPointError
        If V is or becomes non-finite: the cubic term V (V^T V) overflows
        float32 for large entries.
    """
    K, M = V.shape
    n = B.shape[0]
    A = fisher_inter_target(M, K, dtype=V.dtype, device=V.device)
    a = mu / (n * K)
    c = nu / (M * K * K)
    e = eta / (K * M)
    YtY = Y.T @ Y
    L_intra = 2.0 * a * torch.linalg.matrix_norm(YtY, ord=2)
    L_A = torch.linalg.matrix_norm(A, ord=2)
    YtB = Y.T @ B  # (M, K)
    V = V.clone()
    largest = float(V.abs().max())
    for step in range(n_iter + 1):
        if not torch.isfinite(V).all():
            raise FloatingPointError(
                f"the relaxed C-step overflowed: V is not finite after {step} gradient "
                f"steps from entries up to |V| = {largest:.3g}."
            )
        if step == n_iter:
            break
        G = V.T @ V
        grad = 2.0 * a * (V @ YtY - YtB.T) + 4.0 * c * (V @ (G - A)) + 2.0 * e * (V - sign(V))
        # Hessian of ||V^T V - A||^2 is bounded by 4 (3 ||V||_2^2 + ||A||_2).
        L = L_intra + 4.0 * c * (3.0 * torch.linalg.matrix_norm(V, ord=2) ** 2 + L_A) + 2.0 * e
        V = V - grad / L
    C = sign(V)
    return C, V


def update_centers_discrete(C, B, Y, mu=1.0, nu=1.0, max_sweeps=10):
    """C-step by discrete cyclic coordinate descent on the entries of C (Eq. 12).

    For binary C the objective is affine in each single entry C[k, j] (its square is
    1 and (C^T C)_jj = K does not move), so every entry in turn is set to the sign
    that minimises the objective with all others fixed; sweeps repeat until none
    changes or ``max_sweeps`` is reached. The objective never increases.

    Returns
    -------
    C : Tensor of shape (K, M), values in {-1, +1}
    """
    K, M = C.shape
    n = B.shape[0]
    a = mu / (n * K)
    c = nu / (M * K * K)
    dtype = torch.float64
    C = C.detach().to("cpu", dtype).clone()
    P = (B.T @ Y).to("cpu", dtype)  # (K, M): sum_i b_ik y_ij
    Q = (Y.T @ Y).to("cpu", dtype)  # (M, M)
    A = fisher_inter_target(M, K, dtype=dtype)
    G = C.T @ C
    off = ~torch.eye(M, dtype=torch.bool)
    for _ in range(max_sweeps):
        changed = False
        for k in range(K):
            row = C[k]
            for j in range(M):
                others = off[j]
                # intra: sum_i y_ij (b_ik - sum_{l != j} C[k, l] y_il)
                lin_intra = P[k, j] - (row[others] * Q[others, j]).sum()
                # inter: sum_{l != j} (G_jl - C[k, j] C[k, l] - A_jl) C[k, l]
                G0 = G[j, others] - row[j] * row[others]
                lin_inter = ((G0 - A[j, others]) * row[others]).sum()
                score = a * lin_intra - 2.0 * c * lin_inter
                if score == 0:
                    continue
                new = 1.0 if score > 0 else -1.0
                if new != row[j]:
                    delta = (new - row[j]) * row
                    delta[j] = 0.0
                    G[j] += delta
                    G[:, j] += delta
                    row[j] = new
                    changed = True
        if not changed:
            break
    return C


class FisherHasher(BaseDeepHasher):
    """Deep Fisher hashing: a pairwise margin loss and binary class centres.

    The network's outputs U (an MLP over features by default, or your own module)
    are trained on the objective of Li et al. (2019), Eq. 9,

        φ·pair(U) + μ Σ ||b_i − C y_i||² + ν ||CᵀC − K(2I − J)||² + ψ Σ ||b_i − u_i||²,

    by alternating optimisation: gradient steps on the network for the pair and
    quantization terms (U-step); codes ``B = sgn(μ C Y + U)`` in closed form (B-step,
    Eq. 16); binary class centres C ∈ {−1, 1}^(K×M) through an auxiliary real V (Eq.
    13-14) or by discrete cyclic coordinate descent (C-step). Codes of new samples are
    ``sgn(U)``, and ``decision_function`` returns U.

    Parameters
    ----------
    n_bits : int, default=32
        Code length K.
    margin : float, default=1.0
        Margin m ≥ 0 of the pair loss on the dissimilarity D = −u_iᵀu_j / 2: a similar
        pair costs log(1 + e^(D + m)), a dissimilar pair log(1 + e^(−D + m)). ``0`` is
        the DPSH loss; the paper picks m from {0.5, 1, 1.5, 2}.
    phi : float, default=1.0
        Weight φ of the pair loss; 0 switches it off (centres and quantization only).
    mu : float, default=1.0
        Weight μ of the intra-class term Σ ||b_i − C y_i||²; 0 switches the class
        centres off (B = sgn(U), the paper's "pair only" ablation).
    nu : float, default=1.0
        Weight ν of the inter-class term ||CᵀC − K(2I − J)||², which pushes centres
        apart; 0 gives the paper's "pair + intra" ablation.
    eta : float, default=0.5
        Penalty η of ||C − V||² in the relaxed C-step (Eq. 13); unused by
        ``center_update="discrete"``.
    quantization_weight : float, default=1.0
        Weight ψ of the quantization term Σ ||b_i − u_i||² in the U-step (1 in Eq. 9);
        0 switches it off.
    center_update : {"relaxed", "discrete"}, default="relaxed"
        C-step: ``"relaxed"``, gradient steps on the auxiliary V (Eq. 14), then
        C = sgn(V), as in the paper; ``"discrete"``, cyclic coordinate descent on the
        entries of C, which never increases Eq. 12.
    hidden_layer_sizes : tuple of int, default=(512,)
        Hidden layers of the default ReLU MLP over the features; ``()`` is a single
        linear hash layer on top of fixed features.
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
    centers_ : ndarray of shape (n_classes, n_bits), dtype int8
        The binary class centres (rows of Cᵀ), in {−1, +1}: one per class in sorted
        order of the class values for 1-D ``y``, one per column of an indicator ``y``.
        With ``mu=0`` and ``nu=0`` the centres are unused and stay at their start,
        the signs of the class means of the initial outputs.
    module_ : torch.nn.Module
        The trained network, in eval mode, on ``device_``.
    device_ : torch.device
        Where the network lives (the CPU after unpickling on a machine without the
        fitting device).
    loss_curve_ : list of float
        Mean U-step loss (φ·pair + ψ·quantization) per epoch.
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
    DHAHasher : Deep hashing with an adaptive (shifted, focal) pair loss.

    Notes
    -----
    Follows Li, Pei, Zha and van Gemert (BMVC 2019), Eqs. 1-16. Choices where the
    paper is silent or that differ from it:

    - Supervision: the centres are per class, so ``fit`` needs labels ``y`` (class
      labels or a multi-label indicator matrix); pairs alone are refused. A sample
      with m labels has 1/m on each in Y (the paper's label proportions); the
      centres start as the signs of the class means of the initial outputs, each
      sample counting fully towards each of its classes.
    - Schedule: the B-step is exact for every minibatch, from the batch's current
      outputs and the current centres; the C-step runs once per epoch on the codes of
      the whole training set (the outputs in the memory bank), 50 gradient steps on
      V or cyclic sweeps until no entry changes (at most 10). The authors' code runs
      the C-step on each minibatch.
    - Normalisation: every term is a mean, so the weights are scale-free: the pair
      loss over pairs (each minibatch against all training samples, through the
      memory bank of :class:`~skhash.deep.BaseDeepHasher`), intra and quantization
      over the n·K entries, inter over the M·K² of one centre's row of CᵀC. The
      relaxed C-step takes steps of length 1/L, L a bound of the local Lipschitz
      constant, instead of the authors' fixed step 0.03 with decays.
    - The U-step loss keeps φ and ψ as in Eq. 10; the authors' code weights the mean
      quantization loss by 0.5 and has no margin by default (m = 0).
    - Network and optimiser: an MLP over precomputed features and Adam by default,
      the same defaults as the other deep hashers, instead of VGG-F fine-tuned by SGD.

    Read more in the User Guide, :doc:`/user_guide/fisher`.

    References
    ----------
    .. [1] Y. Li, W. Pei, Y. Zha and J. van Gemert, "Push for quantization: deep
       Fisher hashing", BMVC 2019.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import FisherHasher
    >>> X, y = load_digits(return_X_y=True)
    >>> hasher = FisherHasher(n_bits=16, max_epochs=5, random_state=0)
    >>> hasher.fit(X[:500] / 16, y[:500]).transform(X[:2] / 16).shape
    (2, 16)
    >>> hasher.centers_.shape
    (10, 16)
    """

    _parameter_constraints: dict = {
        **BaseDeepHasher._parameter_constraints,
        "margin": [Interval(Real, 0, None, closed="left")],
        "phi": [Interval(Real, 0, None, closed="left")],
        "mu": [Interval(Real, 0, None, closed="left")],
        "nu": [Interval(Real, 0, None, closed="left")],
        "eta": [Interval(Real, 0, None, closed="left")],
        "quantization_weight": [Interval(Real, 0, None, closed="left")],
        "center_update": [StrOptions({"relaxed", "discrete"})],
    }

    #: Gradient steps on V per relaxed C-step; sweeps per discrete C-step (at most).
    _center_iter = {"relaxed": 50, "discrete": 10}

    _labels_only_reason = (
        "its class centres C and the intra-class term are defined per class, which "
        "pairwise supervision (pairs=) does not give; HashNetHasher and DHAHasher "
        "learn from pairs alone."
    )

    def __init__(
        self,
        n_bits=32,
        *,
        margin=1.0,
        phi=1.0,
        mu=1.0,
        nu=1.0,
        eta=0.5,
        quantization_weight=1.0,
        center_update="relaxed",
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
        self.margin = margin
        self.phi = phi
        self.mu = mu
        self.nu = nu
        self.eta = eta
        self.quantization_weight = quantization_weight
        self.center_update = center_update

    def _init_loss_state(self, bank, sup):
        if self.phi == 0 and self.quantization_weight == 0:
            raise ValueError(
                "phi and quantization_weight are both 0, so the network would get no "
                "gradient: the U-step trains on φ·pair + ψ·quantization. Set at least one "
                "of them > 0."
            )
        Y = sup.labels
        C, V = init_centers(bank, Y)
        self._fit_state.update(Y=label_proportions(Y), C=C, V=V)
        if self.center_update == "relaxed" and (self.mu > 0 or self.nu > 0):
            # One C-step on the initial outputs: if it overflows now, the features are
            # too large, and no learning rate would help.
            B = fisher_codes(bank, C, self._fit_state["Y"], self.mu)
            try:
                update_centers_relaxed(V, B, self._fit_state["Y"], self.mu, self.nu, self.eta, 1)
            except FloatingPointError as exc:
                raise ValueError(
                    "FisherHasher's class-centre step overflows float32 for the initial "
                    "network, before any optimizer step: the class means of its outputs "
                    f"reach |V| = {float(V.abs().max()):.3g} (outputs |z| = "
                    f"{float(bank.abs().max()):.3g}), and the step computes V (VᵀV). "
                    "Scale the features (e.g. with sklearn.preprocessing.StandardScaler)."
                ) from exc

    def _batch_loss(self, z, idx, bank, sup):
        state = self._fit_state
        loss = torch.zeros((), dtype=z.dtype, device=z.device)
        if self.phi > 0:
            S, mask = sup.block(idx, "binary")
            loss = loss + self.phi * fisher_pair_loss(z, bank, S, self.margin, mask)
        if self.quantization_weight > 0:
            B = fisher_codes(z.detach(), state["C"], state["Y"][idx], self.mu)
            loss = loss + self.quantization_weight * fisher_quantization_loss(z, B)
        return loss

    def _end_of_epoch(self, bank):
        if self.mu == 0 and self.nu == 0:
            return  # the centres touch nothing
        state = self._fit_state
        Y, C = state["Y"], state["C"]
        B = fisher_codes(bank, C, Y, self.mu)
        if self.center_update == "relaxed":
            state["C"], state["V"] = update_centers_relaxed(
                state["V"], B, Y, self.mu, self.nu, self.eta, self._center_iter["relaxed"]
            )
        else:
            C = update_centers_discrete(
                C, B, Y, self.mu, self.nu, max_sweeps=self._center_iter["discrete"]
            )
            state["C"] = C.to(bank.device, bank.dtype)

    def _end_of_fit(self):
        self.centers_ = self._fit_state["C"].T.cpu().numpy().astype(np.int8)
