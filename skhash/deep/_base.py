"""BaseDeepHasher: the torch training loop, device, seeding and pickling of the deep hashers."""

import contextlib
import copy
import math
import threading
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from joblib import effective_n_jobs
from sklearn import config_context, get_config
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_parameter_constraints
from sklearn.utils.validation import validate_data

from .._base import BaseHasher, IntInterval, rollback_on_error
from .._supervision import check_supervision, encode_class_labels
from ..metrics import mean_average_precision

__all__ = ["BaseDeepHasher", "DeviceWarning", "PairSupervision"]


#: Ranking depth of the early-stopping score (mAP@k), as in the usual benchmarks.
_VALIDATION_DEPTH = 1000
#: Held-out samples early_stopping="auto" needs: a mAP over q queries has a standard
#: error of about 0.3 / sqrt(q), 0.02 at 200, small against the changes it must see.
_MIN_AUTO_VALIDATION = 200
#: MiB of the validation scoring's chunks (less if sklearn's working_memory is lower).
_VALIDATION_WORKING_MEMORY = 64


class DeviceWarning(UserWarning):
    """A model is loaded on another device than the one it was fitted on."""


def _resolve_device(device):
    """The ``torch.device`` a fit runs on: ``"auto"`` is CUDA when present, else CPU."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:<index>' or a torch.device; "
            f"got device={device!r}."
        ) from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this "
                "machine (torch.cuda.is_available() is False); use device='cpu', or "
                "device='auto' to use CUDA only when present."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but only {torch.cuda.device_count()} "
                "CUDA device(s) are visible."
            )
        if resolved.index is None:
            resolved = torch.device("cuda", torch.cuda.current_device())
    elif resolved.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError(f"device={device!r} was requested but MPS is not available.")
    return resolved


def _load_device(saved):
    """Device to load a pickled model on: the saved one if usable here, else the CPU."""
    saved = torch.device(saved)
    if saved.type == "cpu":
        return saved
    if saved.type == "cuda":
        usable = torch.cuda.is_available() and (saved.index or 0) < torch.cuda.device_count()
    elif saved.type == "mps":
        usable = hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    else:
        usable = False
    if usable:
        return saved
    warnings.warn(
        f"this model was fitted on device '{saved}', which is not available here; it is "
        "loaded on the CPU instead (device_ is now 'cpu').",
        DeviceWarning,
        stacklevel=3,
    )
    return torch.device("cpu")


_threads_lock = threading.Lock()
_threads_users = 0
_threads_saved = None


@contextlib.contextmanager
def _torch_threads(n_jobs):
    """Run torch's CPU ops on ``n_jobs`` threads, restoring the caller's count after.

    None means 1 unless inside a :func:`joblib.parallel_config` context, as in
    scikit-learn: small networks on small batches are fastest on one thread, and
    torch's default (all cores) slows to a crawl when other processes share them.
    The count is process-wide, so fits running side by side in threads share it:
    the first to enter saves the caller's count and the last to leave restores it
    (a plain save and restore per fit would interleave and leave another's count).
    """
    global _threads_users, _threads_saved
    n_threads = max(1, effective_n_jobs(n_jobs))
    with _threads_lock:
        if _threads_users == 0:
            _threads_saved = torch.get_num_threads()
        _threads_users += 1
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        with _threads_lock:
            _threads_users -= 1
            if _threads_users == 0:
                torch.set_num_threads(_threads_saved)


def _cpu_copy(module):
    """A deep copy of ``module`` with its parameters and buffers on the CPU.

    The tensors are copied straight to the CPU (never duplicated on their device),
    and always copied, so the result shares no storage with ``module``.
    """
    memo = {}
    for p in module.parameters():
        memo[id(p)] = torch.nn.Parameter(
            p.detach().to("cpu", copy=True), requires_grad=p.requires_grad
        )
    for b in module.buffers():
        memo[id(b)] = b.detach().to("cpu", copy=True)
    return copy.deepcopy(module, memo).to("cpu")


def _check_hidden_layer_sizes(given):
    sizes = given
    if isinstance(sizes, Integral) and not isinstance(sizes, bool):
        sizes = (sizes,)
    try:
        sizes = tuple(sizes)
    except TypeError:
        sizes = None
    if sizes is None or not all(
        isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes
    ):
        raise ValueError(
            "hidden_layer_sizes must be a tuple of positive ints (() for a single linear "
            f"hash layer); got hidden_layer_sizes={given!r}."
        )
    return tuple(int(s) for s in sizes)


class GeneratorDropout(torch.nn.Module):
    """Dropout whose masks come from a ``torch.Generator`` of the fit, not torch's global one.

    :class:`torch.nn.Dropout` draws from torch's global generator, which other
    threads share, so a fit beside another would get other masks and move the
    caller's random state. During ``fit`` the estimator sets ``generator`` (on the
    device of the inputs) and clears it afterwards; without one, masks come from
    torch's default generator as with :class:`torch.nn.Dropout`.

    Parameters
    ----------
    p : float
        Probability of zeroing an element, in [0, 1).
    """

    def __init__(self, p):
        super().__init__()
        self.p = float(p)
        self.generator = None

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        if self.p >= 1:  # a user's torch.nn.Dropout(1.0): everything dropped
            return torch.zeros_like(x)
        keep = torch.rand(x.shape, generator=self.generator, device=x.device) >= self.p
        return x * keep.to(x.dtype) / (1.0 - self.p)

    def extra_repr(self):
        return f"p={self.p}"


def _linear(n_in, n_out, generator):
    """``torch.nn.Linear`` with torch's default initialisation drawn from ``generator``.

    The layer is created without initialising it (no draw from the global generator),
    then given torch's own uniform(±1/sqrt(fan_in)) weights and biases; with
    ``generator=None`` it is left uninitialised, for weights about to be loaded.
    """
    layer = torch.nn.utils.skip_init(torch.nn.Linear, n_in, n_out)
    if generator is not None:
        with torch.no_grad():
            torch.nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            bound = 1.0 / math.sqrt(n_in) if n_in > 0 else 0.0
            layer.bias.uniform_(-bound, bound, generator=generator)
    return layer


def _mlp(n_features, hidden_layer_sizes, n_bits, dropout, generator=None):
    """ReLU MLP with dropout after each hidden layer and a linear hash layer of n_bits."""
    layers = []
    width = n_features
    for size in hidden_layer_sizes:
        layers += [_linear(width, size, generator), torch.nn.ReLU()]
        if dropout > 0:
            layers.append(GeneratorDropout(dropout))
        width = size
    layers.append(_linear(width, n_bits, generator))
    return torch.nn.Sequential(*layers)


def _replace_dropout(module):
    """``module`` with every :class:`torch.nn.Dropout` replaced by a GeneratorDropout."""
    if type(module) is torch.nn.Dropout:
        return GeneratorDropout(module.p)
    for name, child in list(module.named_children()):
        swapped = _replace_dropout(child)
        if swapped is not child:
            setattr(module, name, swapped)
    return module


#: Random layers that take no generator: they draw from torch's global one.
_GLOBAL_RNG_LAYERS = (
    torch.nn.Dropout1d,
    torch.nn.Dropout2d,
    torch.nn.Dropout3d,
    torch.nn.AlphaDropout,
    torch.nn.FeatureAlphaDropout,
    torch.nn.RReLU,
)


def _warn_global_rng_layers(module):
    """Warn if ``module`` has random layers that draw from torch's global generator.

    Such a fit is not reproducible and moves the caller's random state.
    """
    others = sorted(
        {type(m).__name__ for m in module.modules() if isinstance(m, _GLOBAL_RNG_LAYERS)}
    )
    if others:
        warnings.warn(
            f"the module has random layers ({', '.join(others)}) that draw from torch's "
            "global generator, not from random_state: this fit is not reproducible "
            "and changes torch's global random state. torch.nn.Dropout layers are "
            "seeded.",
            UserWarning,
            stacklevel=5,  # the caller of fit
        )


def _set_dropout_generator(module, generator):
    for m in module.modules():
        if isinstance(m, GeneratorDropout):
            m.generator = generator


def _float32(X):
    """``X`` as a C-contiguous float32 array; a ValueError if a value does not fit."""
    if X.dtype == np.float32 and X.flags.c_contiguous:
        # Validated (finite) already; a memory-mapped array stays mapped, not copied.
        return X
    with np.errstate(over="ignore"):
        X32 = np.ascontiguousarray(X, dtype=np.float32)
    if not np.isfinite(X32).all():
        largest = float(np.abs(X).max())
        raise ValueError(
            f"X holds values outside float32's range (largest |value| = {largest:.3g}, "
            f"float32 goes up to {np.finfo(np.float32).max:.3g}), and the deep hashers "
            "compute in float32; scale the features (e.g. with "
            "sklearn.preprocessing.StandardScaler)."
        )
    return X32


class PairSupervision:
    """Supervision on the training device, handed to the loss hooks as ``sup``.

    Attributes
    ----------
    supervision : :class:`skhash._supervision.Supervision`
        The validated labels or pairs (scipy, on the CPU).
    n_samples : int
    labels : Tensor of shape (n_samples, n_labels), float32, or None
        Dense 0/1 label indicator matrix on the training device; None for pair
        supervision.
    """

    def __init__(self, supervision, device):
        self.supervision = supervision
        self.n_samples = supervision.n_samples
        self.device = device
        if supervision.from_labels:
            Y = supervision.labels.toarray().astype(np.float32)
            self.labels = torch.from_numpy(Y).to(device)
            self._label_counts = self.labels.sum(dim=1)
            self._pairs = None
        else:
            self.labels = None
            self._pairs = supervision.pairs

    def block(self, idx, kind="binary", cols=None):
        """Similarity between the samples ``idx`` and the training samples ``cols``.

        Parameters
        ----------
        idx : LongTensor of shape (b,)
            Row indices into the training set.
        kind : {"binary", "jaccard", "cosine"}, default="binary"
            Label similarity: share-a-label (1/0), or the continuous Jaccard or
            cosine similarity of the label sets. Pair supervision gives its stored
            ``s`` whatever ``kind`` is.
        cols : LongTensor of shape (m,), default=None
            Column indices into the training set; None means every training sample.

        Returns
        -------
        S : Tensor of shape (b, m), float32 in [0, 1]
            ``m`` is ``n_samples`` when ``cols`` is None.
        mask : Tensor of shape (b, m), bool
            Pairs that count: known pairs (all of them with labels, the given ones
            with pairs), never a sample with itself.
        """
        b = idx.shape[0]
        m = self.n_samples if cols is None else cols.shape[0]
        if self.labels is not None:
            other = self.labels if cols is None else self.labels[cols]
            inter = self.labels[idx] @ other.T
            if kind == "binary":
                S = (inter > 0).to(torch.float32)
            else:
                na = self._label_counts[idx][:, None]
                nb = (self._label_counts if cols is None else self._label_counts[cols])[None, :]
                denom = na + nb - inter if kind == "jaccard" else torch.sqrt(na * nb)
                S = torch.where(denom > 0, inter / denom.clamp_min(1e-12), 0.0)
            mask = torch.ones((b, m), dtype=torch.bool, device=self.device)
        else:
            sub = self._pairs[idx.cpu().numpy()]
            if cols is not None:
                sub = sub[:, cols.cpu().numpy()]
            sub = sub.tocoo()
            S_np = np.zeros(sub.shape, dtype=np.float32)
            known = np.zeros(sub.shape, dtype=bool)
            S_np[sub.row, sub.col] = sub.data
            known[sub.row, sub.col] = True
            S = torch.from_numpy(S_np).to(self.device)
            mask = torch.from_numpy(known).to(self.device)
        if cols is None:
            mask[torch.arange(b, device=self.device), idx] = False
        else:
            mask &= idx[:, None] != cols[None, :]
        return S, mask


class _BankSubset:
    """The supervision seen by ``_batch_loss`` when a batch pairs with some bank rows.

    ``block(idx, kind)`` gives the columns ``cols`` of the training set (self-pairs
    masked); everything else (``labels``, ``supervision``, ``n_samples``) is the
    whole training set's, as in :class:`PairSupervision`.
    """

    def __init__(self, sup, cols):
        self._sup = sup
        self.cols = cols

    def __getattr__(self, name):
        return getattr(self._sup, name)

    def block(self, idx, kind="binary"):
        return self._sup.block(idx, kind, cols=self.cols)


def _snapshot(state):
    """A copy of a dict of tensors and values that later in-place updates leave alone.

    Tensors are cloned on their own device, so keeping the best weights works on any
    device without a round trip through the CPU.
    """
    return {
        k: (v.detach().clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v))
        for k, v in state.items()
    }


def _stratified_holdout(supervision, fraction, rng):
    """Indices (train, held_out) of a split holding out about ``fraction`` of the samples.

    Single-label: about ``fraction`` of each class (stochastic rounding), never a
    class's last sample, so every class stays in training. Multi-label: a random
    ``round(fraction * n)`` samples.
    """
    n = supervision.n_samples
    if supervision.multilabel:
        order = rng.permutation(n)
        n_out = int(round(fraction * n))
        return np.sort(order[n_out:]), np.sort(order[:n_out])
    y = supervision.labels.indices  # one label per row, rows in order
    held = []
    for c in range(supervision.labels.shape[1]):
        members = np.flatnonzero(y == c)
        if len(members) < 2:
            continue
        take = min(int(np.floor(fraction * len(members) + rng.uniform())), len(members) - 1)
        held.append(rng.permutation(members)[:take])
    held = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    keep = np.ones(n, dtype=bool)
    keep[held] = False
    return np.flatnonzero(keep), held


class BaseDeepHasher(BaseHasher):
    """Base class of the deep hashers: a torch network trained on pairwise supervision.

    The base owns everything but the loss: input validation, supervision, the
    network, the optimizer and its schedule, minibatches, the device, threads,
    seeding, progress, ``loss_curve_``, pickling and rollback on error. Outputs
    ``z = net(x)`` of shape (n, n_bits) are the real-valued hash functions
    (``decision_function``); codes are ``sign(z)``.

    The network computes in float32. Features beyond its range, outputs that
    overflow it and a loss that the initial network already makes non-finite are
    ValueErrors giving the largest values, never NaN outputs or codes; a loss that
    becomes non-finite only during training is a FloatingPointError naming the
    learning rate. Queries use
    the fitted network ``module_`` and its number of bits whatever ``set_params``
    changed since; ``batch_size`` and ``n_jobs``, which change no result, are read
    and checked at query time.

    **Subclass API.** A subclass lists every constructor parameter of this class in
    its own ``__init__`` (scikit-learn reads parameters from the signature), passes
    them to ``super().__init__``, extends ``_parameter_constraints``, and
    implements the hooks below. During ``fit``, ``self._fit_state`` is an empty
    dict for the hooks' working state (centres, codes, β...); the base deletes it
    when the fit ends. Fitted attributes a hook sets on ``self`` (names ending in
    ``_``) are kept and pickled with the estimator, so store them as numpy arrays
    or CPU tensors.

    ``_batch_loss(self, z, idx, bank, sup) -> Tensor`` (required)
        The scalar loss of one minibatch. ``z``: network outputs of the batch,
        shape (b, n_bits), float32, on the device, with gradient. ``idx``: the
        batch's row indices into the training set (LongTensor on the device).
        ``bank``: outputs of the training samples the batch is paired with,
        shape (m, n_bits), detached, on the device: all n of them (m = n) when
        n <= ``n_bank_samples``, else ``n_bank_samples`` rows drawn afresh for each
        batch. Each row holds the output from the last time its sample was seen (a
        forward pass over the training set fills the bank before the first epoch);
        the batch's own samples hold ``z.detach()``. ``sup``: a
        :class:`PairSupervision` whose ``sup.block(idx, kind)`` gives the (b, m)
        similarity between the batch and those same m samples, and the mask of
        pairs that count, self-pairs excluded; ``sup.labels`` is the dense label
        matrix of the whole training set on the device (rows are indexed by
        ``idx``); None for an unsupervised fit. ``self.n_steps_`` holds the number
        of optimizer steps taken so far (for per-iteration schedules).
    ``_init_loss_state(self, bank, sup)`` (optional)
        Called once before training, after the bank is filled with the initial
        network's outputs: the whole bank, shape (n, n_bits), and the whole
        training set's supervision (``sup.block`` gives (b, n) blocks), e.g. to
        initialise class centres. :meth:`partial_fit` calls it on each chunk, with
        the chunk's bank and supervision.
    ``_end_of_epoch(self, bank)`` (optional)
        Called after each epoch's optimizer steps and learning-rate schedule step,
        with the whole bank (n, n_bits), e.g. closed-form updates of auxiliary
        variables.
    ``_end_of_fit(self)`` (optional)
        Called once after the last epoch, before ``_fit_state`` is deleted, to
        store fitted attributes. With early stopping, the network and
        ``_fit_state`` are those of the best epoch by then.
    ``_supervised`` (class attribute, default True)
        Whether ``fit`` needs ``y`` or ``pairs`` (:class:`~skhash._base.BaseHasher`'s
        flag); when False and neither is given, ``sup`` is None.
    ``_labels_only_reason`` (class attribute, default None)
        None when pairwise supervision alone can train the method. Otherwise why it
        needs class labels (a sentence): ``fit`` then refuses ``pairs=`` alone, and a
        fit without ``y`` asks for labels only, giving this reason.
    ``_similarity_kind(self)`` (optional)
        The label-similarity kind of the :class:`skhash._supervision.Supervision`
        built by ``fit`` (default ``getattr(self, "similarity", "binary")``).

    Hooks get only what the shipped hashers use; one that needs more (the epoch
    number, the supervision after the first epoch) keeps it in ``_fit_state``.

    Early stopping, ``partial_fit``, the cost of an epoch and the GPU path: read more
    in the User Guide, :doc:`/user_guide/deep_training`.

    Parameters
    ----------
    n_bits : int, default=32
        Code length K: the number of network outputs.
    hidden_layer_sizes : tuple of int, default=(512,)
        Hidden layer widths of the default network, a ReLU MLP over the features
        with a linear hash layer of ``n_bits`` outputs. ``()`` gives a single linear
        hash layer over the features (the papers' fch layer on top of fixed CNN
        features). Ignored when ``module`` is given.
    dropout : float, default=0.0
        Dropout probability after each hidden layer of the default network.
    module : torch.nn.Module, default=None
        Your own network, mapping a float32 batch of shape (b, n_features) to
        (b, n_bits) outputs, e.g. a CNN starting with ``torch.nn.Unflatten`` for
        raw images. ``fit`` trains a deep copy end-to-end (all its parameters), so
        the module you pass is never modified and a pretrained backbone keeps its
        weights as the starting point. ``fit`` moves the copy to ``device``, and
        replaces its :class:`torch.nn.Dropout` layers by :class:`GeneratorDropout`
        ones (same probability), which draw from the fit's own generator.
        Pickling stores a CPU copy of it, so a pickle made with a template on a GPU
        loads on a machine without one (its ``module`` is then on the CPU).
    optimizer : {"adam", "adamw", "sgd"}, default="adam"
        ``"sgd"`` uses ``momentum``.
    lr : float, default=1e-3
        Learning rate (Adam's default; SGD usually wants about 1e-2).
    weight_decay : float, default=0.0
        L2 penalty (``"adam"``, ``"sgd"``) or decoupled weight decay (``"adamw"``).
    momentum : float, default=0.9
        Momentum of ``"sgd"``.
    lr_schedule : {"constant", "cosine"} or callable, default="constant"
        Learning-rate multiplier per epoch: constant, cosine decay from 1 to 0 over
        ``max_epochs``, or ``callable(epoch) -> float`` (epoch 0-based), as in
        :class:`torch.optim.lr_scheduler.LambdaLR`.
    max_epochs : int, default=50
        Passes over the training set (at most, with early stopping).
    early_stopping : bool or "auto", default="auto"
        Stop when retrieval stops improving, as :class:`~sklearn.neural_network.MLPClassifier`
        does with its validation score: ``validation_fraction`` of the samples are
        held out (stratified by class) and never trained on; after each epoch the
        codes of the held-out samples query the codes of the training samples
        (the signs of the memory bank), scored by mAP@1000 with relevance "shares a
        label" (:func:`skhash.metrics.mean_average_precision`). Training stops when
        the score has not improved by more than ``tol`` for ``n_iter_no_change``
        epochs, and the network of the best-scoring epoch is kept. ``True`` needs
        class labels (or an indicator matrix) and a split that leaves every class
        in training; otherwise it raises a ``ValueError``. ``"auto"`` is on when
        labels are given and at least 200 samples would be held out (n_samples >=
        2,000 at the default fraction: fewer queries give too noisy a score to stop
        on, and on small sets the held-out part is a larger loss), and off
        otherwise: with ``pairs=``, and when the split would leave no usable
        training set.
    validation_fraction : float, default=0.1
        Proportion of the samples held out for early stopping, in (0, 1).
    n_iter_no_change : int, default=10
        Epochs without an improvement of more than ``tol`` in the validation
        score before training stops.
    tol : float, default=1e-4
        Improvement of the validation mAP that counts as one.
    n_bank_samples : int or None, default=10_000
        Training samples each minibatch is paired with. Up to this many training
        samples, every batch is paired with all of them (the whole memory bank);
        beyond, with ``n_bank_samples`` of them, different for each batch (slices
        of one random permutation per epoch, from the fit's generator), so an
        epoch costs O(n_samples * n_bank_samples) instead of O(n_samples²).
        None: always the whole bank.
    batch_size : int, default=64
        Minibatch size, for training and for computing codes. A last batch of one
        sample is merged into the previous one (batch norm needs two).
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where the network runs. ``"auto"``: CUDA when available, else the CPU.
        Requesting CUDA on a machine without it raises a ``ValueError``. Data stay
        on the CPU and move to the device one batch at a time.
    n_jobs : int, default=None
        Threads of torch's CPU operations during ``fit`` and ``transform``
        (restored afterwards; the count is process-wide, so fits running side by
        side in threads share it, and the last one to finish restores the
        caller's). None means 1 unless in a
        :func:`joblib.parallel_config` context; ``-1`` uses all cores (worth it for
        a large network, e.g. a CNN, on the CPU).
    random_state : int, RandomState instance or None, default=None
        Seeds the network's initialisation, the batch order and dropout. Same
        value → identical codes on the CPU (GPU kernels may not be deterministic),
        also when other fits run at the same time in other threads: a fit draws
        only from its own ``torch.Generator`` objects (on the CPU, and on the
        device for dropout), never from torch's global generators, and leaves the
        numpy and torch global random states untouched. Random layers of your own
        ``module`` other than :class:`torch.nn.Dropout` (e.g. ``Dropout2d``,
        ``RReLU``) take no generator: they draw from torch's global generator,
        unseeded, so such a fit is not reproducible.
    verbose : int, default=0
        ``> 0``: a tqdm progress bar over the epochs of a fit, with the loss, and
        with early stopping the validation mAP, the best one and the epochs since
        it improved; the time left assumes ``max_epochs``.

    Attributes
    ----------
    loss_curve_ : list of float
        Mean training loss per epoch.
    n_iter_ : int
        Epochs run (fewer than ``max_epochs`` when early stopping stopped them).
    n_steps_ : int
        Optimizer steps taken.
    validation_scores_ : list of float or None
        Validation mAP after each epoch; None without early stopping.
    best_validation_score_ : float or None
        The best of them, whose epoch's network is kept; None without early
        stopping.
    """

    _parameter_constraints: dict = {
        **BaseHasher._parameter_constraints,
        "hidden_layer_sizes": ["array-like", IntInterval(1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "module": [torch.nn.Module, None],
        "optimizer": [StrOptions({"adam", "adamw", "sgd"})],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "lr_schedule": [StrOptions({"constant", "cosine"}), callable],
        "max_epochs": [IntInterval(1, None, closed="left")],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [IntInterval(1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_bank_samples": [IntInterval(2, None, closed="left"), None],
        "batch_size": [IntInterval(1, None, closed="left")],
        "device": [str, torch.device],
        "n_jobs": [
            IntInterval(None, -1, closed="right"),
            IntInterval(1, None, closed="left"),
            None,
        ],
    }

    _supervised = True

    def __init__(
        self,
        n_bits=32,
        *,
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
        super().__init__(n_bits=n_bits, random_state=random_state, verbose=verbose)
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.module = module
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.lr_schedule = lr_schedule
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.n_bank_samples = n_bank_samples
        self.batch_size = batch_size
        self.device = device
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags

    # ---- hooks -------------------------------------------------------------------

    def _batch_loss(self, z, idx, bank, sup):
        raise NotImplementedError

    def _init_loss_state(self, bank, sup):
        pass

    def _end_of_epoch(self, bank):
        pass

    def _end_of_fit(self):
        pass

    def _similarity_kind(self):
        return getattr(self, "similarity", "binary")

    # ---- fitting -----------------------------------------------------------------

    def _build_module(self, n_features, generator):
        """A fresh network: a deep copy of ``module``, or the default MLP.

        The MLP's weights are drawn from ``generator``; in a copy of ``module``,
        :class:`torch.nn.Dropout` layers become :class:`GeneratorDropout` ones.
        """
        if self.module is not None:
            return _replace_dropout(copy.deepcopy(self.module))
        sizes = _check_hidden_layer_sizes(self.hidden_layer_sizes)
        return _mlp(n_features, sizes, self.n_bits, self.dropout, generator)

    def _make_optimizer(self, params):
        if self.optimizer == "sgd":
            return torch.optim.SGD(
                params, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay
            )
        cls = torch.optim.AdamW if self.optimizer == "adamw" else torch.optim.Adam
        return cls(params, lr=self.lr, weight_decay=self.weight_decay)

    def _lr_factor(self):
        if callable(self.lr_schedule):
            return self.lr_schedule
        if self.lr_schedule == "cosine":
            n = self.max_epochs
            return lambda epoch: 0.5 * (1.0 + math.cos(math.pi * min(epoch, n) / n))
        return lambda epoch: 1.0

    def _batches(self, n, order=None):
        """Index chunks of ``batch_size``; a trailing chunk of one joins the previous."""
        bs = self.batch_size
        starts = list(range(0, n, bs))
        if len(starts) > 1 and n - starts[-1] == 1:
            starts.pop()
        ends = starts[1:] + [n]
        for start, end in zip(starts, ends, strict=True):
            yield (slice(start, end) if order is None else order[start:end])

    def _forward_all(self, module, X32, device, n_bits):
        """Outputs of the network for every row of X32, in eval mode, on ``device``.

        A ValueError if any is not finite: float32 overflowed in the network, and
        the signs of such outputs would be meaningless codes.
        """
        was_training = module.training
        module.eval()
        outputs = []
        with torch.no_grad():
            for rows in self._batches(X32.shape[0]):
                chunk = X32[rows]
                if not chunk.flags.writeable:  # a read-only memmap: torch wants to own it
                    chunk = chunk.copy()
                xb = torch.from_numpy(chunk).to(device)
                outputs.append(self._check_output(module(xb), xb.shape[0], n_bits))
        module.train(was_training)
        Z = torch.cat(outputs).to(torch.float32)
        bad = ~torch.isfinite(Z).all(dim=1)
        if bad.any():
            bad = bad.cpu().numpy()
            raise ValueError(
                f"the network's outputs are not finite (inf or NaN) for {bad.sum()} of "
                f"{len(bad)} samples, whose features reach |X| = "
                f"{float(np.abs(X32[bad]).max()):.3g}: float32 arithmetic overflowed in "
                "the network (or the module computes non-finite values). If the "
                "features are large, scale them (e.g. with "
                "sklearn.preprocessing.StandardScaler)."
            )
        return Z

    @staticmethod
    def _check_output(z, b, n_bits):
        if not isinstance(z, torch.Tensor) or tuple(z.shape) != (b, n_bits):
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(
                f"the network must map a batch of {b} samples to outputs of shape "
                f"({b}, n_bits={n_bits}); got {shape}."
            )
        return z

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, pairs=None):
        """Train the network on pairwise supervision.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features (float32 or float64; cast to float32 per batch).
        y : array-like of shape (n_samples,) or (n_samples, n_labels), default=None
            Class labels or a multi-label 0/1 indicator matrix.
        pairs : array-like of shape (n_pairs, 3) or sparse matrix of shape \
(n_samples, n_samples), default=None
            Pairwise supervision instead of labels: rows ``(i, j, s)`` with s in
            [0, 1], or a sparse similarity matrix whose stored entries are the known
            pairs.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        with rollback_on_error(self):
            X = validate_data(self, X, dtype=[np.float32, np.float64], ensure_min_samples=2)
            X32 = _float32(X)
            n = X.shape[0]
            sup = self._check_supervision(y, pairs, n, kind=self._similarity_kind())
            device = _resolve_device(self.device)
            random_state = check_random_state(self.random_state)
            # Seeds of: initialisation and batch order, dropout, bank subsets, the
            # validation split (the first two as before these existed, so a fit
            # that uses neither of the others is unchanged).
            seeds = [int(s) for s in random_state.randint(np.iinfo(np.int32).max, size=4)]
            X32, sup, validation = self._validation_split(X32, sup, seeds[3])
            self.__dict__.pop("_partial_fit_state", None)
            self.__dict__.pop("_partial_classes", None)
            try:
                with _torch_threads(self.n_jobs):
                    self._fit_state = {}
                    self._train(X32, sup, device, seeds, validation)
            finally:
                self.__dict__.pop("_fit_state", None)
        return self

    def _validation_split(self, X32, sup, seed):
        """(X32, sup) of the training part and the held-out part, or None, for early stopping."""
        if self.early_stopping is False:
            return X32, sup, None
        n = X32.shape[0]
        strict = self.early_stopping is True
        if sup is None or not sup.from_labels:
            if strict:
                raise ValueError(
                    "early_stopping=True scores retrieval of held-out samples by shared "
                    "labels, so it needs class labels y (or a label indicator matrix); "
                    f"{'pairs= give' if sup is not None else 'an unsupervised fit gives'} "
                    "no relevance for them. Use early_stopping=False or 'auto' (off "
                    "without labels)."
                )
            return X32, sup, None
        if not strict and self.validation_fraction * n < _MIN_AUTO_VALIDATION:
            return X32, sup, None
        train, held = _stratified_holdout(
            sup, self.validation_fraction, np.random.RandomState(seed)
        )
        reason = None
        if len(held) == 0:
            reason = (
                f"validation_fraction={self.validation_fraction} of {n} samples holds out "
                "no sample (a class's last sample is never held out)"
            )
        else:
            try:
                train_sup = check_supervision(
                    sup.labels[train], n_samples=len(train), kind=sup.kind
                )
            except ValueError as exc:
                reason = f"the training part left by the split cannot train: {exc}"
        if reason is not None:
            if strict:
                raise ValueError(
                    f"early_stopping=True cannot split these {n} samples: {reason}. "
                    "Give more samples per class, a larger validation_fraction, or "
                    "early_stopping=False."
                )
            return X32, sup, None
        # The indicator from 1-D labels says multilabel; keep the caller's.
        train_sup.multilabel = sup.multilabel
        Y = sup.labels
        labels = Y if sup.multilabel else Y.indices
        validation = {
            "X": X32[held],
            "y": labels[held],
            "y_train": labels[train],
        }
        return X32[train], train_sup, validation

    def _train(self, X32, sup, device, seeds, validation=None):
        # The fit's own generators, never torch's global ones (shared by every
        # thread): initialisation and batch order on the CPU, dropout on the device.
        # One generator each, so that the batch order does not depend on how many
        # weights the network has, nor the masks on the batch order.
        init_generator = torch.Generator().manual_seed(seeds[0])
        generators = {
            "order": torch.Generator().manual_seed(seeds[0]),
            "bank": torch.Generator().manual_seed(seeds[2]),
        }
        dropout_generator = torch.Generator(device=device).manual_seed(seeds[1])
        module = self._build_module(X32.shape[1], init_generator).to(device)
        _warn_global_rng_layers(module)
        _set_dropout_generator(module, dropout_generator)
        tsup = None if sup is None else PairSupervision(sup, device)
        try:
            self._train_module(module, X32, tsup, device, generators, validation)
        except FloatingPointError:
            # Rebuilt as it started: same seed, same weights.
            initial = self._build_module(X32.shape[1], torch.Generator().manual_seed(seeds[0]))
            self._check_initial_loss(initial.to(device), X32, tsup, device)
            raise
        finally:
            _set_dropout_generator(module, None)

    def _bank_size(self, n):
        """Bank rows each batch is paired with: all n, or ``n_bank_samples`` of them."""
        if self.n_bank_samples is None or n <= self.n_bank_samples:
            return n
        return int(self.n_bank_samples)

    def _run_epoch(self, module, X32, tsup, bank, optimizer, device, generators, epoch):
        """One pass over X32 in a random order; returns the mean loss per sample."""
        n = X32.shape[0]
        m = self._bank_size(n)
        module.train()
        order = torch.randperm(n, generator=generators["order"])
        if m < n:
            # Each batch pairs with m consecutive entries (cyclically) of one
            # permutation per epoch: O(m) per batch, no repeat within a batch, and
            # every sample in about as many batches' pairs.
            columns = torch.randperm(n, generator=generators["bank"]).to(device)
            offset = 0
            window = torch.arange(m, device=device)
        total = torch.zeros((), dtype=torch.float64, device=device)
        for idx in self._batches(n, order):
            xb = torch.from_numpy(X32[idx.numpy()]).to(device, non_blocking=True)
            idx_dev = idx.to(device)
            z = self._check_output(module(xb), xb.shape[0], self.n_bits)
            bank[idx_dev] = z.detach().to(torch.float32)
            if m < n:
                cols = columns[(window + offset) % n]
                offset = (offset + m) % n
                loss = self._batch_loss(z, idx_dev, bank[cols], _BankSubset(tsup, cols))
            else:
                loss = self._batch_loss(z, idx_dev, bank, tsup)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            self.n_steps_ += 1
            total += loss.detach().to(torch.float64) * len(idx)
        epoch_loss = float(total) / n
        if not math.isfinite(epoch_loss):
            raise FloatingPointError(
                f"the training loss became {epoch_loss} in epoch {epoch + 1}, "
                "while the initial network's loss is finite on every minibatch; "
                f"try a smaller learning rate (got lr={self.lr})."
            )
        return epoch_loss

    def _validation_score(self, module, bank, validation, device):
        """mAP@1000 of the held-out codes against the training codes (bank signs)."""
        queries = self._forward_all(module, validation["X"], device, self.n_bits)
        db = torch.where(bank >= 0, 1, -1).to(torch.int8).cpu().numpy()
        queries = torch.where(queries >= 0, 1, -1).to(torch.int8).cpu().numpy()
        # The metric's chunks fill working_memory (1 GiB by default): within a fit,
        # where the network and data already take memory, score in smaller chunks.
        budget = min(get_config()["working_memory"], _VALIDATION_WORKING_MEMORY)
        # numba's first parallel launch (its OpenMP layer starting) sets the calling
        # thread's OpenMP count, which torch reads: put the fit's torch threads back,
        # or the rest of the fit runs small batches on every core.
        torch_threads = torch.get_num_threads()
        try:
            with config_context(working_memory=budget):
                return mean_average_precision(
                    queries,
                    validation["y"],
                    db,
                    validation["y_train"],
                    k=min(_VALIDATION_DEPTH, db.shape[0]),
                    n_jobs=self.n_jobs,
                )
        finally:
            torch.set_num_threads(torch_threads)

    def _train_module(self, module, X32, tsup, device, generators, validation=None):
        self.n_steps_ = 0
        bank = self._forward_all(module, X32, device, self.n_bits)
        self._init_loss_state(bank, tsup)
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise ValueError("the network has no trainable parameter.")
        optimizer = self._make_optimizer(params)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self._lr_factor())
        loss_curve, scores = [], []
        best = None  # (score, weights, hooks' state) of the best epoch
        stale = 0
        bar = None
        if self.verbose > 0:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.max_epochs, desc=type(self).__name__, unit="epoch")
        try:
            for epoch in range(self.max_epochs):
                epoch_loss = self._run_epoch(
                    module, X32, tsup, bank, optimizer, device, generators, epoch
                )
                loss_curve.append(epoch_loss)
                scheduler.step()
                self._end_of_epoch(bank)
                postfix = {"epoch": epoch + 1, "loss": f"{epoch_loss:.4g}"}
                if validation is not None:
                    score = self._validation_score(module, bank, validation, device)
                    scores.append(score)
                    # As MLPClassifier: any improvement keeps the weights, only one
                    # by more than tol resets the patience.
                    stale = 0 if best is None or score > best[0] + self.tol else stale + 1
                    if best is None or score > best[0]:
                        best = (score, _snapshot(module.state_dict()), _snapshot(self._fit_state))
                    postfix.update(
                        val_map=f"{score:.4f}",
                        best=f"{best[0]:.4f}",
                        no_change=f"{stale}/{self.n_iter_no_change}",
                    )
                if bar is not None:
                    bar.set_postfix(postfix)
                    bar.update(1)
                if validation is not None and stale >= self.n_iter_no_change:
                    break
        finally:
            if bar is not None:
                bar.close()
        if best is not None:
            module.load_state_dict(best[1])
            self._fit_state = best[2]
        self._end_of_fit()
        module.eval()
        self.module_ = module
        self.device_ = device
        self.loss_curve_ = loss_curve
        self.n_iter_ = len(loss_curve)
        self.validation_scores_ = scores if validation is not None else None
        self.best_validation_score_ = None if best is None else best[0]
        self._set_n_features_out()

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, pairs=None, classes=None):
        """Train for one epoch on a chunk of data, continuing from the previous call.

        The first call builds the network (from ``random_state``), the optimizer and
        the generators; later calls keep them, so a stream of chunks (e.g. slices of
        an :class:`numpy.memmap` larger than memory) trains like epochs of ``fit``.
        Each chunk is a training set of its own: its memory bank, its supervision
        (pairs within the chunk), and the loss hooks' state (class centres, the
        pair ratio...) are computed from it. There is no early stopping. After
        ``fit``, or on a loaded model, ``partial_fit`` continues training the fitted
        network with a new optimizer; ``fit`` always starts over.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The chunk's features; at least 2 samples, the same features every call.
        y : array-like of shape (n_samples,) or (n_samples, n_labels), default=None
            Class labels or a multi-label 0/1 indicator matrix.
        pairs : array-like of shape (n_pairs, 3) or sparse matrix, default=None
            Pairwise supervision within the chunk (indices into this chunk's rows).
        classes : array-like of shape (n_classes,), default=None
            Every class label of the stream, given on the first call with 1-D ``y``,
            for hashers that keep a state per class (FisherHasher's centres). Without
            it the first chunk's classes are all there are, and a later chunk with
            another class is an error.

        Returns
        -------
        self : object
            The estimator, trained one more epoch.
        """
        with rollback_on_error(self):
            fitted = hasattr(self, "module_")
            X = validate_data(
                self, X, dtype=[np.float32, np.float64], ensure_min_samples=2, reset=not fitted
            )
            X32 = _float32(X)
            y = self._stream_labels(y, classes)
            sup = self._check_supervision(y, pairs, X.shape[0], kind=self._similarity_kind())
            state = getattr(self, "_partial_fit_state", None)
            if state is None:
                state = self._start_partial_fit(X32.shape[1], fitted)
            module, optimizer = state["module"], state["optimizer"]
            saved = (
                _snapshot(module.state_dict()),
                copy.deepcopy(optimizer.state_dict()),
                state["scheduler"].state_dict(),
                {k: g.get_state() for k, g in state["generators"].items()},
                state["dropout_generator"].get_state(),
            )
            tsup = None if sup is None else PairSupervision(sup, state["device"])
            try:
                with _torch_threads(self.n_jobs):
                    self._fit_state = {}
                    _set_dropout_generator(module, state["dropout_generator"])
                    bank = self._forward_all(module, X32, state["device"], self.n_bits)
                    self._init_loss_state(bank, tsup)
                    loss = self._run_epoch(
                        module,
                        X32,
                        tsup,
                        bank,
                        optimizer,
                        state["device"],
                        state["generators"],
                        getattr(self, "n_iter_", 0),
                    )
                    state["scheduler"].step()
                    self._end_of_epoch(bank)
                    self._end_of_fit()
            except BaseException:
                module.load_state_dict(saved[0])
                optimizer.load_state_dict(saved[1])
                state["scheduler"].load_state_dict(saved[2])
                for k, g in state["generators"].items():
                    g.set_state(saved[3][k])
                state["dropout_generator"].set_state(saved[4])
                raise
            finally:
                _set_dropout_generator(module, None)
                self.__dict__.pop("_fit_state", None)
            module.eval()
            self.module_ = module
            self.device_ = state["device"]
            self.loss_curve_ = [*getattr(self, "loss_curve_", []), loss]
            self.n_iter_ = len(self.loss_curve_)
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self._partial_fit_state = state
            self._set_n_features_out()
        return self

    def _start_partial_fit(self, n_features, fitted):
        """Network, optimizer, schedule and generators of a first partial_fit."""
        random_state = check_random_state(self.random_state)
        seeds = [int(s) for s in random_state.randint(np.iinfo(np.int32).max, size=4)]
        if fitted:
            module, device = self.module_, self.device_
        else:
            device = _resolve_device(self.device)
            module = self._build_module(n_features, torch.Generator().manual_seed(seeds[0]))
            module = module.to(device)
            _warn_global_rng_layers(module)
            self.n_steps_ = 0
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise ValueError("the network has no trainable parameter.")
        optimizer = self._make_optimizer(params)
        return {
            "module": module,
            "device": device,
            "optimizer": optimizer,
            "scheduler": torch.optim.lr_scheduler.LambdaLR(optimizer, self._lr_factor()),
            "generators": {
                "order": torch.Generator().manual_seed(seeds[0]),
                "bank": torch.Generator().manual_seed(seeds[2]),
            },
            "dropout_generator": torch.Generator(device=device).manual_seed(seeds[1]),
        }

    def _stream_labels(self, y, classes):
        """1-D labels of a partial_fit chunk as an indicator over the stream's classes.

        The columns stay the same from call to call (the first call's ``classes``,
        or its chunk's classes), so per-class state lines up across chunks.
        """
        if y is None or sp.issparse(y):
            return y
        arr = np.asarray(y)
        if arr.ndim == 2 and arr.shape[1] != 1:
            return arr
        arr = arr.ravel()
        known = getattr(self, "_partial_classes", None)
        if known is None:
            first = arr if classes is None else np.asarray(classes).ravel()
            known, _ = encode_class_labels(first, names=["classes" if classes is not None else "y"])
        elif classes is not None:
            given, _ = encode_class_labels(np.asarray(classes).ravel(), names=["classes"])
            if not np.array_equal(given, known):
                raise ValueError(
                    f"classes={given.tolist()} differs from the first partial_fit call's "
                    f"classes {known.tolist()}; pass them on the first call only."
                )
        vocabulary, (_, codes) = encode_class_labels(known, arr, names=["classes", "y"])
        if len(vocabulary) != len(known):
            unknown = np.setdiff1d(vocabulary, known)
            raise ValueError(
                f"y holds classes {unknown.tolist()} that the first partial_fit call did "
                f"not know (it knew {known.tolist()}); pass every class of the stream as "
                "classes= to the first partial_fit call."
            )
        self._partial_classes = known
        n = len(arr)
        return sp.csr_matrix((np.ones(n), (np.arange(n), codes)), shape=(n, len(known)))

    def _check_initial_loss(self, module, X32, tsup, device):
        """A ValueError if the loss of the initial network is not finite on a minibatch.

        Called when the training loss became non-finite: if the network as it
        started already gives a non-finite loss (no optimizer step, so no learning
        rate, involved), the features are too large for the loss in float32.
        """
        bank = self._forward_all(module, X32, device, self.n_bits)
        n = X32.shape[0]
        m = self._bank_size(n)
        cols = torch.arange(m, device=device)
        with torch.no_grad():
            for rows in self._batches(n):
                idx = torch.arange(rows.start, rows.stop, device=device)
                if m < n:
                    loss = self._batch_loss(bank[idx], idx, bank[cols], _BankSubset(tsup, cols))
                else:
                    loss = self._batch_loss(bank[idx], idx, bank, tsup)
                if torch.isfinite(loss).all():
                    continue
                raise ValueError(
                    f"the training loss is {float(loss)} for the initial network, "
                    "before any optimizer step, on the minibatch of samples "
                    f"{rows.start} to {rows.stop - 1}, whose features reach |X| = "
                    f"{float(np.abs(X32[rows]).max()):.3g} (network outputs "
                    f"|z| = {float(bank[idx].abs().max()):.3g}, finite): the loss "
                    "overflows float32 on outputs this large. Scale the features "
                    "(e.g. with sklearn.preprocessing.StandardScaler)."
                )

    # ---- prediction --------------------------------------------------------------

    def _decision_function(self, X):
        # Read now, not at fit: checked here, since set_params may have changed them.
        validate_parameter_constraints(
            {k: self._parameter_constraints[k] for k in ("batch_size", "n_jobs")},
            {"batch_size": self.batch_size, "n_jobs": self.n_jobs},
            caller_name=type(self).__name__,
        )
        X32 = _float32(X)
        with _torch_threads(self.n_jobs):
            Z = self._forward_all(self.module_, X32, self.device_, self._n_features_out)
        return Z.cpu().numpy()

    # ---- pickling ----------------------------------------------------------------

    def __getstate__(self):
        state = dict(super().__getstate__())
        # The optimizer and generators of partial_fit hold live objects; a loaded
        # model's next partial_fit starts new ones.
        state.pop("_partial_fit_state", None)
        if isinstance(state.get("module"), torch.nn.Module):
            # A template on a GPU would pickle its GPU tensors, and fail to load on a
            # machine without one; the user's module itself is left where it is.
            state["module"] = _cpu_copy(state["module"])
        if state.get("module_") is not None:
            # The fitted network itself, on the CPU: the pickle loads on any machine,
            # and it is the network that was fitted, whatever set_params changed since
            # (n_bits, hidden_layer_sizes, dropout, module).
            state["module_"] = _cpu_copy(state["module_"])
            state["device_"] = str(state.get("device_", "cpu"))
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if getattr(self, "module_", None) is None:
            return
        device = _load_device(self.device_)
        self.module_ = self.module_.to(device).eval()
        self.device_ = device
