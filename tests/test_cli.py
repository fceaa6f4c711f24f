"""The skhash command: hasher discovery, the compare table and its errors, search-bench."""

import csv
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.utils.validation import validate_data

import skhash
from skhash import _cli
from skhash._base import BaseHasher, rollback_on_error
from skhash.datasets import load_retrieval_dataset
from skhash.neighbors import HammingNeighbors

ROOT = Path(__file__).resolve().parents[1]


class SignHasher(BaseHasher):
    """Test hasher: the signs of the first n_bits centred features."""

    def fit(self, X, y=None):
        with rollback_on_error(self):
            X = validate_data(self, X)
            self._check_n_bits(X.shape[1], "one feature per bit")
            self.mean_ = X.mean(axis=0)
            self._set_n_features_out()
        return self

    def _decision_function(self, X):
        return X[:, : self.n_bits] - self.mean_[: self.n_bits]


class BrokenHasher(SignHasher):
    """Test hasher whose fit always fails."""

    def fit(self, X, y=None):
        raise RuntimeError("solver diverged")


@pytest.fixture
def extra_hashers(monkeypatch):
    """Register test hashers in skhash.__all__, the way a new estimator lands."""

    def add(*classes):
        names = list(skhash.__all__)
        for cls in classes:
            monkeypatch.setattr(skhash, cls.__name__, cls, raising=False)
            names.append(cls.__name__)
        monkeypatch.setattr(skhash, "__all__", names)

    return add


def test_every_public_hasher_is_discovered(extra_hashers):
    """compare runs every BaseHasher subclass exported in skhash.__all__, new ones included."""
    expected = {
        getattr(skhash, n)
        for n in skhash.__all__
        if isinstance(getattr(skhash, n), type) and issubclass(getattr(skhash, n), BaseHasher)
    }
    assert set(_cli.available_hashers().values()) == expected
    extra_hashers(SignHasher)
    found = _cli.available_hashers()
    assert found["sign"] is SignHasher
    assert set(found.values()) == expected | {SignHasher}
    assert _cli._normalise("SignHasher") == _cli._normalise("SIGN") == "sign"


def _read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_compare_numbers_equal_the_estimators_called_directly(tmp_path, capsys):
    """Every mAP and P@H<=2 of the table is what the estimator itself gives, same seed.

    Unsupervised baselines and WSL, and one deep supervised hasher (HashNet, briefly
    trained through --epochs): the command must fit it on the database labels, on one
    thread, with the epochs it was given.
    """
    from threadpoolctl import threadpool_limits

    from skhash.metrics import mean_average_precision, precision_recall_within_radius

    methods = ["lsh", "itq", "wsl", "hashnet"]
    epochs = 3

    out_csv, out_png = tmp_path / "table.csv", tmp_path / "plot.png"
    status = _cli.main(
        [
            "compare",
            "--methods",
            *methods,
            "--bits",
            "16",
            "--epochs",
            str(epochs),
            "--device",
            "cpu",
            "--quiet",
            "--csv",
            str(out_csv),
            "--plot",
            str(out_png),
        ]
    )
    printed = capsys.readouterr().out
    assert status == 0
    rows = {row["method"]: row for row in _read_csv(out_csv)}
    assert list(rows) == methods

    data = load_retrieval_dataset("digits", random_state=0)
    # What the command should do for each method, spelled out here, not via make_hasher.
    deep = dict(max_epochs=epochs, device="cpu", n_jobs=1, verbose=0)
    for method in methods:
        cls = _cli.available_hashers()[method]
        hasher = cls(n_bits=16, random_state=0, **(deep if method == "hashnet" else {}))
        with threadpool_limits(limits=1):  # the command's default --n-jobs 1
            # Unsupervised methods get no labels by default; HashNet needs them.
            hasher.fit(data.X_db, data.y_db if method == "hashnet" else None)
        q, db = hasher.transform(data.X_query), hasher.transform(data.X_db)
        expected_map = mean_average_precision(q, data.y_query, db, data.y_db)
        expected_p2 = precision_recall_within_radius(q, data.y_query, db, data.y_db, radius=2)[0]
        row = rows[method]
        assert float(row["map"]) == pytest.approx(expected_map, rel=1e-12)
        assert float(row["p_h2"]) == pytest.approx(expected_p2, rel=1e-12)
        assert row["bits"] == "16" and float(row["fit_s"]) > 0
        assert float(row["encode_us"]) > 0 and float(row["search_qps"]) > 0
        assert f"{expected_map:.4f}" in printed
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_labels_all_fits_wsl_with_the_labels():
    """--labels all hands y to WSL (its supervised variant); the default does not."""
    from threadpoolctl import threadpool_limits

    from skhash import WSLHasher
    from skhash.metrics import mean_average_precision

    data = load_retrieval_dataset("digits", random_state=0)
    maps = {}
    for labels, y in [("required", None), ("all", data.y_db)]:
        (row,), _ = _cli.run_compare("digits", (8,), ["wsl"], labels=labels, quiet=True)
        with threadpool_limits(limits=1):
            hasher = WSLHasher(n_bits=8, random_state=0).fit(data.X_db, y)
        q, db = hasher.transform(data.X_query), hasher.transform(data.X_db)
        assert row["map"] == pytest.approx(
            mean_average_precision(q, data.y_query, db, data.y_db), rel=1e-12
        )
        maps[labels] = row["map"]
    assert maps["all"] != maps["required"]


def test_compare_reports_a_failing_method_and_keeps_the_others(extra_hashers, capsys):
    """A fit that fails gets a 'failed' row and exit status 1; the other rows are there."""
    extra_hashers(SignHasher, BrokenHasher)
    status = _cli.main(["compare", "--methods", "broken", "sign", "--bits", "8", "-q"])
    captured = capsys.readouterr()
    assert status == 1
    assert "broken at 8 bits failed: RuntimeError: solver diverged" in captured.err
    lines = captured.out.splitlines()
    assert any(line.startswith("broken") and "failed" in line for line in lines)
    assert any(line.startswith("sign") and "failed" not in line for line in lines)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["compare", "--methods", "sign", "nosuch"], "unknown method 'nosuch'; choose from"),
        (["compare", "--dataset", "cifar10"], "unknown data set 'cifar10'; choose from digits"),
        (["compare", "--bits", "0"], "--bits must be positive integers; got 0"),
        (["compare", "--n-jobs", "0"], "--n-jobs must be a positive integer or -1; got 0"),
        (["search-bench", "-k", "0"], "-k must be >= 1"),
        pytest.param(
            ["compare", "--device", "cuda"],
            "--device cuda: CUDA is not available here",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available"),
        ),
    ],
)
def test_bad_requests_give_one_line_and_status_2(argv, message, extra_hashers, capsys):
    """Unknown methods or data sets and bad sizes: a one-line message, exit status 2."""
    extra_hashers(SignHasher)
    assert _cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_python_m_skhash_has_no_traceback_for_user_errors():
    """`python -m skhash compare --methods nosuch` prints the choices, not a traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "skhash", "compare", "--methods", "nosuch"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "unknown method 'nosuch'" in proc.stderr and "itq" in proc.stderr


def test_list_shows_every_method(capsys):
    """compare --list names each method, its class and whether it needs labels (HashNet does)."""
    assert _cli.main(["compare", "--list"]) == 0
    out = capsys.readouterr().out
    for name, cls in _cli.available_hashers().items():
        kind = "supervised" if cls().__sklearn_tags__().target_tags.required else "unsupervised"
        assert [name, cls.__name__, kind] in [line.split() for line in out.splitlines()]
    assert "hashnet HashNetHasher supervised" in " ".join(out.split())


def test_search_bench_agrees_with_sklearn_and_faiss(capsys):
    """search-bench times every available method and finds the same distances as skhash."""
    status = _cli.main(
        [
            "search-bench",
            "--n-db",
            "3000",
            "--n-queries",
            "40",
            "--bits",
            "64",
            "-k",
            "5",
            "--sklearn-db",
            "500",
            "--n-jobs",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "skhash HammingNeighbors" in out and "sklearn NearestNeighbors" in out
    rows = _cli.run_search_bench(n_db=3000, n_queries=40, bits=24, k=5, n_jobs=1, sklearn_db=500)
    assert all(r["agrees"] for r in rows)
    assert all(np.isfinite(r["comparisons_per_s"]) and r["qps"] > 0 for r in rows)


def test_reference_distances_equal_a_direct_count_of_differing_bits():
    """The numpy brute force gives the k smallest bit counts, found here bit by bit."""
    rng = np.random.default_rng(0)
    db = rng.integers(0, 2, size=(300, 20), dtype=np.uint8)
    queries = rng.integers(0, 2, size=(11, 20), dtype=np.uint8)
    got = _cli._hamming_reference(np.packbits(db, axis=1), np.packbits(queries, axis=1), 7)
    counts = (queries[:, None, :] != db[None, :, :]).sum(axis=2)
    np.testing.assert_array_equal(got, np.sort(counts, axis=1)[:, :7])


def test_search_bench_says_no_when_skhash_distances_are_wrong(monkeypatch):
    """skhash's own row is checked against plain numpy, so wrong distances say NO."""
    kneighbors = HammingNeighbors.kneighbors

    def off_by_one(self, *args, **kwargs):
        dist, ind = kneighbors(self, *args, **kwargs)
        return dist + 1, ind

    rows = _cli.run_search_bench(n_db=2000, n_queries=20, bits=32, k=5, n_jobs=1, sklearn_db=300)
    assert rows[0]["name"] == "skhash HammingNeighbors" and rows[0]["agrees"]
    monkeypatch.setattr(HammingNeighbors, "kneighbors", off_by_one)
    rows = _cli.run_search_bench(n_db=2000, n_queries=20, bits=32, k=5, n_jobs=1, sklearn_db=300)
    assert not rows[0]["agrees"]


def test_console_script_is_the_same_command():
    """The installed `skhash` script calls the same main as `python -m skhash`."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    scripts = pyproject.split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    assert re.search(r'^skhash\s*=\s*"skhash\._cli:main"', scripts, flags=re.M)
    assert callable(_cli.main)
