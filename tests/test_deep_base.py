"""BaseDeepHasher: training loop, supervision, devices, threads, seeding, pickling, errors."""

import io
import os
import pickle
import threading
import warnings
from unittest import mock

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits

from skhash import DHAHasher, FisherHasher, HashNetHasher
from skhash._supervision import check_supervision, label_similarity
from skhash.codes import pack_codes
from skhash.deep import BaseDeepHasher, DeviceWarning
from skhash.deep._base import GeneratorDropout, PairSupervision
from skhash.deep._losses import hashnet_pair_loss
from skhash.metrics import mean_average_precision


class _PairHasher(BaseDeepHasher):
    """Smallest deep hasher: HashNet's unweighted loss on tanh(z), no schedule."""

    def _batch_loss(self, z, idx, bank, sup):
        S, mask = sup.block(idx)
        return hashnet_pair_loss(
            torch.tanh(z), torch.tanh(bank), S, alpha=10.0 / self.n_bits, mask=mask
        )


class _RecordingHasher(_PairHasher):
    """Records what the hooks see; fails on demand in a given epoch."""

    fail_in_epoch = None
    log = None

    def _init_loss_state(self, bank, sup):
        log = {"init": (tuple(bank.shape), bank.device), "batches": [], "epochs": [], "fit": 0}
        type(self).log = log
        self._fit_state.update(seen=0, epoch=0)

    def _batch_loss(self, z, idx, bank, sup):
        if self._fit_state["epoch"] == self.fail_in_epoch:
            raise RuntimeError("hook failed")
        type(self).log["batches"].append(
            (
                tuple(z.shape),
                tuple(bank.shape),
                torch.equal(bank[idx], z.detach()),
                torch.get_num_threads(),
                idx.clone(),
            )
        )
        self._fit_state["seen"] += len(idx)
        self._fit_state["bank_norm"] = float(bank.norm())
        return super()._batch_loss(z, idx, bank, sup)

    def _end_of_epoch(self, bank):
        type(self).log["epochs"].append((self._fit_state["epoch"], self._fit_state["seen"]))
        self._fit_state["epoch"] += 1

    def _end_of_fit(self):
        type(self).log["fit"] += 1
        self.bank_norm_ = self._fit_state["bank_norm"]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0)[:400], y[:400]


def _fast(**params):
    defaults = dict(n_bits=8, hidden_layer_sizes=(32,), max_epochs=3, random_state=0)
    return {**defaults, **params}


def test_hooks_see_batch_against_memory_bank_of_all_samples(digits):
    """Each batch is paired with a bank of every training output, current for the batch."""
    X, y = digits
    h = _RecordingHasher(**_fast(batch_size=50)).fit(X, y)
    log = _RecordingHasher.log
    assert log["init"] == ((len(X), 8), torch.device("cpu"))
    assert len(log["batches"]) == 3 * 8
    for z_shape, bank_shape, current, _, _ in log["batches"]:
        assert z_shape == (50, 8) and bank_shape == (len(X), 8) and current
    # Every sample once per epoch, in a different order each epoch.
    assert [e for e, _ in log["epochs"]] == [0, 1, 2]
    assert [seen for _, seen in log["epochs"]] == [400, 800, 1200]
    first = torch.cat([b[4] for b in log["batches"][:8]])
    second = torch.cat([b[4] for b in log["batches"][8:16]])
    assert sorted(first.tolist()) == list(range(400))
    assert not torch.equal(first, second)
    assert log["fit"] == 1 and h.bank_norm_ > 0
    assert not hasattr(h, "_fit_state")
    assert h.n_steps_ == 24 and h.n_iter_ == 3 and len(h.loss_curve_) == 3


def test_trailing_batch_of_one_joins_the_previous(digits):
    """A last batch of a single sample is merged (batch norm cannot train on one)."""
    X, y = digits
    _RecordingHasher(**_fast(batch_size=133, max_epochs=1)).fit(X[:400], y[:400])
    sizes = [b[0][0] for b in _RecordingHasher.log["batches"]]
    assert sizes == [133, 133, 134]


def test_training_lowers_the_loss_and_learns_retrieval(digits):
    """The loss falls over epochs and the codes retrieve same-class digits."""
    X, y = digits
    h = _PairHasher(**_fast(max_epochs=10, lr=1e-2)).fit(X[:300], y[:300])
    assert h.loss_curve_[-1] < 0.8 * h.loss_curve_[0]
    trained = mean_average_precision(h.transform(X[300:]), y[300:], h.transform(X[:300]), y[:300])
    untrained = _PairHasher(**_fast(lr_schedule=lambda epoch: 0.0)).fit(X[:300], y[:300])
    base = mean_average_precision(
        untrained.transform(X[300:]), y[300:], untrained.transform(X[:300]), y[:300]
    )
    assert trained > base + 0.2


def test_same_random_state_gives_identical_codes_without_global_seeding(digits):
    """Same seed, same codes; another seed, other codes; global RNG states untouched."""
    X, y = digits
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()  # noqa: NPY002
    a = _PairHasher(**_fast(dropout=0.3)).fit(X, y).decision_function(X)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state[1])  # noqa: NPY002
    b = _PairHasher(**_fast(dropout=0.3)).fit(X, y).decision_function(X)
    c = _PairHasher(**_fast(dropout=0.3, random_state=1)).fit(X, y).decision_function(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_fit_never_seeds_torch_globally_on_any_device(digits):
    """A fit seeds no CUDA generator (not even lazily) and leaves the CPU's state as it was."""
    X, y = digits
    before = torch.get_rng_state()
    with (
        mock.patch("torch.cuda.manual_seed_all") as seed_all,
        mock.patch("torch.cuda.manual_seed") as seed_one,
    ):
        a = _PairHasher(**_fast(dropout=0.3)).fit(X, y).transform(X)
        b = _PairHasher(**_fast(dropout=0.3)).fit(X, y).transform(X)
    seed_all.assert_not_called()
    seed_one.assert_not_called()
    assert torch.equal(torch.get_rng_state(), before)
    np.testing.assert_array_equal(a, b)


def test_float32_and_float64_input_give_the_same_codes(digits):
    """The network runs in float32; float64 input is cast per batch."""
    X, y = digits
    a = _PairHasher(**_fast()).fit(X, y)
    b = _PairHasher(**_fast()).fit(X.astype(np.float32), y)
    np.testing.assert_array_equal(a.transform(X), b.transform(X.astype(np.float32)))
    assert a.decision_function(X).dtype == np.float32


def test_sparse_input_and_wrong_feature_count_are_clear_errors(digits):
    """Sparse X is refused with a TypeError; transform checks n_features."""
    X, y = digits
    with pytest.raises(TypeError, match="dense data is required"):
        _PairHasher(**_fast()).fit(sp.csr_matrix(X), y)
    h = _PairHasher(**_fast(max_epochs=1)).fit(X, y)
    with pytest.raises(ValueError, match="X has 10 features, but _PairHasher is expecting 64"):
        h.transform(X[:, :10])


def test_missing_supervision_is_a_clear_error(digits):
    """A supervised deep hasher without y or pairs says what to pass."""
    X, _ = digits
    with pytest.raises(ValueError, match="requires y to be passed.*pairs="):
        _PairHasher(**_fast()).fit(X)


def test_pairs_supervision_trains_like_labels(digits):
    """Pairs (i, j, s) covering every pair give the same codes as the labels."""
    X, y = digits
    X, y = X[:120], y[:120]
    i, j = np.nonzero(~np.eye(len(y), dtype=bool))
    pairs = np.column_stack([i, j, (y[i] == y[j]).astype(float)])
    a = _PairHasher(**_fast()).fit(X, y).transform(X)
    b = _PairHasher(**_fast()).fit(X, pairs=pairs).transform(X)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["binary", "jaccard", "cosine"])
def test_pair_supervision_block_matches_label_similarity(kind):
    """Blocks on the device equal the similarity module's, with self-pairs masked out."""
    rng = np.random.default_rng(0)
    Y = (rng.random((30, 5)) < 0.3).astype(int)
    Y[Y.sum(axis=1) == 0, 0] = 1
    sup = check_supervision(Y, n_samples=30, kind=kind)
    tsup = PairSupervision(sup, torch.device("cpu"))
    idx = torch.tensor([3, 0, 29, 7])
    S, mask = tsup.block(idx, kind)
    expected = label_similarity(sup.labels[idx.numpy()], sup.labels, kind)
    np.testing.assert_allclose(S.numpy(), expected, rtol=1e-6)
    assert not mask[torch.arange(4), idx].any() and mask.sum() == 4 * 29


def test_pair_supervision_block_from_pairs_masks_unknown_pairs():
    """With pair supervision only the given pairs (both directions) count."""
    sup = check_supervision(pairs=np.array([[0, 1, 1.0], [0, 2, 0.0], [3, 1, 0.5]]), n_samples=4)
    S, mask = PairSupervision(sup, torch.device("cpu")).block(torch.tensor([1, 0]))
    np.testing.assert_array_equal(mask.numpy(), [[1, 0, 0, 1], [0, 1, 1, 0]])
    np.testing.assert_allclose(S.numpy(), [[1, 0, 0, 0.5], [0, 1, 0, 0]])


def test_cuda_without_cuda_is_a_clear_error_and_auto_falls_back(digits):
    """device='cuda' with no CUDA raises; device='auto' trains on the CPU."""
    X, y = digits
    with mock.patch("torch.cuda.is_available", return_value=False):
        with pytest.raises(ValueError, match="CUDA is not available"):
            _PairHasher(**_fast(device="cuda")).fit(X, y)
        h = _PairHasher(**_fast(device="auto", max_epochs=1)).fit(X, y)
    assert h.device_ == torch.device("cpu")
    assert next(h.module_.parameters()).device == torch.device("cpu")
    with pytest.raises(ValueError, match="device must be"):
        _PairHasher(**_fast(device="gpu")).fit(X, y)


def test_explicit_torch_device_is_accepted(digits):
    """A torch.device instance works like its string."""
    X, y = digits
    a = _PairHasher(**_fast(device=torch.device("cpu"))).fit(X, y).transform(X)
    b = _PairHasher(**_fast(device="cpu")).fit(X, y).transform(X)
    np.testing.assert_array_equal(a, b)


def test_n_jobs_sets_torch_threads_during_fit_and_restores_them(digits):
    """Training runs on n_jobs threads; the caller's thread count is restored after."""
    X, y = digits
    before = torch.get_num_threads()
    _RecordingHasher(**_fast(max_epochs=1, n_jobs=2)).fit(X, y)
    assert {b[3] for b in _RecordingHasher.log["batches"]} == {2}
    _RecordingHasher(**_fast(max_epochs=1)).fit(X, y)
    assert {b[3] for b in _RecordingHasher.log["batches"]} == {1}
    assert torch.get_num_threads() == before


def test_pickle_roundtrip_keeps_codes_and_stores_cpu_weights(digits):
    """pickle and joblib restore a model with the same codes; the state holds CPU tensors."""
    X, y = digits
    h = _PairHasher(**_fast(dropout=0.2)).fit(X, y)
    state = h.__getstate__()
    assert state["module_"] is not h.module_
    assert all(t.device.type == "cpu" for t in state["module_"].state_dict().values())
    restored = pickle.loads(pickle.dumps(h))
    np.testing.assert_array_equal(restored.decision_function(X), h.decision_function(X))
    buf = io.BytesIO()
    joblib.dump(h, buf)
    buf.seek(0)
    np.testing.assert_array_equal(joblib.load(buf).transform(X), h.transform(X))
    # Refitting the restored model works, and from the same seed gives the same codes.
    np.testing.assert_array_equal(restored.fit(X, y).transform(X), h.transform(X))


def test_model_fitted_on_cuda_loads_on_cpu_only_machine_with_a_warning(digits):
    """A pickle recording a CUDA device unpickles on the CPU, warns, and transforms."""
    X, y = digits
    h = _PairHasher(**_fast()).fit(X, y)
    expected = h.transform(X)
    h.device_ = torch.device("cuda", 0)  # as if fitted on a GPU
    payload = pickle.dumps(h)
    with mock.patch("torch.cuda.is_available", return_value=False):
        with pytest.warns(DeviceWarning, match="fitted on device 'cuda:0'.*CPU"):
            restored = pickle.loads(payload)
    assert restored.device_ == torch.device("cpu")
    np.testing.assert_array_equal(restored.transform(X), expected)


def test_unfitted_estimator_pickles(digits):
    """An unfitted deep hasher (with a module template) pickles and clones."""
    est = _PairHasher(module=torch.nn.Linear(64, 8), n_bits=8)
    restored = pickle.loads(pickle.dumps(est))
    assert isinstance(restored.module, torch.nn.Linear)
    assert clone(est).module is not est.module


def test_module_template_on_a_gpu_pickles_as_a_cpu_copy(digits):
    """A ``module`` template on a GPU pickles as a CPU copy: it loads on a CPU-only machine."""
    X, y = digits
    template = torch.nn.Linear(64, 8)
    weights = {k: v.clone() for k, v in template.state_dict().items()}
    h = _PairHasher(module=template, n_bits=8, max_epochs=1, random_state=0).fit(X, y)
    # Pickle as on a GPU machine: the template's own storages are tagged as CUDA ones.
    on_gpu = {t.untyped_storage().data_ptr() for t in template.state_dict().values()}
    cpu_tag = torch.serialization.location_tag

    def location_tag(storage):
        return "cuda:0" if storage.data_ptr() in on_gpu else cpu_tag(storage)

    with mock.patch("torch.serialization.location_tag", location_tag):
        payload = pickle.dumps(h)
        template_alone = pickle.dumps(template)
    with mock.patch("torch.cuda.is_available", return_value=False):
        with pytest.raises(RuntimeError, match="on a CUDA device"):
            pickle.loads(template_alone)  # what pickling the template as it is gives
        restored = pickle.loads(payload)
    assert all(t.device.type == "cpu" for t in restored.module.state_dict().values())
    for k, v in restored.module.state_dict().items():
        assert torch.equal(v, weights[k])
    np.testing.assert_array_equal(restored.transform(X), h.transform(X))
    # The user's module is the one the estimator holds, untouched.
    assert h.module is template
    assert {t.untyped_storage().data_ptr() for t in template.state_dict().values()} == on_gpu


def test_verbose_shows_a_progress_bar_with_epoch_and_loss(digits, capsys):
    """verbose=1 writes one tqdm bar with the epoch and the loss in its postfix."""
    X, y = digits
    _PairHasher(**_fast(verbose=1)).fit(X, y)
    err = capsys.readouterr().err
    assert "_PairHasher" in err and "epoch=3" in err and "loss=" in err
    _PairHasher(**_fast()).fit(X, y)
    assert capsys.readouterr().err == ""


def test_user_module_is_trained_end_to_end_and_left_untouched(digits):
    """A user's CNN over raw 8x8 images is trained as a whole; the template keeps its weights."""
    X, y = digits
    gen = torch.Generator().manual_seed(0)
    cnn = torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, 8, 8)),
        torch.nn.Conv2d(1, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(8 * 16, 8),
    )
    for p in cnn.parameters():
        torch.nn.init.normal_(p, std=0.2, generator=gen)
    template = {k: v.clone() for k, v in cnn.state_dict().items()}
    h = _PairHasher(module=cnn, n_bits=8, max_epochs=15, random_state=0)
    h.fit(X[:300], y[:300])
    for k, v in cnn.state_dict().items():
        assert torch.equal(v, template[k])
    trained = h.module_.state_dict()
    assert all(not torch.equal(trained[k], template[k]) for k in template)
    mAP = mean_average_precision(h.transform(X[300:]), y[300:], h.transform(X[:300]), y[:300])
    untrained = _PairHasher(module=cnn, n_bits=8, max_epochs=1, lr_schedule=lambda e: 0.0)
    untrained.fit(X[:300], y[:300])
    base = mean_average_precision(
        untrained.transform(X[300:]), y[300:], untrained.transform(X[:300]), y[:300]
    )
    assert mAP > base + 0.15
    # The pickled model is rebuilt from the template and the trained weights.
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(h)).transform(X), h.transform(X))


def test_module_with_wrong_output_shape_is_a_clear_error(digits):
    """A module that does not output n_bits values per sample is rejected by name."""
    X, y = digits
    with pytest.raises(ValueError, match=r"outputs of shape \(64, n_bits=8\); got \(64, 5\)"):
        _PairHasher(module=torch.nn.Linear(64, 5), n_bits=8).fit(X, y)


def test_hidden_layer_sizes_empty_is_a_single_linear_layer(digits):
    """hidden_layer_sizes=() gives the paper's single hash layer; bad sizes are refused."""
    X, y = digits
    h = _PairHasher(**_fast(hidden_layer_sizes=())).fit(X, y)
    linear = [m for m in h.module_.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linear) == 1 and linear[0].weight.shape == (8, 64)
    with pytest.raises(ValueError, match=r"tuple of positive ints.*got .*\(16, 0\)"):
        _PairHasher(**_fast(hidden_layer_sizes=(16, 0))).fit(X, y)
    for flag in (True, (16, True)):
        with pytest.raises(ValueError, match=f"hidden_layer_sizes.*{flag}"):
            _PairHasher(**_fast(hidden_layer_sizes=flag)).fit(X, y)


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_optimizers_and_schedules_train(digits, optimizer, schedule):
    """Every optimizer and schedule lowers the training loss."""
    X, y = digits
    lr = 0.05 if optimizer == "sgd" else 1e-3
    h = _PairHasher(**_fast(optimizer=optimizer, lr=lr, lr_schedule=schedule, max_epochs=6))
    h.fit(X, y)
    assert h.loss_curve_[-1] < h.loss_curve_[0]


def test_failure_during_training_rolls_back(digits):
    """A fit that fails mid-training leaves the previous fit intact."""
    X, y = digits
    h = _RecordingHasher(**_fast()).fit(X, y)
    codes, module = h.transform(X), h.module_
    h.fail_in_epoch = 1
    with pytest.raises(RuntimeError, match="hook failed"):
        h.fit(X[:200], y[:200])
    assert h.module_ is module and not hasattr(h, "_fit_state")
    np.testing.assert_array_equal(h.transform(X), codes)


def test_diverging_loss_is_reported(digits):
    """A non-finite training loss stops the fit with an error naming the learning rate."""
    X, y = digits

    class _NanHasher(_PairHasher):
        def _batch_loss(self, z, idx, bank, sup):
            loss = super()._batch_loss(z, idx, bank, sup)
            # NaN in training from the second epoch on; the initial network's loss,
            # evaluated without gradients after the failure, stays finite.
            diverged = "second_epoch" in self._fit_state and z.requires_grad
            return loss * float("nan") if diverged else loss

        def _end_of_epoch(self, bank):
            self._fit_state["second_epoch"] = True

    with pytest.raises(FloatingPointError, match="lr=0.001"):
        _NanHasher(**_fast()).fit(X, y)


_PUBLIC = [HashNetHasher, FisherHasher, DHAHasher]


@pytest.mark.parametrize("cls", _PUBLIC)
def test_features_beyond_float32_are_refused_in_fit_and_prediction(digits, cls):
    """A finite float64 too large for float32 is a ValueError naming it, never -1 codes."""
    X, y = digits
    X_big = X.copy()
    X_big[3, 7] = -1e39
    match = r"float32.*1e\+39.*scale"
    fresh = cls(**_fast())
    with pytest.raises(ValueError, match=match):
        fresh.fit(X_big, y)
    assert not hasattr(fresh, "n_features_in_") and not hasattr(fresh, "module_")
    h = cls(**_fast(max_epochs=1)).fit(X, y)
    codes, module = h.transform(X), h.module_
    for method in (h.transform, h.decision_function, h.encode):
        with pytest.raises(ValueError, match=match):
            method(X_big)
    with pytest.raises(ValueError, match=match):
        h.fit(X_big, y)
    assert h.module_ is module
    np.testing.assert_array_equal(h.transform(X), codes)


def _ones_linear():
    linear = torch.nn.Linear(64, 8, bias=False)
    torch.nn.init.ones_(linear.weight)
    return linear


def test_network_output_overflow_is_an_error_not_nan_codes(digits):
    """Features within float32 whose outputs overflow it: a ValueError, at fit and after."""
    X, y = digits
    huge = np.full((5, 64), 1e37)  # a row sums to 6.4e38 > float32's 3.4e38
    frozen = _fast(module=_ones_linear(), lr_schedule=lambda epoch: 0.0, max_epochs=1)
    h = _PairHasher(**frozen).fit(X, y)
    match = r"outputs are not finite.*5 of 5 samples.*\|X\| = 1e\+37.*scale"
    for method in (h.transform, h.decision_function, h.encode):
        with pytest.raises(ValueError, match=match):
            method(huge)
    fresh = _PairHasher(**frozen)
    with pytest.raises(ValueError, match=r"outputs are not finite.*5 of 405 samples"):
        fresh.fit(np.vstack([X, huge]), np.r_[y, y[:5]])
    assert not hasattr(fresh, "module_")


class _RawPairHasher(_PairHasher):
    """HashNet's loss on the raw outputs: their inner products overflow on large features."""

    def _batch_loss(self, z, idx, bank, sup):
        S, mask = sup.block(idx)
        return hashnet_pair_loss(z, bank, S, alpha=1.0, mask=mask)


@pytest.mark.parametrize("rows", [slice(None), slice(250, 251)], ids=["all", "one-late"])
def test_loss_overflow_on_large_features_blames_them_not_the_learning_rate(digits, rows):
    """A loss non-finite for the initial network: a ValueError on the feature scale, not lr.

    Also when the one large sample comes in a later minibatch, after finite steps.
    """
    X, y = digits
    X = X.copy()
    X[rows] *= 1e25
    fresh = _RawPairHasher(**_fast(batch_size=50))
    with pytest.raises(ValueError, match=r"before any optimizer step.*\|X\| = 1e\+25") as info:
        fresh.fit(X, y)
    assert "smaller learning rate" not in str(info.value)
    assert not hasattr(fresh, "module_")
    # Features of a normal scale still fit with this loss.
    assert np.isfinite(_RawPairHasher(**_fast(batch_size=50)).fit(X / 1e25, y).loss_curve_).all()


class _DropoutModule(torch.nn.Module):
    """A user's network with torch's own dropout layer."""

    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(64, 32)
        self.drop = torch.nn.Dropout(0.3)
        self.out = torch.nn.Linear(32, 8)

    def forward(self, x):
        return self.out(self.drop(torch.relu(self.hidden(x))))


@pytest.mark.parametrize(
    "params",
    [
        dict(dropout=0.3, hidden_layer_sizes=(32, 32)),
        dict(module=_DropoutModule()),
    ],
    ids=["default-mlp", "user-module"],
)
def test_fits_in_concurrent_threads_equal_a_serial_fit_bit_for_bit(digits, params):
    """Dropout fits side by side in threads each give the serial codes; torch's RNG untouched."""
    X, y = digits
    params = _fast(**params, n_jobs=1)
    serial = _PairHasher(**params).fit(X, y).decision_function(X)
    rng_before, threads_before = torch.get_rng_state(), torch.get_num_threads()
    results = [None] * 3
    barrier = threading.Barrier(len(results))

    def fit(i):
        barrier.wait()
        results[i] = _PairHasher(**params).fit(X, y).decision_function(X)

    threads = [threading.Thread(target=fit, args=(i,)) for i in range(len(results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for result in results:
        np.testing.assert_array_equal(result, serial)
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert torch.get_num_threads() == threads_before
    other = _PairHasher(**{**params, "random_state": 1}).fit(X, y).decision_function(X)
    assert not np.array_equal(other, serial)


@pytest.mark.parametrize(
    "changed",
    [
        dict(n_bits=16),
        dict(hidden_layer_sizes=(8,)),
        dict(dropout=0.5),
        dict(module=torch.nn.Linear(64, 16)),
        dict(batch_size=7),
        dict(device="cuda"),
    ],
    ids=lambda d: next(iter(d)),
)
def test_parameters_changed_after_fit_leave_the_fitted_network_in_charge(digits, changed):
    """set_params after fit: transform, encode, feature names and pickles follow the fit."""
    X, y = digits
    h = _PairHasher(**_fast()).fit(X, y)
    codes, names = h.transform(X), h.get_feature_names_out()
    h.set_params(**changed)
    np.testing.assert_array_equal(h.transform(X), codes)
    np.testing.assert_array_equal(h.encode(X), pack_codes(codes))
    np.testing.assert_array_equal(h.get_feature_names_out(), names)
    restored = pickle.loads(pickle.dumps(h))
    np.testing.assert_array_equal(restored.transform(X), codes)
    assert restored.get_params()[next(iter(changed))] is not None


@pytest.mark.parametrize(
    ("param", "value"), [("batch_size", 0), ("batch_size", True), ("n_jobs", 0), ("n_jobs", True)]
)
def test_bad_runtime_parameters_set_after_fit_are_clear_errors(digits, param, value):
    """batch_size and n_jobs, read when encoding, are checked then by name."""
    X, y = digits
    h = _PairHasher(**_fast(max_epochs=1)).fit(X, y)
    h.set_params(**{param: value})
    with pytest.raises(ValueError, match=f"'{param}' parameter.*Got {value} instead"):
        h.transform(X)


@pytest.mark.parametrize(
    ("cls", "param"),
    [(cls, p) for cls in _PUBLIC for p in ("n_bits", "max_epochs", "batch_size", "n_jobs")]
    + [(HashNetHasher, "beta_step")],
)
def test_booleans_are_refused_for_integer_parameters(digits, cls, param):
    """n_bits=True and the like are an error naming the value, never 1 or a torch TypeError."""
    X, y = digits
    est = cls(**{**_fast(max_epochs=1), param: True})
    with pytest.raises(ValueError, match=f"'{param}' parameter of {cls.__name__}.*Got True"):
        est.fit(X, y)
    assert not hasattr(est, "n_features_in_")


def test_user_module_random_layers_without_a_generator_are_flagged(digits):
    """Random layers that cannot take the fit's generator warn that the fit is not seeded."""
    X, y = digits
    net = torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, 8, 8)),
        torch.nn.Dropout2d(0.2),
        torch.nn.Flatten(),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(64, 8),
    )
    with pytest.warns(UserWarning, match=r"\(Dropout2d\).*not reproducible") as record:
        _PairHasher(module=net, **_fast(max_epochs=1)).fit(X, y)
    assert record[0].filename == __file__
    seeded = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(64, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _PairHasher(module=seeded, **_fast(max_epochs=1)).fit(X, y)


def test_generator_dropout_drops_with_probability_p_from_its_generator():
    """Masks from the given generator: rate p, kept values scaled by 1/(1-p), eval is identity."""
    drop = GeneratorDropout(0.3)
    x = torch.ones(20_000)
    drop.generator = torch.Generator().manual_seed(0)
    first = drop(x)
    drop.generator = torch.Generator().manual_seed(0)
    before = torch.get_rng_state()
    np.testing.assert_array_equal(drop(x).numpy(), first.numpy())
    assert torch.equal(torch.get_rng_state(), before)
    assert abs(float((first == 0).float().mean()) - 0.3) < 0.02
    np.testing.assert_allclose(first[first != 0].numpy(), 1 / 0.7, rtol=1e-6)
    assert torch.equal(drop.eval()(x), x)
    assert torch.equal(GeneratorDropout(1.0)(x), torch.zeros_like(x))


@pytest.fixture(scope="module")
def all_digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def test_early_stopping_stops_when_retrieval_stalls_and_keeps_the_best_network(all_digits):
    """Training stops n_iter_no_change epochs after the best validation mAP; its network is kept."""
    X, y = all_digits
    params = _fast(early_stopping=True, n_iter_no_change=2, tol=0.0, lr=1e-2, max_epochs=30)
    h = _PairHasher(**params).fit(X, y)
    best = int(np.argmax(h.validation_scores_)) + 1
    assert h.n_iter_ < 30 and h.n_iter_ == best + 2 == len(h.validation_scores_)
    assert h.best_validation_score_ == max(h.validation_scores_) > 0.5
    # The same fit run for exactly the best epoch's count, without stopping, ends
    # with the network that was kept.
    again = _PairHasher(**{**params, "max_epochs": best, "n_iter_no_change": 100}).fit(X, y)
    np.testing.assert_array_equal(h.decision_function(X), again.decision_function(X))


def test_early_stopping_holds_out_part_of_every_class_untrained(all_digits):
    """The held-out tenth is never trained on: the bank and the batches cover the rest."""
    X, y = all_digits
    h = _RecordingHasher(**_fast(early_stopping=True, max_epochs=1)).fit(X, y)
    n_train = _RecordingHasher.log["init"][0][0]
    assert abs((len(X) - n_train) - 0.1 * len(X)) < 10
    assert sorted(torch.cat([b[4] for b in _RecordingHasher.log["batches"]]).tolist()) == list(
        range(n_train)
    )
    assert len(h.validation_scores_) == 1


def test_early_stopping_fit_is_reproducible(all_digits):
    """Same random_state, same split and same codes; another seed, another fit."""
    X, y = all_digits
    a = _PairHasher(**_fast(early_stopping=True)).fit(X, y)
    b = _PairHasher(**_fast(early_stopping=True)).fit(X, y)
    c = _PairHasher(**_fast(early_stopping=True, random_state=1)).fit(X, y)
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))
    assert a.validation_scores_ == b.validation_scores_ != c.validation_scores_


def test_early_stopping_auto_is_on_with_labels_and_enough_samples_only(all_digits):
    """'auto' holds out and scores with labels from 2,000 samples; not with pairs or less."""
    X, y = all_digits
    X2, y2 = np.vstack([X, X[::-1]]), np.concatenate([y, y[::-1]])
    assert len(_PairHasher(**_fast(max_epochs=1)).fit(X2, y2).validation_scores_) == 1
    small = _PairHasher(**_fast(max_epochs=1)).fit(X, y)
    assert small.validation_scores_ is None and small.best_validation_score_ is None
    off = _PairHasher(**_fast(max_epochs=1, early_stopping=False)).fit(X2, y2)
    assert off.validation_scores_ is None
    i, j = np.nonzero(~np.eye(150, dtype=bool))
    pairs = np.column_stack([i, j, (y[i] == y[j]).astype(float)])
    assert _PairHasher(**_fast()).fit(X[:150], pairs=pairs).validation_scores_ is None


def test_early_stopping_true_without_labels_or_a_usable_split_is_a_clear_error(all_digits):
    """early_stopping=True refuses pairs= and a split that leaves no similar training pair."""
    X, y = all_digits
    pairs = np.array([[0, 1, 1.0], [0, 2, 0.0]])
    with pytest.raises(ValueError, match="early_stopping=True .* needs class labels"):
        _PairHasher(**_fast(early_stopping=True)).fit(X[:5], pairs=pairs)
    with pytest.raises(ValueError, match="early_stopping=True cannot split these 4 samples"):
        _PairHasher(**_fast(early_stopping=True, validation_fraction=0.5)).fit(X[:4], [0, 0, 1, 1])


class _SubsetHasher(_PairHasher):
    """Checks what each batch sees when it is paired with a subset of the bank."""

    seen = None

    def _batch_loss(self, z, idx, bank, sup):
        S, mask = sup.block(idx)
        y = self._fit_state["y"]
        cols = sup.cols
        own = (idx[:, None] == cols[None, :]).any(dim=0)
        row = {
            "bank": tuple(bank.shape),
            "S": tuple(S.shape),
            "similar": torch.equal(S.bool(), y[idx][:, None] == y[cols][None, :]),
            "self_masked": torch.equal(~mask, idx[:, None] == cols[None, :]),
            "current": torch.equal(bank[own], self._fit_state["bank"][cols[own]]),
            "cols": cols.clone(),
        }
        type(self).seen.append(row)
        return super()._batch_loss(z, idx, bank, sup)

    def _init_loss_state(self, bank, sup):
        type(self).seen = []
        self._fit_state.update(y=sup.labels.argmax(dim=1), bank=bank)


def test_batches_pair_with_a_fresh_subset_of_the_bank_beyond_n_bank_samples(digits):
    """With n > n_bank_samples each batch pairs with that many other rows, self-pairs masked."""
    X, y = digits
    _SubsetHasher(**_fast(n_bank_samples=100, batch_size=50, max_epochs=2)).fit(X, y)
    seen = _SubsetHasher.seen
    assert len(seen) == 16
    for row in seen:
        assert row["bank"] == (100, 8) and row["S"] == (50, 100)
        assert row["similar"] and row["self_masked"] and row["current"]
        assert len(set(row["cols"].tolist())) == 100
    # Four batches' subsets tile one epoch's permutation; the next epoch differs.
    first = torch.cat([r["cols"] for r in seen[:4]])
    assert sorted(first.tolist()) == list(range(400))
    assert not torch.equal(first, torch.cat([r["cols"] for r in seen[8:12]]))


def test_bank_subsets_still_learn_retrieval(digits):
    """Training against bank subsets of 64 rows learns same-class retrieval."""
    X, y = digits
    h = _PairHasher(**_fast(n_bank_samples=64, max_epochs=10, lr=1e-2)).fit(X[:300], y[:300])
    trained = mean_average_precision(h.transform(X[300:]), y[300:], h.transform(X[:300]), y[:300])
    untrained = _PairHasher(**_fast(lr_schedule=lambda epoch: 0.0)).fit(X[:300], y[:300])
    base = mean_average_precision(
        untrained.transform(X[300:]), y[300:], untrained.transform(X[:300]), y[:300]
    )
    assert trained > base + 0.2


def test_verbose_bar_shows_validation_map_and_patience(all_digits, capsys):
    """With early stopping the bar shows the validation mAP, the best and the patience used."""
    X, y = all_digits
    _PairHasher(**_fast(verbose=1, max_epochs=2, early_stopping=True)).fit(X, y)
    err = capsys.readouterr().err
    assert "epoch=2" in err and "loss=" in err and "val_map=0." in err
    assert "best=0." in err and "no_change=" in err and "/10" in err


def _memmap(tmp_path, X):
    mm = np.memmap(tmp_path / "X.f32", dtype=np.float32, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    return np.memmap(tmp_path / "X.f32", dtype=np.float32, mode="r", shape=X.shape)


def test_partial_fit_over_memmap_chunks_learns_retrieval(all_digits, tmp_path):
    """Chunks of a memory-mapped array, one epoch per call, train the network."""
    X, y = all_digits
    mm = _memmap(tmp_path, X[:1500])
    h = _PairHasher(**_fast(lr=1e-2))
    for call in range(15):
        start = 300 * (call % 5)
        h.partial_fit(mm[start : start + 300], y[start : start + 300], classes=np.arange(10))
        assert len(h.loss_curve_) == h.n_iter_ == call + 1
    untrained = _PairHasher(**_fast(lr_schedule=lambda epoch: 0.0)).fit(X[:1500], y[:1500])
    q, db = slice(1500, None), slice(None, 1500)

    def query_map(est):
        return mean_average_precision(est.transform(X[q]), y[q], est.transform(X[db]), y[db])

    assert query_map(h) > query_map(untrained) + 0.2
    assert h.n_steps_ == 15 * 5 and h.validation_scores_ is None


def test_partial_fit_checks_features_and_classes_between_calls(all_digits):
    """Another feature count, or a class the first call did not know, is a ValueError."""
    X, y = all_digits
    h = _PairHasher(**_fast()).partial_fit(X[:200], y[:200])
    codes = h.transform(X)
    with pytest.raises(ValueError, match="features"):
        h.partial_fit(X[:200, :10], y[:200])
    first = y[:200] < 5
    g = _PairHasher(**_fast()).partial_fit(X[:200][first], y[:200][first])
    with pytest.raises(ValueError, match=r"classes \[5, 6, 7, 8, 9\] .* pass every class"):
        g.partial_fit(X[:200], y[:200])
    np.testing.assert_array_equal(h.transform(X), codes)
    assert len(h.loss_curve_) == len(g.loss_curve_) == 1


def test_fit_after_partial_fit_starts_over(all_digits):
    """fit() ignores what partial_fit trained: the same codes as a fresh fit."""
    X, y = all_digits
    h = _PairHasher(**_fast()).partial_fit(X[:300], y[:300]).partial_fit(X[300:600], y[300:600])
    h.fit(X[:400], y[:400])
    fresh = _PairHasher(**_fast()).fit(X[:400], y[:400])
    np.testing.assert_array_equal(h.decision_function(X), fresh.decision_function(X))
    assert h.n_iter_ == 3


def test_partial_fit_failure_rolls_back_network_and_optimizer(all_digits):
    """A failing call leaves the model as before it: the next calls train as if it never ran."""
    X, y = all_digits
    chunks = [(X[:300], y[:300]), (X[300:600], y[300:600])]
    twin = _RecordingHasher(**_fast())
    h = _RecordingHasher(**_fast())
    for est in (twin, h):
        est.partial_fit(*chunks[0])
    codes = h.transform(X)
    h.fail_in_epoch = 0
    with pytest.raises(RuntimeError, match="hook failed"):
        h.partial_fit(*chunks[1])
    np.testing.assert_array_equal(h.transform(X), codes)
    assert len(h.loss_curve_) == 1 and not hasattr(h, "_fit_state")
    h.fail_in_epoch = None
    for est in (twin, h):
        est.partial_fit(*chunks[1])
    np.testing.assert_array_equal(h.decision_function(X), twin.decision_function(X))


@pytest.mark.parametrize("cls", [HashNetHasher, FisherHasher, DHAHasher])
def test_shipped_hashers_train_by_partial_fit_with_all_classes_known(all_digits, cls):
    """Each deep hasher trains on chunks; Fisher keeps one centre per class of classes=."""
    X, y = all_digits
    h = cls(n_bits=8, hidden_layer_sizes=(32,), random_state=0)
    first = y[:300] < 5
    h.partial_fit(X[:300][first], y[:300][first], classes=np.arange(10))
    h.partial_fit(X[300:600], y[300:600])
    assert h.n_iter_ == 2 and np.isfinite(h.loss_curve_).all()
    if cls is FisherHasher:
        assert h.centers_.shape == (10, 8)


def test_validation_scoring_runs_in_bounded_chunks(monkeypatch):
    """Early stopping scores the held-out part in chunks of a bounded size, not in
    blocks of scikit-learn's working_memory (1 GiB by default: 1.2 GB more peak
    memory at 100k samples)."""
    from sklearn import get_config

    from skhash.deep import _base as deep_base

    budgets = []

    def recording_map(*args, **kwargs):
        budgets.append(get_config()["working_memory"])
        return mean_average_precision(*args, **kwargs)

    monkeypatch.setattr(deep_base, "mean_average_precision", recording_map)
    X, y = load_digits(return_X_y=True)
    hasher = HashNetHasher(
        n_bits=8, max_epochs=2, early_stopping=True, random_state=0, device="cpu"
    ).fit(X / 16, y)
    assert len(budgets) == len(hasher.validation_scores_) == 2
    assert max(budgets) <= 64


def test_early_stopping_keeps_the_fits_torch_threads():
    """Scoring the held-out part (numba kernels) leaves torch on the fit's thread count:
    in a fresh process, numba's first parallel launch used to switch torch to every
    core for the rest of the fit (ten times slower per epoch on a busy machine)."""
    import subprocess
    import sys

    code = """
import numpy as np, torch
from sklearn.datasets import load_digits
from skhash import HashNetHasher
counts = []
class Recording(HashNetHasher):
    def _batch_loss(self, z, idx, bank, sup):
        counts.append(torch.get_num_threads())
        return super()._batch_loss(z, idx, bank, sup)
X, y = load_digits(return_X_y=True)
Recording(n_bits=8, hidden_layer_sizes=(16,), max_epochs=2, batch_size=400,
          early_stopping=True, n_jobs=1, random_state=0, device="cpu").fit(X / 16, y)
print(sorted(set(counts)))
"""
    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[1]", out.stdout + out.stderr
